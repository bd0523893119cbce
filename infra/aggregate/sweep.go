package aggregate

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
)

// IAM actions of the sweep function: it reads the catalog, moves only the KPI tables' partitions
// (a settle), drops only temporary tables, and finds and stops queries only in the aggregation
// workgroup. It runs no query.
var (
	SweepGlueKPITableActions = []string{"glue:CreatePartition", "glue:UpdatePartition"}
	SweepGlueTempActions     = []string{"glue:DeleteTable"}
	SweepAthenaActions       = []string{"athena:ListQueryExecutions", "athena:BatchGetQueryExecution", "athena:StopQueryExecution"}
)

// The sweep's schedule and limits.
const (
	// SweepSchedule runs the sweep hourly: an orphan query of a crashed run is stopped within an
	// hour past ctas.DefaultStaleTempAfter, not left to run to Athena's DML timeout (up to 4
	// hours), and a superseded run outlives its grace by an hour at most. A pass lists each KPI's
	// prefix once (a few LIST calls per thousand objects), so 24 a day cost next to nothing.
	SweepSchedule = "rate(1 hour)"
	// sweepTimeoutMinutes: a pass lists every KPI's prefix and deletes in batches of 1000.
	sweepTimeoutMinutes = 15
	sweepMemoryMB       = 256
	// The schedule's target retry policy: a failed invocation (throttling, a Lambda error) is
	// retried within the hour, before the next pass starts anyway.
	sweepRetryAttempts    = 3
	sweepMaxEventAgeHours = 1
)

