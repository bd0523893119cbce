//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/stack"
)

// accountAdmin stands for any principal of the account that the template does not define, with
// an identity policy that allows everything: a narrow resource is one it still cannot read.
func (tp *cfnTemplate) accountAdmin() string {
	return "arn:aws:iam::" + tp.Account + ":role/SomeAccountAdministrator"
}

// allowAll is the identity policy of accountAdmin.
var allowAll = []statement{{Effect: "Allow", Actions: []string{"*"}, Resources: []string{"*"}}}

// roleRef is the logical ID of the role whose ARN v names (a Fn::GetAtt), or "".
func roleRef(tp *cfnTemplate, v any) string {
	m, _ := v.(map[string]any)
	att, _ := m["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" || tp.Resources[fmt.Sprint(att[0])].Type != "AWS::IAM::Role" {
		return ""
	}
	return fmt.Sprint(att[0])
}

// keyRef is the logical ID of the stack's key that v names (its ARN or Ref), or "".
func keyRef(tp *cfnTemplate, v any) string {
	m, _ := v.(map[string]any)
	id, _ := m["Ref"].(string)
	if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) == 2 && att[1] == "Arn" {
		id = fmt.Sprint(att[0])
	}
	if tp.Resources[id].Type != "AWS::KMS::Key" {
		return ""
	}
	return id
}

// keyAllows reports whether principalArn, whose identity policy is ident, may call action on key
// with the request context ctx (to which aws:PrincipalArn is added). As in KMS, the key policy
// decides: it allows the principal itself, or it delegates to the account (Principal root) and
// the identity policy allows too; an explicit Deny in either wins.
func keyAllows(tp *cfnTemplate, key, principalArn string, ident []statement, action string, ctx map[string]string) bool {
	c := map[string]string{"aws:principalarn": principalArn}
	for k, v := range ctx {
		c[k] = v
	}
	policy := tp.statements(tp.Resources[key].Properties["KeyPolicy"])
	req := request{Principal: "aws:" + principalArn, Action: action, Resource: tp.arn(key), Context: c}
	if denies(policy, req) || denies(ident, req) {
		return false
	}
	if allows(policy, req) {
		return true
	}
	asAccount := req
	asAccount.Principal = "aws:arn:aws:iam::" + tp.Account + ":root"
	return allows(policy, asAccount) && allows(ident, req)
}

// viaService is the KMS context of a request that service makes for its caller.
func viaService(tp *cfnTemplate, service string) map[string]string {
	return map[string]string{"kms:viaservice": service + "." + tp.Region + ".amazonaws.com"}
}

// references lists the resources, other than IAM policies and id itself, whose properties name
// resource id.
func references(tp *cfnTemplate, id string) []string {
	var out []string
	for rid, r := range tp.Resources {
		if rid == id || r.Type == "AWS::IAM::Policy" {
			continue
		}
		raw, _ := json.Marshal(r.Properties)
		if strings.Contains(string(raw), `"`+id+`"`) {
			out = append(out, rid)
		}
	}
	sort.Strings(out)
	return out
}

// wantDeletionPolicy is the DeletionPolicy of the resources that follow an environment's
// removalPolicy.
func wantDeletionPolicy(e *config.Environment) string {
	if e.RemovalPolicy == config.Destroy {
		return "Delete"
	}
	return "Retain"
}

// saltReaders derives from the template the salt secrets and, for each, the roles of the
// extraction functions (those that run the extract handler, EnvSource) that name it in
// EnvSaltSecretARN.
func saltReaders(t *testing.T, tp *cfnTemplate) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, id := range tp.ofType("AWS::Lambda::Function") {
		props := tp.Resources[id].Properties
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if _, ok := vars[contract.EnvSource]; !ok {
			continue
		}
		ref, _ := vars[contract.EnvSaltSecretARN].(map[string]any)
		secret, _ := ref["Ref"].(string)
		if tp.Resources[secret].Type != "AWS::SecretsManager::Secret" {
			t.Fatalf("extraction function %s: %s is %v, not a secret of the stack", id, contract.EnvSaltSecretARN, vars[contract.EnvSaltSecretARN])
		}
		role := roleRef(tp, props["Role"])
		if role == "" {
			t.Fatalf("extraction function %s: Role %v is not a role of the stack", id, props["Role"])
		}
		out[secret] = append(out[secret], role)
	}
	return out
}

// secretPolicy is every statement of the resource policies of secret.
func secretPolicy(tp *cfnTemplate, secret string) []statement {
	var out []statement
	for _, id := range tp.ofType("AWS::SecretsManager::ResourcePolicy") {
		props := tp.Resources[id].Properties
		if m, ok := props["SecretId"].(map[string]any); ok && m["Ref"] == secret {
			out = append(out, tp.statements(props["ResourcePolicy"])...)
		}
	}
	return out
}

