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
	"github.com/kpilake/kpilake/infra/delivery"
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

// Build adds the selected environments' stacks to app, with every cdk-nag pack of nag.Packs, and
// returns them; with a "delivery" configuration it also adds each one's delivery.Bootstrap stack.
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
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("the KPI catalog (queries/) does not fit the configuration:\n%w", err)
	}
	var stacks []*stack.Stack
	for _, e := range envs {
		stacks = append(stacks, stack.New(a, &stack.Props{Env: e, DefaultAccount: opts.DefaultAccount, Root: opts.Root}))
	}
	// With "delivery" in cdk.json, each environment also has its GitHub deploy role's stack.
	if cfg.Delivery != nil {
		for _, e := range envs {
			delivery.NewBootstrap(a, &delivery.BootstrapProps{Env: e, Delivery: cfg.Delivery,
				CreateProvider: delivery.CreatesProvider(cfg, e.Name), DefaultAccount: opts.DefaultAccount})
		}
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
