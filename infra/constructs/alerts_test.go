//go:build !unit

package constructs

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
)

func TestAlerts_TopicIsEncryptedTLSOnlyAndMailed(t *testing.T) {
	stack := cdktest.NewStack("Test")
	a := alerts.NewAlerts(stack, "Alerts", &alerts.AlertsProps{Email: "data-alerts@example.com"})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	topic := tp.LogicalID(a.Topic.TopicArn())
	tp.HasProperties(t, topic, map[string]any{"KmsMasterKeyId": tp.Resolve(a.Key.KeyArn())})
	cdktest.Check(t, "TLS-only topic policy", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Deny",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		})
	})
	cdktest.Check(t, "e-mail subscription", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{
			"Protocol": "email", "Endpoint": "data-alerts@example.com", "TopicArn": map[string]any{"Ref": topic},
		})
	})
	cdktest.Check(t, "key rotation", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
}

// An alert that SNS cannot deliver to the e-mail address (after its delivery retries) is kept in
// DeadLetters, which alarms, instead of being dropped; only the topic may send there.
func TestAlerts_UndeliveredMailGoesToTheDeadLetters(t *testing.T) {
	stack := cdktest.NewStack("Test")
	a := alerts.NewAlerts(stack, "Alerts", &alerts.AlertsProps{Email: "data-alerts@example.com"})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	subs := tp.Resources("AWS::SNS::Subscription")
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions, want 1", len(subs))
	}
	for id, r := range subs {
		props, _ := r["Properties"].(map[string]any)
		want := map[string]any{"deadLetterTargetArn": tp.Resolve(a.DeadLetters.QueueArn())}
		if diff := cmp.Diff(want, props["RedrivePolicy"]); diff != "" {
			t.Errorf("subscription %s RedrivePolicy (-want +got):\n%s", id, diff)
		}
	}
	cdktest.Check(t, "the topic may send to the dead letters", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Allow",
				"Action":    "sqs:SendMessage",
				"Principal": map[string]any{"Service": "sns.amazonaws.com"},
				"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": map[string]any{"Ref": tp.LogicalID(a.Topic.TopicArn())}}},
			})})},
		})
	})
}

// accountAlarms is the condition that ties CloudWatch to the account's alarms in the region.
var accountAlarms = map[string]any{
	"StringEquals": map[string]any{"aws:SourceAccount": cdktest.Account},
	"ArnLike":      map[string]any{"aws:SourceArn": "arn:aws:cloudwatch:" + cdktest.Region + ":" + cdktest.Account + ":alarm:*"},
}

// statements returns the policy statements of the resources of type typ, rendered as JSON.
func statements(tp *cdktest.Template, typ, field string) []string {
	var out []string
	for _, r := range tp.Resources(typ) {
		props, _ := r["Properties"].(map[string]any)
		doc, _ := props[field].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			data, _ := json.Marshal(st)
			out = append(out, string(data))
		}
	}
	return out
}

func TestAlerts_AccountAlarmsMayPublishAndUseTheKey(t *testing.T) {
	stack := cdktest.NewStack("Test")
	a := alerts.NewAlerts(stack, "Alerts", nil)
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	cdktest.Check(t, "topic policy", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Sid": "AllowAccountAlarms", "Effect": "Allow", "Principal": map[string]any{"Service": alerts.CloudWatchPrincipal},
				"Action": "sns:Publish", "Resource": tp.Resolve(a.Topic.TopicArn()), "Condition": accountAlarms,
			}})},
		})
	})
	cdktest.Check(t, "key policy", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Sid": "AllowAccountAlarms", "Effect": "Allow", "Principal": map[string]any{"Service": alerts.CloudWatchPrincipal},
				"Action": []any{"kms:Decrypt", "kms:GenerateDataKey*"}, "Resource": "*", "Condition": accountAlarms,
			}})},
		})
	})
	// Nothing targets the topic yet: EventBridge may neither publish nor use the key.
	for _, typ := range [][2]string{{"AWS::SNS::TopicPolicy", "PolicyDocument"}, {"AWS::KMS::Key", "KeyPolicy"}} {
		for _, st := range statements(tp, typ[0], typ[1]) {
			if strings.Contains(st, alerts.EventBridgePrincipal) {
				t.Errorf("%s allows EventBridge, though no rule targets the topic: %s", typ[0], st)
			}
		}
	}
}

