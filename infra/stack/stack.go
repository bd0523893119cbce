// Package stack composes the constructs into one kpilake stack per environment.
package stack

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/backfill"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/logkey"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/observe"
	"github.com/kpilake/kpilake/infra/salt"
	"github.com/kpilake/kpilake/infra/source"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Props configures one environment's stack.
type Props struct {
	// Env is the validated environment. Required.
	Env *config.Environment
	// Account to deploy to when Env names none (the CLI's default account). Default: "", which
	// leaves the stack account-agnostic.
	DefaultAccount string
	// Root is the module's root directory, where lambdas/ lives. Default: ".".
	Root string
	// KPIs is the KPI catalog the stack aggregates. Default: nil, the catalog embedded from
	// queries/.
	KPIs *queries.Catalog
}

// Stack is one environment's kpilake deployment.
type Stack struct {
	awscdk.Stack
	Env  *config.Environment
	Lake *lake.Lake
	// LogKey encrypts every log group of the stack.
	LogKey   awskms.Key
	Catalog  *catalog.Catalog
	Crawlers map[string]*catalog.Crawler
	// LogStreams are the Firehose streams of application logs, by name.
	LogStreams map[string]*ingest.LogStream
	// Sources are the database sources, each a nested stack, by source name.
	Sources map[string]*source.Database
	// Extractions are the daily database extractions (in Sources), by source name.
	Extractions map[string]*ingest.DatabaseExtraction
	// LogCrawl starts the app_logs crawler every day; nil without log streams.
	LogCrawl *ingest.CrawlerSchedule
	Alerts   *alerts.Alerts
	// Aggregation runs every KPI per day once the crawlers succeed.
	Aggregation *aggregate.Workflow
	// Backfill re-aggregates past days from jobs the operator CLI enqueues.
	Backfill *backfill.Backfill
	// Sweep deletes superseded runs past their grace and crashed runs' leftovers, hourly.
	Sweep *aggregate.Sweep
	// Salt salts the hashed columns of every source, so hashed keys join across sources; only
	// the extraction roles (and lake.breakGlassRoleArn) can read it. Nil without sources.
	Salt *salt.Salt
	// Plan resolves the business days of the aggregation's runs.
	Plan *golambda.Function
	// ExtractionPlan resolves the business day of the sources' extractions; nil without sources.
	ExtractionPlan *golambda.Function
	// Observe holds the alarms and the dashboard.
	Observe *observe.Observe
}

// OutputAggregationWorkgroupName is the output naming the workgroup the aggregation functions run
// their CTAS queries in.
const OutputAggregationWorkgroupName = "AggregationWorkgroupName"

// OutputAlertTopicArn is the output naming the topic that every alert of the environment goes to.
const OutputAlertTopicArn = "AlertTopicArn"

// Name is the stack name of an environment.
func Name(env string) string { return contract.StackName(env) }

// build holds the settings that every part of an environment's stack reads.
type build struct {
	e         *config.Environment
	removal   awscdk.RemovalPolicy
	retention awslogs.RetentionDays
	root      string
	kpis      *queries.Catalog
}

// New creates the stack of one environment.
func New(scope constructs.Construct, props *Props) *Stack {
	s := newStack(scope, props)
	b := settings(props)
	s.storage(b)
	s.Alerts = alerts.NewAlerts(s.Stack, "Alerts", &alerts.AlertsProps{Email: b.e.AlarmEmail, RemovalPolicy: b.removal})
	s.logStreams(b)
	s.Plan = s.planFunction(b, "Plan", "kpilake: resolves the business days a workflow run extracts or aggregates")
	s.sources(b)
	s.aggregation(b)
	s.observe(b.kpis.Names())
	s.outputs()
	return s
}

