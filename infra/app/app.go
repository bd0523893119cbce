// Package app is the composition root shared by the CDK entry point and the snapshot tests: it
// reads the configuration from the app's context, builds one stack per selected environment and
// applies the policy checks.
package app

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/delivery"
	"github.com/kpilake/kpilake/infra/limits"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/stack"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// stackResourceLimitContext is the CDK's context key for its own resources-per-stack check,
// which fails synth with a stack trace; Build turns it off (0) because Synth checks the same
// limit, and every other, with a message that says what to change (package limits).
const stackResourceLimitContext = "@aws-cdk/core:stackResourceLimit"

// EnvContextKey selects one environment: `cdk synth -c env=prod`. Without it, every configured
// environment is synthesized.
const EnvContextKey = "env"

// Options are the inputs that do not come from the context.
type Options struct {
	// DefaultAccount is used for environments that name no account (the CLI's default).
	DefaultAccount string
	// Root is the module's root directory. Default: ".".
	Root string
	// KPIs is the KPI catalog to deploy. Default: nil, the catalog embedded from queries/.
	KPIs *queries.Catalog
}

// Build adds the selected environments' stacks to app, with every cdk-nag pack of nag.Packs, and
// returns them. With "delivery", each also gets its GitHub deploy role's delivery.Bootstrap stack;
// with "delivery.pipeline" and no environment selected, the environments are the stages of one
// delivery.Pipeline stack instead.
func Build(a awscdk.App, opts Options) (_ []*stack.Stack, err error) {
	// A construct's validation panics (as jsii errors do); the user gets its message.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth failed: %v", r)
		}
	}()
	a.Node().SetContext(jsii.String(stackResourceLimitContext), 0)
	cfg, err := config.Parse(a.Node().TryGetContext(jsii.String(config.ContextKey)))
	if err != nil {
		return nil, err
	}
	var selected string
	if v := a.Node().TryGetContext(jsii.String(EnvContextKey)); v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("context %q must be an environment name, such as -c env=prod", EnvContextKey)
		}
		selected = s
	}
	envs, err := cfg.Select(selected)
	if err != nil {
		return nil, err
	}
	kpis := opts.KPIs
	if kpis == nil {
		if kpis, err = queries.Load(); err != nil {
			return nil, err
		}
	}
	var problems []error
	for _, e := range envs {
		if err := kpis.Validate(KnownSources(e)); err != nil {
			problems = append(problems, fmt.Errorf("environment %s: %w", e.Name, err))
		}
		if err := checkPlanPayload(e, kpis); err != nil {
			problems = append(problems, err)
		}
		problems = append(problems, checkStates(kpis, e)...)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("the KPI catalog (queries/) does not fit the configuration:\n%w", err)
	}
	var stacks []*stack.Stack
	addEnvironment := func(scope constructs.Construct, e *config.Environment) {
		stacks = append(stacks, stack.New(scope, &stack.Props{Env: e, DefaultAccount: opts.DefaultAccount, Root: opts.Root, KPIs: kpis}))
	}
	switch {
	case cfg.Delivery != nil && cfg.Delivery.Pipeline != nil && selected == "":
		// The pipeline deploys every environment, each from a stage of its own; -c env=<name>
		// still builds that one environment alone, for a diff or a deploy by hand.
		version, err := cdkCLIVersion(opts.Root)
		if err != nil {
			return nil, err
		}
		delivery.NewPipeline(a, &delivery.PipelineProps{Config: cfg, AddEnvironment: addEnvironment,
			Aspects: nag.Packs(), DefaultAccount: opts.DefaultAccount, CLIVersion: version})
	case cfg.Delivery != nil && cfg.Delivery.Pipeline == nil:
		// GitHub Actions deploys: each environment also has its deploy role's stack.
		for _, e := range envs {
			addEnvironment(a, e)
			delivery.NewBootstrap(a, &delivery.BootstrapProps{Env: e, Delivery: cfg.Delivery,
				CreateProvider: delivery.CreatesProvider(cfg, e.Name), DefaultAccount: opts.DefaultAccount})
		}
	default:
		for _, e := range envs {
			addEnvironment(a, e)
		}
	}
	for _, pack := range nag.Packs() {
		awscdk.Aspects_Of(a).Add(pack, nil)
	}
	return stacks, nil
}

