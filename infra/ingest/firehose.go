// Package ingest defines the constructs that land data in the raw zone: the daily database
// extraction workflow and the Firehose delivery streams of application logs.
package ingest

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/internal/cw"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/layout"
)

// Buffering defaults: Firehose writes an object when either is reached.
const (
	DefaultBufferMB       = 64
	DefaultBufferInterval = 300 * time.Second
)

// The log stream's alarms (LogStreamProps.Alerts).
const (
	// DeliveryPeriod is the period over which the stream's S3 deliveries must all succeed.
	DeliveryPeriod = 15 * time.Minute
	// DeliveryLateFactor times the buffer interval (twice) is the age of the oldest undelivered
	// record at which the stream alarms: Firehose delivers at least once per buffer interval.
	DeliveryLateFactor = 2
	// LatePeriod is the period over which the oldest record's age is taken.
	LatePeriod = 5 * time.Minute
)

// LogStreamProps configures a LogStream.
type LogStreamProps struct {
	// Lake whose raw zone receives the records. Required.
	Lake *lake.Lake
	// Name of the stream: records land in raw/app_logs/<Name>/dt=YYYY-MM-DD/. Required.
	Name string
	// TimeZone in which the dt= partition (the record's arrival day) is computed, IANA name.
	// Default: "UTC".
	TimeZone string
	// BufferMB is the object size at which Firehose delivers, 1 to 128. Default: 64.
	BufferMB int
	// BufferInterval is the longest a record waits, 0 to 900 s. Default: 300 s.
	BufferInterval time.Duration
	// LogRetention of the delivery error logs. Default: three months.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of the log group. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// Alerts, when given, receives the stream's alarms: delivery to S3 failing (DeliveryToS3.Success
	// Average < 1 over DeliveryPeriod) and late (the oldest undelivered record older than
	// DeliveryLateFactor times BufferInterval). Default: nil, no alarms.
	Alerts *alerts.Alerts
}

func (p *LogStreamProps) validate() error {
	var errs []error
	if p.Lake == nil {
		errs = append(errs, errors.New("Lake is required; pass the *lake.Lake whose raw zone receives the logs"))
	}
	if err := layout.ValidateName("log stream", p.Name); err != nil {
		errs = append(errs, fmt.Errorf("Name: %w", err))
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
			errs = append(errs, fmt.Errorf("TimeZone %q is not an IANA time zone; use a name such as \"Asia/Tokyo\"", p.TimeZone))
		}
	}
	if p.BufferMB < 0 || p.BufferMB > 128 {
		errs = append(errs, fmt.Errorf("BufferMB is %d; Firehose buffers 1 to 128 MB (0 for the default)", p.BufferMB))
	}
	if p.BufferInterval < 0 || p.BufferInterval > 900*time.Second || p.BufferInterval%time.Second != 0 {
		errs = append(errs, fmt.Errorf("BufferInterval is %s; give whole seconds up to 900 (0 for the default)", p.BufferInterval))
	}
	return errors.Join(errs...)
}

// LogStream is a Direct PUT Firehose delivery stream that lands application log records, gzipped
// JSON lines, in the raw zone under the business day of their arrival.
type LogStream struct {
	constructs.Construct
	// DeliveryStream is the Firehose stream; its Ref is the stream name producers put records to.
	DeliveryStream awskinesisfirehose.CfnDeliveryStream
	// Role is the role Firehose delivers with.
	Role awsiam.Role
	// LogGroup receives delivery errors.
	LogGroup awslogs.LogGroup
	// DeliveryFailingAlarm and DeliveryLateAlarm alarm on the stream's delivery to S3; nil
	// without LogStreamProps.Alerts.
	DeliveryFailingAlarm, DeliveryLateAlarm awscloudwatch.Alarm
}

