// Package delivery is the one-time bootstrap of an environment's delivery from GitHub Actions: a
// stack with GitHub's OpenID Connect provider (once per account) and a deploy role that only the
// configured repository's workflows, running in the GitHub environment of the same name, can
// assume, with short-lived credentials and no long-lived keys. The role may do nothing but assume
// the account's CDK bootstrap roles, as `cdk deploy` and `cdk diff` do.
package delivery

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/stack"
)

// Issuer is GitHub Actions' OIDC token issuer (host and path; the provider's URL is https://Issuer).
const Issuer = "token.actions.githubusercontent.com"

// Audience is the audience GitHub's tokens carry for AWS (aws-actions/configure-aws-credentials).
const Audience = "sts.amazonaws.com"

// bootstrapRoles are the CDK bootstrap roles a deployment assumes: `cdk deploy` the deploy and
// publishing roles, `cdk diff` the lookup or deploy role.
var bootstrapRoles = []string{"deploy", "file-publishing", "image-publishing", "lookup"}

// StackName is the bootstrap stack of an environment: KpiLake-prod-delivery.
func StackName(env string) string { return stack.Name(env) + "-delivery" }

// BootstrapProps configures a Bootstrap stack.
type BootstrapProps struct {
	// Env is the environment whose deployments the role makes. Required.
	Env *config.Environment
	// Delivery names the repository and the CDK qualifier. Required.
	Delivery *config.Delivery
	// CreateProvider creates the account's GitHub OIDC provider; otherwise the stack refers to the
	// existing one by its ARN (an account has one provider per issuer). Default: false.
	CreateProvider bool
	// DefaultAccount is used when Env names no account. Default: "", account-agnostic.
	DefaultAccount string
}

func (p *BootstrapProps) validate() error {
	var errs []error
	if p.Env == nil {
		errs = append(errs, errors.New("Env is required"))
	}
	if p.Delivery == nil || p.Delivery.GitHubRepository == "" {
		errs = append(errs, errors.New(`Delivery.GitHubRepository is required: set kpilake.delivery.githubRepository in cdk.json to "owner/name"`))
	}
	return errors.Join(errs...)
}

// Bootstrap is the delivery bootstrap stack of one environment.
type Bootstrap struct {
	awscdk.Stack
	// Provider is the ARN of the account's GitHub OIDC provider (created here or not).
	ProviderArn *string
	// DeployRole is the role a workflow in GitHub environment Env.Name assumes.
	DeployRole awsiam.Role
}

// NewBootstrap creates the bootstrap stack of props.Env under scope (the app).
func NewBootstrap(scope constructs.Construct, props *BootstrapProps) *Bootstrap {
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("delivery.NewBootstrap: %w", err))
	}
	e, d := props.Env, props.Delivery
	s := awscdk.NewStack(scope, jsii.String(StackName(e.Name)), &awscdk.StackProps{
		Env:                   awsEnvironment(e.Account, e.Region, props.DefaultAccount),
		Description:           jsii.String(fmt.Sprintf("kpilake: GitHub Actions deploy role of %s (%s)", e.Name, d.GitHubRepository)),
		TerminationProtection: jsii.Bool(e.Production),
	})
	b := &Bootstrap{Stack: s}
	awscdk.Tags_Of(s).Add(jsii.String("project"), jsii.String("kpilake"), nil)
	awscdk.Tags_Of(s).Add(jsii.String("environment"), jsii.String(e.Name), nil)
	nag.AllowRolePolicies(s)

	if props.CreateProvider {
		p := awsiam.NewCfnOIDCProvider(s, jsii.String("GitHubProvider"), &awsiam.CfnOIDCProviderProps{
			Url:          jsii.String("https://" + Issuer),
			ClientIdList: jsii.Strings(Audience),
		})
		// Other stacks of the account (and other projects) may trust it; deleting this stack
		// must not cut them off.
		p.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
		b.ProviderArn = p.AttrArn()
	} else {
		b.ProviderArn = s.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("oidc-provider"),
			ResourceName: jsii.String(Issuer),
		})
	}

	b.DeployRole = awsiam.NewRole(s, jsii.String("DeployRole"), &awsiam.RoleProps{
		Description: jsii.String(fmt.Sprintf("Deploys %s from GitHub Actions (%s, environment %s)", stack.Name(e.Name), d.GitHubRepository, e.Name)),
		AssumedBy: awsiam.NewWebIdentityPrincipal(b.ProviderArn, &map[string]any{
			"StringEquals": map[string]any{
				Issuer + ":aud": Audience,
				// A job that names the GitHub environment gets this subject; environment
				// protection rules (required reviewers, branches) then gate every deployment.
				Issuer + ":sub": Subject(d.GitHubRepository, e.Name),
			},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	var roles []*string
	for _, r := range bootstrapRoles {
		roles = append(roles, s.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("role"),
			ResourceName: jsii.String(fmt.Sprintf("cdk-%s-%s-role-%s-%s", d.CDKQualifier, r, *s.Account(), *s.Region())),
		}))
	}
	// sts:TagSession: the bootstrap roles' trust policies allow it, for a CLI that tags its sessions.
	b.DeployRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sts:AssumeRole", "sts:TagSession"),
		Resources: &roles,
	}))
	awscdk.NewCfnOutput(s, jsii.String("DeployRoleArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("Role for the GitHub environment's variable KPILAKE_DEPLOY_ROLE_ARN"),
		Value:       b.DeployRole.RoleArn(),
	})
	return b
}

// Subject is the OIDC subject of a workflow job of repository that runs in GitHub environment env.
func Subject(repository, env string) string {
	return fmt.Sprintf("repo:%s:environment:%s", repository, env)
}

// CreatesProvider says whether env's bootstrap stack creates the account's GitHub OIDC provider:
// unless the accounts already have one, the first environment (by name) of each account does.
// Environments that name no account count as one account, the CLI's default.
func CreatesProvider(cfg *config.Config, env string) bool {
	if cfg.Delivery == nil || cfg.Delivery.ExistingOIDCProvider {
		return false
	}
	account := cfg.Environments[env].Account
	for _, n := range cfg.Names() {
		if cfg.Environments[n].Account == account {
			return n == env
		}
	}
	return false
}
