package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/internal/cw"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/salt"
	"github.com/kpilake/kpilake/infra/statemachine"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// InputErrors are the Lambda error types that no retry can fix (a bad request, or a table spec
// that does not match the database): the workflow fails on them at once. Anything else (a
// database or network hiccup, a timeout) is retried with backoff.
var InputErrors = []string{contract.InputErrorName}

// DatabaseExtractionProps configures a DatabaseExtraction.
type DatabaseExtractionProps struct {
	// Source describes the database, its credentials, network and tables. Required.
	Source config.Source
	// Lake whose raw zone receives the tables. Required.
	Lake *lake.Lake
	// Crawler catalogues the source's tables once every table is extracted. Required.
	Crawler *catalog.Crawler
	// Alerts receives failures. Required.
	Alerts *alerts.Alerts
	// Plan is the function that turns a trigger into the business day. Required.
	Plan *golambda.Function
	// Salt salts the hashed columns; the extraction's role becomes one of its readers. Required.
	Salt *salt.Salt
	// TimeZone of the business day and of the schedule, IANA name. Required.
	TimeZone string
	// Root is the module's root directory (where lambdas/ lives). Default: ".".
	Root string
	// LogRetention of the function's and the workflow's logs. Default: three months.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of log groups. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

func (p *DatabaseExtractionProps) validate() error {
	var errs []error
	for _, req := range []struct {
		name    string
		missing bool
	}{
		{"Lake", p.Lake == nil}, {"Crawler", p.Crawler == nil}, {"Alerts", p.Alerts == nil},
		{"Plan", p.Plan == nil}, {"Salt", p.Salt == nil},
	} {
		if req.missing {
			errs = append(errs, fmt.Errorf("%s is required", req.name))
		}
	}
	// What the function itself would refuse at start-up (including a missing or unknown time
	// zone) must fail synth instead.
	spec := SourceSpec(p.Source, p.TimeZone)
	if err := spec.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.HasPrefix(line, "TimeZone") {
				errs = append(errs, errors.New(line))
			} else {
				errs = append(errs, errors.New("Source."+line))
			}
		}
	}
	if len(p.Source.SubnetIDs) == 0 || len(p.Source.SecurityGroupIDs) == 0 {
		errs = append(errs, errors.New("Source.SubnetIDs and Source.SecurityGroupIDs are required: the function must reach the database"))
	}
	if p.Source.SecretArn == "" {
		errs = append(errs, errors.New("Source.SecretArn is required"))
	}
	if p.Source.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("Source.MaxConcurrency is %d; give a positive number or 0 for the default", p.Source.MaxConcurrency))
	}
	if p.Source.Schedule != "" && !cronFields.MatchString(p.Source.Schedule) {
		errs = append(errs, fmt.Errorf("Source.Schedule %q is not a cron(...) expression such as %q", p.Source.Schedule, config.DefaultSchedule))
	}
	return errors.Join(errs...)
}

// DatabaseExtraction is the daily export of one source database into the raw zone: a schedule in
// the business time zone starts a workflow that exports the tables in parallel (bounded), retries
// transient failures, starts the source's crawler once every table is done, and alerts on failure.
// A manual execution names the day and a subset of tables: {"date": "2026-11-24", "tables": ["users"]};
// "force": true lets it replace a past day of a snapshot table, which is refused otherwise
// (lambdas/extract, "Modes").
type DatabaseExtraction struct {
	constructs.Construct
	// Function exports one table for one day.
	Function *golambda.Function
	// StateMachine is the extraction workflow.
	StateMachine awsstepfunctions.StateMachine
	// Schedule starts the workflow daily.
	Schedule awsscheduler.Schedule
	// ScheduleDeadLetters keeps schedule invocations that could not start the workflow.
	ScheduleDeadLetters awssqs.Queue

	source string
	tables []string
}

// Tables are the names of the tables the extraction exports, in the source's order.
func (x *DatabaseExtraction) Tables() []string { return slices.Clone(x.tables) }

