//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/limits"
	"github.com/kpilake/kpilake/queries"
)

// scale is the shape of a generated environment: dev with Sources database sources of
// TablesPerSource tables each (the sample source first, then copies of it), and KPIs KPIs (the
// repository's, then copies of sampleKPI under new names).
type scale struct {
	Sources, TablesPerSource, KPIs int
	// LookbackDays is the environment's aggregate.lookbackDays; 0 leaves cdk.json's.
	LookbackDays int
}

func (s scale) String() string {
	out := fmt.Sprintf("%d sources x %d tables, %d KPIs", s.Sources, s.TablesPerSource, s.KPIs)
	if s.LookbackDays > 0 {
		out += fmt.Sprintf(", lookback %d", s.LookbackDays)
	}
	return out
}

// sampleKPI is the KPI that scaled catalogs copy.
const sampleKPI = "department_activity"

// scaledContext is the cdk.json context with environment dev only, grown to sc's sources: the
// sample source keeps its name and tables plus generated snapshot tables up to sc.TablesPerSource;
// the copies are named social_NN.
func scaledContext(t testing.TB, sc scale) map[string]any {
	t.Helper()
	ctx := cdkContext(t)
	cfg := ctx[config.ContextKey].(map[string]any)
	envs := cfg["environments"].(map[string]any)
	dev := envs["dev"].(map[string]any)
	for name := range envs {
		if name != "dev" {
			delete(envs, name)
		}
	}
	sample := dev["sources"].([]any)[0].(map[string]any)
	tables := sample["tables"].([]any)
	for i := len(tables); i < sc.TablesPerSource; i++ {
		tables = append(tables, map[string]any{"name": fmt.Sprintf("extra_%02d", i+1)})
	}
	sample["tables"] = tables
	sources := []any{sample}
	for i := 2; i <= sc.Sources; i++ {
		raw, _ := json.Marshal(sample)
		var cp map[string]any
		if err := json.Unmarshal(raw, &cp); err != nil {
			t.Fatal(err)
		}
		cp["name"] = fmt.Sprintf("%s_%02d", sample["name"], i)
		sources = append(sources, cp)
	}
	dev["sources"] = sources
	if sc.LookbackDays > 0 {
		dev["aggregate"] = map[string]any{"lookbackDays": sc.LookbackDays}
	}
	ctx[app.EnvContextKey] = "dev"
	return ctx
}

