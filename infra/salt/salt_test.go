package salt_test

import (
	"os"
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

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }

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

// The secret's policy and the key's policy each deny reading to every principal but the readers
// and the break-glass role; with none, they deny everyone.
func TestNew_DeniesReadingToAllButTheReaders(t *testing.T) {
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
			var want []any
			if tc.breakGlass {
				want = append(want, breakGlass)
			}
			for _, r := range s.roles {
				want = append(want, map[string]any{"Fn::GetAtt": []any{r, "Arn"}})
			}
			var policy any
			for _, r := range s.tp.Resources("AWS::SecretsManager::ResourcePolicy") {
				policy = r["Properties"].(map[string]any)["ResourcePolicy"]
			}
			for what, doc := range map[string]any{
				"secret policy": policy,
				"key policy":    s.tp.Properties(t, s.key)["KeyPolicy"],
			} {
				ds := denies(doc)
				if len(ds) != 1 {
					t.Fatalf("%s has %d deny statements, want 1: %v", what, len(ds), doc)
				}
				d := ds[0]
				if !cmp.Equal(d["Principal"], any(map[string]any{"AWS": "*"})) {
					t.Errorf("%s: deny applies to %v, want every principal", what, d["Principal"])
				}
				action := map[string]any{"secret policy": "secretsmanager:GetSecretValue", "key policy": "kms:Decrypt"}[what]
				if d["Action"] != action {
					t.Errorf("%s: deny covers %v, want %s", what, d["Action"], action)
				}
				var got []any
				if c, ok := d["Condition"].(map[string]any); ok {
					got = toList(c["ArnNotEquals"].(map[string]any)["aws:PrincipalArn"])
				}
				if !cmp.Equal(want, got) {
					t.Errorf("%s: deny exempts %v, want %v", what, got, want)
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

// A reader may get the secret and decrypt its key through Secrets Manager only.
func TestGrantRead_GetsTheSecretAndDecryptsThroughSecretsManager(t *testing.T) {
	s := synthSalt(t, nil, 1)
	secret := map[string]any{"Ref": s.secret}
	want := []string{
		cdktest.Permission("Allow", "secretsmanager:DescribeSecret", secret, nil),
		cdktest.Permission("Allow", "secretsmanager:GetSecretValue", secret, nil),
	}
	if diff := cmp.Diff(want, s.tp.Permissions(s.roles[0])); diff != "" {
		t.Errorf("reader permissions (-want +got):\n%s", diff)
	}
	var viaSecretsManager bool
	for _, st := range s.tp.Properties(t, s.key)["KeyPolicy"].(map[string]any)["Statement"].([]any) {
		m := st.(map[string]any)
		p, _ := m["Principal"].(map[string]any)
		if m["Effect"] == "Allow" && cmp.Equal(p["AWS"], any(map[string]any{"Fn::GetAtt": []any{s.roles[0], "Arn"}})) {
			viaSecretsManager = cmp.Equal(m["Condition"], any(map[string]any{"StringEquals": map[string]any{
				"kms:ViaService": "secretsmanager." + cdktest.Region + ".amazonaws.com"}}))
		}
	}
	if !viaSecretsManager {
		t.Errorf("the key policy does not let the reader decrypt through Secrets Manager only")
	}
}

// The key rotates, encrypts the secret, and both follow the removal policy.
func TestNew_OwnRotatingKeyFollowsTheRemovalPolicy(t *testing.T) {
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

func TestNew_FailsIf(t *testing.T) {
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
func TestNew_SecretKeepsTheLogicalIDOfScopeID(t *testing.T) {
	s := synthSalt(t, nil, 0)
	if !regexp.MustCompile(`^Salt[0-9A-F]{8}$`).MatchString(s.secret) {
		t.Errorf("the secret's logical ID is %s, want Salt<hash> (the construct Salt directly under the scope)", s.secret)
	}
}