// SweepProps configures a Sweep.
type SweepProps struct {
	// Catalog whose database and aggregation workgroup the KPI runs use. Required.
	Catalog *catalog.Catalog
	// Lake whose aggregated zone is swept. Required.
	Lake *lake.Lake
	// KPIs are the catalog names of every KPI; the function may touch only their prefixes and
	// tables. Required, at least one.
	KPIs []string
	// Grace is how long a superseded run stays readable (ctas.Config.SupersededGrace); the
	// aggregate function and the backfill worker must get the same (SetGrace). At least
	// ctas.MinSupersededGrace. Default: ctas.DefaultSupersededGrace.
	Grace time.Duration
	// TimeZone of the business day, IANA name: the sweep measures each KPI's newest day's age
	// (metrics.NewestDayAge) from the day's end there. Default: "UTC".
	TimeZone string
	// Root is the module's root directory (where lambdas/ lives). Default: ".".
	Root string
	// Entry is the sweep function's main package directory.
	// Default: filepath.Join(Root, "lambdas/cmd/sweep").
	Entry string
	// LogRetention of the function's logs. Default: three months.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of the log group. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

func (p *SweepProps) validate() error {
	var errs []error
	if p.Catalog == nil {
		errs = append(errs, errors.New("Catalog is required"))
	}
	if p.Lake == nil {
		errs = append(errs, errors.New("Lake is required"))
	}
	if len(p.KPIs) == 0 {
		errs = append(errs, errors.New("KPIs: give the catalog's KPI names (queries.Catalog.Names()); the function may sweep only their prefixes"))
	}
	for i, k := range p.KPIs {
		if err := layout.ValidateName("KPI", k); err != nil {
			errs = append(errs, fmt.Errorf("KPIs[%d]: %w", i, err))
		} else if slices.Index(p.KPIs, k) != i {
			errs = append(errs, fmt.Errorf("KPIs[%d] %q is given twice", i, k))
		}
	}
	if p.Grace != 0 && p.Grace < ctas.MinSupersededGrace {
		errs = append(errs, fmt.Errorf("Grace is %v; give at least %v (Athena's default DML timeout and the writes of dying runs), or 0 for the default (%v)",
			p.Grace, ctas.MinSupersededGrace, ctas.DefaultSupersededGrace))
	}
	switch p.RemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	return errors.Join(errs...)
}

// Sweep is the hourly backstop of the KPI runs' publish protocol (lambdas/ctas.Sweeper): it
// deletes superseded runs past their grace period and crashed runs, settles days left off their
// newest ready run, drops crashed runs' temporary tables and stops their queries, for days that
// are never run again.
type Sweep struct {
	constructs.Construct
	// Function makes one pass.
	Function *golambda.Function
	// Schedule invokes Function hourly.
	Schedule awsscheduler.Schedule
	// Role is what the scheduler assumes: it may invoke Function and send to DeadLetters.
	Role awsiam.Role
	// DeadLetters keeps the invocations that failed after every retry.
	DeadLetters awssqs.Queue
}

// NewSweep creates the sweep function, its grants, its schedule and the schedule's dead-letter
// queue.
func NewSweep(scope constructs.Construct, id string, props *SweepProps) *Sweep {
	if props == nil {
		props = &SweepProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("aggregate.NewSweep %q: %w", id, err))
	}
	p := *props
	if p.Root == "" {
		p.Root = "."
	}
	if p.Entry == "" {
		p.Entry = filepath.Join(p.Root, "lambdas", "cmd", "sweep")
	}
	if p.Grace == 0 {
		p.Grace = ctas.DefaultSupersededGrace
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	node := constructs.NewConstruct(scope, &id)
	s := &Sweep{Construct: node}
	zone := p.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	// The sweep runs no query; the zone is where a KPI's newest day ends (its age).
	env := AggregateEnvironment(p.Catalog, p.Lake, zone)
	env[contract.EnvSupersededGrace] = GraceValue(p.Grace)
	s.Function = golambda.NewFunction(node, "Sweeper", &golambda.FunctionProps{
		Entry:         p.Entry,
		Description:   "kpilake: hourly sweep of the aggregated zone (superseded runs past their grace, crashed runs' tables and queries)",
		Environment:   env,
		Timeout:       awscdk.Duration_Minutes(jsii.Number(sweepTimeoutMinutes)),
		MemoryMB:      sweepMemoryMB,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	grantSweep(s.Function.Role, p.Catalog, p.Lake)
	cdknag.NagSuppressions_AddResourceSuppressions(s.Function.Construct, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "The sweep reads the catalog of the lake's database (read-only Glue actions) to settle KPI partitions and find temporary tables.",
			tablesPattern(p.Catalog, "")),
		kpiTablesSuppression(p.Catalog, "The sweep settles the partitions of"),
		tempTablesSuppression(p.Catalog, "The sweep drops, when a crashed run left them,"),
		kpiPrefixesSuppression(p.Lake, "The sweep lists, marks and deletes superseded runs"),
	}, jsii.Bool(true))
	nag.Suppress(s.Function.Function.Node().DefaultChild(), "Run hourly by its schedule (an asynchronous invocation): a pass that fails "+
		"alarms (Errors) and the next pass redoes its work; a dead-letter queue would only keep the schedule's empty event.",
		nag.Rule("LambdaDLQ", nag.NIST, nag.HIPAA, nag.Serverless)...)

	s.DeadLetters = awssqs.NewQueue(node, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag.DeadLetterQueue(s.DeadLetters)
	s.Role = awsiam.NewRole(node, jsii.String("ScheduleRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(node).Account()}},
		}),
		Description: jsii.String("kpilake sweep schedule: invokes the sweep function"),
	})
	s.Schedule = awsscheduler.NewSchedule(node, jsii.String("Hourly"), &awsscheduler.ScheduleProps{
		Description: jsii.String("kpilake: hourly sweep of the aggregated zone"),
		Schedule:    awsscheduler.ScheduleExpression_Expression(jsii.String(SweepSchedule), nil),
		Target: awsschedulertargets.NewLambdaInvoke(s.Function.Function, &awsschedulertargets.ScheduleTargetBaseProps{
			Input:           awsscheduler.ScheduleTargetInput_FromObject(map[string]any{}),
			Role:            s.Role,
			DeadLetterQueue: s.DeadLetters,
			RetryAttempts:   jsii.Number(sweepRetryAttempts),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(sweepMaxEventAgeHours)),
		}),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(s.Role, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "The scheduler invokes the qualified versions (ARN:*) of the sweep function only.",
			`^Resource::`+nag.Ref(s.Function.Function, "Arn")+`:\*$`),
	}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(s.DeadLetters, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the sweep schedule's target; it has none of its own."),
	}}, jsii.Bool(true))
	return s
}

// GraceValue is the value of contract.EnvSupersededGrace for a grace period.
func GraceValue(d time.Duration) string { return d.String() }

// grantSweep gives grantee what a sweep pass needs and no more: read the catalog, move the KPI
// tables' partitions, drop temporary tables, list, mark and delete under the KPIs' aggregated
// prefixes, and find and stop queries in the aggregation workgroup. Like GrantAggregate, it names
// KPI resources by pattern, so a new KPI adds no statement.
func grantSweep(grantee awsiam.IGrantable, cat *catalog.Catalog, lk *lake.Lake) {
	principal := grantee.GrantPrincipal()
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(SweepAthenaActions...),
		Resources: jsii.Strings(*cat.AggregationWorkgroupArn()),
	}))
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(GlueReadActions...),
		Resources: jsii.Strings(*cat.CatalogArn(), *cat.DatabaseArn(), *cat.TablesArn("")),
	}))
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(SweepGlueKPITableActions...),
		Resources: jsii.Strings(KPITablesArns(cat)...),
	}))
	principal.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(SweepGlueTempActions...),
		Resources: jsii.Strings(TempTablesArns(cat)...),
	}))
	lk.GrantWriteKPIs(grantee)
}
