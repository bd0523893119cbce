package diagram

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/review"
	"github.com/kpilake/kpilake/infra/stack"
)

// Environment is the environment of cdk.json that docs/architecture.* show.
const Environment = "dev"

// Account is the placeholder account the diagram's stack is synthesized for, as in the snapshot
// tests; it appears nowhere in the picture.
const Account = review.Account

// pathMetadataContext makes every resource carry its construct path in the template
// (Metadata "aws:cdk:path"), as the CDK CLI does by default.
const pathMetadataContext = "aws:cdk:enable-path-metadata"

// Synthesize builds the real app for one environment of cdk.json, the way `cdk synth -c env=ENV`
// does, and returns its stack's CloudFormation template, each resource annotated with its
// construct path. root is the module's root directory.
func Synthesize(root, env string) (template []byte, err error) {
	raw, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	ctx := doc.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	ctx[app.EnvContextKey] = env
	ctx[pathMetadataContext] = true
	out, err := os.MkdirTemp("", "kpilake-diagram-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	defer func() {
		// jsii reports CDK errors (validation, cdk-nag findings) as panics.
		if r := recover(); r != nil {
			err = fmt.Errorf("synth of environment %s failed: %v", env, r)
		}
	}()
	a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
	if _, err := app.Build(a, app.Options{DefaultAccount: Account, Root: root}); err != nil {
		return nil, err
	}
	a.Synth(nil)
	return os.ReadFile(filepath.Join(out, stack.Name(env)+".template.json"))
}
