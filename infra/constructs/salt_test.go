//go:build !unit

package constructs

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/salt"
)

const breakGlass = "arn:aws:iam::123456789012:role/kpilake-break-glass"

// saltStack is a synthesized salt with readers roles, and the logical IDs the tests need.
type saltStack struct {
	tp          *cdktest.Template
	key, secret string
	roles       []string
}

func synthSalt(t *testing.T, props *salt.Props, readers int) *saltStack {
	t.Helper()
	stack := cdktest.TestStack(t)
	var s *salt.Salt
	var roles []awsiam.Role
	cdktest.Setup(t, func() {
		s = salt.New(stack, "Salt", props)
		for i := range readers {
			role := awsiam.NewRole(stack, jsii.Sprintf("Reader%d", i), &awsiam.RoleProps{
				AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			})
			s.GrantRead(role)
			roles = append(roles, role)
		}
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	out := &saltStack{tp: tp, key: tp.LogicalID(s.Key.KeyId()), secret: tp.LogicalID(s.SecretArn())}
	for _, r := range roles {
		out.roles = append(out.roles, tp.LogicalID(r.RoleName()))
	}
	return out
}

// denies returns the Deny statements of a policy document.
func denies(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	var out []map[string]any
	for _, st := range d["Statement"].([]any) {
		if m := st.(map[string]any); m["Effect"] == "Deny" {
			out = append(out, m)
		}
	}
	return out
}

// The secret's policy denies reading to every principal but the readers and the break-glass
// role (with none, to everyone); the key's policy denies decrypting, except through Secrets
// Manager, to every principal but the break-glass role, and names no reader: a reader's role in a
// nested stack (package source) takes the secret's ARN as a parameter, so a key that named the
// role would be a dependency cycle.
func TestSalt_DeniesReadingToAllButTheReaders(t *testing.T) {
	for _, tc := range []struct {
		name       string
		props      *salt.Props
		readers    int
		breakGlass bool
	}{
		{"no reader", nil, 0, false},
		{"break-glass only", &salt.Props{BreakGlassRoleArn: breakGlass}, 0, true},
		{"two readers", nil, 2, false},
		{"two readers and break-glass", &salt.Props{BreakGlassRoleArn: breakGlass}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synthSalt(t, tc.props, tc.readers)
			var readers, keyExempt []any
			if tc.breakGlass {
				readers = append(readers, breakGlass)
				keyExempt = append(keyExempt, breakGlass)
			}
			for _, r := range s.roles {
				readers = append(readers, map[string]any{"Fn::GetAtt": []any{r, "Arn"}})
			}
			var policy any
			for _, r := range s.tp.Resources("AWS::SecretsManager::ResourcePolicy") {
				policy = r["Properties"].(map[string]any)["ResourcePolicy"]
			}
			viaSecretsManager := map[string]any{"kms:ViaService": "secretsmanager." + cdktest.Region + ".amazonaws.com"}
			for what, want := range map[string]struct {
				doc    any
				action string
				exempt []any
				notVia any
			}{
				"secret policy": {policy, "secretsmanager:GetSecretValue", readers, nil},
				"key policy":    {s.tp.Properties(t, s.key)["KeyPolicy"], "kms:Decrypt", keyExempt, viaSecretsManager},
			} {
				ds := denies(want.doc)
				if len(ds) != 1 {
					t.Fatalf("%s has %d deny statements, want 1: %v", what, len(ds), want.doc)
				}
				d := ds[0]
				if !cmp.Equal(d["Principal"], any(map[string]any{"AWS": "*"})) {
					t.Errorf("%s: deny applies to %v, want every principal", what, d["Principal"])
				}
				if d["Action"] != want.action {
					t.Errorf("%s: deny covers %v, want %s", what, d["Action"], want.action)
				}
				c, _ := d["Condition"].(map[string]any)
				var got []any
				if ne, ok := c["ArnNotEquals"].(map[string]any); ok {
					got = toList(ne["aws:PrincipalArn"])
				}
				if !cmp.Equal(want.exempt, got) {
					t.Errorf("%s: deny exempts %v, want %v", what, got, want.exempt)
				}
				if !cmp.Equal(want.notVia, c["StringNotEquals"]) {
					t.Errorf("%s: deny has StringNotEquals %v, want %v", what, c["StringNotEquals"], want.notVia)
				}
			}
			key, err := json.Marshal(s.tp.Properties(t, s.key))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range s.roles {
				if strings.Contains(string(key), `"`+r+`"`) {
					t.Errorf("the key's properties name reader %s: %s", r, key)
				}
			}
		})
	}
}

func toList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// A reader may get the secret, and decrypt with its key through Secrets Manager only, by its own
// policy.
func TestSaltGrantRead_GetsTheSecretAndDecryptsThroughSecretsManager(t *testing.T) {
	s := synthSalt(t, nil, 1)
	secret := map[string]any{"Ref": s.secret}
	key := map[string]any{"Fn::GetAtt": []any{s.key, "Arn"}}
	want := []string{
		cdktest.Permission("Allow", "kms:Decrypt", key, map[string]any{"StringEquals": map[string]any{
			"kms:ViaService": "secretsmanager." + cdktest.Region + ".amazonaws.com"}}),
		cdktest.Permission("Allow", "secretsmanager:DescribeSecret", secret, nil),
		cdktest.Permission("Allow", "secretsmanager:GetSecretValue", secret, nil),
	}
	if diff := cmp.Diff(want, s.tp.Permissions(s.roles[0])); diff != "" {
		t.Errorf("reader permissions (-want +got):\n%s", diff)
	}
}

// The key rotates, encrypts the secret, and both follow the removal policy.
func TestSalt_OwnRotatingKeyFollowsTheRemovalPolicy(t *testing.T) {
	for policy, want := range map[awscdk.RemovalPolicy]string{
		"":                           "Retain",
		awscdk.RemovalPolicy_RETAIN:  "Retain",
		awscdk.RemovalPolicy_DESTROY: "Delete",
	} {
		s := synthSalt(t, &salt.Props{RemovalPolicy: policy}, 0)
		s.tp.HasResource(t, s.key, map[string]any{"DeletionPolicy": want, "Properties": map[string]any{"EnableKeyRotation": true}})
		s.tp.HasResource(t, s.secret, map[string]any{"DeletionPolicy": want, "Properties": map[string]any{
			"KmsKeyId": map[string]any{"Fn::GetAtt": []any{s.key, "Arn"}},
		}})
	}
}

func TestSalt_FailsIf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props salt.Props
		want  []string
	}{
		{"break-glass principal not a role", salt.Props{BreakGlassRoleArn: "arn:aws:iam::123456789012:user/admin"},
			[]string{"BreakGlassRoleArn", "is not an IAM role ARN"}},
		{"removal policy SNAPSHOT", salt.Props{RemovalPolicy: awscdk.RemovalPolicy_SNAPSHOT},
			[]string{"RemovalPolicy", "SNAPSHOT", "RemovalPolicy_RETAIN or RemovalPolicy_DESTROY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			err := cdktest.Recover(func() { salt.New(stack, "Salt", &tc.props) })
			for _, w := range append([]string{`salt.New "Salt"`}, tc.want...) {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error containing %q", err, w)
				}
			}
		})
	}
}

// The secret is the construct scope/id, as it was before the salt had a key of its own: a new
// logical ID would replace a deployed salt with a new random one.
func TestSalt_SecretKeepsTheLogicalIDOfScopeID(t *testing.T) {
	s := synthSalt(t, nil, 0)
	if !regexp.MustCompile(`^Salt[0-9A-F]{8}$`).MatchString(s.secret) {
		t.Errorf("the secret's logical ID is %s, want Salt<hash> (the construct Salt directly under the scope)", s.secret)
	}
}

// The salt suppresses the findings of its own resources: alone in a stack, it leaves no
// AwsSolutions finding.
func TestSalt_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() { salt.New(stack, "Salt", nil) })
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Salt/") {
		t.Error(f)
	}
}