// scaledKPIs is the repository's KPI catalog grown to n KPIs by copies of sampleKPI, written to
// and loaded from a temporary queries directory as a user's would be.
func scaledKPIs(t testing.TB, n int) *queries.Catalog {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(root, "queries")
	files, err := filepath.Glob(filepath.Join(src, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var sample string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSuffix(filepath.Base(f), ".sql") == sampleKPI {
			sample = string(data)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if sample == "" {
		t.Fatalf("queries/%s.sql not found", sampleKPI)
	}
	for i := len(files) + 1; i <= n; i++ {
		name := fmt.Sprintf("%s_%03d", sampleKPI, i)
		text := strings.Replace(sample, "-- name: "+sampleKPI+"\n", "-- name: "+name+"\n", 1)
		if err := os.WriteFile(filepath.Join(dir, name+".sql"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := queries.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The catalog adds a state node per table a KPI reads with {{ state }}: not a KPI file.
	if got := len(cat.Names()) - len(cat.States()); got != n && n >= len(files) {
		t.Fatalf("scaled catalog has %d KPIs, want %d", got, n)
	}
	return cat
}

// stackStats are the figures of one synthesized template (a stack or a nested stack).
type stackStats struct {
	Name      string
	Resources int
	Bytes     int
	// Types counts the resources by CloudFormation type.
	Types map[string]int
}

// scaledSynth is the outcome of synthesizing one generated environment.
type scaledSynth struct {
	Dir     string
	Stacks  []stackStats
	Seconds float64
	// Err is the failure of app.Build or of synth (a panic, recovered), if any.
	Err error
}

// MaxResources and MaxBytes are the largest template's figures.
func (r scaledSynth) MaxResources() (n int) {
	for _, s := range r.Stacks {
		n = max(n, s.Resources)
	}
	return n
}

func (r scaledSynth) MaxBytes() (n int) {
	for _, s := range r.Stacks {
		n = max(n, s.Bytes)
	}
	return n
}

func (r scaledSynth) TotalResources() (n int) {
	for _, s := range r.Stacks {
		n += s.Resources
	}
	return n
}

// synthScaled synthesizes dev grown to sc, in process, as `cdk synth` does (with the CDK's
// built-in validation), and reads every template it wrote.
func synthScaled(t testing.TB, sc scale) scaledSynth {
	t.Helper()
	return synthScaledIn(t, sc, t.TempDir(), func(ctx map[string]any, dir string) awscdk.App {
		return awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(dir)})
	})
}

var (
	scaledMu sync.Mutex
	// scaled are the environments that tests synthesized, by scale; TestMain removes their dirs.
	scaled = map[scale]scaledSynth{}
)

// synthScaledOnce is synthScaled for tests: each scale is synthesized once, for every test that
// asks for it, as a variant (variantApp). (The benchmark synthesizes each time: it measures the
// synthesis.)
func synthScaledOnce(t *testing.T, sc scale) scaledSynth {
	t.Helper()
	scaledMu.Lock()
	defer scaledMu.Unlock()
	if r, ok := scaled[sc]; ok {
		return r
	}
	dir, err := os.MkdirTemp("", "kpilake-scaled-")
	if err != nil {
		t.Fatal(err)
	}
	r := synthScaledIn(t, sc, dir, variantApp)
	scaled[sc] = r
	return r
}

// synthScaledIn synthesizes dev grown to sc into dir, in an App that newApp makes.
func synthScaledIn(t testing.TB, sc scale, dir string, newApp func(ctx map[string]any, dir string) awscdk.App) scaledSynth {
	t.Helper()
	ctx := scaledContext(t, sc)
	kpis := scaledKPIs(t, sc.KPIs)
	out := scaledSynth{Dir: dir}
	start := time.Now()
	out.Err = func() (err error) {
		jsiiMu.Lock()
		defer jsiiMu.Unlock()
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("synth panicked: %v", r)
			}
		}()
		a := newApp(ctx, dir)
		stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root, KPIs: kpis})
		if err != nil {
			return err
		}
		return app.Synth(a, stacks)
	}()
	out.Seconds = time.Since(start).Seconds()
	files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tmpl struct {
			Resources map[string]struct{ Type string }
		}
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		st := stackStats{Name: strings.TrimSuffix(filepath.Base(f), ".template.json"), Resources: len(tmpl.Resources), Bytes: len(raw), Types: map[string]int{}}
		for _, r := range tmpl.Resources {
			st.Types[r.Type]++
		}
		out.Stacks = append(out.Stacks, st)
	}
	return out
}

