//go:build !unit

// Package test synthesizes the real app for every environment and checks the result: snapshots
// of the templates, cdk-nag (AwsSolutions) and cfn-lint findings, and config errors at synth.
package test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/delivery"
	"github.com/kpilake/kpilake/infra/review"
	"github.com/kpilake/kpilake/infra/stack"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/")

// Fixed target of the snapshots: a placeholder account, never a real one.
const snapshotAccount = review.Account

// root is the module root, relative to this package.
const root = ".."

// cdkContext is the context of cdk.json: feature flags and the kpilake configuration.
func cdkContext(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return doc.Context
}

// cfnValidatePlugin is the name that the CDK's built-in CloudFormation validation reports under.
const cfnValidatePlugin = "CloudFormation Validate"

// variantApp is an App for a synthesis that varies the app as deployed (another region, a bad
// configuration, a planted finding, generated sources): it skips the CDK's built-in
// CloudFormation validation, which synthAll and the pipeline's synthesis run, as `cdk synth` does,
// on the environments and the pipeline that deploy. cfn-lint lints the variants that are meant
// to deploy. The validation is a WebAssembly engine: each synthesis it checks costs CPU time that
// the variants would pay for nothing.
func variantApp(ctx map[string]any, dir string) awscdk.App {
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(dir), BuiltinCloudFormationValidation: jsii.Bool(false)})
}

// assembly is the app synthesized once for every environment.
type assembly struct {
	dir    string
	stacks []string
	err    error
}

var (
	synthOnce sync.Once
	synthed   assembly
)

// jsiiMu is held by every synthesis that a parallel test (t.Parallel) may run: jsii's client
// writes a call to Node and reads the answer without a lock of its own, so two goroutines calling
// at once would read each other's answers. The parallel tests are those that spend their time in
// other processes (cfn-lint, make diff, the app binary); every other test runs before them, alone.
var jsiiMu sync.Mutex

