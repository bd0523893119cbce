package delivery

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/internal/fnsub"
	"github.com/kpilake/kpilake/infra/nag"
)

// PipelineStackName is the stack of the CDK Pipelines alternative: one for every environment.
const PipelineStackName = contract.StackPrefix + "pipeline"

// SynthCommands are what the pipeline's build runs on the pushed commit before anything deploys:
// the lint and the service-free tests (the full `make test` needs MariaDB, PostgreSQL and moto,
// and runs in CI on every pull request), then the synth that holds every environment and the
// pipeline itself. GOTOOLCHAIN=auto fetches the Go of go.mod when the image's is older.
var SynthCommands = []string{"make setup", "make lint", "make test-unit", "make synth"}

// InstallCommands add to the build image what SynthCommands need beyond Go, Node.js and a C
// compiler (as .ci/run does): ShellCheck for actionlint (make lint), Graphviz for the diagram's
// check.
var InstallCommands = []string{
	"apt-get update -qq",
	"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck graphviz >/dev/null",
}

// PipelineProps configures a Pipeline stack.
type PipelineProps struct {
	// Config is the parsed configuration; its Delivery.Pipeline must be set. Required.
	Config *config.Config
	// AddEnvironment builds environment e's stack in scope, a stage of the pipeline. Required.
	AddEnvironment func(scope constructs.Construct, e *config.Environment)
	// Aspects are added to every stage (the app's aspects stop at a stage: cdk-nag's packs).
	Aspects []awscdk.IAspect
	// DefaultAccount is used when neither the pipeline nor an environment names an account.
	DefaultAccount string
	// CLIVersion is the CDK CLI that the pipeline's self-mutation and asset steps install; the
	// version package.json pins. Required.
	CLIVersion string
}

func (p *PipelineProps) validate() error {
	var errs []error
	if p.Config == nil || p.Config.Delivery == nil || p.Config.Delivery.Pipeline == nil {
		errs = append(errs, errors.New("Config.Delivery.Pipeline is required: set kpilake.delivery.pipeline in cdk.json"))
	}
	if p.AddEnvironment == nil {
		errs = append(errs, errors.New("AddEnvironment is required"))
	}
	if p.CLIVersion == "" {
		errs = append(errs, errors.New("CLIVersion is required: the aws-cdk version of package.json"))
	}
	return errors.Join(errs...)
}

// Pipeline is the self-mutating CodePipeline (CDK Pipelines) that deploys the environments from
// inside AWS: a push to the branch is linted, tested and synthesized, the pipeline updates itself,
// then each environment deploys in order, after a check that stops for approval on any change
// that widens IAM or security groups, and production environments after a manual approval.
type Pipeline struct {
	awscdk.Stack
	// Pipeline is the CDK Pipelines construct, built.
	Pipeline pipelines.CodePipeline
	// Stages are the environments' stages, in deployment order.
	Stages []awscdk.Stage
}

// NewPipeline creates the pipeline stack under scope (the app), with a stage per environment.
func NewPipeline(scope constructs.Construct, props *PipelineProps) *Pipeline {
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("delivery.NewPipeline: %w", err))
	}
	cfg, pc := props.Config, props.Config.Delivery.Pipeline
	s := awscdk.NewStack(scope, jsii.String(PipelineStackName), &awscdk.StackProps{
		Env:         awsEnvironment(pc.Account, pc.Region, props.DefaultAccount),
		Description: jsii.String(fmt.Sprintf("kpilake: the pipeline that deploys %v from %s (%s)", pc.Environments, cfg.Delivery.GitHubRepository, pc.Branch)),
		// Deleting it stops every deployment; it holds no data.
		TerminationProtection: jsii.Bool(true),
	})
	awscdk.Tags_Of(s).Add(jsii.String("project"), jsii.String("kpilake"), nil)
	nag.AllowRolePolicies(s)

	build := &pipelines.CodeBuildOptions{
		BuildEnvironment: &awscodebuild.BuildEnvironment{
			BuildImage:  awscodebuild.LinuxBuildImage_STANDARD_7_0(),
			ComputeType: awscodebuild.ComputeType_MEDIUM,
		},
		Timeout: awscdk.Duration_Minutes(jsii.Number(60)),
	}
	p := pipelines.NewCodePipeline(s, jsii.String("Pipeline"), &pipelines.CodePipelineProps{
		PipelineType: awscodepipeline.PipelineType_V2,
		// A KMS key for the artifacts, rotated: the stages may deploy to other accounts.
		CrossAccountKeys:  jsii.Bool(true),
		EnableKeyRotation: jsii.Bool(true),
		CliVersion:        jsii.String(props.CLIVersion),
		CodeBuildDefaults: build,
		Synth: pipelines.NewCodeBuildStep(jsii.String("Synth"), &pipelines.CodeBuildStepProps{
			Input: pipelines.CodePipelineSource_Connection(jsii.String(cfg.Delivery.GitHubRepository), jsii.String(pc.Branch),
				&pipelines.ConnectionSourceOptions{ConnectionArn: jsii.String(pc.ConnectionArn), TriggerOnPush: jsii.Bool(true)}),
			Env:                    &map[string]*string{"GOTOOLCHAIN": jsii.String("auto"), "CI": jsii.String("true")},
			InstallCommands:        jsii.Strings(InstallCommands...),
			Commands:               jsii.Strings(SynthCommands...),
			PrimaryOutputDirectory: jsii.String("cdk.out"),
		}),
	})
	out := &Pipeline{Stack: s, Pipeline: p}
	for _, name := range pc.Environments {
		e := cfg.Environments[name]
		stage := awscdk.NewStage(s, jsii.String(name), &awscdk.StageProps{Env: awsEnvironment(e.Account, e.Region, props.DefaultAccount)})
		for _, a := range props.Aspects {
			awscdk.Aspects_Of(stage).Add(a, nil)
		}
		props.AddEnvironment(stage, e)
		pre := []pipelines.Step{pipelines.NewConfirmPermissionsBroadening(jsii.String("ConfirmBroadening"),
			&pipelines.PermissionsBroadeningCheckProps{Stage: stage})}
		if e.Production {
			pre = append(pre, pipelines.NewManualApprovalStep(jsii.String("Approve"), &pipelines.ManualApprovalStepProps{
				Comment: jsii.String(fmt.Sprintf("Deploy %s to the production environment %s?", cfg.Delivery.GitHubRepository, name)),
			}))
		}
		p.AddStage(stage, &pipelines.AddStageOpts{Pre: &pre})
		out.Stages = append(out.Stages, stage)
	}
	p.BuildPipeline()
	out.secureArtifacts()
	out.suppress()
	out.subRoleArns()
	return out
}

