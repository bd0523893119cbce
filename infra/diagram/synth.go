package diagram

import (
	"fmt"

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
// does (without the CDK's CloudFormation validation: a picture needs none), and returns its
// stack's CloudFormation template with its nested stacks inlined (review.Flatten), each resource
// annotated with its construct path. root is the module's root directory.
func Synthesize(root, env string) ([]byte, error) {
	templates, err := app.SynthEnvironment(root, env, Account, map[string]any{pathMetadataContext: true})
	if err != nil {
		return nil, fmt.Errorf("diagram: synthesize environment %s: %w", env, err)
	}
	file := stack.Name(env) + ".template.json"
	if _, ok := templates[file]; !ok {
		return nil, fmt.Errorf("diagram: synth of environment %s wrote no %s", env, file)
	}
	flat, err := review.Flatten(templates, file)
	if err != nil {
		return nil, fmt.Errorf("diagram: inline the nested stacks of %s: %w", file, err)
	}
	return flat, nil
}
