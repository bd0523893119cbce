// Package aggregate builds the daily KPI workflow: when one of the environment's crawlers has
// catalogued raw data, a Standard state machine plans the business days that the data brought or
// changed (lambdas/plan) and their KPI dependency waves, runs an Athena CTAS per (KPI, day)
// through the aggregate function, day after day and wave after wave, and alerts on any failure.
package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/statemachine"
	handler "github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Error types the aggregate function reports and the workflow treats apart: the names Lambda
// reports for lambdas/aggregate's error types, taken from the types (contract.ErrorName).
var (
	// ErrorAthenaThrottled: Athena was still throttling after the function's own retries; the
	// workflow waits long, jittered intervals before trying again.
	ErrorAthenaThrottled = contract.ErrorName(&handler.AthenaThrottled{})
	// ErrorQueryFailed: Athena ran the query and it failed, or its output no longer fits the KPI
	// table; rerunning it would fail the same way.
	ErrorQueryFailed = contract.ErrorName(&handler.QueryFailed{})
	// ErrorInput: a request no retry can fix (unknown KPI, bad date), of any kpilake function.
	ErrorInput = contract.InputErrorName
)

// Errors the workflow itself ends a branch or an execution with.
const (
	// ErrorKPIFailed is the error a failed KPI's branch ends with, once it has published its alert.
	ErrorKPIFailed = "KPIFailed"
	// ErrorAggregationFailed is the error a failed execution ends with.
	ErrorAggregationFailed = "AggregationFailed"
)

// NonRetryableErrors are the aggregate function's error types that the workflow never retries.
var NonRetryableErrors = []string{ErrorInput, ErrorQueryFailed}

// IAM actions of the aggregate function, exported so that tests and reviewers see one list. It
// reads anywhere in the database (the queries read source tables and upstream KPI tables; the
// runner lists its KPI's temporary tables to drop those of crashed runs), creates and repartitions
// only its KPI tables, and creates and drops only its temporary tables.
var (
	GlueReadActions = []string{"glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions",
		"glue:BatchGetPartition"}
	GlueKPITableActions  = []string{"glue:CreateTable", "glue:CreatePartition", "glue:UpdatePartition"}
	GlueTempTableActions = []string{"glue:CreateTable", "glue:DeleteTable"}
	AthenaActions        = []string{"athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution"}
)

// Defaults of the workflow.
const (
	DefaultMaxConcurrency = 4
	// aggregateTimeoutMinutes is Lambda's maximum: a CTAS over a day can take minutes.
	aggregateTimeoutMinutes = 15
	aggregateMemoryMB       = 512
	workflowTimeoutHours    = 12
	// Target retry policy of the crawler rule: EventBridge retries starting the workflow.
	startRetryAttempts    = 8
	startMaxEventAgeHours = 6
)

// CrawlerEventSource and CrawlerEventDetailType match Glue's crawler events on EventBridge.
const (
	CrawlerEventSource     = "aws.glue"
	CrawlerEventDetailType = plan.CrawlerEventDetailType
)