// artifactsExpireAfterDays is how long the pipeline keeps an execution's artifacts (the source,
// the cloud assembly); a deployment reads them within the hour.
const artifactsExpireAfterDays = 90

// secureArtifacts versions the artifact bucket that CDK Pipelines creates (KMS, TLS only, no
// public access), logs access to it and expires old executions' artifacts.
func (p *Pipeline) secureArtifacts() {
	bucket := p.Pipeline.Pipeline().ArtifactBucket()
	logs := awss3.NewBucket(p.Stack, jsii.String("ArtifactAccessLogs"), &awss3.BucketProps{
		// S3 server access logging delivers only to SSE-S3 buckets.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireAccessLogs"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})
	logs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("S3ServerAccessLogsPolicy"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logging.s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(*logs.ArnForObjects(jsii.String("artifacts/*"))),
		Conditions: &map[string]any{
			"ArnLike":      map[string]any{"aws:SourceArn": bucket.BucketArn()},
			"StringEquals": map[string]any{"aws:SourceAccount": p.Stack.Account()},
		},
	}))
	cfn := bucket.Node().DefaultChild().(awss3.CfnBucket)
	cfn.SetVersioningConfiguration(&awss3.CfnBucket_VersioningConfigurationProperty{Status: jsii.String("Enabled")})
	cfn.SetLoggingConfiguration(&awss3.CfnBucket_LoggingConfigurationProperty{
		DestinationBucketName: logs.BucketName(), LogFilePrefix: jsii.String("artifacts/"),
	})
	cfn.SetLifecycleConfiguration(&awss3.CfnBucket_LifecycleConfigurationProperty{Rules: &[]any{
		&awss3.CfnBucket_RuleProperty{
			Id: jsii.String("ExpireOldArtifacts"), Status: jsii.String("Enabled"),
			ExpirationInDays:               jsii.Number(artifactsExpireAfterDays),
			NoncurrentVersionExpiration:    &awss3.CfnBucket_NoncurrentVersionExpirationProperty{NoncurrentDays: jsii.Number(30)},
			AbortIncompleteMultipartUpload: &awss3.CfnBucket_AbortIncompleteMultipartUploadProperty{DaysAfterInitiation: jsii.Number(7)},
		},
	}})
	replication := nag.Rule("S3BucketReplicationEnabled", nag.NIST, nag.HIPAA)
	nag.Suppress(bucket, "Build artifacts, rebuilt from the repository's commit by the next execution; a second copy protects nothing.", replication...)
	nag.Suppress(logs, "The artifact bucket's access logs; versioned, and their own access is in CloudTrail.", replication...)
	nag.Suppress(logs, "This bucket receives the artifact bucket's server access logs; logging it to itself would loop.",
		append(nag.Rule("S3BucketLoggingEnabled", nag.NIST, nag.HIPAA), "AwsSolutions-S1")...)
	nag.Suppress(logs, "S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS.",
		nag.Rule("S3DefaultEncryptionKMS", nag.NIST, nag.HIPAA)...)
}