// template returns the synthesized template of stack name with its nested stacks inlined
// (review.Flatten): the checks read what the stack deploys, wherever a resource sits.
func (a assembly) template(t *testing.T, name string) []byte {
	t.Helper()
	out, err := review.Flatten(a.files(t), name+".template.json")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// files are the assembly's templates (stacks' and nested stacks'), as synthesized, by file name.
func (a assembly) files(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(a.dir, "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = raw
	}
	return files
}

// synthAll synthesizes the real app, as `cdk synth` does, into a temporary directory, with
// cdk.json's configuration and a delivery repository added (withDelivery), so that one synthesis
// serves both: the deploy roles' stacks join the environments' stacks, which app.Build makes by
// the same call with or without delivery (prod's snapshot, which make diff compares with cdk.json's
// app as it is, holds that too).
func synthAll(t *testing.T) assembly {
	t.Helper()
	synthOnce.Do(func() {
		jsiiMu.Lock()
		defer jsiiMu.Unlock()
		dir, err := os.MkdirTemp("", "kpilake-synth-")
		if err != nil {
			synthed.err = err
			return
		}
		synthed.dir = dir
		synthed.err = func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("synth panicked: %v", r)
				}
			}()
			ctx := withDelivery(cdkContext(t))
			a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(dir)})
			stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
			if err != nil {
				return err
			}
			for _, s := range stacks {
				synthed.stacks = append(synthed.stacks, *s.StackName())
			}
			return app.Synth(a, stacks)
		}()
	})
	if synthed.err != nil {
		t.Fatalf("synth: %v", synthed.err)
	}
	return synthed
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("-short (make test-unit): these tests synthesize the app and run services; make test runs them")
		os.Exit(0)
	}
	code := m.Run()
	dirs := []string{synthed.dir, pipelineDir}
	for _, r := range scaled {
		dirs = append(dirs, r.Dir)
	}
	for _, dir := range dirs {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// normalize is the snapshots' form of a template; `make diff` normalizes with the same function.
func normalize(t *testing.T, raw []byte) []byte {
	t.Helper()
	out, err := review.Normalize(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSynth_OneStackPerEnvironment(t *testing.T) {
	cfg, err := config.Parse(cdkContext(t)[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range cfg.Names() {
		want = append(want, stack.Name(n))
	}
	got := append([]string(nil), synthAll(t).stacks...)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stacks (-want +got):\n%s", diff)
	}
	if len(want) < 2 {
		t.Errorf("cdk.json configures %d environments; dev and prod at least", len(want))
	}
}

// envSnapshot matches the file names of the environments' templates: KpiLake-prod.template.json
// and the nested stacks', KpiLakeprodSourcesocial78B5D8ED.nested.template.json.
var envSnapshot = regexp.MustCompile(`^KpiLake(-[a-z0-9]+\.template|[A-Za-z0-9]+\.nested\.template)\.json$`)

// checkSnapshot compares template raw, normalized, with its snapshot testdata/<file> (with
// -update, rewrites it first).
func checkSnapshot(t *testing.T, file string, raw []byte) {
	t.Helper()
	got := normalize(t, raw)
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make snapshot-update` to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("template %s changed (-want +got); if intended, run `make snapshot-update` and review the diff:\n%s", file, diff)
	}
}

// TestSnapshot compares every template of the assembly, each nested stack's in a file of its
// own as the CDK writes it, with its snapshot in testdata/, and finds no snapshot left over.
func TestSnapshot(t *testing.T) {
	a := synthAll(t)
	files := a.files(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".template.json"), func(t *testing.T) {
			checkSnapshot(t, name, files[name])
		})
	}
	// Other snapshot tests own the other stacks' snapshots (TestSnapshot_Delivery, TestSnapshot_Pipeline).
	stale, err := filepath.Glob(filepath.Join("testdata", "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range stale {
		name := filepath.Base(path)
		if _, ok := files[name]; ok || !envSnapshot.MatchString(name) || name == delivery.PipelineStackName+".template.json" {
			continue
		}
		if *update {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("snapshot %s belongs to no synthesized template; run `make snapshot-update` to remove it", path)
	}
}

// manifestMessages returns the error and warning annotations of every stack in an assembly.
func manifestMessages(t *testing.T, dir string) (errs, warnings []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Artifacts map[string]struct {
			Metadata map[string][]struct {
				Type string `json:"type"`
				Data any    `json:"data"`
			} `json:"metadata"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, art := range m.Artifacts {
		for path, entries := range art.Metadata {
			for _, e := range entries {
				msg := fmt.Sprintf("%s: %v", path, e.Data)
				switch e.Type {
				case "aws:cdk:error":
					errs = append(errs, msg)
				case "aws:cdk:warning":
					warnings = append(warnings, msg)
				}
			}
		}
	}
	sort.Strings(errs)
	sort.Strings(warnings)
	return errs, warnings
}

func TestNag_NoUnsuppressedFindings(t *testing.T) {
	errs, warnings := manifestMessages(t, synthAll(t).dir)
	for _, e := range errs {
		t.Errorf("error: %s", e)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w)
	}
}

// The gates must bite: an insecure bucket and queue in the same app are reported by every pack,
// and a queue that CloudFormation would reject by the CDK's built-in validation, which the app
// runs as `cdk synth` does (cdk.json's validateAgainstDefaultRules makes its errors fail synth).
func TestNag_ReportsAnInsecureBucket(t *testing.T) {
	ctx := cdkContext(t)
	ctx[app.EnvContextKey] = "dev"
	dir := t.TempDir()
	a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(dir)})
	stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	awss3.NewBucket(stacks[0].Stack, jsii.String("Insecure"), &awss3.BucketProps{})
	awssqs.NewQueue(stacks[0].Stack, jsii.String("InsecureQueue"), &awssqs.QueueProps{})
	awscdk.NewCfnResource(stacks[0].Stack, jsii.String("InvalidQueue"), &awscdk.CfnResourceProps{
		Type: jsii.String("AWS::SQS::Queue"), Properties: &map[string]any{"VisibilityTimeout": 43201},
	})
	failed := func() (failed any) {
		defer func() { failed = recover() }()
		a.Synth(nil)
		return nil
	}()
	if failed == nil {
		t.Fatal("synth succeeded with an insecure bucket; cdk-nag findings must fail synth")
	}
	report, err := os.ReadFile(filepath.Join(dir, "validation-report.json"))
	if err != nil {
		t.Fatalf("synth failed (%v) without a validation report: %v", failed, err)
	}
	var r struct {
		PluginReports []struct {
			PluginName string `json:"pluginName"`
			Violations []struct {
				RuleName            string `json:"ruleName"`
				Description         string `json:"description"`
				ViolatingConstructs []struct {
					ConstructPath string `json:"constructPath"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		t.Fatalf("validation report: %v", err)
	}
	planted := []string{"KpiLake-dev/Insecure/Resource", "KpiLake-dev/InsecureQueue/Resource", "KpiLake-dev/InvalidQueue"}
	flagged := map[string]bool{}
	for _, pr := range r.PluginReports {
		for _, v := range pr.Violations {
			// cdk-nag's rule leads its description; the CDK's validation names it apart.
			rule, _, _ := strings.Cut(v.Description, ":")
			if pr.PluginName == cfnValidatePlugin {
				rule = pr.PluginName + "::" + v.RuleName
			}
			for _, c := range v.ViolatingConstructs {
				if slices.Contains(planted, c.ConstructPath) {
					flagged[rule] = true
				} else {
					t.Errorf("finding on a kpilake resource: %s %s", rule, c.ConstructPath)
				}
			}
		}
	}
	// One rule of each pack, and the CDK's validation of the queue's VisibilityTimeout (at most
	// 43,200 seconds).
	for _, rule := range []string{"AwsSolutions-S1", "AwsSolutions-S10", "NIST.800.53.R5-S3BucketVersioningEnabled",
		"HIPAA.Security-S3BucketVersioningEnabled", "Serverless-SQSRedrivePolicy", cfnValidatePlugin + "::F3034"} {
		if !flagged[rule] {
			t.Errorf("synth did not report %s on the planted bucket or queues; report:\n%s", rule, report)
		}
	}
}

// needTool returns the path of a command-line tool; it skips the test when the tool cannot exist
// here, and fails it in CI, where everything must run.
func needTool(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed, and CI must run every check: %s", name, why)
		}
		t.Skipf("%s is not installed (%s); install it to run this check", name, why)
	}
	return p
}

func TestCfnLint_Clean(t *testing.T) {
	t.Parallel()
	lint := needTool(t, "cfn-lint", "it lints every synthesized template")
	a := synthAll(t)
	cfg, err := config.Parse(cdkContext(t)[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	byRegion := templatesByRegion(t, a.dir, a.stacks)
	want := map[string]bool{}
	for _, n := range cfg.Names() {
		e, err := cfg.Select(n)
		if err != nil {
			t.Fatal(err)
		}
		want[e[0].Region] = true
	}
	for region := range want {
		if len(byRegion[region]) == 0 {
			t.Errorf("cdk.json names region %s, but no template is linted there", region)
		}
	}
	cfnLint(t, lint, byRegion)
}

// cfnLint runs cfn-lint once per region on the templates deployed there.
func cfnLint(t *testing.T, lint string, byRegion map[string][]string) {
	t.Helper()
	regions := make([]string, 0, len(byRegion))
	for r := range byRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, region := range regions {
		args := append([]string{"--config-file", filepath.Join(root, ".cfnlintrc.yaml"), "--regions", region, "--"}, byRegion[region]...)
		out, err := exec.Command(lint, args...).CombinedOutput()
		if err != nil {
			t.Errorf("cfn-lint found problems in %s (%v):\n%s", region, err, out)
		}
	}
}

// templatesByRegion groups the template files of stacks in assembly dir, and of their nested
// stacks, by the region each stack deploys to, as the manifest records it.
func templatesByRegion(t *testing.T, dir string, stacks []string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Artifacts map[string]struct{ Environment string }
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	files := assembly{dir: dir}.files(t)
	out := map[string][]string{}
	for _, s := range stacks {
		_, region, ok := strings.Cut(strings.TrimPrefix(m.Artifacts[s].Environment, "aws://"), "/")
		if !ok || region == "" || strings.HasPrefix(region, "unknown") {
			t.Fatalf("stack %s has environment %q; cfn-lint needs its region", s, m.Artifacts[s].Environment)
		}
		out[region] = append(out[region], filepath.Join(dir, s+".template.json"))
		nested, err := review.Nested(files, s+".template.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nested {
			out[region] = append(out[region], filepath.Join(dir, n))
		}
	}
	return out
}

// An environment in another region is linted in that region, not in a fixed one.
func TestCfnLint_EachEnvironmentInItsRegion(t *testing.T) {
	t.Parallel()
	lint := needTool(t, "cfn-lint", "it lints every synthesized template")
	ctx := cdkContext(t)
	raw, _ := json.Marshal(ctx)
	const other = "eu-west-1"
	raw = []byte(strings.ReplaceAll(string(raw), `"ap-northeast-1"`, `"`+other+`"`))
	raw = []byte(strings.ReplaceAll(string(raw), ":ap-northeast-1:", ":"+other+":"))
	if err := json.Unmarshal(raw, &ctx); err != nil {
		t.Fatal(err)
	}
	ctx[app.EnvContextKey] = "prod"
	dir := t.TempDir()
	name, err := func() (string, error) {
		jsiiMu.Lock()
		defer jsiiMu.Unlock()
		a := variantApp(ctx, dir)
		stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
		if err != nil {
			return "", err
		}
		a.Synth(nil)
		return *stacks[0].StackName(), nil
	}()
	if err != nil {
		t.Fatal(err)
	}
	byRegion := templatesByRegion(t, dir, []string{name})
	if len(byRegion) != 1 || len(byRegion[other]) < 2 {
		t.Fatalf("templates by region = %v, want the prod template and its sources' in %s", byRegion, other)
	}
	cfnLint(t, lint, byRegion)
}

// The CDK entry point must fail synth, listing every problem, when cdk.json is wrong. Two cases
// run the app as the CDK CLI does (cdk.json's command, the context in CDK_CONTEXT_JSON): an error
// of the configuration and one found at synth, each a message and exit status 1, no Go panic.
// The others differ only in the message, which app.Build returns the same way in process.
func TestApp_FailsSynthOnBadConfig(t *testing.T) {
	t.Parallel()
	command := appCommand(t)
	bad := map[string]any{config.ContextKey: map[string]any{"environments": map[string]any{
		"prod": map[string]any{
			"region": "tokyo", "production": true, "removalPolicy": "destroy",
			"athena": map[string]any{"bytesScannedCutoffPerQuery": 5},
			"regoin": "ap-northeast-1",
		},
	}}}
	tests := []struct {
		name    string
		process bool // run as the CDK CLI runs the app
		context map[string]any
		want    []string
	}{
		{"every problem listed", true, bad, []string{
			"4 problems",
			`kpilake.environments.prod.region: "tokyo" is not an AWS region`,
			"kpilake.environments.prod.removalPolicy: a production environment must keep its data",
			"kpilake.environments.prod.athena.bytesScannedCutoffPerQuery: must be between 10000000",
			"kpilake.environments.prod.regoin: unknown key",
		}},
		{"unknown environment", false, map[string]any{
			config.ContextKey: cdkContext(t)[config.ContextKey], app.EnvContextKey: "staging",
		}, []string{`environment "staging" is not configured; choose one of dev, prod`}},
		{"no configuration", false, map[string]any{}, []string{`kpilake: is missing`}},
		{"a KPI reads a table the environment lacks", false, withoutTable(t, "posts"), []string{
			"the KPI catalog (queries/) does not fit the configuration",
			`department_activity.sql: kpi "department_activity" reads social.posts, which this environment does not have`,
		}},
		// reactions_given_received reads {{ state "social" "posts" }}; cdk.json's posts is
		// incremental, which the synthesis of every other test passes.
		{"a KPI reads the state of a table extracted as a snapshot", false, asSnapshot(t, "posts"), []string{
			"environment dev", `{{ state "social" "posts" }}`, "social.posts is not incremental",
			config.ContextKey + ".environments.dev.sources", `{{ source "social" "posts" }}`,
		}},
		// Past CloudFormation's resources per stack: a config error with the count, the limit and
		// the cdk.json key to change, not the CDK's panic and a Go stack trace.
		// A source of 300 tables: its extraction function's environment, which lists them, past
		// Lambda's 4 KB (each source is a nested stack of its own, so resources per stack no longer
		// grow with sources; infra/limits' test drives every other limit).
		{"a function's environment past Lambda's limit", true, scaledContext(t, scale{Sources: 1, TablesPerSource: 300, KPIs: 5}), []string{
			"the environment would not deploy: ",
			"KpiLakedevSourcesocial", "/ExtractionExtractFunction", " bytes of environment variables, over the limit of 4096 (Lambda, per function)",
			"kpilake.environments.dev.sources[].tables", "split a source with many tables into two sources",
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The first runs alone: its `go run` builds the app into Go's cache, from which the
			// other process starts.
			if i > 0 {
				t.Parallel()
			}
			if !tc.process {
				err := buildAndSynth(t, tc.context)
				if err == nil {
					t.Fatal("app.Build and app.Synth succeeded, want an error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			ctx, _ := json.Marshal(tc.context)
			cmd := exec.Command(command[0], command[1:]...)
			cmd.Dir = root
			// CDK_VALIDATION=false: a bad configuration is a variant (variantApp).
			cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+t.TempDir(), "CDK_VALIDATION=false")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("%s exited with %v, want exit status 1; output:\n%s", strings.Join(command, " "), err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic:") {
				t.Errorf("a Go panic reached the user:\n%s", out)
			}
		})
	}
}

// buildAndSynth builds and synthesizes the app with context in process, as the app's main does,
// and returns the error that main would print.
func buildAndSynth(t *testing.T, context map[string]any) error {
	t.Helper()
	jsiiMu.Lock()
	defer jsiiMu.Unlock()
	a := variantApp(context, t.TempDir())
	stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
	if err == nil {
		err = app.Synth(a, stacks)
	}
	return err
}

// appCommand is cdk.json's "app", the command with which the CDK CLI runs the app.
func appCommand(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		App string `json:"app"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	command := strings.Fields(doc.App)
	if len(command) == 0 {
		t.Fatal(`cdk.json has no "app" command`)
	}
	return command
}

// stateMachineDefinitions returns each state machine's definition from a synthesized template,
// with every CloudFormation reference replaced by a fixed, well-formed ARN.
func stateMachineDefinitions(t *testing.T, template []byte) map[string]string {
	t.Helper()
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(template, &tmpl); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::StepFunctions::StateMachine" {
			continue
		}
		out[id] = resolveJoin(t, r.Properties["DefinitionString"])
	}
	return out
}

// resolveJoin renders {"Fn::Join": ["", [...]]} with references replaced by placeholders that
// are valid where they stand: ARNs (inside JSON strings) named after the referenced resource.
func resolveJoin(t *testing.T, v any) string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			parts, _ := join[1].([]any)
			var b strings.Builder
			for _, p := range parts {
				b.WriteString(resolveJoin(t, p))
			}
			return b.String()
		}
		if ref, ok := x["Ref"].(string); ok {
			switch ref {
			case "AWS::Partition":
				return "aws"
			case "AWS::Region":
				return "ap-northeast-1"
			case "AWS::AccountId":
				return snapshotAccount
			}
			return "arn:aws:lambda:ap-northeast-1:" + snapshotAccount + ":function:" + ref
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			return fmt.Sprintf("arn:aws:lambda:ap-northeast-1:%s:function:%v", snapshotAccount, att[0])
		}
	}
	t.Fatalf("cannot resolve %v in a state machine definition", v)
	return ""
}