// WorkflowProps configures a Workflow.
type WorkflowProps struct {
	// Catalog whose database and workgroup the queries use. Required.
	Catalog *catalog.Catalog
	// Lake whose raw zone is read and whose aggregated zone is written. Required.
	Lake *lake.Lake
	// Crawlers of the environment: a successful crawl of any of them starts the workflow, which
	// then aggregates only the KPIs that read what that crawler catalogues (its Prefixes) and
	// their dependents; a failed one alerts. Together they must catalogue every raw table a KPI
	// reads. Required, at least one.
	Crawlers []*catalog.Crawler
	// Alerts receives failures. Required.
	Alerts *alerts.Alerts
	// Plan is the function that turns the trigger into the business day and the KPI waves. The
	// workflow tells it which prefixes each crawler catalogues (contract.EnvCrawlers). Required.
	Plan *golambda.Function
	// KPIs are the catalog names of every KPI the workflow may aggregate; the function may write
	// only these KPIs' prefixes and tables. Required, at least one.
	KPIs []string
	// TimeZone of the business day, IANA name. Required.
	TimeZone string
	// Root is the module's root directory (where lambdas/ lives). Default: ".".
	Root string
	// AggregateEntry is the aggregate function's main package directory.
	// Default: filepath.Join(Root, "lambdas/cmd/aggregate").
	AggregateEntry string
	// MaxConcurrency is how many KPIs of one wave run at once. Default: DefaultMaxConcurrency (4).
	MaxConcurrency int
	// RawTables are the raw tables the KPIs read (queries.Catalog.Sources()): the plan function
	// may list only their folders of the raw zone. Default: the crawlers' Prefixes.
	RawTables []queries.SourceTable
	// StateKeys are the primary keys of the environment's incremental tables
	// (config.Environment.StateKeys), which
	// the function needs to build the state nodes the KPIs read ({{ state }}). Default: none.
	StateKeys handler.StateKeys
	// LookbackDays is how many days before a crawler event's business day the plan looks for days
	// whose inputs arrived or changed after their KPIs were published (plan.DueDays); older days
	// are a backfill. 1 to plan.MaxLookbackDays. Default: plan.DefaultLookbackDays (31).
	LookbackDays int
	// LogLateness is how long after a business day ends its log records may still land and count
	// in its first publication (config.Environment.LogLateness: the log crawl's time of day), under
	// a day: the plan publishes a day of a KPI that reads the logs by event time only once it has
	// passed (contract.EnvLogLateness).
	LogLateness time.Duration
	// LogRetention of the function's and the workflow's logs. Default: three months.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of the log groups. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

func (p *WorkflowProps) validate() error {
	var errs []error
	for _, req := range []struct {
		name    string
		missing bool
	}{
		{"Catalog", p.Catalog == nil}, {"Lake", p.Lake == nil}, {"Alerts", p.Alerts == nil}, {"Plan", p.Plan == nil},
	} {
		if req.missing {
			errs = append(errs, fmt.Errorf("%s is required", req.name))
		}
	}
	if len(p.Crawlers) == 0 {
		errs = append(errs, errors.New("Crawlers: give at least one crawler; its successful crawls start the workflow"))
	}
	for i, c := range p.Crawlers {
		switch {
		case c == nil:
			errs = append(errs, fmt.Errorf("Crawlers[%d] is nil", i))
		case len(c.Prefixes) == 0:
			errs = append(errs, fmt.Errorf("Crawlers[%d] has no Prefixes; create it with catalog.NewCrawler, which records what it crawls", i))
		case slices.Contains(p.Crawlers[:i], c):
			errs = append(errs, fmt.Errorf("Crawlers[%d] is given twice", i))
		}
	}
	if len(p.KPIs) == 0 {
		errs = append(errs, errors.New("KPIs: give the catalog's KPI names (queries.Catalog.Names()); the function may write only their prefixes"))
	}
	for i, k := range p.KPIs {
		if err := layout.ValidateName("KPI", k); err != nil {
			errs = append(errs, fmt.Errorf("KPIs[%d]: %w", i, err))
		} else if slices.Index(p.KPIs, k) != i {
			errs = append(errs, fmt.Errorf("KPIs[%d] %q is given twice", i, k))
		}
	}
	if p.TimeZone == "" {
		errs = append(errs, errors.New(`TimeZone is required; give the business time zone's IANA name, such as "Asia/Tokyo"`))
	} else if _, err := time.LoadLocation(p.TimeZone); err != nil {
		errs = append(errs, fmt.Errorf("TimeZone %q is not an IANA time zone such as \"Asia/Tokyo\": %v", p.TimeZone, err))
	}
	if p.LookbackDays < 0 || p.LookbackDays > plan.MaxLookbackDays {
		errs = append(errs, fmt.Errorf("LookbackDays is %d; give 1 to %d days, or 0 for the default (%d)", p.LookbackDays, plan.MaxLookbackDays, plan.DefaultLookbackDays))
	}
	if p.LogLateness < 0 || p.LogLateness >= 24*time.Hour {
		errs = append(errs, fmt.Errorf("LogLateness is %v; give a duration from 0 to under a day (the log crawl's time of day)", p.LogLateness))
	}
	if p.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("MaxConcurrency is %d; give a positive number, or 0 for the default (%d)", p.MaxConcurrency, DefaultMaxConcurrency))
	}
	switch p.RemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	return errors.Join(errs...)
}

