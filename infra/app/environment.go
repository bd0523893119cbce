package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// SynthEnvironment builds the real app for one environment of the project's cdk.json (root is
// the module's root), as `cdk synth -c env=ENV` does, for account, with extra context on top of
// cdk.json's, and returns every template it writes, by file name (KpiLake-prod.template.json, and
// any other stack's). jsii reports CDK errors (cdk-nag findings) as panics: they are returned as
// an error naming the environment. Its callers read the templates (the review, the diagram), so
// it leaves out the CDK's built-in CloudFormation validation, which `cdk synth` and `make test`
// run: its WebAssembly engine costs seconds of CPU per process and per environment.
func SynthEnvironment(root, env, account string, extra map[string]any) (templates map[string][]byte, err error) {
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
	for k, v := range extra {
		ctx[k] = v
	}
	ctx[EnvContextKey] = env
	out, err := os.MkdirTemp("", "kpilake-synth-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth of environment %s failed: %v", env, r)
		}
	}()
	a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out), BuiltinCloudFormationValidation: jsii.Bool(false)})
	if _, err := Build(a, Options{DefaultAccount: account, Root: root}); err != nil {
		return nil, err
	}
	a.Synth(nil)
	files, err := filepath.Glob(filepath.Join(out, "*.template.json"))
	if err != nil {
		return nil, err
	}
	templates = map[string][]byte{}
	for _, f := range files {
		if templates[filepath.Base(f)], err = os.ReadFile(f); err != nil {
			return nil, err
		}
	}
	return templates, nil
}