// newStack is the environment's empty stack: its name, account and region, tags and the
// environment's name for its functions' metrics.
func newStack(scope constructs.Construct, props *Props) *Stack {
	e := props.Env
	account := e.Account
	if account == "" {
		account = props.DefaultAccount
	}
	var awsEnv *awscdk.Environment
	if account != "" {
		awsEnv = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(e.Region)}
	} else {
		awsEnv = &awscdk.Environment{Region: jsii.String(e.Region)}
	}
	s := &Stack{
		Stack: awscdk.NewStack(scope, jsii.String(Name(e.Name)), &awscdk.StackProps{
			// The same CloudFormation stack whether the app or a pipeline's stage (which would
			// prefix the stage's name) holds it: a deploy by hand and the pipeline's meet.
			StackName:             jsii.String(Name(e.Name)),
			Env:                   awsEnv,
			Description:           jsii.String(fmt.Sprintf("kpilake: serverless KPI data lake (%s)", e.Name)),
			TerminationProtection: jsii.Bool(e.Production),
			// Unindented JSON: about a third fewer bytes against CloudFormation's 1 MB template
			// limit (package limits), with the same resources; snapshots are reindented.
			SuppressTemplateIndentation: jsii.Bool(true),
		}),
		Env:         e,
		Crawlers:    map[string]*catalog.Crawler{},
		LogStreams:  map[string]*ingest.LogStream{},
		Extractions: map[string]*ingest.DatabaseExtraction{},
		Sources:     map[string]*source.Database{},
	}
	golambda.SetMetricsEnvironment(s.Stack, e.Name)
	awscdk.Tags_Of(s.Stack).Add(jsii.String("project"), jsii.String("kpilake"), nil)
	awscdk.Tags_Of(s.Stack).Add(jsii.String("environment"), jsii.String(e.Name), nil)
	nag.AllowRolePolicies(s.Stack)

	return s
}