func TestAlerts_RuleTargetOpensTheTopicToThatRuleOnlyAndKeepsDeadLetters(t *testing.T) {
	stack := cdktest.NewStack("Test")
	a := alerts.NewAlerts(stack, "Alerts", nil)
	var rules []awsevents.Rule
	for _, id := range []string{"First", "Second"} {
		rules = append(rules, awsevents.NewRule(stack, jsii.String(id), &awsevents.RuleProps{
			EventPattern: &awsevents.EventPattern{Source: jsii.Strings("aws.glue")},
			Targets:      &[]awsevents.IRuleTarget{a.RuleTarget(awsevents.RuleTargetInput_FromText(jsii.String("kpilake: " + id)))},
		}))
	}
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	queue := tp.Resolve(a.DeadLetters.QueueArn())
	for _, r := range rules {
		id := tp.LogicalID(r.RuleName())
		ruleArn := tp.Resolve(r.RuleArn())
		tp.HasProperties(t, id, map[string]any{"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
			"Arn":              tp.Resolve(a.Topic.TopicArn()),
			"DeadLetterConfig": map[string]any{"Arn": queue},
			"RetryPolicy": map[string]any{
				"MaximumRetryAttempts": alerts.RuleRetryAttempts, "MaximumEventAgeInSeconds": alerts.RuleMaxEventAgeSeconds,
			},
		})}})
		cdktest.Check(t, id+" may publish", func() {
			tp.Assert.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect": "Allow", "Principal": map[string]any{"Service": alerts.EventBridgePrincipal},
					"Action": "sns:Publish", "Resource": tp.Resolve(a.Topic.TopicArn()),
					"Condition": map[string]any{
						"StringEquals": map[string]any{"aws:SourceAccount": cdktest.Account},
						"ArnEquals":    map[string]any{"aws:SourceArn": ruleArn},
					},
				})})},
			})
		})
		cdktest.Check(t, id+" may send dead letters", func() {
			tp.Assert.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect": "Allow", "Principal": map[string]any{"Service": alerts.EventBridgePrincipal},
					"Action": "sqs:SendMessage", "Resource": queue,
					"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleArn}},
				})})},
			})
		})
	}
	// One key statement for every rule, without conditions: SNS passes no source to KMS for
	// EventBridge, so a condition would drop every alert.
	var keyStatements []string
	for _, st := range statements(tp, "AWS::KMS::Key", "KeyPolicy") {
		if strings.Contains(st, alerts.EventBridgePrincipal) {
			keyStatements = append(keyStatements, st)
		}
	}
	want := `{"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Resource":"*","Sid":"AllowAlertRules"}`
	if diff := cmp.Diff([]string{want}, keyStatements); diff != "" {
		t.Errorf("key statements for EventBridge (-want +got):\n%s", diff)
	}
	tp.HasProperties(t, tp.LogicalID(a.DeadLetters.QueueUrl()), map[string]any{
		"SqsManagedSseEnabled": true, "MessageRetentionPeriod": alerts.DeadLetterRetentionDays * 24 * 60 * 60,
	})
}

func TestAlerts_NoSubscriptionWithoutEmail(t *testing.T) {
	stack := cdktest.NewStack("Test")
	alerts.NewAlerts(stack, "Alerts", nil)
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tp.Resources("AWS::SNS::Subscription")); n != 0 {
		t.Errorf("%d subscriptions, want none", n)
	}
}

func TestAlerts_FailsOnBadEmail(t *testing.T) {
	stack := cdktest.NewStack("Test")
	err := cdktest.Recover(func() { alerts.NewAlerts(stack, "Alerts", &alerts.AlertsProps{Email: "Data Team <data@example.com>"}) })
	if err == nil || !strings.Contains(err.Error(), "is not an e-mail address") {
		t.Errorf("err = %v, want a message that the address is not plain", err)
	}
}

// The alerts suppress the findings of their own resources: alone in a stack, they leave no
// AwsSolutions finding.
func TestNewAlerts_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() { alerts.NewAlerts(stack, "Alerts", &alerts.AlertsProps{Email: "ops@example.com"}) })
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Alerts/") {
		t.Error(f)
	}
}
