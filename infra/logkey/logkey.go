// Package logkey encrypts a stack's CloudWatch Logs log groups with one KMS key that only
// CloudWatch Logs of the stack's region may use, and only for the account's log groups.
package logkey

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configures New.
type Props struct {
	// RemovalPolicy of the key. Default: awscdk.RemovalPolicy_RETAIN. Destroy it only with the
	// log groups it encrypts, which become unreadable without it.
	RemovalPolicy awscdk.RemovalPolicy
}

// New creates the logs key of scope's stack and encrypts with it every log group of the stack
// that names no key of its own, including those that constructs add later: an Aspect sets their
// KmsKeyId at synth, before the cdk-nag checks run.
func New(scope constructs.Construct, id string, props *Props) awskms.Key {
	if props == nil {
		props = &Props{}
	}
	removal := props.RemovalPolicy
	if removal == "" {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	key := awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String("kpilake: encrypts the stack's CloudWatch Logs log groups"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal,
	})
	AllowCloudWatchLogs(key)
	awscdk.Aspects_Of(awscdk.Stack_Of(scope)).Add(&encrypt{key: key}, &awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
	return key
}

// AllowCloudWatchLogs lets CloudWatch Logs of the key's region use key, for log groups of the
// key's account only (the encryption context names the log group).
func AllowCloudWatchLogs(key awskms.IKey) {
	stack := awscdk.Stack_Of(key)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(fmt.Sprintf("logs.%s.amazonaws.com", *stack.Region())), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("logs"), Resource: jsii.String("log-group"), ResourceName: jsii.String("*"),
				ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}),
		}},
	}), jsii.Bool(true))
}

// encrypt sets the logs key on every log group that has none.
type encrypt struct {
	key awskms.Key
}

func (e *encrypt) Visit(node constructs.IConstruct) {
	g, ok := node.(awslogs.CfnLogGroup)
	if !ok || g.KmsKeyId() != nil {
		return
	}
	g.SetKmsKeyId(e.key.KeyArn())
}