// saltProblems walks every principal that could read secret (each role of the template, any
// other administrator of the account, the break-glass role) through the secret's resource
// policy, its identity policy and the key policy of the secret's key, and compares who can read
// it with who must: the extraction roles, and the break-glass role where one is configured.
func saltProblems(tp *cfnTemplate, e *config.Environment, secret string, extractors []string) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	props := tp.Resources[secret].Properties
	key := keyRef(tp, props["KmsKeyId"])
	if key == "" {
		return []string{fmt.Sprintf("salt %s is not encrypted with a key of the stack (KmsKeyId %v): anyone who may get it may decrypt it", secret, props["KmsKeyId"])}
	}
	if tp.Resources[key].Properties["EnableKeyRotation"] != true {
		report("salt key %s does not rotate", key)
	}
	if got, want := tp.Resources[key].DeletionPolicy, wantDeletionPolicy(e); got != want {
		report("salt key %s has DeletionPolicy %q; the environment's removalPolicy wants %q", key, got, want)
	}
	if refs := references(tp, key); !slices.Equal(refs, []string{secret}) {
		report("salt key %s is named by %v; it must be the salt's own key, used by nothing else", key, refs)
	}

	policy := secretPolicy(tp, secret)
	secretArn := tp.render(map[string]any{"Ref": secret})
	reads := func(principalArn string, ident []statement) bool {
		req := request{Principal: "aws:" + principalArn, Action: "secretsmanager:GetSecretValue", Resource: secretArn,
			Context: map[string]string{"aws:principalarn": principalArn}}
		if denies(policy, req) || !(allows(ident, req) || allows(policy, req)) {
			return false
		}
		// Secrets Manager decrypts the value with the caller's permissions on the key.
		return keyAllows(tp, key, principalArn, ident, "kms:Decrypt", viaService(tp, "secretsmanager"))
	}

	want := map[string]bool{}
	for _, r := range extractors {
		want[tp.arn(r)] = true
	}
	got := map[string]bool{}
	for _, r := range tp.ofType("AWS::IAM::Role") {
		if reads(tp.arn(r), identityPolicy(tp, r)) {
			got[tp.arn(r)] = true
		}
	}
	if reads(tp.accountAdmin(), allowAll) {
		got[tp.accountAdmin()] = true
	}
	if bg := e.Lake.BreakGlassRoleArn; bg != "" {
		want[bg] = true
		if reads(bg, allowAll) {
			got[bg] = true
		}
	}
	for p := range got {
		if !want[p] {
			report("%s can read the salt %s, but it is neither an extraction role nor the break-glass role", p, secret)
		}
	}
	for p := range want {
		if !got[p] {
			report("%s cannot read the salt %s (GetSecretValue and kms:Decrypt via Secrets Manager), though it must", p, secret)
		}
	}
	return problems
}

