// Package nag names the cdk-nag rule packs that every kpilake stack must pass and suppresses
// findings with a reason, in the construct that causes them.
package nag

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// The rule packs, as the prefixes of their rule IDs.
const (
	AwsSolutions = "AwsSolutions"
	NIST         = "NIST.800.53.R5"
	HIPAA        = "HIPAA.Security"
	Serverless   = "Serverless"
)

// Packs returns the checks of every pack: a finding is an error that fails synth unless it is
// suppressed.
func Packs() []awscdk.IAspect {
	props := func() *cdknag.NagPackProps { return &cdknag.NagPackProps{Verbose: jsii.Bool(true)} }
	return []awscdk.IAspect{
		cdknag.NewAwsSolutionsChecks(props()),
		cdknag.NewNIST80053R5Checks(props()),
		cdknag.NewHIPAASecurityChecks(props()),
		cdknag.NewServerlessChecks(props()),
	}
}

// Rule is the ID of rule in each of packs, such as Rule("LambdaDLQ", NIST, HIPAA) for
// "NIST.800.53.R5-LambdaDLQ" and "HIPAA.Security-LambdaDLQ".
func Rule(rule string, packs ...string) []string {
	ids := make([]string, len(packs))
	for i, p := range packs {
		ids[i] = p + "-" + rule
	}
	return ids
}

// Suppress suppresses the rules ids for reason on resource: an L1 resource, or the default child
// of an L2 construct (a bucket's CfnBucket, not its policy). The rules must be ones without
// granular findings (appliesTo); use cdknag directly for the others.
func Suppress(resource constructs.IConstruct, reason string, ids ...string) {
	if c := resource.Node().DefaultChild(); c != nil {
		resource = c
	}
	s := make([]*cdknag.NagPackSuppression, len(ids))
	for i, id := range ids {
		s[i] = &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	}
	cdknag.NagSuppressions_AddResourceSuppressions(resource, &s, jsii.Bool(false))
}

// RolePolicyReason is why a policy attached to a single role is not a managed policy.
const RolePolicyReason = "A least-privilege policy that the construct owning the role wrote for that one role " +
	"(CDK grants, AWS::IAM::Policy attached to exactly one role and no user or group); " +
	"as a managed policy it would be the same document, attachable to other principals."

// AllowRolePolicies suppresses the NIST and HIPAA IAMNoInlinePolicy finding on every
// AWS::IAM::Policy in scope, now or added later, that is attached to exactly one role and to no
// user or group. Any other inline policy is still reported.
func AllowRolePolicies(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(&rolePolicies{reason: RolePolicyReason}, &awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
}

// rolePolicies is an Aspect; jsii needs a pointer to a non-empty struct to register it.
type rolePolicies struct {
	reason string
}

func (r *rolePolicies) Visit(node constructs.IConstruct) {
	p, ok := node.(awsiam.CfnPolicy)
	if !ok {
		return
	}
	// An L2 Policy renders its principals lazily; resolve them to count.
	count := func(v *[]*string) int {
		l, _ := awscdk.Stack_Of(p).Resolve(v).([]any)
		return len(l)
	}
	if count(p.Roles()) != 1 || count(p.Users()) != 0 || count(p.Groups()) != 0 {
		return
	}
	Suppress(p, r.reason, Rule("IAMNoInlinePolicy", NIST, HIPAA)...)
}

// DeadLetterQueue suppresses the Serverless pack's redrive finding on queue, which is itself a
// dead-letter queue.
func DeadLetterQueue(queue constructs.IConstruct) {
	Suppress(queue, "This queue is a dead-letter queue: a redrive policy of its own would only move the same messages on; "+
		"its messages raise an alarm and wait for the operator.", Rule("SQSRedrivePolicy", Serverless)...)
}

// SuppressMatching is a suppression of rule for reason that covers only the granular findings
// (cdk-nag's appliesTo: "Resource::<...>", "Action::...") that match the regular expression
// pattern; add it with cdknag.NagSuppressions_AddResourceSuppressions.
func SuppressMatching(rule, reason, pattern string) *cdknag.NagPackSuppression {
	return &cdknag.NagPackSuppression{
		Id:        jsii.String(rule),
		Reason:    jsii.String(reason),
		AppliesTo: &[]any{map[string]any{"regex": "/" + pattern + "/"}},
	}
}

// Ref is the pattern of a reference to c's attribute attr in a granular finding
// ("<LogicalID.Arn>"), c being an L1 resource or an L2 construct with one, in its own stack.
func Ref(c constructs.IConstruct, attr string) string {
	if child := c.Node().DefaultChild(); child != nil {
		c = child
	}
	stack := awscdk.Stack_Of(c)
	id, _ := stack.Resolve(stack.GetLogicalId(c.(awscdk.CfnElement))).(string)
	return regexp.QuoteMeta("<" + id + "." + attr + ">")
}