// BenchmarkSynthScaling prints the scaling table of `make bench-synth`: for each generated
// environment, the templates, the largest one's resources and bytes, and the synth seconds
// (app.Build and Synth in this process, Lambda builds cached), all measured in one run.
func BenchmarkSynthScaling(b *testing.B) {
	cases := []scale{
		{1, 20, 5, 0}, {10, 20, 5, 0}, {50, 20, 5, 0},
		{1, 20, 100, 0}, {1, 20, 500, 0}, {1, 20, 500, 7},
		{50, 20, 500, 0}, {50, 20, 500, 7},
	}
	synthScaled(b, scale{1, 5, 5, 0}) // warm: the Lambda builds and jsii
	var rows []string
	for range b.N {
		rows = rows[:0]
		for _, sc := range cases {
			r := synthScaled(b, sc)
			status := "ok"
			if e, ok := limits.As(r.Err); ok {
				var crossed []string
				for _, p := range e.Problems {
					crossed = append(crossed, fmt.Sprintf("%s %d > %d", p.What, p.Count, p.Limit))
				}
				status = "FAILS: " + strings.Join(crossed, "; ")
			} else if r.Err != nil {
				status = "FAILS: " + firstLine(r.Err.Error())
			}
			rows = append(rows, fmt.Sprintf("%-42s %7d %9d %10d %9.0f %8.1f  %s",
				sc, len(r.Stacks), r.TotalResources(), r.MaxResources(), float64(r.MaxBytes())/1024, r.Seconds, status))
		}
	}
	fmt.Printf("\nsynth scaling (dev grown; %s)\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("%-42s %7s %9s %10s %9s %8s  %s\n", "environment", "stacks", "resources", "max/stack", "max KB", "synth s", "result")
	for _, r := range rows {
		fmt.Println(r)
	}
}

// firstLine is an error's message on one line, cut to a table cell.
func firstLine(s string) string {
	line := strings.Join(strings.Fields(s), " ")
	if len(line) > 240 {
		line = line[:240] + "..."
	}
	return line
}

// policies maps each IAM policy of a synthesized environment (inline default policies and managed
// policies, in every template) to its document.
func policies(t *testing.T, r scaledSynth) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, st := range r.Stacks {
		raw, err := os.ReadFile(filepath.Join(r.Dir, st.Name+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties struct{ PolicyDocument any }
			}
		}
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			t.Fatal(err)
		}
		for id, res := range tmpl.Resources {
			if res.Type == "AWS::IAM::Policy" || res.Type == "AWS::IAM::ManagedPolicy" {
				doc, _ := json.Marshal(res.Properties.PolicyDocument)
				out[st.Name+"/"+id] = string(doc)
			}
		}
	}
	return out
}

// Adding a KPI adds no IAM statement: the grants cover the KPI tables, their prefixes and their
// temporary tables by naming pattern, so hundreds more KPIs leave every policy as it was, and
// cdk-nag stays clean.
func TestIAM_AddingKPIsAddsNoStatement(t *testing.T) {
	few := synthScaledOnce(t, scale{Sources: 1, TablesPerSource: 5, KPIs: 5})
	many := synthScaledOnce(t, scale{Sources: 1, TablesPerSource: 5, KPIs: 500})
	for _, r := range []scaledSynth{few, many} {
		if r.Err != nil {
			t.Fatalf("synth: %v", r.Err)
		}
		errs, warnings := manifestMessages(t, r.Dir)
		for _, m := range append(errs, warnings...) {
			t.Errorf("%s", m)
		}
	}
	want, got := policies(t, few), policies(t, many)
	for id, doc := range got {
		if w, ok := want[id]; !ok {
			t.Errorf("500 KPIs add policy %s (%d bytes)", id, len(doc))
		} else if len(doc) != len(w) {
			t.Errorf("policy %s is %d bytes with 5 KPIs and %d bytes with 500: a statement or resource per KPI", id, len(w), len(doc))
		}
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("policy %s of 5 KPIs is missing with 500", id)
		}
	}
}

// The aggregation's plan names each distinct set of due KPIs once (and merges the days' sets when
// they are many), and Step Functions carries it from state to state: a catalog whose one set of
// waves could pass the plan's share of the payload fails synth naming the size and the fix
// (about 7,000 KPIs; 500 fit at any lookback).
func TestApp_PlanPastTheStepFunctionsPayloadIsAConfigError(t *testing.T) {
	ctx := scaledContext(t, scale{Sources: 1, TablesPerSource: 5})
	a := variantApp(ctx, t.TempDir())
	_, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root, KPIs: scaledKPIs(t, 7500)})
	for _, want := range []string{
		"queries/: the aggregation's plan of 7500 KPIs (and 1 state tables) can be",
		"over its share of Step Functions' payload limit (196608 of 262144 bytes", "move KPIs to another environment",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build = %v, want an error with %q", firstLine(fmt.Sprint(err)), want)
		}
	}
}