// MetricRowsExtracted is the number of rows the function exported of table, one of Tables (Sum
// and labelled <source>.<table> unless opts says otherwise).
func (x *DatabaseExtraction) MetricRowsExtracted(table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return x.tableMetric(metrics.RowsExtracted, table, opts)
}

// MetricBytesExtracted is the size of the Parquet the function wrote of table, one of Tables (Sum
// and labelled <source>.<table> unless opts says otherwise).
func (x *DatabaseExtraction) MetricBytesExtracted(table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return x.tableMetric(metrics.BytesExtracted, table, opts)
}

func (x *DatabaseExtraction) tableMetric(name, table string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	if !slices.Contains(x.tables, table) {
		panic(fmt.Errorf("ingest.DatabaseExtraction of %s: no table %q to measure; the source's tables are %s", x.source, table, strings.Join(x.tables, ", ")))
	}
	o := cw.WithStatistic(opts, "Sum")
	if o.Label == nil {
		o.Label = jsii.String(x.source + "." + table)
	}
	return x.Function.RecordedMetric(name, map[string]string{metrics.DimSource: x.source, metrics.DimTable: table}, o)
}

// Defaults of the extraction.
const (
	DefaultTableConcurrency = 4
	extractTimeoutMinutes   = 15
	workflowTimeoutHours    = 6
)

// NewDatabaseExtraction creates the function, the workflow and the schedule of one source.
func NewDatabaseExtraction(scope constructs.Construct, id string, props *DatabaseExtractionProps) *DatabaseExtraction {
	if props == nil {
		props = &DatabaseExtractionProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("ingest.NewDatabaseExtraction %q: %w", id, err))
	}
	p := *props
	src := p.Source
	if src.MaxConcurrency == 0 {
		src.MaxConcurrency = DefaultTableConcurrency
	}
	if src.Schedule == "" {
		src.Schedule = config.DefaultSchedule
	}
	if src.MemoryMB == 0 {
		src.MemoryMB = config.DefaultExtractionMemoryMB
	}
	if p.Root == "" {
		p.Root = "."
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	spec, err := json.Marshal(SourceSpec(src, p.TimeZone))
	if err != nil {
		panic(fmt.Errorf("ingest.NewDatabaseExtraction %q: %w", id, err))
	}
	node := constructs.NewConstruct(scope, &id)
	x := &DatabaseExtraction{Construct: node, source: src.Name}
	for _, t := range src.Tables {
		x.tables = append(x.tables, t.Name)
	}

	x.Function = golambda.NewFunction(node, "Extract", &golambda.FunctionProps{
		Invocation:  golambda.Synchronous, // a Step Functions task
		Entry:       filepath.Join(p.Root, "lambdas", "cmd", "extract"),
		Description: "kpilake: exports one table of source " + src.Name + " for one business day into the raw zone",
		Environment: map[string]string{
			contract.EnvSource:        string(spec),
			contract.EnvSecretARN:     src.SecretArn,
			contract.EnvSaltSecretARN: *p.Salt.SecretArn(),
			contract.EnvRawBucket:     *p.Lake.Raw.BucketName(),
		},
		Timeout:          awscdk.Duration_Minutes(jsii.Number(extractTimeoutMinutes)),
		MemoryMB:         src.MemoryMB,
		LogRetention:     p.LogRetention,
		RemovalPolicy:    p.RemovalPolicy,
		SubnetIDs:        src.SubnetIDs,
		SecurityGroupIDs: src.SecurityGroupIDs,
	})
	fn := x.Function.Role
	p.Lake.GrantWriteSource(fn, src.Name)
	fn.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(src.SecretArn),
	}))
	if src.SecretKeyArn != "" {
		fn.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("kms:Decrypt"),
			Resources: jsii.Strings(src.SecretKeyArn),
			Conditions: &map[string]any{"StringEquals": map[string]any{
				"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *awscdk.Stack_Of(node).Region()),
			}},
		}))
	}
	p.Salt.GrantRead(fn)

	x.StateMachine = x.workflow(node, p, src)
	x.Schedule, x.ScheduleDeadLetters = x.schedule(node, p, src)
	x.suppressions(p, src)
	return x
}