// TestSalt_OnlyTheExtractionRolesReadIt: the hash salt (the HMAC key of the hashed columns) has a
// key of its own, and only the extraction functions' roles (and the configured break-glass role)
// can read it: not the other roles of the stack, and not an administrator of the account.
func TestSalt_OnlyTheExtractionRolesReadIt(t *testing.T) {
	cfg, err := config.Parse(cdkContext(t)[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	a := synthAll(t)
	for _, e := range mustSelect(t, cfg) {
		name := stack.Name(e.Name)
		t.Run(name, func(t *testing.T) {
			tp := loadTemplate(t, a, name)
			salts := saltReaders(t, tp)
			if len(e.Sources) > 0 && len(salts) == 0 {
				t.Fatal("the environment extracts sources, yet no extraction function names a salt")
			}
			for secret, roles := range salts {
				for _, p := range saltProblems(tp, e, secret, roles) {
					t.Error(p)
				}
			}
		})
	}
}

// bucketKeys maps each bucket of the template to the key of its default encryption ("" for
// SSE-S3).
func bucketKeys(tp *cfnTemplate) map[string]string {
	out := map[string]string{}
	for _, id := range tp.ofType("AWS::S3::Bucket") {
		enc, _ := tp.Resources[id].Properties["BucketEncryption"].(map[string]any)
		out[id] = ""
		for _, rule := range list(enc["ServerSideEncryptionConfiguration"]) {
			def, _ := rule.(map[string]any)["ServerSideEncryptionByDefault"].(map[string]any)
			out[id] = keyRef(tp, def["KMSMasterKeyID"])
		}
	}
	return out
}

// outputBucket is the bucket that output names (by Ref).
func outputBucket(t *testing.T, tp *cfnTemplate, output string) string {
	t.Helper()
	m, _ := tp.Outputs[output].Value.(map[string]any)
	id, _ := m["Ref"].(string)
	if tp.Resources[id].Type != "AWS::S3::Bucket" {
		t.Fatalf("output %s is %v, not a bucket of the stack", output, tp.Outputs[output].Value)
	}
	return id
}

// objectActions are what reading or writing a bucket's objects takes; either needs its key.
var objectActions = []string{"s3:GetObject", "s3:PutObject"}

// managedObjectAccess says, for each AWS managed policy that a role of the stack attaches,
// whether the walk must find the buckets it reaches elsewhere in the template. A managed policy
// is not in the template; one that is not listed here fails the walk rather than pass unseen.
var managedObjectAccess = map[string]string{
	// s3:GetObject* and s3:PutObject* on any bucket: the role backs up and restores the
	// buckets of the backup selections that name it.
	"AWSBackupServiceRolePolicyForS3Backup":  "backup selections",
	"AWSBackupServiceRolePolicyForS3Restore": "backup selections",
	// CloudWatch Logs only (CDK's custom-resource providers).
	"AWSLambdaBasicExecutionRole": "",
}

// backedUpBuckets is the set of buckets in the backup selections whose role is role.
func backedUpBuckets(tp *cfnTemplate, role string) map[string]bool {
	out := map[string]bool{}
	for _, id := range tp.ofType("AWS::Backup::BackupSelection") {
		sel, _ := tp.Resources[id].Properties["BackupSelection"].(map[string]any)
		if roleRef(tp, sel["IamRoleArn"]) != role {
			continue
		}
		for _, r := range list(sel["Resources"]) {
			m, _ := r.(map[string]any)
			if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) == 2 && tp.Resources[fmt.Sprint(att[0])].Type == "AWS::S3::Bucket" {
				out[fmt.Sprint(att[0])] = true
			}
		}
	}
	return out
}

// touchedBuckets is the set of buckets whose objects role may read or write, by its identity
// policy, its managed policies and the buckets' policies.
func touchedBuckets(t *testing.T, tp *cfnTemplate, role string, keys map[string]string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range list(tp.Resources[role].Properties["ManagedPolicyArns"]) {
		arn := tp.render(m)
		scope, ok := managedObjectAccess[arn[strings.LastIndex(arn, "/")+1:]]
		if !ok {
			t.Fatalf("role %s attaches managed policy %s; add what it allows on objects to managedObjectAccess", role, arn)
		}
		if scope == "backup selections" {
			for b := range backedUpBuckets(tp, role) {
				out[b] = true
			}
		}
	}
	ident := identityPolicy(tp, role)
	principal := tp.arn(role)
	for b := range keys {
		stmts := append(slices.Clone(ident), bucketPolicy(tp, b)...)
		for _, action := range objectActions {
			for _, s := range stmts {
				if s.Effect != "Allow" {
					continue
				}
				if s.Principals != nil && !anyMatch(s.Principals, "aws:"+principal, principalMatch) {
					continue
				}
				if !anyMatch(s.Actions, action, func(p, v string) bool { return glob(strings.ToLower(p), strings.ToLower(v)) }) {
					continue
				}
				for _, r := range s.Resources {
					if r == "*" || strings.HasPrefix(r, tp.arn(b)+"/") {
						out[b] = true
					}
				}
			}
		}
	}
	return out
}

// bucketPolicy is every statement of the policies of bucket.
func bucketPolicy(tp *cfnTemplate, bucket string) []statement {
	var out []statement
	for _, id := range tp.ofType("AWS::S3::BucketPolicy") {
		props := tp.Resources[id].Properties
		if m, ok := props["Bucket"].(map[string]any); ok && m["Ref"] == bucket {
			out = append(out, tp.statements(props["PolicyDocument"])...)
		}
	}
	return out
}

// decryptableKeys is the set of the given keys that role may decrypt with, directly or through
// S3.
func decryptableKeys(tp *cfnTemplate, role string, keys map[string]bool) map[string]bool {
	out := map[string]bool{}
	ident := identityPolicy(tp, role)
	for k := range keys {
		for _, ctx := range []map[string]string{nil, viaService(tp, "s3")} {
			if keyAllows(tp, k, tp.arn(role), ident, "kms:Decrypt", ctx) {
				out[k] = true
			}
		}
	}
	return out
}

// isDefaultAdminStatement reports whether s is the statement that CDK puts in every key policy:
// the account (Principal root) may do anything with the key. It grants no principal anything by
// itself; it lets the account's IAM policies grant use of the key, so who may decrypt is decided
// by the identity policies, which the walk reads.
func isDefaultAdminStatement(tp *cfnTemplate, s statement) bool {
	return s.Effect == "Allow" && s.Condition == nil && slices.Equal(s.Actions, []string{"kms:*"}) &&
		slices.Equal(s.Principals, []string{"aws:arn:aws:iam::" + tp.Account + ":root"})
}

// lakeKeyProblems walks every role of the template to the buckets whose objects it reads or
// writes and to the bucket keys it can decrypt with. A role may decrypt a bucket key only if it
// touches a bucket under that key: so the readers of the aggregated zone, which do not touch
// the raw zone, cannot decrypt raw data. The raw zone has a key of its own, and that key's
// policy gives nobody a decrypt beyond CDK's administrator statement, which delegates to the IAM
// policies that the walk reads.
func lakeKeyProblems(t *testing.T, tp *cfnTemplate) []string {
	t.Helper()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	keys := bucketKeys(tp)
	raw := outputBucket(t, tp, "RawBucketName")
	rawKey := keys[raw]
	if rawKey == "" {
		return []string{fmt.Sprintf("raw bucket %s is not encrypted with a key of the stack", raw)}
	}
	for _, output := range []string{"AggregatedBucketName", "QueryResultsBucketName"} {
		if b := outputBucket(t, tp, output); keys[b] == rawKey {
			report("bucket %s (%s) shares the raw zone's key %s: whoever reads it can decrypt raw data", b, output, rawKey)
		}
	}
	bucketKeySet := map[string]bool{}
	for _, k := range keys {
		if k != "" {
			bucketKeySet[k] = true
		}
	}
	for _, role := range tp.ofType("AWS::IAM::Role") {
		touched := touchedBuckets(t, tp, role, keys)
		decrypts := decryptableKeys(tp, role, bucketKeySet)
		for k := range decrypts {
			var under []string
			ok := false
			for b, bk := range keys {
				if bk == k {
					under = append(under, b)
					ok = ok || touched[b]
				}
			}
			if !ok {
				sort.Strings(under)
				report("role %s can decrypt with key %s of buckets %v, whose objects it neither reads nor writes", role, k, under)
			}
		}
		for b := range touched {
			if k := keys[b]; k != "" && !decrypts[k] {
				report("role %s reads or writes the objects of bucket %s but cannot decrypt with its key %s", role, b, k)
			}
		}
	}
	for _, s := range tp.statements(tp.Resources[rawKey].Properties["KeyPolicy"]) {
		if s.Effect != "Allow" || isDefaultAdminStatement(tp, s) {
			continue
		}
		for _, p := range s.Principals {
			if strings.HasPrefix(p, "aws:arn:aws:iam::") && strings.Contains(p, ":role/") {
				continue // a role of the stack: the walk above checks it touches the raw zone
			}
			report("raw key %s: its policy allows %s beyond the administrator statement: %s", rawKey, p, s.Raw)
		}
	}
	return problems
}

// TestLakeKeys_ReadersOfAggregatesCannotDecryptRawData: the raw zone is encrypted with a key of its
// own, and only the roles that read or write raw objects (the extractions, the log streams, the
// crawlers, the CTAS runners, the raw zone's backup) can decrypt with it.
func TestLakeKeys_ReadersOfAggregatesCannotDecryptRawData(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			for _, p := range lakeKeyProblems(t, loadTemplate(t, a, name)) {
				t.Error(p)
			}
		})
	}
}

