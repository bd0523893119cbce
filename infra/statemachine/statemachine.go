// Package statemachine builds kpilake's workflows alike: a Standard state machine with X-Ray
// tracing, every execution's events logged, a timeout and the right to publish to the encrypted
// alert topic (where the workflow's own failure steps publish), and an EventBridge rule that
// alerts when an execution times out or is aborted, which never reaches those steps. Its
// ServiceRetry is the retry that every Lambda task of a workflow gets for the Lambda service's
// own errors.
package statemachine

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/nag"
)

// LambdaServiceErrors are the errors of the Lambda service itself, always worth retrying.
var LambdaServiceErrors = []string{
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException",
}

// ServiceRetry retries LambdaServiceErrors: 6 attempts from 2 seconds, doubling, full jitter.
func ServiceRetry() *awsstepfunctions.RetryProps {
	return &awsstepfunctions.RetryProps{
		Errors:         jsii.Strings(LambdaServiceErrors...),
		Interval:       awscdk.Duration_Seconds(jsii.Number(2)),
		BackoffRate:    jsii.Number(2),
		MaxAttempts:    jsii.Number(6),
		JitterStrategy: awsstepfunctions.JitterType_FULL,
	}
}

// Props configures an Alerting workflow.
type Props struct {
	// Subject names the workflow in its alerts, such as "KPI aggregation". Required.
	Subject string
	// Comment is the state machine's comment. Required.
	Comment string
	// Definition is the first state of the workflow. Required.
	Definition awsstepfunctions.IChainable
	// Timeout ends an execution that runs longer (and alerts). Required.
	Timeout awscdk.Duration
	// Alerts receives the timed-out and aborted executions, and the workflow may publish to it.
	// Required.
	Alerts *alerts.Alerts
	// LogRetention and RemovalPolicy apply to the execution log group. Default: the CDK's
	// (two years; retained).
	LogRetention  awslogs.RetentionDays
	RemovalPolicy awscdk.RemovalPolicy
}

func (p *Props) validate() error {
	var errs []error
	for _, f := range []struct {
		name    string
		missing bool
	}{{"Subject", p.Subject == ""}, {"Comment", p.Comment == ""}, {"Definition", p.Definition == nil},
		{"Timeout", p.Timeout == nil}, {"Alerts", p.Alerts == nil}} {
		if f.missing {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	return errors.Join(errs...)
}

// Alerting is a workflow and what watches it.
type Alerting struct {
	// StateMachine is the workflow.
	StateMachine awsstepfunctions.StateMachine
	// Logs holds every execution's events, with their data.
	Logs awslogs.LogGroup
	// Ended alerts on executions that timed out or were aborted.
	Ended awsevents.Rule
}

// New adds the workflow to scope as "Workflow", with its log group "WorkflowLogs" and the rule
// "ExecutionEnded": the IDs of the workflows deployed before this package, which New keeps.
func New(scope constructs.Construct, props *Props) *Alerting {
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("statemachine.New: %w", err))
	}
	p := props
	a := &Alerting{}
	a.Logs = awslogs.NewLogGroup(scope, jsii.String("WorkflowLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	a.StateMachine = awsstepfunctions.NewStateMachine(scope, jsii.String("Workflow"), &awsstepfunctions.StateMachineProps{
		Comment:          jsii.String(p.Comment),
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromChainable(p.Definition),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		TracingEnabled:   jsii.Bool(true),
		Timeout:          p.Timeout,
		Logs: &awsstepfunctions.LogOptions{
			Destination:          a.Logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(true),
		},
	})
	// The topic is encrypted: publishing needs its key as well as sns:Publish.
	p.Alerts.Topic.GrantPublish(a.StateMachine)
	cdknag.NagSuppressions_AddResourceSuppressions(a.StateMachine, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "X-Ray tracing and CloudWatch Logs delivery actions of a state machine support no resource-level permissions.",
			`^Resource::\*$`),
		nag.SuppressMatching("AwsSolutions-IAM5", "Publishing to the encrypted alert topic needs kms:GenerateDataKey*, on the alert topic's key only.",
			`^Action::kms:GenerateDataKey\*$`),
	}, jsii.Bool(true))
	// Failures inside the workflow are caught and published with their reason; a timed-out or
	// aborted execution never reaches that step, so EventBridge reports those.
	a.Ended = awsevents.NewRule(scope, jsii.String("ExecutionEnded"), &awsevents.RuleProps{
		Description: jsii.String("kpilake: " + p.Subject + " timed out or was aborted"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings("Step Functions Execution Status Change"),
			Detail: &map[string]any{
				"status":          []string{"TIMED_OUT", "ABORTED"},
				"stateMachineArn": []string{*a.StateMachine.StateMachineArn()},
			},
		},
		Targets: &[]awsevents.IRuleTarget{p.Alerts.RuleTarget(awsevents.RuleTargetInput_FromText(jsii.String(fmt.Sprintf(
			"kpilake: %s %s (execution %s)", p.Subject,
			*awsevents.EventField_FromPath(jsii.String("$.detail.status")),
			*awsevents.EventField_FromPath(jsii.String("$.detail.executionArn"))))))},
	})
	return a
}