func TestStateMachines_PassASLValidator(t *testing.T) {
	validator := filepath.Join(root, "node_modules", ".bin", "asl-validator")
	if _, err := os.Stat(validator); err != nil {
		t.Fatalf("asl-validator is not installed (%v); run `make setup`", err)
	}
	a := synthAll(t)
	count := 0
	for _, name := range a.stacks {
		raw := a.template(t, name)
		for id, def := range stateMachineDefinitions(t, raw) {
			count++
			path := filepath.Join(t.TempDir(), id+".json")
			if err := os.WriteFile(path, []byte(def), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(validator, "--json-path", path).CombinedOutput()
			if err != nil {
				t.Errorf("%s %s: asl-validator: %v\n%s\n%s", name, id, err, out, def)
			}
			if strings.Contains(def, `"QueryLanguage":"JSONata"`) {
				t.Errorf("%s %s uses JSONata; keep definitions in JSONPath so they run locally", name, id)
			}
		}
	}
	if count == 0 {
		t.Error("no state machine found in the synthesized templates")
	}
}

// withoutTable is the cdk.json context with one table removed from every source, for dev only.
func withoutTable(t *testing.T, table string) map[string]any {
	t.Helper()
	return withTables(t, func(tb map[string]any) bool { return tb["name"] != table })
}

// asSnapshot is cdk.json's dev environment with table extracted as a snapshot (whole, each day).
func asSnapshot(t *testing.T, table string) map[string]any {
	t.Helper()
	return withTables(t, func(tb map[string]any) bool {
		if tb["name"] == table {
			tb["mode"] = string(config.Snapshot)
			delete(tb, "timestampColumn")
		}
		return true
	})
}

// withTables is cdk.json's dev environment with each source's tables edited by keep, which
// returns whether to keep the table.
func withTables(t *testing.T, keep func(table map[string]any) bool) map[string]any {
	t.Helper()
	ctx := cdkContext(t)
	cfg := ctx[config.ContextKey].(map[string]any)
	env := cfg["environments"].(map[string]any)["dev"].(map[string]any)
	for _, src := range env["sources"].([]any) {
		s := src.(map[string]any)
		var kept []any
		for _, tb := range s["tables"].([]any) {
			if keep(tb.(map[string]any)) {
				kept = append(kept, tb)
			}
		}
		s["tables"] = kept
	}
	return map[string]any{config.ContextKey: cfg, app.EnvContextKey: "dev"}
}

// The operator CLI finds the environment's resources by the stack's outputs (contract.Output*):
// every environment's stack has each of them, with a value.
func TestOutputs_TheCLIReadsAreInEveryStack(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		tp := loadTemplate(t, a, name)
		for _, key := range []string{contract.OutputRawBucketName, contract.OutputBackfillQueueURL, contract.OutputBackfillDeadLetterQueueURL} {
			if out, ok := tp.Outputs[key]; !ok || out.Value == nil {
				t.Errorf("%s: no output %s, which kpilake backfill reads", name, key)
			}
		}
	}
}
