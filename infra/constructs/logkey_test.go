//go:build !unit

package constructs

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/logkey"
)

// Log groups created before and after the key, at any depth, are encrypted with it; a log group
// that names its own key keeps it.
func TestLogKey_EncryptsEveryLogGroupWithoutAKey(t *testing.T) {
	stack := cdktest.TestStack(t)
	var key, own awskms.Key
	cdktest.Setup(t, func() {
		awslogs.NewLogGroup(stack, jsii.String("Before"), nil)
		key = logkey.New(stack, "LogKey", nil)
		nested := awslogs.NewLogGroup(stack, jsii.String("Parent"), nil)
		awslogs.NewLogGroup(nested, jsii.String("Nested"), nil)
		own = awskms.NewKey(stack, jsii.String("Own"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
		awslogs.NewLogGroup(stack, jsii.String("OwnKey"), &awslogs.LogGroupProps{EncryptionKey: own})
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	keyID, ownID := tp.LogicalID(key.KeyId()), tp.LogicalID(own.KeyId())
	got := map[string]any{}
	for id, r := range tp.Resources("AWS::Logs::LogGroup") {
		props, _ := r["Properties"].(map[string]any)
		got[id] = props["KmsKeyId"]
	}
	arn := func(id string) any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }
	want := map[string]any{}
	for id := range got {
		want[id] = arn(keyID)
	}
	for id := range got {
		if len(id) >= 6 && id[:6] == "OwnKey" {
			want[id] = arn(ownID)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d log groups, want 4: %v", len(got), got)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KmsKeyId of the log groups (-want +got):\n%s", diff)
	}
}

// Only CloudWatch Logs of the stack's region may use the key, and only for the account's log
// groups; the key rotates.
func TestLogKey_KeyPolicyIsScopedToCloudWatchLogsOfTheRegion(t *testing.T) {
	stack := cdktest.TestStack(t)
	var key awskms.Key
	cdktest.Setup(t, func() { key = logkey.New(stack, "LogKey", nil) })
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	props := tp.Properties(t, tp.LogicalID(key.KeyId()))
	if props["EnableKeyRotation"] != true {
		t.Errorf("EnableKeyRotation = %v, want true", props["EnableKeyRotation"])
	}
	stmts, _ := props["KeyPolicy"].(map[string]any)["Statement"].([]any)
	var logs []any
	for _, s := range stmts {
		st := s.(map[string]any)
		if p, ok := st["Principal"].(map[string]any); ok && p["Service"] != nil {
			logs = append(logs, tp.Resolve(st))
		}
	}
	want := []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "logs." + cdktest.Region + ".amazonaws.com"},
		"Action":    []any{"kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"},
		"Resource":  "*",
		"Condition": map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:" + cdktest.Region + ":" + cdktest.Account + ":log-group:*",
		}},
	}}
	if diff := cmp.Diff(want, logs); diff != "" {
		t.Errorf("service statements of the key policy (-want +got):\n%s", diff)
	}
}

// The logs key suppresses the findings it causes: alone in a stack, it leaves no AwsSolutions
// finding.
func TestLogKey_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() { logkey.New(stack, "LogKey", nil) })
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/LogKey/") {
		t.Error(f)
	}
}