// The checks must bite: each widening of the prod template below is reported.
func TestKeyChecks_ReportWhatIsTooWide(t *testing.T) {
	cfg, err := config.Parse(cdkContext(t)[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	envs := mustSelect(t, cfg)
	e := envs[len(envs)-1]
	a := synthAll(t)
	load := func() *cfnTemplate { return loadTemplate(t, a, stack.Name(e.Name)) }
	mentions := func(problems []string, what string) bool {
		return slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, what) })
	}

	t.Run("a reader of aggregates gets the raw key", func(t *testing.T) {
		tp := load()
		keys := bucketKeys(tp)
		raw, agg := outputBucket(t, tp, "RawBucketName"), outputBucket(t, tp, "AggregatedBucketName")
		var reader string
		for _, r := range tp.ofType("AWS::IAM::Role") {
			if touched := touchedBuckets(t, tp, r, keys); touched[agg] && !touched[raw] {
				reader = r
				break
			}
		}
		if reader == "" {
			t.Fatal("no role touches the aggregated zone without the raw zone; nothing to widen")
		}
		props := tp.Resources[reader].Properties
		props["Policies"] = append(list(props["Policies"]), map[string]any{"PolicyDocument": map[string]any{"Statement": []any{
			map[string]any{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": map[string]any{"Fn::GetAtt": []any{keys[raw], "Arn"}}},
		}}})
		if p := lakeKeyProblems(t, tp); !mentions(p, "role "+reader+" can decrypt with key "+keys[raw]) {
			t.Errorf("role %s may decrypt the raw key, yet the check reports %v", reader, p)
		}
	})

	t.Run("the salt's denies are gone", func(t *testing.T) {
		tp := load()
		for secret, roles := range saltReaders(t, tp) {
			key := keyRef(tp, tp.Resources[secret].Properties["KmsKeyId"])
			for _, id := range append(tp.ofType("AWS::SecretsManager::ResourcePolicy"), key) {
				props := tp.Resources[id].Properties
				for _, field := range []string{"ResourcePolicy", "KeyPolicy"} {
					doc, ok := props[field].(map[string]any)
					if !ok {
						continue
					}
					var kept []any
					for _, st := range list(doc["Statement"]) {
						if st.(map[string]any)["Effect"] != "Deny" {
							kept = append(kept, st)
						}
					}
					doc["Statement"] = kept
				}
			}
			if p := saltProblems(tp, e, secret, roles); !mentions(p, tp.accountAdmin()+" can read the salt") {
				t.Errorf("without its denies an administrator reads the salt, yet the check reports %v", p)
			}
		}
	})

	t.Run("a log group on the raw key", func(t *testing.T) {
		tp := load()
		rawKey := bucketKeys(tp)[outputBucket(t, tp, "RawBucketName")]
		group := tp.ofType("AWS::Logs::LogGroup")[0]
		tp.Resources[group].Properties["KmsKeyId"] = map[string]any{"Fn::GetAtt": []any{rawKey, "Arn"}}
		if p := logsKeyProblems(tp); !mentions(p, "encrypted with 2 keys") {
			t.Errorf("log group %s is on the raw key, yet the check reports %v", group, p)
		}
	})
}