// Workflow is the daily aggregation: crawler events start a state machine that runs the KPIs'
// CTAS queries in dependency waves. A manual execution names the day and, optionally, KPIs:
// {"date": "2026-11-24", "kpis": ["daily_active_users"]}.
type Workflow struct {
	constructs.Construct
	// Function runs the CTAS of one KPI for one day.
	Function *golambda.Function
	// StateMachine is the workflow.
	StateMachine awsstepfunctions.StateMachine
	// SucceededRule starts the workflow when a crawler succeeds.
	SucceededRule awsevents.Rule
	// FailedRule alerts when a crawler fails.
	FailedRule awsevents.Rule
	// DeadLetters keeps crawler events that could not start the workflow.
	DeadLetters awssqs.Queue
}

// NewWorkflow creates the aggregate function, the state machine and the rules.
func NewWorkflow(scope constructs.Construct, id string, props *WorkflowProps) *Workflow {
	if props == nil {
		props = &WorkflowProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("aggregate.NewWorkflow %q: %w", id, err))
	}
	p := *props
	if p.Root == "" {
		p.Root = "."
	}
	if p.AggregateEntry == "" {
		p.AggregateEntry = filepath.Join(p.Root, "lambdas", "cmd", "aggregate")
	}
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = DefaultMaxConcurrency
	}
	if p.LookbackDays == 0 {
		p.LookbackDays = plan.DefaultLookbackDays
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	node := constructs.NewConstruct(scope, &id)
	w := &Workflow{Construct: node}

	w.Function = NewRunner(node, "Aggregate", &RunnerProps{
		Catalog: p.Catalog, Lake: p.Lake, TimeZone: p.TimeZone, StateKeys: p.StateKeys,
		Invocation:    golambda.Synchronous, // a Step Functions task
		Entry:         p.AggregateEntry,
		Description:   "kpilake: runs the Athena CTAS of one KPI for one business day and publishes its partition",
		Timeout:       awscdk.Duration_Minutes(jsii.Number(aggregateTimeoutMinutes)),
		MemoryMB:      aggregateMemoryMB,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	w.StateMachine = w.workflow(node, p)
	cdknag.NagSuppressions_AddResourceSuppressions(w.StateMachine, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "Step Functions invokes the qualified versions (ARN:*) of its own two functions only.",
			`^Resource::(`+nag.Ref(w.Function.Function, "Arn")+`|`+nag.Ref(p.Plan.Function, "Arn")+`):\*$`),
	}, jsii.Bool(true))
	w.rules(node, p)
	w.planLake(p)
	return w
}

// Actions of the plan function on the lake: it lists the raw tables' folders and reads the KPI
// tables' partitions, and nothing else.
var (
	PlanListActions = []string{"s3:ListBucket"}
	PlanGlueActions = []string{"glue:GetPartitions"}
)

