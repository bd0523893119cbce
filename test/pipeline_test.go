//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/delivery"
	"github.com/kpilake/kpilake/infra/stack"
)

// pipelineConnection is the placeholder connection the pipeline tests configure.
const pipelineConnection = "arn:aws:codeconnections:ap-northeast-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

var (
	pipelineOnce sync.Once
	pipelineDir  string
	pipelineErr  error
)

// synthPipeline synthesizes cdk.json's environments with "delivery": {"pipeline": ...}, once,
// as `cdk synth` does (no -c env): the pipeline stack, each environment in a stage of its own.
func synthPipeline(t *testing.T) string {
	t.Helper()
	pipelineOnce.Do(func() {
		jsiiMu.Lock()
		defer jsiiMu.Unlock()
		ctx := cdkContext(t)
		ctx[config.ContextKey].(map[string]any)["delivery"] = map[string]any{
			"githubRepository": deliveryRepository,
			"pipeline":         map[string]any{"connectionArn": pipelineConnection},
		}
		pipelineDir, pipelineErr = os.MkdirTemp("", "kpilake-pipeline-")
		if pipelineErr != nil {
			return
		}
		pipelineErr = func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("synth panicked: %v", r)
				}
			}()
			a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(pipelineDir)})
			stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
			if err != nil {
				return err
			}
			return app.Synth(a, stacks)
		}()
	})
	if pipelineErr != nil {
		t.Fatalf("synth with a pipeline: %v", pipelineErr)
	}
	return pipelineDir
}

// With the pipeline configured, `-c env=<name>` (make diff, make deploy: a deploy by hand) still
// builds that environment's stack alone, at the top of the app, and no pipeline.
func TestPipeline_SelectingAnEnvironmentBuildsItAlone(t *testing.T) {
	ctx := cdkContext(t)
	ctx[config.ContextKey].(map[string]any)["delivery"] = map[string]any{
		"githubRepository": deliveryRepository,
		"pipeline":         map[string]any{"connectionArn": pipelineConnection},
	}
	ctx[app.EnvContextKey] = "prod"
	a := variantApp(ctx, t.TempDir())
	stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var children []string
	for _, c := range *a.Node().Children() {
		children = append(children, *c.Node().Id())
	}
	if want := []string{stack.Name("prod")}; !cmp.Equal(want, children) || len(stacks) != 1 {
		t.Errorf("the app holds %v (%d stacks), want only %v", children, len(stacks), want)
	}
}

// stageDir is the cloud assembly of environment env's stage in the pipeline's assembly dir.
func stageDir(dir, env string) string {
	return filepath.Join(dir, "assembly-"+delivery.PipelineStackName+"-"+env)
}