// NewLogStream creates the delivery stream, its role and its error log.
func NewLogStream(scope constructs.Construct, id string, props *LogStreamProps) *LogStream {
	if props == nil {
		props = &LogStreamProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("ingest.NewLogStream %q: %w", id, err))
	}
	p := *props
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if p.BufferMB == 0 {
		p.BufferMB = DefaultBufferMB
	}
	if p.BufferInterval == 0 {
		p.BufferInterval = DefaultBufferInterval
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	node := constructs.NewConstruct(scope, &id)
	s := &LogStream{Construct: node}
	stack := awscdk.Stack_Of(node)

	s.Role = awsiam.NewRole(node, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("firehose.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			// Only Firehose acting for this account may assume the role (confused deputy).
			Conditions: &map[string]any{"StringEquals": map[string]any{"sts:ExternalId": stack.Account()}},
		}),
		Description: jsii.String("kpilake: Firehose delivers log stream " + p.Name + " into the raw zone"),
	})
	dataPrefix := layout.AppLogStreamPrefix(p.Name)
	errorPrefix := layout.FirehoseErrorPrefix(p.Name)
	p.Lake.Grant(s.Role, layout.Raw, dataPrefix, lake.Write)
	p.Lake.Grant(s.Role, layout.Raw, errorPrefix, lake.Write)
	s.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// Firehose checks the bucket before it writes.
		Actions:   jsii.Strings("s3:GetBucketLocation", "s3:ListBucketMultipartUploads"),
		Resources: jsii.Strings(*p.Lake.Raw.BucketArn()),
	}))

	s.LogGroup = awslogs.NewLogGroup(node, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	logStream := awslogs.NewLogStream(node, jsii.String("DeliveryErrors"), &awslogs.LogStreamProps{
		LogGroup:      s.LogGroup,
		RemovalPolicy: p.RemovalPolicy,
	})
	s.LogGroup.GrantWrite(s.Role)

	s.DeliveryStream = awskinesisfirehose.NewCfnDeliveryStream(node, jsii.String("DeliveryStream"), &awskinesisfirehose.CfnDeliveryStreamProps{
		DeliveryStreamType: jsii.String("DirectPut"),
		DeliveryStreamEncryptionConfigurationInput: &awskinesisfirehose.CfnDeliveryStream_DeliveryStreamEncryptionConfigurationInputProperty{
			KeyType: jsii.String("CUSTOMER_MANAGED_CMK"),
			KeyArn:  p.Lake.RawKey.KeyArn(),
		},
		ExtendedS3DestinationConfiguration: &awskinesisfirehose.CfnDeliveryStream_ExtendedS3DestinationConfigurationProperty{
			BucketArn:         p.Lake.Raw.BucketArn(),
			RoleArn:           s.Role.RoleArn(),
			Prefix:            jsii.String(dataPrefix + layout.FirehosePartitionPattern),
			ErrorOutputPrefix: jsii.String(errorPrefix + "!{firehose:error-output-type}/" + layout.FirehosePartitionPattern),
			CustomTimeZone:    jsii.String(p.TimeZone),
			CompressionFormat: jsii.String("GZIP"),
			FileExtension:     jsii.String(".json.gz"),
			BufferingHints: &awskinesisfirehose.CfnDeliveryStream_BufferingHintsProperty{
				SizeInMBs:         jsii.Number(p.BufferMB),
				IntervalInSeconds: jsii.Number(p.BufferInterval.Seconds()),
			},
			EncryptionConfiguration: &awskinesisfirehose.CfnDeliveryStream_EncryptionConfigurationProperty{
				KmsEncryptionConfig: &awskinesisfirehose.CfnDeliveryStream_KMSEncryptionConfigProperty{
					AwskmsKeyArn: p.Lake.RawKey.KeyArn(),
				},
			},
			CloudWatchLoggingOptions: &awskinesisfirehose.CfnDeliveryStream_CloudWatchLoggingOptionsProperty{
				Enabled:       jsii.Bool(true),
				LogGroupName:  s.LogGroup.LogGroupName(),
				LogStreamName: logStream.LogStreamName(),
			},
		},
	})
	// Firehose validates its role when the stream is created.
	s.DeliveryStream.Node().AddDependency(s.Role)
	cdknag.NagSuppressions_AddResourceSuppressions(s.Role, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "Firehose writes objects under its own stream's data and error prefixes only.",
			`^Resource::<\w+\.Arn>/(`+regexp.QuoteMeta(dataPrefix)+`|`+regexp.QuoteMeta(errorPrefix)+`)\*$`),
	}, jsii.Bool(true))
	if p.Alerts != nil {
		s.alarms(node, p)
	}
	return s
}

