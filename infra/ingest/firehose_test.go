//go:build !unit

package ingest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
)

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }

func logStream(t *testing.T, props ingest.LogStreamProps) (*cdktest.Template, *lake.Lake, *ingest.LogStream) {
	t.Helper()
	stack := cdktest.NewStack("Test")
	l := lake.NewLake(stack, "Lake", nil)
	props.Lake = l
	if props.Name == "" {
		props.Name = "web_access"
	}
	s := ingest.NewLogStream(stack, "Web", &props)
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	return tp, l, s
}

func TestLogStream_DeliversIntoTheStreamsBusinessDayPartition(t *testing.T) {
	tp, l, s := logStream(t, ingest.LogStreamProps{TimeZone: "Asia/Tokyo"})
	id := tp.LogicalID(s.Name())
	tp.HasProperties(t, id, map[string]any{
		"DeliveryStreamType": "DirectPut",
		"DeliveryStreamEncryptionConfigurationInput": map[string]any{
			"KeyType": "CUSTOMER_MANAGED_CMK",
			"KeyARN":  tp.Resolve(l.RawKey.KeyArn()),
		},
		"ExtendedS3DestinationConfiguration": map[string]any{
			"BucketARN":         tp.Resolve(l.Raw.BucketArn()),
			"Prefix":            "app_logs/web_access/dt=!{timestamp:yyyy-MM-dd}/",
			"ErrorOutputPrefix": "_errors/app_logs/web_access/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
			"CustomTimeZone":    "Asia/Tokyo",
			"CompressionFormat": "GZIP",
			"FileExtension":     ".json.gz",
			"BufferingHints":    map[string]any{"SizeInMBs": 64, "IntervalInSeconds": 300},
			"EncryptionConfiguration": map[string]any{
				"KMSEncryptionConfig": map[string]any{"AWSKMSKeyARN": tp.Resolve(l.RawKey.KeyArn())},
			},
			"CloudWatchLoggingOptions": map[string]any{
				"Enabled":      true,
				"LogGroupName": tp.Resolve(s.LogGroup.LogGroupName()),
			},
		},
	})
}

func TestLogStream_RoleWritesOnlyItsPrefixes(t *testing.T) {
	tp, l, s := logStream(t, ingest.LogStreamProps{})
	role := tp.LogicalID(s.Role.RoleName())
	raw := tp.LogicalID(l.Raw.BucketName())
	key := tp.Resolve(l.RawKey.KeyArn())
	logs := tp.Resolve(s.LogGroup.LogGroupArn())
	rawArn := map[string]any{"Fn::GetAtt": []any{raw, "Arn"}}
	objects := func(prefix string) any {
		return map[string]any{"Fn::Join": []any{"", []any{rawArn, "/" + prefix + "*"}}}
	}
	list := func(prefix string) any {
		return map[string]any{"StringLike": map[string]any{"s3:prefix": prefix + "*"}}
	}
	var want []string
	for _, prefix := range []string{"app_logs/web_access/", "_errors/app_logs/web_access/"} {
		want = append(want,
			cdktest.Permission("Allow", "s3:PutObject", objects(prefix), nil),
			cdktest.Permission("Allow", "s3:AbortMultipartUpload", objects(prefix), nil),
			cdktest.Permission("Allow", "s3:ListBucket", rawArn, list(prefix)),
		)
	}
	want = append(want,
		cdktest.Permission("Allow", "s3:GetBucketLocation", rawArn, nil),
		cdktest.Permission("Allow", "s3:ListBucketMultipartUploads", rawArn, nil),
		cdktest.Permission("Allow", "kms:Decrypt", key, nil),
		cdktest.Permission("Allow", "kms:GenerateDataKey", key, nil),
		cdktest.Permission("Allow", "logs:CreateLogStream", logs, nil),
		cdktest.Permission("Allow", "logs:PutLogEvents", logs, nil),
	)
	got := tp.Permissions(role)
	if diff := cmp.Diff(sortedUnique(want), sortedUnique(got)); diff != "" {
		t.Errorf("permissions of the Firehose role (-want +got):\n%s", diff)
	}
	tp.HasProperties(t, role, map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action":    "sts:AssumeRole",
			"Principal": map[string]any{"Service": "firehose.amazonaws.com"},
			"Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": "123456789012"}},
		}}},
	})
}

