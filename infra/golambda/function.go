// Package golambda turns a Go main package under lambdas/cmd into a Lambda function: built locally
// with `go build` for provided.al2023 on arm64 (no Docker), with an asset hash derived from the
// sources so that synth is deterministic, X-Ray tracing, JSON logs with a retention, and its own
// least-privilege role.
package golambda

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/logkey"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/lambdas/metrics"
)

// MetricsEnvironmentContext is the construct context key that names the environment of the
// functions under a construct: NewFunction gives each of them that name as its
// contract.EnvEnvironment variable, the Environment dimension of the kpilake metrics that the
// alarms and the dashboard select. An environment's stack sets it (SetMetricsEnvironment).
const MetricsEnvironmentContext = "kpilake:environment"

// SetMetricsEnvironment names env as the environment of every function built under scope, which
// must have no children yet.
func SetMetricsEnvironment(scope constructs.Construct, env string) {
	scope.Node().SetContext(jsii.String(MetricsEnvironmentContext), jsii.String(env))
}

// MetricsEnvironment is the environment named under scope (SetMetricsEnvironment), or "".
func MetricsEnvironment(scope constructs.Construct) string {
	name, _ := scope.Node().TryGetContext(jsii.String(MetricsEnvironmentContext)).(string)
	return name
}

// Defaults of FunctionProps.
const (
	DefaultTimeoutSeconds = 60
	DefaultMemoryMB       = 256
	DefaultLogRetention   = awslogs.RetentionDays_THREE_MONTHS
)

// FunctionProps configures a Function.
type FunctionProps struct {
	// Entry is the directory of the handler's main package, such as "lambdas/cmd/plan", relative
	// to the working directory or absolute. Required.
	Entry string
	// Description of the function. Default: none.
	Description string
	// Environment variables. Default: none.
	Environment map[string]string
	// Timeout of one invocation. Default: 60 seconds.
	Timeout awscdk.Duration
	// MemoryMB is the function's memory (and so its CPU share), 128 to 10240. Default: 256.
	MemoryMB int
	// LogRetention is how long the function's logs are kept. Default: three months.
	LogRetention awslogs.RetentionDays
	// LogKey encrypts the function's log group; its key policy gets a statement that lets
	// CloudWatch Logs use it. Default: CloudWatch Logs' own encryption.
	LogKey awskms.IKey
	// RemovalPolicy applies to the log group. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// Invocation is how the function is invoked, which decides where its failures go and so
	// whether cdk-nag's dead-letter rules apply. Default: Asynchronous (they apply).
	Invocation Invocation
	// SubnetIDs and SecurityGroupIDs put the function in a VPC (to reach a database); both or
	// neither. Default: no VPC.
	SubnetIDs        []string
	SecurityGroupIDs []string
}

// Invocation is how a function is invoked.
type Invocation int

const (
	// Asynchronous: an event that nobody waits for (a schedule, an S3 or SNS notification), or
	// not declared. The function gets no dead-letter exemption: give it a dead-letter queue or an
	// on-failure destination, or suppress the finding where it is created, with the reason.
	Asynchronous Invocation = iota
	// Synchronous: the caller (a Step Functions task, whose Retry and Catch handle a failure, or
	// the operator) waits for the result, so the function needs no dead-letter queue.
	Synchronous
	// SQSEventSource: an SQS event source mapping; a failed message returns to its queue and,
	// after the queue's receive count, to the queue's dead-letter queue.
	SQSEventSource
)

func (p *FunctionProps) validate() error {
	var errs []error
	if p.Entry == "" {
		errs = append(errs, errors.New(`Entry is required; give the handler's main package directory, such as "lambdas/cmd/plan"`))
	}
	if p.MemoryMB != 0 && (p.MemoryMB < 128 || p.MemoryMB > 10240) {
		errs = append(errs, fmt.Errorf("MemoryMB is %d; Lambda accepts 128 to 10240", p.MemoryMB))
	}
	switch p.RemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	if (len(p.SubnetIDs) == 0) != (len(p.SecurityGroupIDs) == 0) {
		errs = append(errs, errors.New("SubnetIDs and SecurityGroupIDs: give both to run in a VPC, or neither"))
	}
	return errors.Join(errs...)
}

// Function is a Go handler deployed as a Lambda function.
type Function struct {
	constructs.Construct
	// Function is the Lambda function.
	Function awslambda.Function
	// Role is the function's execution role; grant to it (or to Function) what the handler needs.
	Role awsiam.Role
	// LogGroup receives the function's JSON logs.
	LogGroup awslogs.LogGroup
	// AssetHash identifies the sources the binary was built from.
	AssetHash string
	// MetricsEnvironment is the Environment dimension of the kpilake metrics the function records
	// (SetMetricsEnvironment), or "" when it was built under no environment's name.
	MetricsEnvironment string
}