// planLake tells the plan function what each crawler catalogues and where it reads what arrived
// and what was published, and lets it read only that: the raw tables' folders (a listing, so no
// key is needed) and the KPI tables' partitions.
func (w *Workflow) planLake(p WorkflowProps) {
	fn := p.Plan.Function
	for k, v := range map[string]string{
		contract.EnvCrawlers:     CrawlerPrefixes(p.Crawlers),
		contract.EnvRawBucket:    *p.Lake.Raw.BucketName(),
		contract.EnvDatabase:     p.Catalog.DatabaseName,
		contract.EnvLookbackDays: strconv.Itoa(p.LookbackDays),
		contract.EnvLogLateness:  p.LogLateness.String(),
	} {
		fn.AddEnvironment(jsii.String(k), jsii.String(v), nil)
	}
	var prefixes []string
	for _, t := range p.RawTables {
		prefixes = append(prefixes, layout.TablePrefix(t.Source, t.Table)+"*")
	}
	if len(prefixes) == 0 {
		for _, c := range p.Crawlers {
			for _, pre := range c.Prefixes {
				prefixes = append(prefixes, pre+"*")
			}
		}
	}
	slices.Sort(prefixes)
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings(PlanListActions...),
		Resources:  jsii.Strings(*p.Lake.Raw.BucketArn()),
		Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": slices.Compact(prefixes)}},
	}))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(PlanGlueActions...),
		Resources: jsii.Strings(KPITablesArns(p.Catalog)...),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(p.Plan.Role, &[]*cdknag.NagPackSuppression{
		kpiTablesSuppression(p.Catalog, "The plan reads the partitions of"),
	}, jsii.Bool(true))
}

// CrawlerPrefixes is the value of the plan function's contract.EnvCrawlers: each crawler's name (a
// token that CloudFormation resolves) and the raw-zone prefixes it catalogues, in the order of
// crawlers. The names are unresolved tokens whose text depends on what else the process
// synthesized, so the object is written in the given order rather than sorted by that text (as
// encoding/json sorts a map): an environment's template is the same synthesized alone or with others.
func CrawlerPrefixes(crawlers []*catalog.Crawler) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range crawlers {
		name, err := json.Marshal(*c.Name())
		if err != nil {
			panic(fmt.Errorf("aggregate: %w", err))
		}
		prefixes, err := json.Marshal(c.Prefixes)
		if err != nil {
			panic(fmt.Errorf("aggregate: %w", err))
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(prefixes)
	}
	b.WriteByte('}')
	return b.String()
}

// AggregateEnvironment is the environment of a function that runs the CTAS runner (the daily
// aggregate function, the backfill worker and the sweep): the database, the aggregation
// workgroup, the aggregated bucket, the result settings and the business time zone.
func AggregateEnvironment(cat *catalog.Catalog, lk *lake.Lake, timeZone string) map[string]string {
	return map[string]string{
		contract.EnvDatabase:         cat.DatabaseName,
		contract.EnvWorkgroup:        cat.AggregationWorkgroupName,
		contract.EnvAggregatedBucket: *lk.Aggregated.BucketName(),
		contract.EnvResultLocation:   *cat.ResultsLocation,
		contract.EnvResultKMSKey:     *lk.Key.KeyArn(),
		contract.EnvTimeZone:         timeZone,
	}
}

// StateEnvironment adds to env, an aggregate handler's, what it needs to build the state nodes:
// the raw bucket, whose listing says when an incremental table last changed, and the tables'
// primary keys (contract.EnvStateKeys).
func StateEnvironment(env map[string]string, lk *lake.Lake, keys handler.StateKeys) map[string]string {
	env[contract.EnvRawBucket] = *lk.Raw.BucketName()
	env[contract.EnvStateKeys] = keys.Env()
	return env
}

// KPITablesArns are the Glue resources of every KPI table, by their reserved name prefix
// (layout.KPITablePrefix; no source table may take it): the catalog, the database and
// <database>/kpi_*. A grant on them does not grow with the KPIs.
func KPITablesArns(cat *catalog.Catalog) []string {
	return []string{*cat.CatalogArn(), *cat.DatabaseArn(), *cat.TablesArn(layout.KPITablePrefix)}
}

// TempTablesArns are the Glue resources of every CTAS run's temporary table, by their reserved
// name prefix (layout.TempTablePrefix): the catalog, the database and <database>/tmp_ctas_*.
func TempTablesArns(cat *catalog.Catalog) []string {
	return []string{*cat.CatalogArn(), *cat.DatabaseArn(), *cat.TablesArn(layout.TempTablePrefix)}
}