// suppress records why the resources that CDK Pipelines generates meet the cdk-nag rules that do
// not fit them otherwise, each for the findings that it names.
func (p *Pipeline) suppress() {
	artifacts := "CDK Pipelines' grants on the pipeline's artifact bucket and its key: every execution writes new objects, " +
		"so the grant covers the bucket's objects and the key's data-key operations, nothing beyond them."
	builds := "A CodeBuild project's own log groups and report groups, whose names CodeBuild derives from the project at run time."
	bootstrap := "CDK Pipelines' self-mutation, asset publishing and permissions check assume the accounts' CDK bootstrap roles " +
		"(limited by the aws-cdk:bootstrap-role tag condition) and read CloudFormation stacks, which have no narrower resource."
	cdknag.NagSuppressions_AddResourceSuppressions(p.Pipeline, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", artifacts, `^(Action::(s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*|kms:(GenerateDataKey|ReEncrypt)\*)|Resource::<PipelineArtifactsBucket[0-9A-F]{8}\.Arn>/\*)$`),
		nag.SuppressMatching("AwsSolutions-IAM5", builds, `^Resource::arn:aws[a-z-]*:(logs:[a-z0-9-]+:\d{12}:log-group:/aws/codebuild/|codebuild:[a-z0-9-]+:\d{12}:report-group/)`),
		nag.SuppressMatching("AwsSolutions-IAM5", bootstrap, `^Resource::(\*|arn:\*:iam::\d{12}:role/\*)$`),
		nag.SuppressMatching("AwsSolutions-IAM5", "The permissions check invokes the versions of CDK Pipelines' auto-approve function.",
			`^Resource::<PipelinePipelinesSecurityCheckCDKPipelinesAutoApprove[0-9A-F]{8}\.Arn>:\*$`),
		nag.SuppressMatching("AwsSolutions-IAM4", "CDK Pipelines' auto-approve function writes its logs with AWS's basic execution role and nothing else.",
			`^Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole$`),
		{Id: jsii.String(nag.HIPAA + "-CodeBuildProjectSourceRepoUrl"), Reason: jsii.String(
			"The projects' source is the pipeline (CODEPIPELINE): no repository URL and no credential is in a project; the repository is read through the CodeConnections connection.")},
	}, jsii.Bool(true))
	// The permissions check's function: CDK Pipelines' own, called synchronously by the check's
	// build to approve when nothing widens.
	fn := "CDK Pipelines' auto-approve function, invoked synchronously by the permissions check's build (a failure fails that build, " +
		"and the stage waits for a person); it runs once per deployment, outside any VPC, with no data."
	check := p.Stack.Node().TryFindChild(jsii.String("Pipeline")).Node().TryFindChild(jsii.String("PipelinesSecurityCheck"))
	ids := slices.Concat(nag.Rule("LambdaDLQ", nag.NIST, nag.HIPAA, nag.Serverless), nag.Rule("LambdaConcurrency", nag.NIST, nag.HIPAA),
		nag.Rule("LambdaInsideVPC", nag.NIST, nag.HIPAA), nag.Rule("LambdaDefaultMemorySize", nag.Serverless), nag.Rule("LambdaTracing", nag.Serverless),
		nag.Rule("CloudWatchLogGroupEncrypted", nag.NIST, nag.HIPAA))
	s := make([]*cdknag.NagPackSuppression, len(ids))
	for i, id := range ids {
		s[i] = &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(fn)}
	}
	cdknag.NagSuppressions_AddResourceSuppressions(check, &s, jsii.Bool(true))
}

// subRoleArns writes the deploy actions' role ARNs, which CDK Pipelines joins from the partition
// and the bootstrap role's name, as the Fn::Sub that they mean: cfn-lint's check of a pipeline
// action's role (E3703) rejects the join.
func (p *Pipeline) subRoleArns() {
	cfn := p.Pipeline.Pipeline().Node().DefaultChild().(awscodepipeline.CfnPipeline)
	raw, err := json.Marshal(p.Stack.Resolve(cfn.Stages()))
	if err != nil {
		panic(fmt.Errorf("delivery.NewPipeline: the pipeline's stages: %w", err))
	}
	var stages []struct {
		Actions []struct{ Configuration map[string]any }
	}
	if err := json.Unmarshal(raw, &stages); err != nil {
		panic(fmt.Errorf("delivery.NewPipeline: the pipeline's stages: %w", err))
	}
	for i, st := range stages {
		for j, a := range st.Actions {
			if sub, ok := fnsub.FromJoin(a.Configuration["RoleArn"]); ok {
				cfn.AddPropertyOverride(jsii.String(fmt.Sprintf("Stages.%d.Actions.%d.Configuration.RoleArn", i, j)), map[string]any{"Fn::Sub": sub})
			}
		}
	}
}

// awsEnvironment is the CDK environment of account (or def) and region.
func awsEnvironment(account, region, def string) *awscdk.Environment {
	env := &awscdk.Environment{Region: jsii.String(region)}
	if account = cmp.Or(account, def); account != "" {
		env.Account = jsii.String(account)
	}
	return env
}
