// Package alerts defines the alert topic that every failure and alarm of an environment goes to.
package alerts

import (
	"fmt"
	"net/mail"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/nag"
)

// Service principals that publish alerts.
const (
	CloudWatchPrincipal  = "cloudwatch.amazonaws.com"
	EventBridgePrincipal = "events.amazonaws.com"
)

// Delivery of a rule's alert (RuleTarget): EventBridge retries for as long as it can, since an
// alert that arrives a day late still tells of a failure, and then keeps it in DeadLetters.
const (
	// RuleRetryAttempts is EventBridge's maximum.
	RuleRetryAttempts = 185
	// RuleMaxEventAgeSeconds is EventBridge's maximum: 24 hours.
	RuleMaxEventAgeSeconds = 24 * 60 * 60
	// DeadLetterRetentionDays is SQS's maximum.
	DeadLetterRetentionDays = 14
)

// AlertsProps configures Alerts.
type AlertsProps struct {
	// Email receives every alert (the address must confirm the subscription). Default: none.
	Email string
	// RemovalPolicy of the topic's key and the dead-letter queue. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

// Alerts is an encrypted SNS topic for failures and alarms. Its policies let publish exactly: the
// account's CloudWatch alarms in the region, the EventBridge rules that target it through
// RuleTarget (each by its ARN), and roles that GrantPublish gives sns:Publish and the key.
type Alerts struct {
	constructs.Construct
	// Topic receives alerts. Alarms notify it with awscloudwatchactions.NewSnsAction, rules with
	// RuleTarget, roles publish after Topic.GrantPublish (which includes the key).
	Topic awssns.Topic
	// Key encrypts the topic.
	Key awskms.Key
	// DeadLetters keeps, 14 days, the alerts of rules (RuleTarget) that EventBridge could not
	// publish and the alerts that SNS could not deliver to Email.
	DeadLetters awssqs.Queue

	rulesMayUseKey bool
}

// NewAlerts creates the topic, its key, the rules' dead-letter queue and the e-mail subscription.
func NewAlerts(scope constructs.Construct, id string, props *AlertsProps) *Alerts {
	if props == nil {
		props = &AlertsProps{}
	}
	if props.Email != "" {
		if a, err := mail.ParseAddress(props.Email); err != nil || a.Address != props.Email {
			panic(fmt.Errorf("alerts.NewAlerts %q: Email %q is not an e-mail address; give a plain address such as \"data-alerts@example.com\"", id, props.Email))
		}
	}
	removal := props.RemovalPolicy
	if removal == "" {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	node := constructs.NewConstruct(scope, &id)
	a := &Alerts{Construct: node}
	a.Key = awskms.NewKey(node, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("kpilake: encrypts the alert topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal,
	})
	a.Topic = awssns.NewTopic(node, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("kpilake alerts"),
		MasterKey:   a.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	a.DeadLetters = awssqs.NewQueue(node, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(DeadLetterRetentionDays)),
		RemovalPolicy:   removal,
	})
	nag.DeadLetterQueue(a.DeadLetters)
	cdknag.NagSuppressions_AddResourceSuppressions(a.DeadLetters, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the alert rules' targets and the e-mail subscription; it has none of its own."),
	}}, jsii.Bool(true))
	a.allowAlarms()
	if props.Email != "" {
		// SNS keeps what it could not deliver to the address after its retries in DeadLetters
		// (SSE-SQS, so SNS needs no key), which alarms like the rules' dead letters.
		a.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), &awssnssubscriptions.EmailSubscriptionProps{
			DeadLetterQueue: a.DeadLetters,
		}))
	}
	return a
}

// allowAlarms lets CloudWatch publish for the account's alarms in the region, on the topic and
// with its key. Alarm names are generated at deploy time, and the key's policy cannot name them
// (each alarm refers to the topic, which refers to the key): the condition is the account's alarms.
func (a *Alerts) allowAlarms() {
	stack := awscdk.Stack_Of(a.Construct)
	alarms := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"), ResourceName: jsii.String("*"),
		ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	conditions := map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		"ArnLike":      map[string]any{"aws:SourceArn": alarms},
	}
	a.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowAccountAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(CloudWatchPrincipal), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*a.Topic.TopicArn()),
		Conditions: &conditions,
	}))
	a.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowAccountAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(CloudWatchPrincipal), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &conditions,
	}), jsii.Bool(true))
}

// RuleTarget publishes a rule's events to the topic as message: use it, not
// awseventstargets.SnsTopic, for every rule that alerts. EventBridge retries RuleRetryAttempts
// times for up to RuleMaxEventAgeSeconds and then sends the event to DeadLetters. The rule, by
// its ARN, may publish to the topic and send to DeadLetters; nothing else is opened.
func (a *Alerts) RuleTarget(message awsevents.RuleTargetInput) awsevents.IRuleTarget {
	return &ruleTarget{alerts: a, message: message}
}

type ruleTarget struct {
	alerts  *Alerts
	message awsevents.RuleTargetInput
}

// Bind is called once by rule.AddTarget.
func (t *ruleTarget) Bind(rule interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	a := t.alerts
	ruleArn := rule.RuleRef().RuleArn
	events := awsiam.NewServicePrincipal(jsii.String(EventBridgePrincipal), nil)
	a.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{events},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*a.Topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(a.Construct).Account()},
			"ArnEquals":    map[string]any{"aws:SourceArn": ruleArn},
		},
	}))
	if !a.rulesMayUseKey {
		a.rulesMayUseKey = true
		// No condition: for EventBridge publishing to an encrypted topic, SNS passes neither
		// aws:SourceAccount nor aws:SourceArn to KMS (SNS developer guide, "Key management"), so a
		// condition on them would drop every alert. The topic policy above holds the rule's ARN.
		a.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowAlertRules"),
			Principals: &[]awsiam.IPrincipal{events},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
		}), jsii.Bool(true))
	}
	a.DeadLetters.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{events},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*a.DeadLetters.QueueArn()),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleArn}},
	}))
	return &awsevents.RuleTargetConfig{
		Arn:              a.Topic.TopicArn(),
		Input:            t.message,
		DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: a.DeadLetters.QueueArn()},
		RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
			MaximumRetryAttempts:     jsii.Number(RuleRetryAttempts),
			MaximumEventAgeInSeconds: jsii.Number(RuleMaxEventAgeSeconds),
		},
		TargetResource: a.Topic,
	}
}