// GrantAggregate gives grantee what the aggregate handler (lambdas/aggregate) needs to run the
// CTAS of the KPIs, since Athena acts with the caller's credentials: run queries in the catalog's
// aggregation workgroup (and no other), read the catalog and the raw zone, create and repartition
// only KPI tables (KPITablesArns) and temporary tables (TempTablesArns), write and delete only
// under the KPIs' prefixes (layout.KPIsPrefix), and write query results. Every resource is named
// by its pattern, so a new KPI adds no statement. The daily workflow's function and the backfill
// worker both run that handler.
func GrantAggregate(grantee awsiam.IGrantable, cat *catalog.Catalog, lk *lake.Lake) {
	principal := grantee.GrantPrincipal()
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(AthenaActions...),
		Resources: jsii.Strings(*cat.AggregationWorkgroupArn()),
	}))
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(GlueReadActions...),
		Resources: jsii.Strings(*cat.CatalogArn(), *cat.DatabaseArn(), *cat.TablesArn("")),
	}))
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(GlueKPITableActions...),
		Resources: jsii.Strings(KPITablesArns(cat)...),
	}))
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(GlueTempTableActions...),
		Resources: jsii.Strings(TempTablesArns(cat)...),
	}))
	lk.Grant(grantee, layout.Raw, "", lake.Read)
	lk.GrantWriteKPIs(grantee)
	lk.Grant(grantee, layout.QueryResults, layout.AthenaResultsPrefix, lake.Read|lake.Write)
	// Athena looks up the region of every bucket a query reads or writes.
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetBucketLocation"),
		Resources: jsii.Strings(*lk.Raw.BucketArn(), *lk.Aggregated.BucketArn(), *lk.QueryResults.BucketArn()),
	}))
}

func (w *Workflow) workflow(node constructs.Construct, p WorkflowProps) awsstepfunctions.StateMachine {
	a := &aggregationStates{node: node, p: p,
		failed: awsstepfunctions.NewFail(node, jsii.String("Failed"), &awsstepfunctions.FailProps{
			Error:     jsii.String(ErrorAggregationFailed),
			CausePath: jsii.String("$.failure.Cause"),
		}),
		catchAll: &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.failure")},
	}
	planRun := a.planRun()
	days := a.days(a.waves(a.wave(a.aggregateKPI(w.Function))))
	return statemachine.New(node, &statemachine.Props{
		Subject:       "KPI aggregation",
		Comment:       "kpilake: daily KPI aggregation in dependency waves",
		Definition:    planRun.Next(days),
		Timeout:       awscdk.Duration_Hours(jsii.Number(workflowTimeoutHours)),
		Alerts:        p.Alerts,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	}).StateMachine
}

// aggregationStates builds the states of the aggregation workflow: the plan, then each day's
// waves of KPIs, each failure published once, where what failed is known.
type aggregationStates struct {
	node     constructs.Construct
	p        WorkflowProps
	failed   awsstepfunctions.Fail
	catchAll *awsstepfunctions.CatchProps
}

// notify publishes a failure to the alert topic: message, the execution and the failure.
func (a *aggregationStates) notify(id string, message map[string]any) awsstepfunctionstasks.SnsPublish {
	message["execution"] = awsstepfunctions.JsonPath_ExecutionId()
	message["error"] = awsstepfunctions.JsonPath_StringAt(jsii.String("$.failure.Error"))
	message["cause"] = awsstepfunctions.JsonPath_StringAt(jsii.String("$.failure.Cause"))
	return awsstepfunctionstasks.NewSnsPublish(a.node, jsii.String(id), &awsstepfunctionstasks.SnsPublishProps{
		Topic:      a.p.Alerts.Topic,
		Subject:    jsii.String("kpilake: KPI aggregation failed"),
		Message:    awsstepfunctions.TaskInput_FromObject(&message),
		ResultPath: awsstepfunctions.JsonPath_DISCARD(),
	})
}