// The pipeline stack passes the environments' gates: a snapshot (rewritten by
// `go test ./test -run TestSnapshot -update`), every cdk-nag pack with nothing unsuppressed, in
// the pipeline and in each stage, and cfn-lint in each stack's region.
func TestSnapshot_Pipeline(t *testing.T) {
	dir := synthPipeline(t)
	name := delivery.PipelineStackName
	raw, err := os.ReadFile(filepath.Join(dir, name+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, name+".template.json", raw)
}

func TestPipeline_NagAndCfnLint(t *testing.T) {
	t.Parallel()
	dir := synthPipeline(t)
	byRegion := templatesByRegion(t, dir, []string{delivery.PipelineStackName})
	for _, env := range []string{"dev", "prod"} {
		sd := stageDir(dir, env)
		errs, warnings := manifestMessages(t, sd)
		for _, m := range append(errs, warnings...) {
			t.Errorf("cdk-nag, stage %s: %s", env, m)
		}
		for region, files := range templatesByRegion(t, sd, stageStacks(t, sd)) {
			byRegion[region] = append(byRegion[region], files...)
		}
	}
	errs, warnings := manifestMessages(t, dir)
	for _, m := range append(errs, warnings...) {
		t.Errorf("cdk-nag, pipeline: %s", m)
	}
	lint := needTool(t, "cfn-lint", "it lints every synthesized template")
	cfnLint(t, lint, byRegion)
}

// stageStacks are the stack artifacts of a stage's assembly.
func stageStacks(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Artifacts map[string]struct{ Type string }
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for id, a := range m.Artifacts {
		if a.Type == "aws:cloudformation:stack" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// The pipeline deploys the very stacks that `make deploy ENV=<env>` deploys: each stage's
// template, normalized, is its environment's snapshot, under the same CloudFormation stack name,
// but for the names that the CDK derives from the construct path (a nested stack's output names,
// an event rule's statement ID), which hold the stage's path (pathNames).
func TestPipeline_StagesDeployTheSnapshottedStacks(t *testing.T) {
	dir := synthPipeline(t)
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			sd := stageDir(dir, env)
			ids := stageStacks(t, sd)
			if len(ids) != 1 {
				t.Fatalf("stage %s has stacks %v, want one", env, ids)
			}
			raw, err := os.ReadFile(filepath.Join(sd, ids[0]+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", stack.Name(env)+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pathNames(env, string(want)), pathNames(env, string(normalize(t, raw)))); diff != "" {
				t.Errorf("stage %s's stack differs from its snapshot (-snapshot +stage):\n%s", env, diff)
			}
		})
	}
}

// pathNames masks, in a template of environment env, the names that the CDK derives from a
// construct's path (KpiLake<env>...<8 hex digits>): a stage's hold the stage's path too.
func pathNames(env, template string) string {
	stage := "KpiLake" + strings.ReplaceAll(delivery.PipelineStackName, "-", "")[len("KpiLake"):] + env
	template = strings.ReplaceAll(template, stage+"KpiLake"+env, "KpiLake"+env)
	return regexp.MustCompile(`(KpiLake`+env+`[A-Za-z]\w*?)[0-9A-F]{8}(Ref|Arn|")`).ReplaceAllString(template, "${1}<hash>${2}")
}

// pipelineAction is an action of the synthesized AWS::CodePipeline::Pipeline.
type pipelineAction struct {
	Name         string
	RunOrder     int
	ActionTypeID struct{ Category, Provider string } `json:"ActionTypeId"`
	Config       map[string]any                      `json:"Configuration"`
}

// A push is built (lint, unit tests, synth) and updates the pipeline before anything deploys;
// then dev, then prod; in each environment a check that stops for approval on widened IAM or
// security groups runs first, and prod waits for a manual approval, before its stack deploys
// under its own name.
func TestPipeline_DeploysInOrderAfterChecks(t *testing.T) {
	dir := synthPipeline(t)
	raw, err := os.ReadFile(filepath.Join(dir, delivery.PipelineStackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Stages []struct {
					Name    string
					Actions []pipelineAction
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	var stages []string
	actions := map[string][]pipelineAction{}
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::CodePipeline::Pipeline" {
			continue
		}
		for _, s := range r.Properties.Stages {
			stages = append(stages, s.Name)
			actions[s.Name] = s.Actions
		}
	}
	if want := []string{"Source", "Build", "UpdatePipeline", "Assets", "dev", "prod"}; !cmp.Equal(want, stages) {
		t.Fatalf("stages %v, want %v", stages, want)
	}
	if got := actions["Source"]; len(got) != 1 || got[0].ActionTypeID.Provider != "CodeStarSourceConnection" ||
		got[0].Config["ConnectionArn"] != pipelineConnection || got[0].Config["FullRepositoryId"] != deliveryRepository || got[0].Config["BranchName"] != "main" {
		t.Errorf("source actions %+v, want one from %s's main through the configured connection", got, deliveryRepository)
	}
	for _, env := range []string{"dev", "prod"} {
		var check, approve, deploy int
		for _, a := range actions[env] {
			switch {
			case a.ActionTypeID.Provider == "CodeBuild" && strings.Contains(a.Name, "ConfirmBroadening"):
				check = a.RunOrder
			case a.ActionTypeID.Category == "Approval" && a.Name == "Approve":
				approve = a.RunOrder
			case a.ActionTypeID.Provider == "CloudFormation" && a.Config["ActionMode"] == "CHANGE_SET_REPLACE":
				if a.Config["StackName"] != stack.Name(env) {
					t.Errorf("%s deploys stack %v, want %s", env, a.Config["StackName"], stack.Name(env))
				}
				deploy = a.RunOrder
			}
		}
		if check == 0 || deploy == 0 || check >= deploy {
			t.Errorf("%s: broadening check at run order %d, deploy at %d; the check must come first", env, check, deploy)
		}
		if env == "prod" && (approve == 0 || approve >= deploy) {
			t.Errorf("prod: manual approval at run order %d, deploy at %d; prod must wait for an approval", approve, deploy)
		}
		if env == "dev" && approve != 0 {
			t.Errorf("dev: a manual approval at run order %d; only production environments wait for one", approve)
		}
	}
}