// SourceSpec is what the extraction function is told about its source (its EnvSource variable).
func SourceSpec(src config.Source, timeZone string) extract.SourceSpec {
	spec := extract.SourceSpec{
		Name:           src.Name,
		Engine:         extract.Engine(src.Engine),
		Database:       src.Database,
		TimeZone:       timeZone,
		StoredTimeZone: src.StoredTimeZone,
	}
	for _, t := range src.Tables {
		spec.Tables = append(spec.Tables, extract.TableSpec{
			Name:            t.Name,
			Mode:            extract.Mode(t.Mode),
			TimestampColumn: t.TimestampColumn,
			Exclude:         t.Exclude,
			Hash:            t.Hash,
		})
	}
	return spec
}

func (x *DatabaseExtraction) workflow(node constructs.Construct, p DatabaseExtractionProps, src config.Source) awsstepfunctions.StateMachine {
	tables := make([]string, 0, len(src.Tables))
	for _, t := range src.Tables {
		tables = append(tables, t.Name)
	}
	notify := awsstepfunctionstasks.NewSnsPublish(node, jsii.String("NotifyFailure"), &awsstepfunctionstasks.SnsPublishProps{
		Topic:   p.Alerts.Topic,
		Subject: jsii.String("kpilake: extraction of " + src.Name + " failed"),
		Message: awsstepfunctions.TaskInput_FromObject(&map[string]any{
			"source":    src.Name,
			"execution": awsstepfunctions.JsonPath_ExecutionId(),
			"error":     awsstepfunctions.JsonPath_StringAt(jsii.String("$.failure.Error")),
			"cause":     awsstepfunctions.JsonPath_StringAt(jsii.String("$.failure.Cause")),
		}),
		ResultPath: awsstepfunctions.JsonPath_DISCARD(),
	})
	failed := awsstepfunctions.NewFail(node, jsii.String("Failed"), &awsstepfunctions.FailProps{
		Error:     jsii.String("ExtractionFailed"),
		CausePath: jsii.String("$.failure.Cause"),
	})
	notify.Next(failed)
	catch := func(s interface {
		AddCatch(awsstepfunctions.IChainable, *awsstepfunctions.CatchProps) awsstepfunctions.TaskStateBase
	}) {
		s.AddCatch(notify, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.failure")})
	}

	planDay := awsstepfunctionstasks.NewLambdaInvoke(node, jsii.String("PlanDay"), &awsstepfunctionstasks.LambdaInvokeProps{
		LambdaFunction:           p.Plan.Function,
		Comment:                  jsii.String("The business day: the given date, or the day before the scheduled time"),
		Payload:                  awsstepfunctions.TaskInput_FromJsonPathAt(jsii.String("$")),
		ResultSelector:           &map[string]any{"date": awsstepfunctions.JsonPath_StringAt(jsii.String("$.Payload.date"))},
		ResultPath:               jsii.String("$.plan"),
		RetryOnServiceExceptions: jsii.Bool(false),
	})
	planDay.AddRetry(statemachine.ServiceRetry())
	catch(planDay)

	extractTable := awsstepfunctionstasks.NewLambdaInvoke(node, jsii.String("ExtractTable"), &awsstepfunctionstasks.LambdaInvokeProps{
		LambdaFunction:           x.Function.Function,
		Payload:                  awsstepfunctions.TaskInput_FromJsonPathAt(jsii.String("$")),
		ResultSelector:           &map[string]any{"result": awsstepfunctions.JsonPath_ObjectAt(jsii.String("$.Payload"))},
		OutputPath:               jsii.String("$.result"),
		RetryOnServiceExceptions: jsii.Bool(false),
	})
	extractTable.AddRetry(&awsstepfunctions.RetryProps{Errors: jsii.Strings(InputErrors...), MaxAttempts: jsii.Number(0)})
	extractTable.AddRetry(statemachine.ServiceRetry())
	extractTable.AddRetry(&awsstepfunctions.RetryProps{
		Errors:         jsii.Strings("States.ALL"),
		Interval:       awscdk.Duration_Seconds(jsii.Number(30)),
		BackoffRate:    jsii.Number(2),
		MaxAttempts:    jsii.Number(3),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
	})
	extractAll := awsstepfunctions.NewMap(node, jsii.String("ExtractTables"), &awsstepfunctions.MapProps{
		Comment:        jsii.String(fmt.Sprintf("At most %d tables at once", src.MaxConcurrency)),
		ItemsPath:      jsii.String("$.tables"),
		MaxConcurrency: jsii.Number(src.MaxConcurrency),
		ItemSelector: &map[string]any{
			"source": src.Name,
			"table":  awsstepfunctions.JsonPath_StringAt(jsii.String("$$.Map.Item.Value")),
			"date":   awsstepfunctions.JsonPath_StringAt(jsii.String("$.plan.date")),
			"force":  awsstepfunctions.JsonPath_StringAt(jsii.String("$.force")),
		},
		ResultPath: jsii.String("$.extracted"),
	})
	extractAll.ItemProcessor(extractTable, nil)
	extractAll.AddCatch(notify, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.failure")})

	allTables := awsstepfunctions.NewPass(node, jsii.String("AllTables"), &awsstepfunctions.PassProps{
		Comment:    jsii.String("No tables given: extract every configured table"),
		Result:     awsstepfunctions.Result_FromArray(toAny(tables)),
		ResultPath: jsii.String("$.tables"),
	})
	allTables.Next(extractAll)
	chooseTables := awsstepfunctions.NewChoice(node, jsii.String("TablesGiven"), nil).
		When(awsstepfunctions.Condition_IsPresent(jsii.String("$.tables")), extractAll, nil).
		Otherwise(allTables)

	// force reaches every table's request (extract.Request.Force): false unless the execution
	// input says true, so that only an operator's explicit request replaces a past snapshot day.
	notForced := awsstepfunctions.NewPass(node, jsii.String("NotForced"), &awsstepfunctions.PassProps{
		Comment:    jsii.String("No force given: a past snapshot day is refused"),
		Result:     awsstepfunctions.Result_FromBoolean(jsii.Bool(false)),
		ResultPath: jsii.String("$.force"),
	})
	notForced.Next(chooseTables)
	badForce := awsstepfunctions.NewPass(node, jsii.String("ForceNotBoolean"), &awsstepfunctions.PassProps{
		Result: awsstepfunctions.Result_FromObject(&map[string]any{"Error": contract.InputErrorName,
			"Cause": `the execution input's "force" must be true or false`}),
		ResultPath: jsii.String("$.failure"),
	})
	badForce.Next(notify)
	chooseForce := awsstepfunctions.NewChoice(node, jsii.String("ForceGiven"), nil).
		When(awsstepfunctions.Condition_Not(awsstepfunctions.Condition_IsPresent(jsii.String("$.force"))), notForced, nil).
		When(awsstepfunctions.Condition_IsBoolean(jsii.String("$.force")), chooseTables, nil).
		Otherwise(badForce)

	crawl := awsstepfunctionstasks.NewCallAwsService(node, jsii.String("StartCrawler"), &awsstepfunctionstasks.CallAwsServiceProps{
		Service:      jsii.String("glue"),
		Action:       jsii.String("startCrawler"),
		Parameters:   &map[string]any{"Name": p.Crawler.Name()},
		IamResources: jsii.Strings(*p.Crawler.Arn()),
		ResultPath:   awsstepfunctions.JsonPath_DISCARD(),
	})
	// A crawler that is still running (say, from a manual run) is waited for, then started again
	// so that it sees today's folders.
	crawl.AddRetry(&awsstepfunctions.RetryProps{
		Errors:      jsii.Strings("Glue.CrawlerRunningException"),
		Interval:    awscdk.Duration_Seconds(jsii.Number(60)),
		BackoffRate: jsii.Number(1),
		MaxAttempts: jsii.Number(30),
	})
	crawl.AddRetry(&awsstepfunctions.RetryProps{
		Errors:         jsii.Strings("Glue.OperationTimeoutException", "Glue.ThrottlingException", "Glue.InternalServiceException"),
		Interval:       awscdk.Duration_Seconds(jsii.Number(5)),
		BackoffRate:    jsii.Number(2),
		MaxAttempts:    jsii.Number(5),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
	})
	crawl.AddCatch(notify, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.failure")})
	extractAll.Next(crawl)
	crawl.Next(awsstepfunctions.NewSucceed(node, jsii.String("Done"), nil))

	return statemachine.New(node, &statemachine.Props{
		Subject:       "extraction of source " + src.Name,
		Comment:       "kpilake: daily extraction of source " + src.Name,
		Definition:    planDay.Next(chooseForce),
		Timeout:       awscdk.Duration_Hours(jsii.Number(workflowTimeoutHours)),
		Alerts:        p.Alerts,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	}).StateMachine
}

// suppressions lists, with a reason each, the AwsSolutions findings of the extraction's own
// resources that are by design.
func (x *DatabaseExtraction) suppressions(p DatabaseExtractionProps, src config.Source) {
	fn := []*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "The extraction writes objects under its own source's raw prefix only.",
			`^Resource::`+nag.Ref(p.Lake.Raw, "Arn")+`/`+regexp.QuoteMeta(layout.SourcePrefix(src.Name))+`\*$`),
	}
	if len(src.SubnetIDs) > 0 {
		fn = append(fn, nag.SuppressMatching("AwsSolutions-IAM5", "Attaching a function to its subnets needs EC2 network-interface actions, which support no resource-level permissions.",
			`^Resource::\*$`))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(x.Function.Construct, &fn, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(x.StateMachine, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "Step Functions invokes the qualified versions (ARN:*) of its own two functions only.",
			`^Resource::(`+nag.Ref(x.Function.Function, "Arn")+`|`+nag.Ref(p.Plan.Function, "Arn")+`):\*$`),
	}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(x.ScheduleDeadLetters, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the schedule's target; it has none of its own."),
	}}, jsii.Bool(true))
}