func TestAllows_NegatedConditionsHoldWhenTheKeyIsAbsent(t *testing.T) {
	tp := &cfnTemplate{Account: "111111111111", Region: "ap-northeast-1", Resources: map[string]cfnResource{}}
	stmts := tp.statements(map[string]any{"Statement": []any{
		map[string]any{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
		map[string]any{"Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
			"Condition": map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": []any{"arn:aws:iam::111111111111:role/reader"}}}},
	}})
	for _, tc := range []struct {
		name string
		ctx  map[string]string
		want bool
	}{
		{"the exempt reader", map[string]string{"aws:principalarn": "arn:aws:iam::111111111111:role/reader"}, true},
		{"another role", map[string]string{"aws:principalarn": "arn:aws:iam::111111111111:role/other"}, false},
		{"no principal in the context", nil, false},
	} {
		req := request{Principal: "aws:arn:aws:iam::111111111111:role/x", Action: "kms:Decrypt", Resource: "k", Context: tc.ctx}
		if got := allows(stmts, req); got != tc.want {
			t.Errorf("%s: allows = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// With lake.breakGlassRoleArn set, the break-glass role reads the salt too, and still nobody else.
func TestSalt_BreakGlassRoleReadsItToo(t *testing.T) {
	const breakGlass = "arn:aws:iam::" + snapshotAccount + ":role/kpilake-break-glass"
	ctx := cdkContext(t)
	envs := ctx[config.ContextKey].(map[string]any)["environments"].(map[string]any)
	prod := envs["prod"].(map[string]any)
	lakeCfg, _ := prod["lake"].(map[string]any)
	if lakeCfg == nil {
		lakeCfg = map[string]any{}
		prod["lake"] = lakeCfg
	}
	lakeCfg["breakGlassRoleArn"] = breakGlass
	cfg, err := config.Parse(ctx[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	e, err := cfg.Select("prod")
	if err != nil {
		t.Fatal(err)
	}
	ctx[app.EnvContextKey] = "prod"
	dir := t.TempDir()
	a := variantApp(ctx, dir)
	stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	a.Synth(nil)
	name := *stacks[0].StackName()
	tp := decodeTemplate(t, dir, name, assembly{dir: dir}.template(t, name))
	salts := saltReaders(t, tp)
	if len(salts) == 0 {
		t.Fatal("no salt in the prod template")
	}
	for secret, roles := range salts {
		for _, p := range saltProblems(tp, e[0], secret, roles) {
			t.Error(p)
		}
	}
}
