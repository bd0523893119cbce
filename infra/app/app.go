// Package app is the composition root shared by the CDK entry point and the snapshot tests: it
// reads the configuration from the app's context, builds one stack per selected environment and
// applies the policy checks.
package app

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/stack"
	"github.com/kpilake/kpilake/queries"
)

// EnvContextKey selects one environment: `cdk synth -c env=prod`. Without it, every configured
// environment is synthesized.
const EnvContextKey = "env"

// Options are the inputs that do not come from the context.
type Options struct {
	// DefaultAccount is used for environments that name no account (the CLI's default).
	DefaultAccount string
	// Root is the module's root directory. Default: ".".
	Root string
}

// Build adds the selected environments' stacks to app, with every cdk-nag pack of nag.Packs.
func Build(a awscdk.App, opts Options) ([]*stack.Stack, error) {
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
	kpis, err := queries.Load()
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, e := range envs {
		if err := kpis.Validate(KnownSources(e)); err != nil {
			problems = append(problems, fmt.Errorf("environment %s: %w", e.Name, err))
		}
		problems = append(problems, checkStates(kpis, e)...)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("the KPI catalog (queries/) does not fit the configuration:\n%w", err)
	}
	var stacks []*stack.Stack
	for _, e := range envs {
		stacks = append(stacks, stack.New(a, &stack.Props{Env: e, DefaultAccount: opts.DefaultAccount, Root: opts.Root}))
	}
	for _, pack := range nag.Packs() {
		awscdk.Aspects_Of(a).Add(pack, nil)
	}
	return stacks, nil
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
