// Package salt defines the hash salt: the secret HMAC key of the hashed columns, under a KMS key
// of its own, readable only by the roles it is granted to and a break-glass role.
package salt

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/nag"
)

// ReadActions are what the secret's policy denies to every principal but the readers.
var ReadActions = []string{"secretsmanager:GetSecretValue"}

var roleArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// Props configures New. The zero value is a salt that only its grantees can read and that is
// retained.
type Props struct {
	// RemovalPolicy of the secret and its key. Default: awscdk.RemovalPolicy_RETAIN. Destroying
	// the salt makes every hashed column unjoinable with what is hashed after a new deployment.
	RemovalPolicy awscdk.RemovalPolicy
	// BreakGlassRoleArn may read the salt besides the grantees (arn:aws:iam::<account>:role/<name>).
	// Default: "" (nobody else; changing that takes a deployment, a reviewed change).
	BreakGlassRoleArn string
}

func (p *Props) validate() error {
	var errs []error
	switch p.RemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	if p.BreakGlassRoleArn != "" && !roleArnRE.MatchString(p.BreakGlassRoleArn) {
		errs = append(errs, fmt.Errorf("BreakGlassRoleArn %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", p.BreakGlassRoleArn))
	}
	return errors.Join(errs...)
}

// Salt is the hash salt. Its secret's resource policy denies reading it to every principal but
// the roles given to GrantRead and the break-glass role, and its key's policy denies decrypting
// with it to every principal but the break-glass role, except through Secrets Manager (whose
// reads the secret's policy governs): an administrator of the account cannot read it either
// without a deployment that names it. The key's administration stays with the account (CDK's
// default key policy), so a deployment can always change who may read.
//
// Neither the key's policy nor any other property of the key or the secret names a reader: the
// readers' roles may live in nested stacks (package source), which take the secret's ARN as a
// parameter, and a key policy naming them would be a dependency cycle. The secret's resource
// policy, a resource of its own, names them.
//
// Salt is not a construct of its own: the secret is the construct scope/id, as it was before the
// salt had a key of its own, so that its logical ID stays and a deployed salt keeps its value.
// A new secret would be a new random salt, and every hashed column would stop joining with its
// history.
type Salt struct {
	// Key (the construct scope/<id>Key) encrypts the secret and nothing else.
	Key awskms.Key
	// Secret holds the salt: 64 random letters and digits, never rotated (hashes must stay
	// joinable across days and sources).
	Secret awssecretsmanager.Secret

	readers    []*string
	secretDeny awsiam.PolicyStatement
}

// New creates the salt (the secret scope/id), its key and the policies that keep it to its
// readers.
func New(scope constructs.Construct, id string, props *Props) *Salt {
	if props == nil {
		props = &Props{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("salt.New %q: %w", id, err))
	}
	removal := props.RemovalPolicy
	if removal == "" {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	s := &Salt{}
	if props.BreakGlassRoleArn != "" {
		s.readers = append(s.readers, jsii.String(props.BreakGlassRoleArn))
	}
	s.Key = awskms.NewKey(scope, jsii.String(id+"Key"), &awskms.KeyProps{
		Description:       jsii.String("kpilake: encrypts the hash salt of the hashed columns, and nothing else"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal,
	})
	s.Secret = awssecretsmanager.NewSecret(scope, jsii.String(id), &awssecretsmanager.SecretProps{
		Description: jsii.String("kpilake: salt of the hashed personal-data columns (never rotate: hashes must stay joinable)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true),
		},
		EncryptionKey: s.Key,
		RemovalPolicy: removal,
	})
	s.secretDeny = s.deny("DenyReadingTheSaltToAllButItsReaders", ReadActions)
	s.Secret.AddToResourcePolicy(s.secretDeny)
	s.exempt()
	// Secrets Manager decrypts the value with the caller's permissions on the key, so this holds
	// even for a principal whose IAM policy allows kms:Decrypt on every key; through Secrets
	// Manager, the secret's deny above decides.
	keyDeny := s.deny("DenyDecryptingTheSaltButThroughSecretsManager", []string{"kms:Decrypt"})
	keyDeny.AddCondition(jsii.String("StringNotEquals"), map[string]any{"kms:ViaService": viaSecretsManager(s.Key)})
	if props.BreakGlassRoleArn != "" {
		keyDeny.AddCondition(jsii.String("ArnNotEquals"), map[string]any{"aws:PrincipalArn": props.BreakGlassRoleArn})
	}
	s.Key.AddToResourcePolicy(keyDeny, jsii.Bool(true))

	nag.Suppress(s.Secret, "The hash salt must never rotate: hashed keys must keep joining across days and sources.",
		nag.Rule("SecretsManagerRotationEnabled", nag.NIST, nag.HIPAA)...)
	cdknag.NagSuppressions_AddResourceSuppressions(s.Secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The hash salt must never change: rotating it would break joins on hashed columns across days."),
	}}, jsii.Bool(true))
	return s
}

// deny is a statement that denies actions to every principal; exempt names the readers.
func (s *Salt) deny(sid string, actions []string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(actions...),
		Resources:  jsii.Strings("*"),
	})
}

// exempt sets the readers as the exception of the secret's deny; with no reader it denies
// everyone.
func (s *Salt) exempt() {
	if len(s.readers) == 0 {
		return
	}
	// AddCondition replaces the values of a key that the statement already has.
	s.secretDeny.AddCondition(jsii.String("ArnNotEquals"), map[string]any{"aws:PrincipalArn": s.readers})
}

// viaSecretsManager is the kms:ViaService value of Secrets Manager's calls in key's region.
func viaSecretsManager(key awskms.IKey) string {
	return fmt.Sprintf("secretsmanager.%s.amazonaws.com", *awscdk.Stack_Of(key).Region())
}

// GrantRead lets role read the salt: GetSecretValue on the secret and kms:Decrypt with its key
// through Secrets Manager, both in the role's own policy, and exempts the role from the secret's
// deny.
func (s *Salt) GrantRead(role awsiam.IRole) awsiam.Grant {
	s.readers = append(s.readers, role.RoleArn())
	s.exempt()
	g := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      role,
		Actions:      jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
		ResourceArns: jsii.Strings(*s.Secret.SecretArn()),
	})
	return g.Combine(awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      role,
		Actions:      jsii.Strings("kms:Decrypt"),
		ResourceArns: jsii.Strings(*s.Key.KeyArn()),
		Conditions:   &map[string]*map[string]any{"StringEquals": {"kms:ViaService": viaSecretsManager(s.Key)}},
	}))
}

// SecretArn is the secret's ARN.
func (s *Salt) SecretArn() *string { return s.Secret.SecretArn() }