func (a *aggregationStates) planRun() awsstepfunctionstasks.LambdaInvoke {
	// The plan fails on a bad trigger or a broken KPI catalog, which no retry fixes, or on a call
	// to S3 or Glue that its SDK retried already: only Lambda's own errors are retried. The days
	// are not known when it fails.
	planRun := awsstepfunctionstasks.NewLambdaInvoke(a.node, jsii.String("PlanRun"), &awsstepfunctionstasks.LambdaInvokeProps{
		LambdaFunction: a.p.Plan.Function,
		Comment:        jsii.String("The business days (the given date, or the days the crawl brought or changed) and their KPI waves"),
		Payload:        awsstepfunctions.TaskInput_FromJsonPathAt(jsii.String("$")),
		ResultSelector: &map[string]any{
			"trigger": awsstepfunctions.JsonPath_StringAt(jsii.String("$.Payload.trigger")),
			"crawled": awsstepfunctions.JsonPath_StringAt(jsii.String("$.Payload.crawled")),
			"days":    awsstepfunctions.JsonPath_ListAt(jsii.String("$.Payload.days")),
			"sets":    awsstepfunctions.JsonPath_ListAt(jsii.String("$.Payload.sets")),
		},
		ResultPath:               jsii.String("$.plan"),
		RetryOnServiceExceptions: jsii.Bool(false),
	})
	planRun.AddRetry(statemachine.ServiceRetry())
	planRun.AddCatch(a.notify("NotifyPlanFailure", map[string]any{"stage": "plan"}).Next(a.failed), a.catchAll)

	return planRun
}

func (a *aggregationStates) aggregateKPI(fn *golambda.Function) awsstepfunctionstasks.LambdaInvoke {
	// One KPI: its failure is published from inside the wave, where the KPI is known, and ends
	// the branch with ErrorKPIFailed so that the waves' catch does not publish it again.
	aggregateKPI := awsstepfunctionstasks.NewLambdaInvoke(a.node, jsii.String("AggregateKPI"), &awsstepfunctionstasks.LambdaInvokeProps{
		LambdaFunction: fn.Function,
		// The trigger tells the handler whether to wait for the inputs of the day (an event's run)
		// or to run as asked (a manual run); the crawled prefixes, which inputs not to wait for.
		Payload: awsstepfunctions.TaskInput_FromObject(&map[string]any{
			"kpi":     awsstepfunctions.JsonPath_StringAt(jsii.String("$.kpi")),
			"date":    awsstepfunctions.JsonPath_StringAt(jsii.String("$.date")),
			"trigger": awsstepfunctions.JsonPath_StringAt(jsii.String("$.trigger")),
			"crawled": awsstepfunctions.JsonPath_StringAt(jsii.String("$.crawled")),
		}),
		ResultSelector:           &map[string]any{"result": awsstepfunctions.JsonPath_ObjectAt(jsii.String("$.Payload"))},
		OutputPath:               jsii.String("$.result"),
		RetryOnServiceExceptions: jsii.Bool(false),
	})
	// Retriers match in order: the errors that must not be retried come first.
	aggregateKPI.AddRetry(&awsstepfunctions.RetryProps{Errors: jsii.Strings(NonRetryableErrors...), MaxAttempts: jsii.Number(0)})
	aggregateKPI.AddRetry(statemachine.ServiceRetry())
	// The account's active-query quota is full: wait long, and spread the KPIs' retries.
	aggregateKPI.AddRetry(&awsstepfunctions.RetryProps{
		Errors:         jsii.Strings(ErrorAthenaThrottled),
		Interval:       awscdk.Duration_Seconds(jsii.Number(10)),
		BackoffRate:    jsii.Number(2),
		MaxAttempts:    jsii.Number(6),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
	})
	aggregateKPI.AddRetry(&awsstepfunctions.RetryProps{
		Errors:         jsii.Strings("States.ALL"),
		Interval:       awscdk.Duration_Seconds(jsii.Number(30)),
		BackoffRate:    jsii.Number(2),
		MaxAttempts:    jsii.Number(2),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
	})
	kpiFailed := awsstepfunctions.NewFail(a.node, jsii.String("KPIFailed"), &awsstepfunctions.FailProps{
		Error:     jsii.String(ErrorKPIFailed),
		CausePath: jsii.String("$.failure.Cause"),
	})
	aggregateKPI.AddCatch(a.notify("NotifyKPIFailure", map[string]any{
		"kpi":  awsstepfunctions.JsonPath_StringAt(jsii.String("$.kpi")),
		"date": awsstepfunctions.JsonPath_StringAt(jsii.String("$.date")),
	}).Next(kpiFailed), a.catchAll)

	return aggregateKPI
}