// An environment of 50 database sources of 20 tables each and 500 KPIs synthesizes within every
// limit, with room to grow: each source is a nested stack of its own, so a source adds one
// resource (its nested stack) to the environment's stack and the same resources to its own;
// cdk-nag finds nothing and cfn-lint passes the environment's stack and a source's. The
// environment of one source of five tables (synthesized for the KPI tests too) is the baseline.
func TestScale_FiftySourcesAndFiveHundredKPIs(t *testing.T) {
	t.Parallel()
	one := synthScaledOnce(t, scale{Sources: 1, TablesPerSource: 5, KPIs: 500})
	fifty := synthScaledOnce(t, scale{Sources: 50, TablesPerSource: 20, KPIs: 500})
	for _, r := range []scaledSynth{one, fifty} {
		if r.Err != nil {
			t.Fatalf("synth: %v", r.Err)
		}
	}
	parent := func(r scaledSynth) (main stackStats, nested []stackStats) {
		for _, s := range r.Stacks {
			if strings.HasSuffix(s.Name, ".nested") {
				nested = append(nested, s)
			} else {
				main = s
			}
		}
		return main, nested
	}
	p1, n1 := parent(one)
	p50, n50 := parent(fifty)
	if len(n1) != 1 || len(n50) != 50 {
		t.Fatalf("nested stacks: %d with 1 source, %d with 50; want one per source", len(n1), len(n50))
	}
	if got := p50.Resources - p1.Resources; got != 49 {
		t.Errorf("49 more sources (and 15 more tables each) add %d resources to the environment's stack, want 49 (one nested stack each)", got)
	}
	if got := p50.Types["AWS::CloudFormation::Stack"]; got != 50 {
		t.Errorf("the environment's stack has %d nested stacks, want 50", got)
	}
	for _, n := range n50 {
		if n.Resources != n50[0].Resources {
			t.Errorf("%s has %d resources and %s %d: a source's stack must not grow with the others", n.Name, n.Resources, n50[0].Name, n50[0].Resources)
		}
	}
	// Room to grow: the environment's stack at 50 sources and 500 KPIs stays under half of each
	// limit.
	if p50.Resources > limits.MaxResources/2 || p50.Bytes > limits.MaxTemplateBytes/2 {
		t.Errorf("%s: %d resources and %d bytes at 50 sources and 500 KPIs; want under half of %d and %d", p50.Name, p50.Resources, p50.Bytes, limits.MaxResources, limits.MaxTemplateBytes)
	}
	errs, warnings := manifestMessages(t, fifty.Dir)
	for _, m := range append(errs, warnings...) {
		t.Errorf("%s", m)
	}
	lint := needTool(t, "cfn-lint", "it lints every synthesized template")
	cfnLint(t, lint, map[string][]string{"ap-northeast-1": {
		filepath.Join(fifty.Dir, p50.Name+".template.json"), filepath.Join(fifty.Dir, n50[len(n50)-1].Name+".template.json"),
	}})
}

// A KPI adds no resource and nothing that grows with the KPIs to any template: its freshness and
// gap are watched by one alarm each for every KPI, its dashboard lines by one query per widget,
// its grants by naming patterns, and the plan names it once. 5 and 500 KPIs make templates of the
// same resources and, but for the KPIs' names in the functions' catalogs (none), the same size.
func TestScale_AKPIAddsNoResource(t *testing.T) {
	few := synthScaledOnce(t, scale{Sources: 1, TablesPerSource: 5, KPIs: 5})
	many := synthScaledOnce(t, scale{Sources: 1, TablesPerSource: 5, KPIs: 500})
	for _, r := range []scaledSynth{few, many} {
		if r.Err != nil {
			t.Fatalf("synth: %v", r.Err)
		}
	}
	if len(few.Stacks) != len(many.Stacks) {
		t.Fatalf("%d templates with 5 KPIs, %d with 500", len(few.Stacks), len(many.Stacks))
	}
	for i := range few.Stacks {
		f, m := few.Stacks[i], many.Stacks[i]
		if m.Resources != f.Resources {
			t.Errorf("%s: %d resources with 5 KPIs, %d with 500", f.Name, f.Resources, m.Resources)
		}
		if d := m.Bytes - f.Bytes; d > 1024 || d < -1024 {
			t.Errorf("%s: %d bytes with 5 KPIs, %d with 500: something grows with the KPIs", f.Name, f.Bytes, m.Bytes)
		}
	}
}