// NewFunction builds the handler and creates the function, its role and its log group.
func NewFunction(scope constructs.Construct, id string, props *FunctionProps) *Function {
	if props == nil {
		props = &FunctionProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("golambda.NewFunction %q: %w", id, err))
	}
	p := *props
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Seconds(jsii.Number(DefaultTimeoutSeconds))
	}
	if p.MemoryMB == 0 {
		p.MemoryMB = DefaultMemoryMB
	}
	if p.LogRetention == "" {
		p.LogRetention = DefaultLogRetention
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	b, err := BuildHandler(p.Entry)
	if err != nil {
		panic(fmt.Errorf("golambda.NewFunction %q: %w", id, err))
	}

	f := &Function{Construct: constructs.NewConstruct(scope, &id), AssetHash: b.Hash}
	if p.LogKey != nil {
		logkey.AllowCloudWatchLogs(p.LogKey)
	}
	f.LogGroup = awslogs.NewLogGroup(f.Construct, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		EncryptionKey: p.LogKey,
		RemovalPolicy: p.RemovalPolicy,
	})
	// An own role instead of AWSLambdaBasicExecutionRole: logs go to this log group only.
	f.Role = awsiam.NewRole(f.Construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	f.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*f.LogGroup.LogGroupArn()),
	}))

	env := map[string]*string{}
	for k, v := range p.Environment {
		env[k] = jsii.String(v)
	}
	if name := MetricsEnvironment(scope); name != "" {
		env[contract.EnvEnvironment] = jsii.String(name)
		f.MetricsEnvironment = name
	}
	var desc *string
	if p.Description != "" {
		desc = jsii.String(p.Description)
	}
	f.Function = awslambda.NewFunction(f.Construct, jsii.String("Function"), &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(jsii.String(b.Dir), &awss3assets.AssetOptions{
			AssetHash:     jsii.String(b.Hash),
			AssetHashType: awscdk.AssetHashType_CUSTOM,
		}),
		Description:           desc,
		Environment:           &env,
		Timeout:               p.Timeout,
		MemorySize:            jsii.Number(p.MemoryMB),
		Tracing:               awslambda.Tracing_ACTIVE,
		Role:                  f.Role,
		LogGroup:              f.LogGroup,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
	})
	if len(p.SubnetIDs) > 0 {
		f.inVPC(p.SubnetIDs, p.SecurityGroupIDs)
	}
	f.suppress(p)
	return f
}

// RecordedMetric is a kpilake metric that the function records (lambdas/metrics): name in the
// metrics.Namespace namespace with dims and, when the function has one, its MetricsEnvironment
// as the Environment dimension. opts sets the statistic, period and label as for any metric.
func (f *Function) RecordedMetric(name string, dims map[string]string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	all := map[string]*string{}
	for k, v := range dims {
		all[k] = jsii.String(v)
	}
	if f.MetricsEnvironment != "" {
		all[metrics.DimEnvironment] = jsii.String(f.MetricsEnvironment)
	}
	m := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name), DimensionsMap: &all})
	if opts == nil {
		return m
	}
	return m.With(opts)
}

// suppress records, on the function resource, why the cdk-nag rules that do not fit it are met
// otherwise.
func (f *Function) suppress(p FunctionProps) {
	fn := f.Function.Node().DefaultChild()
	switch p.Invocation {
	case Synchronous:
		nag.Suppress(fn, "Invoked synchronously (by a Step Functions task, whose Retry and Catch handle a failure, or by the operator): "+
			"a function dead-letter queue only receives failed asynchronous invocations.",
			nag.Rule("LambdaDLQ", nag.NIST, nag.HIPAA, nag.Serverless)...)
	case SQSEventSource:
		nag.Suppress(fn, "Invoked by an SQS event source mapping: a failed message returns to its queue and then to the queue's dead-letter queue; "+
			"a function dead-letter queue only receives failed asynchronous invocations.",
			nag.Rule("LambdaDLQ", nag.NIST, nag.HIPAA, nag.Serverless)...)
	}
	if len(p.SubnetIDs) == 0 {
		nag.Suppress(fn, "The function calls only AWS APIs (over TLS, authorized by its role) and reaches no private network resource; "+
			"a VPC would add NAT or endpoints and protect nothing.",
			nag.Rule("LambdaInsideVPC", nag.NIST, nag.HIPAA)...)
	}
	// Tracing is on (Tracing_ACTIVE): the role may write traces, which name no resource.
	cdknag.NagSuppressions_AddResourceSuppressions(f.Role, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.",
			`^Resource::\*$`),
	}, jsii.Bool(true))
	nag.Suppress(fn, "Concurrency is bounded by the caller (a Map state's MaxConcurrency, an SQS event source's maximum concurrency, "+
		"a schedule); reserved concurrency would take from the account's unreserved pool and fails deployment in accounts with a low concurrency quota.",
		nag.Rule("LambdaConcurrency", nag.NIST, nag.HIPAA)...)
}

// VPCActions are what Lambda needs to attach a function to its subnets (as in the managed
// AWSLambdaVPCAccessExecutionRole); EC2 supports no resource-level permissions for them.
var VPCActions = []string{
	"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
	"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
}

// inVPC attaches the function to existing subnets and security groups by ID. The L2 function
// wants an IVpc for that, which would mean a lookup at synth; the IDs are all Lambda needs.
func (f *Function) inVPC(subnets, groups []string) {
	policy := awsiam.NewPolicy(f.Construct, jsii.String("VpcAccess"), &awsiam.PolicyProps{
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(VPCActions...),
			Resources: jsii.Strings("*"),
		})},
		Roles: &[]awsiam.IRole{f.Role},
	})
	cfn := f.Function.Node().DefaultChild().(awslambda.CfnFunction)
	cfn.SetVpcConfig(&awslambda.CfnFunction_VpcConfigProperty{
		SubnetIds:        jsii.Strings(subnets...),
		SecurityGroupIds: jsii.Strings(groups...),
	})
	// Lambda checks the ENI permissions when it creates the function.
	cfn.Node().AddDependency(policy)
}

// RetentionDays maps a CloudWatch Logs retention in days to the CDK enum; ok is false for a value
// CloudWatch does not accept.
func RetentionDays(days int) (awslogs.RetentionDays, bool) {
	r, ok := retention[days]
	return r, ok
}

var retention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
