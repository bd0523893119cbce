package review

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/app"
)

// Synthesize builds the real app for one environment of cdk.json (root is the module's root) the
// way the snapshot tests do, for the placeholder Account, and returns its templates normalized,
// by file name (KpiLake-prod.template.json, and any nested stack's).
func Synthesize(root, env string) (templates map[string][]byte, err error) {
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
	out, err := os.MkdirTemp("", "kpilake-review-")
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
	files, err := filepath.Glob(filepath.Join(out, "*.template.json"))
	if err != nil {
		return nil, err
	}
	templates = map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if templates[filepath.Base(f)], err = Normalize(data); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	return templates, nil
}

// StackName is the stack a template file holds: KpiLake-prod.template.json -> KpiLake-prod.
func StackName(file string) string {
	return strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".json"), ".template")
}