// cdkCLIVersion is the CDK CLI that package.json pins, which the pipeline installs too.
func cdkCLIVersion(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(cmp.Or(root, "."), "package.json"))
	if err != nil {
		return "", fmt.Errorf("the pipeline installs the CDK CLI that package.json pins: %w", err)
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", fmt.Errorf("package.json: %w", err)
	}
	v := pkg.DevDependencies["aws-cdk"]
	if v == "" {
		return "", errors.New("package.json pins no aws-cdk in devDependencies; the pipeline installs that CDK CLI")
	}
	return v, nil
}

// KnownSources are the raw tables an environment's KPIs may read: its sources' tables and its
// log streams.
func KnownSources(e *config.Environment) queries.Sources {
	known := queries.Sources{}
	for _, src := range e.Sources {
		for _, t := range src.Tables {
			known.Add(src.Name, t.Name)
		}
	}
	for _, ls := range e.LogStreams {
		known[queries.LogStream(ls.Name)] = struct{}{}
	}
	return known
}

// checkPlanPayload fails when the aggregation's plan could exceed its share of Step Functions'
// payload (plan.MaxPlanBytes): at most, every KPI of the catalog is due on each day from the
// crawl's business day back over the lookback, and the plan names that set of waves once
// (plan.FitPayload merges the days' sets when they are many).
func checkPlanPayload(e *config.Environment, kpis *queries.Catalog) error {
	if len(kpis.Names()) == 0 {
		return nil
	}
	waves, err := kpis.Waves(nil)
	if err != nil {
		return err
	}
	worst := plan.Plan{Trigger: "event", Crawler: strings.Repeat("c", 64), Crawled: []string{layout.AppLogsPrefix()}}
	for range e.Aggregate.LookbackDays + 1 {
		worst.Days = append(worst.Days, plan.DayPlan{Date: "2006-01-02", Waves: waves})
	}
	raw, err := json.Marshal(worst)
	if err != nil {
		return err
	}
	if n := len(raw); n > plan.MaxPlanBytes {
		return fmt.Errorf("queries/: the aggregation's plan of %d KPIs (and %d state tables) can be %d bytes, "+
			"over its share of Step Functions' payload limit (%d of %d bytes, a state's input or output); move KPIs to another environment",
			len(kpis.Names())-len(kpis.States()), len(kpis.States()), n, plan.MaxPlanBytes, limits.MaxStatePayloadBytes)
	}
	return nil
}

// Synth synthesizes a, built by Build, and checks every template against the AWS limits that
// would fail its deployment (package limits). A panic of the CDK or of a construct (a jsii error,
// a cdk-nag finding) becomes an error: nothing reaches the user as a Go stack trace.
func Synth(a awscdk.App, stacks []*stack.Stack) (err error) {
	var envs []string
	for _, s := range stacks {
		envs = append(envs, config.ContextKey+".environments."+s.Env.Name+".sources")
	}
	fixes := limits.Fixes{Growth: fmt.Sprintf(
		"a stack grows with its database sources (%s) and KPIs (queries/): move some to another environment",
		strings.Join(envs, ", ")),
		Environment: fmt.Sprintf(
			"an extraction function's environment lists its source's tables (%s[].tables) and the plan's names the crawlers of every source: "+
				"split a source with many tables into two sources, or move sources to another environment",
			strings.Join(envs, ", "))}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth failed: %v", r)
			// The templates are written before the CDK's validation fails synth: a limit they
			// cross is the cause to tell first.
			if lerr := limits.CheckDir(*a.Outdir(), fixes); lerr != nil {
				err = fmt.Errorf("%w\n%w", lerr, err)
			}
		}
	}()
	asm := a.Synth(nil)
	return limits.CheckDir(*asm.Directory(), fixes)
}

// checkStates reports each state node whose table the environment extracts but not
// incrementally: a snapshot table's partition is its whole state already.
func checkStates(kpis *queries.Catalog, e *config.Environment) []error {
	keys := e.StateKeys()
	var errs []error
	for _, name := range kpis.States() {
		k, _ := kpis.KPI(name)
		t, _ := k.StateOf()
		if _, ok := keys[t]; ok || !KnownSources(e).Has(t) {
			continue // an unknown table is Validate's to report
		}
		errs = append(errs, fmt.Errorf("environment %s: a KPI reads {{ state %q %q }}, but %s is not incremental (%s.environments.%s.sources, table %q, \"mode\"); read it with {{ source %q %q }}, or extract it incrementally",
			e.Name, t.Source, t.Table, t, config.ContextKey, e.Name, t.Table, t.Source, t.Table))
	}
	return errs
}