// settings reads the environment's removal policy, log retention, module root and KPI catalog.
func settings(props *Props) build {
	e := props.Env
	removal := awscdk.RemovalPolicy_RETAIN
	if e.RemovalPolicy == config.Destroy {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	retention, ok := golambda.RetentionDays(e.LogRetentionDays)
	if !ok {
		panic(fmt.Errorf("stack %s: logRetentionDays %d has no CloudWatch equivalent", e.Name, e.LogRetentionDays))
	}

	root := props.Root
	if root == "" {
		root = "."
	}
	kpis := props.KPIs
	if kpis == nil {
		var err error
		if kpis, err = queries.Load(); err != nil {
			panic(fmt.Errorf("stack %s: %w", e.Name, err))
		}
	}
	return build{e: e, removal: removal, retention: retention, root: root, kpis: kpis}
}

// storage is the lake, the logs key and the catalog.
func (s *Stack) storage(b build) {
	e, removal, retention := b.e, b.removal, b.retention
	s.Lake = lake.NewLake(s.Stack, "Lake", &lake.LakeProps{
		RemovalPolicy:                    removal,
		RawInfrequentAccessAfterDays:     e.Lake.RawInfrequentAccessAfterDays,
		RawGlacierAfterDays:              e.Lake.RawGlacierAfterDays,
		NoncurrentVersionExpireAfterDays: e.Lake.NoncurrentVersionExpireAfterDays,
		QueryResultsExpireAfterDays:      e.Lake.QueryResultsExpireAfterDays,
		AccessLogsExpireAfterDays:        e.Lake.AccessLogsExpireAfterDays,
		Protection:                       protection(e.Lake),
	})
	s.LogKey = logkey.New(s.Stack, "LogKey", &logkey.Props{RemovalPolicy: removal})
	s.Catalog = catalog.NewCatalog(s.Stack, "Catalog", &catalog.CatalogProps{
		Lake:                       s.Lake,
		BytesScannedCutoffPerQuery: e.Athena.BytesScannedCutoffPerQuery,
		RemovalPolicy:              removal,
		LogRetention:               retention,
		LogKey:                     s.LogKey,
	})
}

// logStreams are the Firehose log streams, their crawler and its daily schedule.
func (s *Stack) logStreams(b build) {
	e, removal, retention := b.e, b.removal, b.retention
	for _, ls := range e.LogStreams {
		s.LogStreams[ls.Name] = ingest.NewLogStream(s.Stack, "LogStream-"+ls.Name, &ingest.LogStreamProps{
			Lake:          s.Lake,
			Name:          ls.Name,
			TimeZone:      e.TimeZone,
			LogRetention:  retention,
			RemovalPolicy: removal,
			Alerts:        s.Alerts,
		})
	}
	if len(e.LogStreams) > 0 {
		s.Crawlers[layout.AppLogsSource] = catalog.NewCrawler(s.Stack, "Crawler-"+layout.AppLogsSource, &catalog.CrawlerProps{
			Catalog:     s.Catalog,
			Prefixes:    []string{layout.AppLogsPrefix()},
			TablePrefix: layout.CrawlerTablePrefix(layout.AppLogsSource),
			Description: "kpilake: application log streams delivered by Firehose",
		})
		// Nothing else starts it: the database workflows start their own crawlers only.
		s.LogCrawl = ingest.NewCrawlerSchedule(s.Stack, "LogCrawlSchedule", &ingest.CrawlerScheduleProps{
			Crawler:     s.Crawlers[layout.AppLogsSource],
			TimeZone:    e.TimeZone,
			At:          e.LogCrawlTime,
			Description: "kpilake: daily crawl of the application log streams, once Firehose has delivered the day before",
		})
	}

}

// planFunction is a plan function (lambdas/cmd/plan) under id.
func (s *Stack) planFunction(b build, id, description string) *golambda.Function {
	e, removal, retention, root := b.e, b.removal, b.retention, b.root
	return golambda.NewFunction(s.Stack, id, &golambda.FunctionProps{
		Invocation:  golambda.Synchronous, // a Step Functions task
		Entry:       filepath.Join(root, "lambdas", "cmd", "plan"),
		Description: description,
		Environment: map[string]string{contract.EnvTimeZone: e.TimeZone},
		// A crawl's plan lists the lookback's raw objects and KPI partitions: a few seconds.
		Timeout:       awscdk.Duration_Seconds(jsii.Number(60)),
		MemoryMB:      128,
		LogRetention:  retention,
		RemovalPolicy: removal,
	})
}

// sources are the database sources, each a nested stack, with the plan function and the hash
// salt they share.
func (s *Stack) sources(b build) {
	e, removal, retention, root := b.e, b.removal, b.retention, b.root
	if len(e.Sources) > 0 {
		// The sources' extractions resolve their business day with a plan function of their
		// own: the aggregation's (Plan) names every source's crawler in its environment, so a
		// nested source stack that invoked it would depend on the stack that depends on it.
		s.ExtractionPlan = s.planFunction(b, "ExtractionPlan", "kpilake: resolves the business day a database extraction exports")
		s.Salt = salt.New(s.Stack, "HashSalt", &salt.Props{RemovalPolicy: removal, BreakGlassRoleArn: e.Lake.BreakGlassRoleArn})
	}
	// Each database source is a nested stack of its own (package source), so that sources grow
	// the environment without reaching CloudFormation's per-stack limits.
	for _, src := range e.Sources {
		d := source.NewDatabase(s.Stack, "Source-"+src.Name, &source.DatabaseProps{
			Source:                src,
			Environment:           e.Name,
			TimeZone:              e.TimeZone,
			Catalog:               s.Catalog,
			Alerts:                s.Alerts,
			Plan:                  s.ExtractionPlan,
			Salt:                  s.Salt,
			Root:                  root,
			LogRetention:          retention,
			RemovalPolicy:         removal,
			LambdaErrorsThreshold: e.Observe.LambdaErrorsThreshold,
		})
		s.Sources[src.Name] = d
		s.Crawlers[src.Name] = d.Crawler
		s.Extractions[src.Name] = d.Extraction
	}
}

// aggregation is the aggregation workflow, the backfill and the sweep, where there are KPIs.
func (s *Stack) aggregation(b build) {
	e, removal, retention, root, kpis := b.e, b.removal, b.retention, b.root, b.kpis
	if len(s.Crawlers) > 0 && len(kpis.Names()) > 0 {
		crawlers := make([]*catalog.Crawler, 0, len(s.Crawlers))
		for _, name := range sortedKeys(s.Crawlers) {
			crawlers = append(crawlers, s.Crawlers[name])
		}
		s.Aggregation = aggregate.NewWorkflow(s.Stack, "Aggregation", &aggregate.WorkflowProps{
			Catalog:       s.Catalog,
			Lake:          s.Lake,
			Crawlers:      crawlers,
			Alerts:        s.Alerts,
			Plan:          s.Plan,
			KPIs:          kpis.Names(),
			RawTables:     kpis.Sources(),
			StateKeys:     e.StateKeysRead(kpis),
			LookbackDays:  e.Aggregate.LookbackDays,
			LogLateness:   e.LogLateness(),
			TimeZone:      e.TimeZone,
			Root:          root,
			LogRetention:  retention,
			RemovalPolicy: removal,
		})
	}
	if len(kpis.Names()) > 0 {
		s.Backfill = backfill.NewBackfill(s.Stack, "Backfill", &backfill.BackfillProps{
			Catalog:        s.Catalog,
			Lake:           s.Lake,
			Alerts:         s.Alerts,
			KPIs:           kpis.Names(),
			TimeZone:       e.TimeZone,
			EarliestDay:    e.Backfill.EarliestDay,
			StateKeys:      e.StateKeysRead(kpis),
			MaxConcurrency: e.Backfill.MaxConcurrency,
			MaxMessageAge:  time.Duration(e.Backfill.MaxMessageAgeHours) * time.Hour,
			Root:           root,
			LogRetention:   retention,
			RemovalPolicy:  removal,
		})
	}
	if len(kpis.Names()) > 0 {
		grace := time.Duration(e.Aggregate.SupersededRunGraceHours) * time.Hour
		s.Sweep = aggregate.NewSweep(s.Stack, "Sweep", &aggregate.SweepProps{
			Catalog:       s.Catalog,
			Lake:          s.Lake,
			KPIs:          kpis.Names(),
			Grace:         grace,
			TimeZone:      e.TimeZone,
			Root:          root,
			LogRetention:  retention,
			RemovalPolicy: removal,
		})
		// Every function that publishes runs deletes superseded ones after the same grace.
		for _, f := range s.publishers() {
			f.Function.AddEnvironment(jsii.String(contract.EnvSupersededGrace), jsii.String(aggregate.GraceValue(grace)), nil)
		}
	}
}

// publishers are the functions that run the CTAS runner: the aggregate function and the backfill
// worker.
func (s *Stack) publishers() []*golambda.Function {
	var fs []*golambda.Function
	if s.Aggregation != nil {
		fs = append(fs, s.Aggregation.Function)
	}
	if s.Backfill != nil {
		fs = append(fs, s.Backfill.Worker)
	}
	return fs
}

// observe alarms on every workflow, function, log stream and dead-letter queue of the stack and
// on each KPI's freshness, and draws the dashboard.
func (s *Stack) observe(kpis []string) {
	e := s.Env
	props := &observe.ObserveProps{
		Environment:           e.Name,
		TimeZone:              e.TimeZone,
		Alerts:                s.Alerts,
		Backfill:              s.Backfill,
		FreshnessLag:          time.Duration(e.Observe.FreshnessLagHours) * time.Hour,
		LambdaErrorsThreshold: e.Observe.LambdaErrorsThreshold,
		Functions:             []observe.Function{{Name: "Plan", Function: s.Plan}},
	}
	if f := s.ExtractionPlan; f != nil {
		props.Functions = append(props.Functions, observe.Function{Name: "ExtractionPlan", Function: f})
	}
	// Each source's alarms and dashboard are its own nested stack's (source.Database.Observe).
	props.DeadLetterQueues = append(props.DeadLetterQueues, observe.Queue{
		Name: "AlertDelivery", Queue: s.Alerts.DeadLetters,
		Holds:  "alerts that EventBridge could not publish to the alert topic (a crawler or workflow failure), or that SNS could not deliver to the alert e-mail address",
		Remedy: "so nobody was told of that failure. Read the message: it is the alert, and its attributes say why delivery failed (a topic or key policy, a disabled key); act on the alert, fix the delivery, then delete the message.",
	})
	if c := s.LogCrawl; c != nil {
		props.DeadLetterQueues = append(props.DeadLetterQueues, observe.Queue{
			Name: "LogCrawlSchedule", Queue: c.DeadLetters,
			Holds: "daily starts of the app_logs crawler that failed",
		})
	}
	if w := s.Aggregation; w != nil {
		props.Workflows = append(props.Workflows, observe.Workflow{Name: "Aggregation", StateMachine: w.StateMachine})
		props.Functions = append(props.Functions, observe.Function{Name: "Aggregate", Function: w.Function})
		props.DeadLetterQueues = append(props.DeadLetterQueues, observe.Queue{
			Name: "AggregationStart", Queue: w.DeadLetters,
			Holds: "crawler events that could not start the aggregation",
		})
		props.CrawlerFailedRule = w.FailedRule
		props.CrawlerSucceededRule = w.SucceededRule
		// Only the daily workflow publishes the newest day; without it every KPI would be stale.
		props.KPIs = kpis
	}
	if b := s.Backfill; b != nil {
		props.Functions = append(props.Functions, observe.Function{Name: "BackfillWorker", Function: b.Worker})
	}
	if sw := s.Sweep; sw != nil {
		props.Functions = append(props.Functions, observe.Function{Name: "Sweep", Function: sw.Function})
		props.DeadLetterQueues = append(props.DeadLetterQueues, observe.Queue{
			Name: "SweepSchedule", Queue: sw.DeadLetters,
			Holds: "hourly sweep invocations that failed after every retry",
		})
	}
	for _, ls := range e.LogStreams {
		props.LogStreams = append(props.LogStreams, observe.LogStream{Name: ls.Name, Stream: s.LogStreams[ls.Name]})
	}
	s.Observe = observe.NewObserve(s.Stack, "Observe", props)
}

func (s *Stack) output(id, desc string, value *string) {
	awscdk.NewCfnOutput(s.Stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(desc)})
}

