package alerts_test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
)

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }

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
	cdktest.Check(t, "alarms and rules may use the key", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Sid":       "AllowAlarmAndEventPublishers",
				"Principal": map[string]any{"Service": []any{"cloudwatch.amazonaws.com", "events.amazonaws.com"}},
				"Action":    []any{"kms:Decrypt", "kms:GenerateDataKey*"},
				"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": "123456789012"}},
			})})},
		})
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
