package aggregate

import (
	"maps"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	handler "github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/layout"
)

// RunnerProps configures a CTAS runner function: one that runs the aggregate handler
// (lambdas/aggregate), as the aggregation workflow's function and the backfill worker do.
type RunnerProps struct {
	// Catalog, Lake, TimeZone and StateKeys are what every CTAS runner reads (its environment,
	// AggregateEnvironment and StateEnvironment) and is granted (GrantAggregate). Required but
	// StateKeys.
	Catalog   *catalog.Catalog
	Lake      *lake.Lake
	TimeZone  string
	StateKeys handler.StateKeys
	// Environment adds variables of the function's own. Default: none.
	Environment map[string]string
	// Entry, Description, Timeout, MemoryMB, Invocation, LogRetention and RemovalPolicy are the
	// function's (golambda.FunctionProps).
	Entry         string
	Description   string
	Timeout       awscdk.Duration
	MemoryMB      int
	Invocation    golambda.Invocation
	LogRetention  awslogs.RetentionDays
	RemovalPolicy awscdk.RemovalPolicy
}

// NewRunner adds a CTAS runner function to scope under id: the aggregate handler with its
// environment, the grants of GrantAggregate and the cdk-nag suppressions of those grants'
// patterns, so that a new KPI needs no new statement.
func NewRunner(scope constructs.Construct, id string, p *RunnerProps) *golambda.Function {
	env := StateEnvironment(AggregateEnvironment(p.Catalog, p.Lake, p.TimeZone), p.Lake, p.StateKeys)
	maps.Copy(env, p.Environment)
	f := golambda.NewFunction(scope, id, &golambda.FunctionProps{
		Entry:         p.Entry,
		Description:   p.Description,
		Environment:   env,
		Timeout:       p.Timeout,
		MemoryMB:      p.MemoryMB,
		Invocation:    p.Invocation,
		LogRetention:  p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	GrantAggregate(f.Role, p.Catalog, p.Lake)
	cdknag.NagSuppressions_AddResourceSuppressions(f.Construct, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "KPI queries read any source and upstream KPI table of the lake's database (read-only Glue actions).",
			tablesPattern(p.Catalog, "")),
		kpiTablesSuppression(p.Catalog, "CTAS creates and repartitions"),
		tempTablesSuppression(p.Catalog, "Athena CTAS creates and the runner drops"),
		nag.SuppressMatching("AwsSolutions-IAM5", "KPI queries read the raw zone (every source a KPI declares); read-only.",
			`^Resource::`+nag.Ref(p.Lake.Raw, "Arn")+`/\*$`),
		kpiPrefixesSuppression(p.Lake, "Each run writes its output and deletes superseded runs"),
		nag.SuppressMatching("AwsSolutions-IAM5", "Athena writes query output with the caller's credentials, under the workgroup's athena/ prefix only.",
			`^Resource::`+nag.Ref(p.Lake.QueryResults, "Arn")+`/`+regexp.QuoteMeta(layout.AthenaResultsPrefix)+`\*$`),
	}, jsii.Bool(true))
	return f
}

// The grants of the runners, the sweep and the plan name the KPI tables, the temporary tables
// and the KPIs' prefixes by pattern, so that a new KPI adds no statement: these are the
// patterns' suppressions, written once.

// tablesPattern matches the catalog's tables whose names start with prefix.
func tablesPattern(cat *catalog.Catalog, prefix string) string {
	return `^Resource::arn:[^:]+:glue:[^:]+:.+:table/` + regexp.QuoteMeta(cat.DatabaseName) + `/` + regexp.QuoteMeta(prefix) + `\*$`
}

// kpiTablesSuppression suppresses the finding of a grant on every KPI table; does says what the
// grantee does to them ("The plan reads the partitions of").
func kpiTablesSuppression(cat *catalog.Catalog, does string) *cdknag.NagPackSuppression {
	return nag.SuppressMatching("AwsSolutions-IAM5", does+" the KPI tables, named by their reserved prefix "+layout.KPITablePrefix+
		"* (no source table may take it) so that a new KPI needs no new statement.", tablesPattern(cat, layout.KPITablePrefix))
}

func tempTablesSuppression(cat *catalog.Catalog, does string) *cdknag.NagPackSuppression {
	return nag.SuppressMatching("AwsSolutions-IAM5", does+" the CTAS runs' temporary tables, uniquely named per run under their reserved prefix "+
		layout.TempTablePrefix+"* (no source or KPI table may take it).", tablesPattern(cat, layout.TempTablePrefix))
}

func kpiPrefixesSuppression(lk *lake.Lake, does string) *cdknag.NagPackSuppression {
	return nag.SuppressMatching("AwsSolutions-IAM5", does+" under the KPIs' own folders of the aggregated zone, which holds nothing else, "+
		"so that a new KPI needs no new statement.", `^Resource::`+nag.Ref(lk.Aggregated, "Arn")+`/`+regexp.QuoteMeta(layout.KPIsPrefix)+`\*$`)
}
