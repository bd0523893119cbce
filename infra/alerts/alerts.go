// Package alerts defines the alert topic that every failure and alarm of an environment goes to.
package alerts

import (
	"fmt"
	"net/mail"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AlertsProps configures Alerts.
type AlertsProps struct {
	// Email receives every alert (the address must confirm the subscription). Default: none.
	Email string
	// RemovalPolicy of the topic's key. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

// Alerts is an encrypted SNS topic for failures and alarms.
type Alerts struct {
	constructs.Construct
	// Topic receives alerts; publishers need GrantPublish (which includes the key).
	Topic awssns.Topic
	// Key encrypts the topic. CloudWatch alarms and EventBridge may use it.
	Key awskms.Key
}

// NewAlerts creates the topic, its key and the e-mail subscription.
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
	// CloudWatch alarms and EventBridge rules publish as services; they need the key too.
	a.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowAlarmAndEventPublishers"),
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		},
		Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(node).Account()},
		},
	}), jsii.Bool(true))
	a.Topic = awssns.NewTopic(node, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("kpilake alerts"),
		MasterKey:   a.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	if props.Email != "" {
		a.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return a
}