func (a *aggregationStates) wave(aggregateKPI awsstepfunctionstasks.LambdaInvoke) awsstepfunctions.Map {
	wave := awsstepfunctions.NewMap(a.node, jsii.String("AggregateWave"), &awsstepfunctions.MapProps{
		Comment:        jsii.String(fmt.Sprintf("The KPIs of one wave are independent: at most %d at once", a.p.MaxConcurrency)),
		ItemsPath:      jsii.String("$.kpis"),
		MaxConcurrency: jsii.Number(a.p.MaxConcurrency),
		ItemSelector: &map[string]any{
			"kpi":     awsstepfunctions.JsonPath_StringAt(jsii.String("$$.Map.Item.Value")),
			"date":    awsstepfunctions.JsonPath_StringAt(jsii.String("$.date")),
			"trigger": awsstepfunctions.JsonPath_StringAt(jsii.String("$.trigger")),
			"crawled": awsstepfunctions.JsonPath_StringAt(jsii.String("$.crawled")),
		},
	})
	wave.ItemProcessor(aggregateKPI, nil)

	return wave
}

func (a *aggregationStates) waves(wave awsstepfunctions.Map) awsstepfunctions.Map {
	// A day's output is its date, not its KPIs' results: a result is about 350 bytes, and
	// results of every KPI of every day of a catch-up, carried to the end of the run, would pass
	// Step Functions' 256 KB with 25 KPIs over 32 days and fail a run that published them all.
	// Each result stays in the execution's history (AggregateKPI's output) and the function's log.
	waves := awsstepfunctions.NewMap(a.node, jsii.String("AggregateWaves"), &awsstepfunctions.MapProps{
		Comment:        jsii.String("The day's waves in dependency order, one at a time"),
		ItemsPath:      jsii.String("$.waves"),
		MaxConcurrency: jsii.Number(1),
		ItemSelector: &map[string]any{
			"kpis":    awsstepfunctions.JsonPath_ListAt(jsii.String("$$.Map.Item.Value")),
			"date":    awsstepfunctions.JsonPath_StringAt(jsii.String("$.date")),
			"trigger": awsstepfunctions.JsonPath_StringAt(jsii.String("$.trigger")),
			"crawled": awsstepfunctions.JsonPath_StringAt(jsii.String("$.crawled")),
		},
		ResultPath: awsstepfunctions.JsonPath_DISCARD(),
		OutputPath: jsii.String("$.date"),
	})
	waves.ItemProcessor(wave, nil)
	// A day that fails ends with ErrorKPIFailed once its alert (which names the day) is out.
	dayFailed := awsstepfunctions.NewFail(a.node, jsii.String("DayFailed"), &awsstepfunctions.FailProps{
		Error:     jsii.String(ErrorKPIFailed),
		CausePath: jsii.String("$.failure.Cause"),
	})
	waves.AddCatch(dayFailed, &awsstepfunctions.CatchProps{Errors: jsii.Strings(ErrorKPIFailed), ResultPath: jsii.String("$.failure")})
	waves.AddCatch(a.notify("NotifyFailure", map[string]any{
		"date": awsstepfunctions.JsonPath_StringAt(jsii.String("$.date")),
	}).Next(dayFailed), a.catchAll)

	return waves
}