func sortedUnique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func TestLogStream_HonoursBufferingAndRetention(t *testing.T) {
	tp, _, s := logStream(t, ingest.LogStreamProps{
		BufferMB: 5, BufferInterval: 60 * time.Second,
		LogRetention: awslogs.RetentionDays_ONE_WEEK, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	tp.HasProperties(t, tp.LogicalID(s.Name()), map[string]any{
		"ExtendedS3DestinationConfiguration": map[string]any{
			"BufferingHints": map[string]any{"SizeInMBs": 5, "IntervalInSeconds": 60},
			"CustomTimeZone": "UTC",
		},
	})
	tp.HasResource(t, tp.LogicalID(s.LogGroup.LogGroupName()), map[string]any{
		"Properties":     map[string]any{"RetentionInDays": 7},
		"DeletionPolicy": "Delete",
	})
	cdktest.Check(t, "one delivery stream", func() {
		tp.Assert.ResourceCountIs(jsii.String("AWS::KinesisFirehose::DeliveryStream"), jsii.Number(1))
	})
	cdktest.Check(t, "no other bucket", func() {
		tp.Assert.ResourcePropertiesCountIs(jsii.String("AWS::S3::Bucket"), assertions.Match_AnyValue(), jsii.Number(4))
	})
}

func TestLogStream_FailsOnBadProps(t *testing.T) {
	stack := cdktest.NewStack("Test")
	l := lake.NewLake(stack, "Lake", nil)
	tests := []struct {
		name  string
		props *ingest.LogStreamProps
		want  []string
	}{
		{"nil props", nil, []string{"Lake is required", "Name: log stream name is empty"}},
		{"bad name", &ingest.LogStreamProps{Lake: l, Name: "Web-Access"}, []string{`Name: log stream name "Web-Access" is not snake_case`, `"web_access"`}},
		{"bad zone", &ingest.LogStreamProps{Lake: l, Name: "web", TimeZone: "JST"}, []string{`TimeZone "JST" is not an IANA time zone`}},
		{"buffer too big", &ingest.LogStreamProps{Lake: l, Name: "web", BufferMB: 200}, []string{"BufferMB is 200", "1 to 128"}},
		{"interval too long", &ingest.LogStreamProps{Lake: l, Name: "web", BufferInterval: time.Hour}, []string{"BufferInterval is 1h0m0s", "up to 900"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cdktest.Recover(func() { ingest.NewLogStream(stack, "S"+string(rune('a'+i)), tt.props) })
			if err == nil {
				t.Fatal("NewLogStream succeeded, want a validation error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// The error prefix must stay outside the crawled app_logs/ folder.
func TestLogStream_ErrorsAreNotCrawled(t *testing.T) {
	tp, _, s := logStream(t, ingest.LogStreamProps{})
	props := tp.Properties(t, tp.LogicalID(s.Name()))
	dest, _ := props["ExtendedS3DestinationConfiguration"].(map[string]any)
	errPrefix, _ := dest["ErrorOutputPrefix"].(string)
	if strings.HasPrefix(errPrefix, "app_logs/") {
		t.Errorf("ErrorOutputPrefix %q is under the crawled app_logs/ folder", errPrefix)
	}
	raw, _ := json.Marshal(dest)
	if !strings.Contains(string(raw), "dt=!{timestamp:yyyy-MM-dd}") {
		t.Errorf("destination does not partition by dt: %s", raw)
	}
}

// A log stream in one call: the stream, its role, its error log, its alarms on the alert topic
// and its own cdk-nag suppressions, in a stack of its own beside the lake it lands in.
func ExampleNewLogStream() {
	stack := cdktest.NewStack("Example")
	web := ingest.NewLogStream(stack, "Web", &ingest.LogStreamProps{
		Lake:     lake.NewLake(stack, "Lake", nil),
		Name:     "web_access",
		TimeZone: "Asia/Tokyo",
		Alerts:   alerts.NewAlerts(stack, "Alerts", nil),
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(tp.Resources("AWS::KinesisFirehose::DeliveryStream")), "delivery stream, named by", tp.LogicalID(web.Name()) != "")
	fmt.Println(len(tp.Resources("AWS::CloudWatch::Alarm")), "alarms")
	// Output:
	// 1 delivery stream, named by true
	// 2 alarms
}

func TestNewLogStream_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() {
		ingest.NewLogStream(stack, "Web", &ingest.LogStreamProps{
			Lake: lake.NewLake(stack, "Lake", nil), Name: "web_access", Alerts: alerts.NewAlerts(stack, "Alerts", nil),
		})
	})
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Web/") {
		t.Error(f)
	}
}

// A log stream given the alert topic alarms on its own delivery to S3: failing (any failed
// delivery in 15 minutes) and late (the oldest record older than twice the stream's own buffer
// interval, which no caller repeats); without the topic it has no alarms.
func TestLogStream_AlarmsOnFailingAndLateDelivery(t *testing.T) {
	for _, tc := range []struct {
		name          string
		buffer        time.Duration
		wantLateAfter float64
	}{
		{"default buffer", 0, 2 * ingest.DefaultBufferInterval.Seconds()},
		{"own buffer", 120 * time.Second, 240},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.NewStack("Test")
			var s *ingest.LogStream
			var al *alerts.Alerts
			cdktest.Setup(t, func() {
				al = alerts.NewAlerts(stack, "Alerts", nil)
				s = ingest.NewLogStream(stack, "Web", &ingest.LogStreamProps{
					Lake: lake.NewLake(stack, "Lake", nil), Name: "web_access", BufferInterval: tc.buffer, Alerts: al,
				})
			})
			tp, err := cdktest.Synth(stack)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(s.Alarms()); n != 2 {
				t.Fatalf("Alarms() has %d alarms, want 2", n)
			}
			stream := map[string]any{"Name": "DeliveryStreamName", "Value": map[string]any{"Ref": tp.LogicalID(s.Name())}}
			topic := []any{map[string]any{"Ref": tp.LogicalID(al.Topic.TopicArn())}}
			for alarm, want := range map[awscloudwatch.Alarm]map[string]any{
				s.DeliveryFailingAlarm: {
					"Namespace": "AWS/Firehose", "MetricName": "DeliveryToS3.Success", "Statistic": "Average", "Period": float64(900),
					"Threshold": float64(1), "ComparisonOperator": "LessThanThreshold",
				},
				s.DeliveryLateAlarm: {
					"Namespace": "AWS/Firehose", "MetricName": "DeliveryToS3.DataFreshness", "Statistic": "Maximum", "Period": float64(300),
					"Threshold": tc.wantLateAfter, "ComparisonOperator": "GreaterThanThreshold",
				},
			} {
				id := tp.LogicalID(alarm.AlarmName())
				props := tp.Properties(t, id)
				want["Dimensions"] = []any{stream}
				want["EvaluationPeriods"], want["DatapointsToAlarm"] = float64(1), float64(1)
				want["TreatMissingData"] = "notBreaching"
				want["AlarmActions"] = topic
				for k, v := range want {
					if diff := cmp.Diff(v, props[k]); diff != "" {
						t.Errorf("alarm %s %s (-want +got):\n%s", id, k, diff)
					}
				}
				if desc, _ := props["AlarmDescription"].(string); !strings.Contains(desc, "log stream web_access") {
					t.Errorf("alarm %s description %q does not name the stream", id, desc)
				}
			}
		})
	}
	t.Run("without the alert topic", func(t *testing.T) {
		tp, _, s := logStream(t, ingest.LogStreamProps{})
		if n := len(tp.Resources("AWS::CloudWatch::Alarm")); n != 0 || len(s.Alarms()) != 0 {
			t.Errorf("a stream without Alerts has %d alarms in its template and %d in Alarms(), want none", n, len(s.Alarms()))
		}
	})
}
