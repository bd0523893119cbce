//go:build !unit

package constructs

import (
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/nag"
)

// Only a policy attached to exactly one role, and to no user or group, is exempt from the
// no-inline-policy rules; the aspect also covers policies created after it was added.
func TestAllowRolePolicies_ExemptsSingleRolePoliciesOnly(t *testing.T) {
	stack := cdktest.TestStack(t)
	statement := func() awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("s3:GetObject"), Resources: jsii.Strings("arn:aws:s3:::b/*")})
	}
	cdktest.Setup(t, func() {
		nag.AllowRolePolicies(stack)
		role := func(id string) awsiam.Role {
			return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil)})
		}
		role("One").AddToPrincipalPolicy(statement())
		awsiam.NewPolicy(stack, jsii.String("TwoRoles"), &awsiam.PolicyProps{Statements: &[]awsiam.PolicyStatement{statement()}, Roles: &[]awsiam.IRole{role("A"), role("B")}})
		awsiam.NewPolicy(stack, jsii.String("RoleAndUser"), &awsiam.PolicyProps{
			Statements: &[]awsiam.PolicyStatement{statement()}, Roles: &[]awsiam.IRole{role("C")},
			Users: &[]awsiam.IUser{awsiam.NewUser(stack, jsii.String("User"), nil)},
		})
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for id, r := range tp.Resources("AWS::IAM::Policy") {
		meta, _ := r["Metadata"].(map[string]any)
		n, _ := meta["cdk_nag"].(map[string]any)
		rules, _ := n["rules_to_suppress"].([]any)
		var ids []string
		for _, r := range rules {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		got[id[:3]] = slices.Equal(ids, []string{"NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy"})
	}
	want := map[string]bool{"One": true, "Two": false, "Rol": false}
	if len(got) != 3 {
		t.Fatalf("%d policies, want 3: %v", len(got), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("policy %s… exempt = %v, want %v", k, got[k], w)
		}
	}
}