func (a *aggregationStates) days(waves awsstepfunctions.Map) awsstepfunctions.Map {
	// One day at a time, oldest first (the plan's order): a day's waves already use the share of
	// the Athena quota the workflow may take, and a KPI over a window of days reads the earlier
	// days as this run left them.
	days := awsstepfunctions.NewMap(a.node, jsii.String("AggregateDays"), &awsstepfunctions.MapProps{
		Comment:        jsii.String("The days to aggregate, oldest first, one at a time"),
		ItemsPath:      jsii.String("$.plan.days"),
		MaxConcurrency: jsii.Number(1),
		ItemSelector: &map[string]any{
			"date": awsstepfunctions.JsonPath_StringAt(jsii.String("$$.Map.Item.Value.date")),
			// The plan names each distinct set of waves once (plan.Plan's JSON); a day names its set.
			"waves.$": "States.ArrayGetItem($.plan.sets, $$.Map.Item.Value.set)",
			"trigger": awsstepfunctions.JsonPath_StringAt(jsii.String("$.plan.trigger")),
			"crawled": awsstepfunctions.JsonPath_StringAt(jsii.String("$.plan.crawled")),
		},
		ResultPath: jsii.String("$.aggregated"),
	})
	days.ItemProcessor(waves, nil)
	days.AddCatch(a.failed, &awsstepfunctions.CatchProps{Errors: jsii.Strings(ErrorKPIFailed), ResultPath: jsii.String("$.failure")})
	days.AddCatch(a.notify("NotifyRunFailure", map[string]any{}).Next(a.failed), a.catchAll)
	days.Next(awsstepfunctions.NewSucceed(a.node, jsii.String("Done"), nil))

	return days
}

// rules starts the workflow on crawler success, alerts on crawler failure and on executions that
// end without reaching their own alert (timed out, aborted).
func (w *Workflow) rules(node constructs.Construct, p WorkflowProps) {
	names := make([]string, len(p.Crawlers))
	for i, c := range p.Crawlers {
		names[i] = *c.Name()
	}
	crawlerPattern := func(state string) *awsevents.EventPattern {
		return &awsevents.EventPattern{
			Source:     jsii.Strings(CrawlerEventSource),
			DetailType: jsii.Strings(CrawlerEventDetailType),
			Detail: &map[string]any{
				"state":       []string{state},
				"crawlerName": names,
			},
		}
	}
	w.DeadLetters = awssqs.NewQueue(node, jsii.String("StartDeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag.DeadLetterQueue(w.DeadLetters)
	cdknag.NagSuppressions_AddResourceSuppressions(w.DeadLetters, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the crawler-success rule's target; it has none of its own."),
	}}, jsii.Bool(true))
	w.SucceededRule = awsevents.NewRule(node, jsii.String("CrawlerSucceeded"), &awsevents.RuleProps{
		Description:  jsii.String("kpilake: a crawler catalogued raw data; aggregate the days it brought or changed"),
		EventPattern: crawlerPattern("Succeeded"),
		// The whole event is the input: the plan step reads its crawler and time.
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(w.StateMachine, &awseventstargets.SfnStateMachineProps{
			DeadLetterQueue: w.DeadLetters,
			RetryAttempts:   jsii.Number(startRetryAttempts),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(startMaxEventAgeHours)),
		})},
	})
	w.FailedRule = awsevents.NewRule(node, jsii.String("CrawlerFailed"), &awsevents.RuleProps{
		Description:  jsii.String("kpilake: a crawler failed; the day's KPIs will not be aggregated"),
		EventPattern: crawlerPattern("Failed"),
		Targets: &[]awsevents.IRuleTarget{p.Alerts.RuleTarget(awsevents.RuleTargetInput_FromText(jsii.String(fmt.Sprintf(
			"kpilake: crawler %s failed at %s, so the KPIs were not aggregated: %s",
			*awsevents.EventField_FromPath(jsii.String("$.detail.crawlerName")),
			*awsevents.EventField_Time(),
			*awsevents.EventField_FromPath(jsii.String("$.detail.errorMessage"))))))},
	})
}
