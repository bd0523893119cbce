// Package source wires one data source of the lake end to end, in a nested stack of its own: a
// database source's crawler, extraction function and workflow, daily schedule, alarms, dashboard
// and cdk-nag suppressions. A source adds only its own nested stack's resources to an environment,
// so that an environment grows by sources without reaching CloudFormation's per-stack limits
// (infra/limits), and `cdk deploy` of the environment's stack still deploys every source.
package source

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/infra/observe"
	"github.com/kpilake/kpilake/infra/salt"
	"github.com/kpilake/kpilake/layout"
)

// DatabaseProps configures a Database. Everything but the source itself is the environment's
// and lives in the parent stack; the nested stack receives it as parameters.
type DatabaseProps struct {
	// Source describes the database, its credentials, network, tables and schedule. Required.
	Source config.Source
	// Environment is the environment's name, the Environment dimension of the kpilake metrics.
	// Required.
	Environment string
	// TimeZone of the business day and of the schedule, IANA name. Required.
	TimeZone string
	// Catalog whose database the crawler writes (its Lake receives the tables). Required.
	Catalog *catalog.Catalog
	// Alerts receives the workflow's failures and the alarms. Required.
	Alerts *alerts.Alerts
	// Plan is the function that turns a trigger into the business day. Required.
	Plan *golambda.Function
	// Salt salts the hashed columns; the extraction's role becomes one of its readers. Required.
	Salt *salt.Salt
	// Root is the module's root directory (where lambdas/ lives). Default: ".".
	Root string
	// LogRetention of the function's, the workflow's and the crawler's logs. Default: three months.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of log groups. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// LambdaErrorsThreshold is the extraction function's errors per 5 minutes that alarm.
	// Default: observe.DefaultLambdaErrorsThreshold.
	LambdaErrorsThreshold int
}

func (p *DatabaseProps) validate() error {
	var errs []error
	if err := layout.ValidateName("source", p.Source.Name); err != nil {
		errs = append(errs, fmt.Errorf("Source.Name: %w", err))
	}
	for _, req := range []struct {
		name    string
		missing bool
	}{
		{"Catalog", p.Catalog == nil}, {"Alerts", p.Alerts == nil}, {"Plan", p.Plan == nil}, {"Salt", p.Salt == nil},
	} {
		if req.missing {
			errs = append(errs, fmt.Errorf("%s is required", req.name))
		}
	}
	return errors.Join(errs...)
}

// Database is one database source in a nested stack of its own (the construct itself): its
// crawler catalogues the source's raw tables, its extraction exports them daily and starts the
// crawler, and its Observe alarms on both and draws the source's dashboard.
type Database struct {
	awscdk.NestedStack
	// Name is the source's name.
	Name string
	// Crawler catalogues the source's raw tables; the aggregation starts on its success.
	Crawler *catalog.Crawler
	// Extraction is the daily export of the source's tables into the raw zone.
	Extraction *ingest.DatabaseExtraction
	// Observe holds the source's alarms (workflow, function, schedule dead letters) and its
	// dashboard (runs, rows and bytes extracted per table).
	Observe *observe.Observe
}

// NewDatabase creates the nested stack of one database source.
func NewDatabase(scope constructs.Construct, id string, props *DatabaseProps) *Database {
	if props == nil {
		props = &DatabaseProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("source.NewDatabase %q: %w", id, err))
	}
	p := *props
	src := p.Source
	d := &Database{Name: src.Name}
	d.NestedStack = awscdk.NewNestedStack(scope, jsii.String(id), &awscdk.NestedStackProps{
		Description:                 jsii.String(fmt.Sprintf("kpilake: database source %s (%s)", src.Name, p.Environment)),
		SuppressTemplateIndentation: jsii.Bool(true),
	})
	if golambda.MetricsEnvironment(scope) == "" {
		golambda.SetMetricsEnvironment(d.NestedStack, p.Environment) // a source in a stack of its own
	}
	d.Crawler = catalog.NewCrawler(d.NestedStack, "Crawler", &catalog.CrawlerProps{
		Catalog:     p.Catalog,
		Prefixes:    []string{layout.SourcePrefix(src.Name)},
		TablePrefix: layout.CrawlerTablePrefix(src.Name),
		Description: fmt.Sprintf("kpilake: %s tables of source %s", src.Engine, src.Name),
	})
	d.Extraction = ingest.NewDatabaseExtraction(d.NestedStack, "Extraction", &ingest.DatabaseExtractionProps{
		Source:        src,
		Lake:          p.Catalog.Lake,
		Crawler:       d.Crawler,
		Alerts:        p.Alerts,
		Plan:          p.Plan,
		Salt:          p.Salt,
		TimeZone:      p.TimeZone,
		Root:          p.Root,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	obs := &observe.ObserveProps{
		Environment:           p.Environment,
		TimeZone:              p.TimeZone,
		Alerts:                p.Alerts,
		LambdaErrorsThreshold: p.LambdaErrorsThreshold,
		Workflows:             []observe.Workflow{{Name: "Extraction-" + src.Name, StateMachine: d.Extraction.StateMachine}},
		Functions:             []observe.Function{{Name: "Extract-" + src.Name, Function: d.Extraction.Function}},
		DeadLetterQueues: []observe.Queue{{
			Name: "ExtractionSchedule-" + src.Name, Queue: d.Extraction.ScheduleDeadLetters,
			Holds: "daily schedule invocations that could not start the extraction of " + src.Name,
		}},
		Extractions: []observe.Extraction{d.Extraction},
	}
	d.Observe = observe.NewObserve(d.NestedStack, "Observe", obs)
	d.suppressions()
	return d
}

// suppressions adds, with its reason, what only a source in a nested stack needs.
func (d *Database) suppressions() {
	// The catalog's security configuration (a parameter here) encrypts the crawler's CloudWatch
	// logs (catalog.NewCatalog; its test holds it); cdk-nag cannot follow the parameter. The
	// crawler and the extraction suppress their own findings.
	cdknag.NagSuppressions_AddResourceSuppressions(d.Crawler.Crawler, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-GL1"),
		Reason: jsii.String("The crawler uses the catalog's security configuration, which encrypts CloudWatch logs with the logs key; " +
			"it is a parameter of this nested stack, which cdk-nag does not follow."),
	}}, jsii.Bool(false))
}