// alarms alarm when the stream's deliveries to S3 fail, or fall behind its buffer interval.
// Firehose publishes these metrics only while records flow: no data is not breaching.
func (s *LogStream) alarms(node constructs.Construct, p LogStreamProps) {
	notify := awscloudwatchactions.NewSnsAction(p.Alerts.Topic)
	prefix := "kpilake: "
	if env := golambda.MetricsEnvironment(node); env != "" {
		prefix = "kpilake " + env + ": " // as the environment's other alarms say (infra/observe)
	}
	s.DeliveryFailingAlarm = awscloudwatch.NewAlarm(node, jsii.String("DeliveryFailingAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(prefix + fmt.Sprintf("Firehose failed to deliver log stream %s to the raw bucket in the last %g minutes; "+
			"records wait in Firehose (up to 24 hours) and then go to the error prefix. "+
			"The stream's delivery-error log says why (S3 or KMS permissions, a disabled key, a deleted bucket).", p.Name, DeliveryPeriod.Minutes())),
		Metric:             s.MetricDeliverySuccess(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Seconds(jsii.Number(DeliveryPeriod.Seconds()))}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		DatapointsToAlarm:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	s.DeliveryFailingAlarm.AddAlarmAction(notify)
	late := DeliveryLateFactor * p.BufferInterval
	s.DeliveryLateAlarm = awscloudwatch.NewAlarm(node, jsii.String("DeliveryLateAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(prefix + fmt.Sprintf("the oldest record of log stream %s has waited more than %g minutes (twice the buffer interval) "+
			"for delivery to S3: deliveries are failing or throttled. Check the stream's delivery-error log and its DeliveryToS3 metrics.",
			p.Name, late.Minutes())),
		Metric:             s.MetricDataFreshness(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Seconds(jsii.Number(LatePeriod.Seconds()))}),
		Threshold:          jsii.Number(late.Seconds()),
		EvaluationPeriods:  jsii.Number(1),
		DatapointsToAlarm:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	s.DeliveryLateAlarm.AddAlarmAction(notify)
}

// Alarms are the stream's alarms (none without LogStreamProps.Alerts).
func (s *LogStream) Alarms() []awscloudwatch.Alarm {
	if s.DeliveryFailingAlarm == nil {
		return nil
	}
	return []awscloudwatch.Alarm{s.DeliveryFailingAlarm, s.DeliveryLateAlarm}
}

// Name is the delivery stream's name, for producers' PutRecord calls.
func (s *LogStream) Name() *string { return s.DeliveryStream.Ref() }

// GrantPutRecords lets grantee put records into the stream.
func (s *LogStream) GrantPutRecords(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("firehose:PutRecord", "firehose:PutRecordBatch"),
		ResourceArns: jsii.Strings(*s.DeliveryStream.AttrArn()),
	})
}

// Metric is the stream's Firehose metric name (AWS/Firehose, by DeliveryStreamName), such as
// "IncomingRecords"; opts sets the statistic, period and label.
func (s *LogStream) Metric(name string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	props := &awscloudwatch.MetricProps{
		Namespace:     jsii.String("AWS/Firehose"),
		MetricName:    jsii.String(name),
		DimensionsMap: &map[string]*string{"DeliveryStreamName": s.Name()},
	}
	if opts != nil {
		props.Statistic, props.Period, props.Label = opts.Statistic, opts.Period, opts.Label
	}
	return awscloudwatch.NewMetric(props)
}

// MetricDeliverySuccess is the share of the stream's deliveries to S3 that succeeded (1 when
// all did): DeliveryToS3.Success, Average.
func (s *LogStream) MetricDeliverySuccess(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return s.Metric("DeliveryToS3.Success", cw.WithStatistic(opts, "Average"))
}

// MetricDataFreshness is the age in seconds of the oldest record not yet delivered to S3:
// DeliveryToS3.DataFreshness, Maximum.
func (s *LogStream) MetricDataFreshness(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return s.Metric("DeliveryToS3.DataFreshness", cw.WithStatistic(opts, "Maximum"))
}

// MetricIncomingRecords is the number of records put into the stream: IncomingRecords, Sum.
func (s *LogStream) MetricIncomingRecords(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return s.Metric("IncomingRecords", cw.WithStatistic(opts, "Sum"))
}