var cronFields = regexp.MustCompile(`^cron\((.*)\)$`)

func (x *DatabaseExtraction) schedule(node constructs.Construct, p DatabaseExtractionProps, src config.Source) (awsscheduler.Schedule, awssqs.Queue) {
	dlq := awssqs.NewQueue(node, jsii.String("ScheduleDeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag.DeadLetterQueue(dlq)
	tables := make([]string, 0, len(src.Tables))
	for _, t := range src.Tables {
		tables = append(tables, t.Name)
	}
	sched := awsscheduler.NewSchedule(node, jsii.String("Daily"), &awsscheduler.ScheduleProps{
		Description: jsii.String("kpilake: daily extraction of source " + src.Name),
		Schedule:    awsscheduler.ScheduleExpression_Expression(jsii.String(src.Schedule), awscdk.TimeZone_Of(jsii.String(p.TimeZone))),
		Target: awsschedulertargets.NewStepFunctionsStartExecution(x.StateMachine, &awsschedulertargets.ScheduleTargetBaseProps{
			Input: awsscheduler.ScheduleTargetInput_FromObject(map[string]any{
				// The plan step turns the scheduled time into the business day before it.
				"time":   awsscheduler.ContextAttribute_ScheduledTime(),
				"tables": tables,
			}),
			DeadLetterQueue: dlq,
			RetryAttempts:   jsii.Number(3),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		}),
	})
	return sched, dlq
}

func toAny(s []string) *[]any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return &out
}
