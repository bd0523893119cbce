package lake

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/names"
)

// Protection defaults.
const (
	// DefaultBackupRetentionDays keeps a daily recovery point of the raw zone for a year.
	DefaultBackupRetentionDays = 365
	// ContinuousBackupDays is the point-in-time window of AWS Backup's continuous backups for S3,
	// its maximum.
	ContinuousBackupDays = 35
	// vaultLockChangeableDays is the vault lock's cooling-off period: for 3 days (AWS Backup's
	// minimum) the lock can still be removed; then it is in compliance mode for good.
	vaultLockChangeableDays = 3
)

// ProtectedActions are what nobody but the break-glass role (and the stack's own deployments)
// may do on a protected bucket: shorten its lifecycle, suspend its versioning, delete object
// versions, or change the policy that says so. Exported so that tests and reviewers see one list.
var ProtectedActions = []string{
	"s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:DeleteObjectVersion",
	"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket",
}

var roleArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// ProtectionProps keeps the raw zone, the one copy from which history can be rebuilt, through a
// mistake: a second copy in a locked backup vault, and a bucket policy that leaves its lifecycle,
// versioning and object versions to a break-glass role.
type ProtectionProps struct {
	// BackupRetentionDays keeps the daily recovery points of the raw zone and the access logs,
	// at least ContinuousBackupDays. Default: DefaultBackupRetentionDays.
	BackupRetentionDays int
	// BreakGlassRoleArn may change the protected settings besides the stack's deployments.
	// Default: "" (only a deployment of the stack may: a reviewed change).
	BreakGlassRoleArn string
}

func (p *ProtectionProps) validate() []error {
	var errs []error
	if p.BackupRetentionDays != 0 && p.BackupRetentionDays < ContinuousBackupDays {
		errs = append(errs, fmt.Errorf("Protection.BackupRetentionDays is %d; keep daily recovery points at least %d days, or 0 for the default", p.BackupRetentionDays, ContinuousBackupDays))
	}
	if p.BreakGlassRoleArn != "" && !roleArnRE.MatchString(p.BreakGlassRoleArn) {
		errs = append(errs, fmt.Errorf("Protection.BreakGlassRoleArn %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", p.BreakGlassRoleArn))
	}
	return errs
}

// Backup is the second copy of the raw zone and the access logs.
type Backup struct {
	constructs.Construct
	// Key encrypts the vault's recovery points; it is not the raw zone's key, so that a mistake
	// with one does not reach both copies.
	Key   awskms.Key
	Vault awsbackup.BackupVault
	Plan  awsbackup.BackupPlan
}

// protect backs up the protected buckets into a locked vault and denies the protected actions
// to everyone but the exempt roles.
func (l *Lake) protect(p ProtectionProps, buckets ...awss3.Bucket) *Backup {
	retention := p.BackupRetentionDays
	if retention == 0 {
		retention = DefaultBackupRetentionDays
	}
	b := &Backup{Construct: constructs.NewConstruct(l.Construct, jsii.String("Backup"))}
	b.Key = awskms.NewKey(b.Construct, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("kpilake: encrypts the backup vault of the raw zone"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	// The name the CDK would generate (the last 50 characters of the vault's unique ID), counted
	// from the stack: the same vault whether the app or a pipeline's stage holds the stack.
	vaultName := names.UniqueID(b.Construct, "Vault")
	b.Vault = awsbackup.NewBackupVault(b.Construct, jsii.String("Vault"), &awsbackup.BackupVaultProps{
		BackupVaultName: jsii.String(vaultName[max(len(vaultName)-50, 0):]),
		EncryptionKey:   b.Key,
		RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
		LockConfiguration: &awsbackup.LockConfiguration{
			MinRetention:  days(7),
			MaxRetention:  days(retention),
			ChangeableFor: days(vaultLockChangeableDays),
		},
	})
	b.Plan = awsbackup.NewBackupPlan(b.Construct, jsii.String("Plan"), &awsbackup.BackupPlanProps{
		BackupVault: b.Vault,
		BackupPlanRules: &[]awsbackup.BackupPlanRule{
			awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
				RuleName:               jsii.String("Continuous"),
				EnableContinuousBackup: jsii.Bool(true),
				DeleteAfter:            days(ContinuousBackupDays),
			}),
			awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
				RuleName: jsii.String("Daily"),
				// 05:00 UTC: after the night's extractions in the zones east of UTC.
				ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("5"), Minute: jsii.String("0")}),
				DeleteAfter:        days(retention),
			}),
		},
	})
	role := awsiam.NewRole(b.Construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("kpilake: AWS Backup backs up and restores the raw zone and the access logs"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AWSBackupServiceRolePolicyForS3Backup")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AWSBackupServiceRolePolicyForS3Restore")),
		},
	})
	// The access logs are SSE-S3; only the raw zone's key is needed.
	l.RawKey.GrantEncryptDecrypt(role)
	var resources []awsbackup.BackupResource
	for _, bucket := range buckets {
		resources = append(resources, awsbackup.BackupResource_FromArn(bucket.BucketArn()))
	}
	b.Plan.AddSelection(jsii.String("Buckets"), &awsbackup.BackupSelectionOptions{
		Resources:                  &resources,
		Role:                       role,
		DisableDefaultBackupPolicy: jsii.Bool(true),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("AWS Backup needs its S3 service-role policies to back up and restore buckets; AWS keeps them current as the service changes."),
		AppliesTo: &[]any{
			"Policy::arn:<AWS::Partition>:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
		},
	}, {
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Backing up and restoring a whole bucket reads and writes every object under the raw zone's key (kms:GenerateDataKey*, kms:ReEncrypt*)."),
		AppliesTo: &[]any{"Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"},
	}}, jsii.Bool(true))

	// The stack's own deployments (CloudFormation's execution role from `cdk bootstrap`) keep
	// the settings as the reviewed template says.
	stack := awscdk.Stack_Of(l.Construct)
	qualifier := *awscdk.DefaultStackSynthesizer_DEFAULT_QUALIFIER()
	if q, ok := stack.Node().TryGetContext(jsii.String("@aws-cdk/core:bootstrapQualifier")).(string); ok && q != "" {
		qualifier = q
	}
	exempt := []string{*stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("role"),
		ResourceName: jsii.String("cdk-" + qualifier + "-cfn-exec-role-" + *awscdk.Aws_ACCOUNT_ID() + "-" + *awscdk.Aws_REGION()),
	})}
	if p.BreakGlassRoleArn != "" {
		exempt = append(exempt, p.BreakGlassRoleArn)
	}
	for _, bucket := range buckets {
		bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("OnlyBreakGlassChangesRetention"),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings(ProtectedActions...),
			Resources:  jsii.Strings(*bucket.BucketArn(), *bucket.ArnForObjects(jsii.String("*"))),
			Conditions: &map[string]any{"ArnNotLike": map[string]any{"aws:PrincipalArn": exempt}},
		}))
	}
	return b
}