// outputs are what operators and the CLI read from the deployed stack.
func (s *Stack) outputs() {
	s.output(contract.OutputRawBucketName, "Raw zone bucket", s.Lake.Raw.BucketName())
	s.output("AggregatedBucketName", "Aggregated zone bucket", s.Lake.Aggregated.BucketName())
	s.output("QueryResultsBucketName", "Athena query results bucket", s.Lake.QueryResults.BucketName())
	s.output("LakeKeyArn", "KMS key of the aggregated and query-results zones", s.Lake.Key.KeyArn())
	s.output("RawKeyArn", "KMS key of the raw zone", s.Lake.RawKey.KeyArn())
	s.output("DatabaseName", "Glue database of the lake", jsii.String(s.Catalog.DatabaseName))
	s.output("WorkgroupName", "Athena workgroup for analysts' and operators' lake queries (settings enforced)", jsii.String(s.Catalog.WorkgroupName))
	s.output(OutputAggregationWorkgroupName, "Athena workgroup of the aggregation functions' CTAS queries (settings not enforced; only they may use it)",
		jsii.String(s.Catalog.AggregationWorkgroupName))
	s.output("PlanFunctionName", "Lambda that resolves a run's business day", s.Plan.Function.FunctionName())
	for _, name := range sortedKeys(s.LogStreams) {
		s.output("LogStreamName"+camel(name), "Firehose delivery stream of log stream "+name, s.LogStreams[name].Name())
	}
	if s.Aggregation != nil {
		s.output("AggregationStateMachineArn", "Daily KPI aggregation workflow", s.Aggregation.StateMachine.StateMachineArn())
		s.output("AggregateFunctionName", "Lambda that aggregates one KPI for one day", s.Aggregation.Function.Function.FunctionName())
	}
	if b := s.Backfill; b != nil {
		s.output(contract.OutputBackfillQueueURL, "Backfill queue: one job per business day", b.Queue.QueueUrl())
		s.output(contract.OutputBackfillDeadLetterQueueURL, "Backfill jobs that failed or were malformed", b.DeadLetterQueue.QueueUrl())
		s.output("BackfillWorkerFunctionName", "Lambda that works backfill jobs", b.Worker.Function.FunctionName())
	}
	s.output(OutputAlertTopicArn, "SNS topic of failures and alarms", s.Alerts.Topic.TopicArn())
	s.output("DashboardName", "CloudWatch dashboard of the environment", s.Observe.Dashboard.DashboardName())
	for _, name := range sortedKeys(s.Extractions) {
		x := s.Extractions[name]
		s.output("ExtractionStateMachineArn"+camel(name), "Extraction workflow of source "+name, x.StateMachine.StateMachineArn())
		s.output("ExtractionFunctionName"+camel(name), "Extraction function of source "+name, x.Function.Function.FunctionName())
	}
	for _, name := range sortedKeys(s.Crawlers) {
		s.output("CrawlerName"+camel(name), "Glue crawler of "+name, s.Crawlers[name].Name())
	}
}

// protection is the lake's Protection for the configuration, nil when it is off.
func protection(l config.Lake) *lake.ProtectionProps {
	if !l.Protection {
		return nil
	}
	return &lake.ProtectionProps{BackupRetentionDays: l.BackupRetentionDays, BreakGlassRoleArn: l.BreakGlassRoleArn}
}
