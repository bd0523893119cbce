//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// cfnTemplate is a synthesized template, decoded, with the account and region its stack deploys
// to, so that references render as the ARNs they become at deploy time.
type cfnTemplate struct {
	Resources map[string]cfnResource
	Outputs   map[string]struct{ Value any }
	Account   string
	Region    string
}

type cfnResource struct {
	Type           string
	Properties     map[string]any
	DeletionPolicy string
}

// loadTemplate decodes stack name's template from the assembly, with its account and region
// from the assembly's manifest.
func loadTemplate(t *testing.T, a assembly, name string) *cfnTemplate {
	t.Helper()
	return decodeTemplate(t, a.dir, name, a.template(t, name))
}

func decodeTemplate(t *testing.T, dir, name string, raw []byte) *cfnTemplate {
	t.Helper()
	var tmpl cfnTemplate
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Artifacts map[string]struct{ Environment string }
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	env := strings.TrimPrefix(m.Artifacts[name].Environment, "aws://")
	account, region, ok := strings.Cut(env, "/")
	if !ok || account == "" || strings.HasPrefix(account, "unknown") || region == "" || strings.HasPrefix(region, "unknown") {
		t.Fatalf("stack %s has environment %q; the checks need a fixed account and region", name, m.Artifacts[name].Environment)
	}
	tmpl.Account, tmpl.Region = account, region
	return &tmpl
}

// ofType returns the logical IDs of the resources of type typ, sorted.
func (tp *cfnTemplate) ofType(typ string) []string {
	var ids []string
	for id, r := range tp.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// arn is the ARN that resource id has once deployed. Physical names are generated at deploy
// time; the logical ID stands in for them.
func (tp *cfnTemplate) arn(id string) string {
	r, ok := tp.Resources[id]
	if !ok {
		return "unknown:" + id
	}
	p, acct, reg := "arn:aws:", tp.Account, tp.Region
	switch r.Type {
	case "AWS::SNS::Topic":
		return p + "sns:" + reg + ":" + acct + ":" + id
	case "AWS::KMS::Key":
		return p + "kms:" + reg + ":" + acct + ":key/" + id
	case "AWS::SQS::Queue":
		return p + "sqs:" + reg + ":" + acct + ":" + id
	case "AWS::Events::Rule":
		return p + "events:" + reg + ":" + acct + ":rule/" + id
	case "AWS::CloudWatch::Alarm":
		return p + "cloudwatch:" + reg + ":" + acct + ":alarm:" + id
	case "AWS::StepFunctions::StateMachine":
		return p + "states:" + reg + ":" + acct + ":stateMachine:" + id
	case "AWS::IAM::Role":
		return p + "iam::" + acct + ":role/" + id
	case "AWS::Lambda::Function":
		return p + "lambda:" + reg + ":" + acct + ":function:" + id
	}
	return p + strings.ToLower(strings.ReplaceAll(r.Type, "::", "-")) + ":" + reg + ":" + acct + ":" + id
}

// render writes a CloudFormation value as the text it becomes at deploy time: pseudo parameters
// as the stack's partition, account and region, references to ARNs as those ARNs (arn), other
// references as "ref:ID" or "getatt:ID.Attribute".
func (tp *cfnTemplate) render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok && len(x) == 1 {
			switch ref {
			case "AWS::Partition":
				return "aws"
			case "AWS::Region":
				return tp.Region
			case "AWS::AccountId":
				return tp.Account
			case "AWS::URLSuffix":
				return "amazonaws.com"
			}
			switch tp.Resources[ref].Type {
			case "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine":
				return tp.arn(ref)
			}
			return "ref:" + ref
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 && len(x) == 1 {
			id, _ := att[0].(string)
			if att[1] == "Arn" {
				return tp.arn(id)
			}
			return fmt.Sprintf("getatt:%s.%v", id, att[1])
		}
		if sub, ok := x["Fn::Sub"].(string); ok && len(x) == 1 {
			return strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", tp.Region,
				"${AWS::AccountId}", tp.Account, "${AWS::URLSuffix}", "amazonaws.com").Replace(sub)
		}
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 && len(x) == 1 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				out[i] = tp.render(p)
			}
			return strings.Join(out, sep)
		}
	}
	return fmt.Sprintf("unrenderable:%v", v)
}

// list reads an IAM field that is one value or a list of values.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// statement is one IAM policy statement, its values rendered.
type statement struct {
	Sid        string
	Effect     string
	Principals []string // "*", "service:NAME" or "aws:ARN"; nil in an identity policy
	Actions    []string
	Resources  []string
	// Condition is operator -> key -> values.
	Condition map[string]map[string][]string
	// Raw is the statement as written, for messages.
	Raw string
}

// statements renders the Statement list of a policy document.
func (tp *cfnTemplate) statements(doc any) []statement {
	d, _ := doc.(map[string]any)
	var out []statement
	for _, s := range list(d["Statement"]) {
		st, _ := s.(map[string]any)
		raw, _ := json.Marshal(st)
		r := statement{Effect: fmt.Sprint(st["Effect"]), Raw: string(raw)}
		r.Sid, _ = st["Sid"].(string)
		if st["NotAction"] != nil || st["NotResource"] != nil || st["NotPrincipal"] != nil {
			// The checks below do not model these; a policy here has no business using them.
			r.Effect = "Unsupported"
		}
		switch p := st["Principal"].(type) {
		case nil:
		case string:
			r.Principals = append(r.Principals, p)
		case map[string]any:
			for kind, vals := range p {
				for _, v := range list(vals) {
					r.Principals = append(r.Principals, strings.ToLower(kind)+":"+tp.render(v))
				}
			}
		}
		for _, a := range list(st["Action"]) {
			r.Actions = append(r.Actions, tp.render(a))
		}
		for _, res := range list(st["Resource"]) {
			r.Resources = append(r.Resources, tp.render(res))
		}
		if c, ok := st["Condition"].(map[string]any); ok {
			r.Condition = map[string]map[string][]string{}
			for op, keys := range c {
				km, _ := keys.(map[string]any)
				r.Condition[op] = map[string][]string{}
				for k, vals := range km {
					for _, v := range list(vals) {
						r.Condition[op][strings.ToLower(k)] = append(r.Condition[op][strings.ToLower(k)], tp.render(v))
					}
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// request is what a policy is asked: may principal do action on resource, with the request
// context keys (lower case) that the calling service sends.
type request struct {
	Principal string
	Action    string
	Resource  string
	Context   map[string]string
}

// allows reports whether the statements allow req: an Allow matches and no Deny does. Only the
// condition operators kpilake's policies use are modelled; any other fails closed, so an
// unexpected one makes the checks fail instead of passing by accident.
func allows(stmts []statement, req request) bool {
	allowed := false
	for _, s := range stmts {
		if !s.matches(req) {
			continue
		}
		switch s.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func (s statement) matches(req request) bool {
	if s.Principals != nil && !anyMatch(s.Principals, req.Principal, principalMatch) {
		return false
	}
	if !anyMatch(s.Actions, req.Action, func(p, v string) bool { return glob(strings.ToLower(p), strings.ToLower(v)) }) ||
		!anyMatch(s.Resources, req.Resource, glob) {
		return false
	}
	for op, keys := range s.Condition {
		for key, want := range keys {
			got, present := req.Context[key]
			if !conditionHolds(op, want, got, present) {
				return false
			}
		}
	}
	return true
}

func principalMatch(pattern, principal string) bool {
	return pattern == "*" || pattern == "aws:*" || pattern == principal
}

func anyMatch(patterns []string, v string, match func(p, v string) bool) bool {
	for _, p := range patterns {
		if match(p, v) {
			return true
		}
	}
	return false
}

// conditionHolds evaluates one condition key: a value that the request lacks fails every
// operator but the ...IfExists and the negated ones.
func conditionHolds(op string, want []string, got string, present bool) bool {
	base, ifExists := strings.CutSuffix(op, "IfExists")
	negated := false
	switch base {
	case "StringNotEquals", "ArnNotEquals", "StringNotLike", "ArnNotLike":
		// A negated operator holds when the key is absent, as in IAM.
		base, negated = strings.Replace(base, "Not", "", 1), true
	}
	if !present {
		return ifExists || negated
	}
	var match func(p, v string) bool
	switch base {
	case "StringEquals", "ArnEquals", "Bool":
		match = func(p, v string) bool { return p == v }
	case "StringLike", "ArnLike":
		match = glob
	default:
		return false
	}
	return anyMatch(want, got, match) != negated
}

// glob matches IAM wildcards: * any run of characters, ? one character.
func glob(pattern, v string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(v)
}

func TestAllows_EvaluatesLikeIAM(t *testing.T) {
	tp := &cfnTemplate{Account: "111111111111", Region: "ap-northeast-1", Resources: map[string]cfnResource{}}
	doc := map[string]any{"Statement": []any{
		map[string]any{"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": "arn:aws:sns:r:a:t",
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
		map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
			"Resource": "arn:aws:sns:r:a:t", "Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": "111111111111"},
				"ArnLike":      map[string]any{"aws:SourceArn": "arn:aws:cloudwatch:r:111111111111:alarm:*"},
			}},
		map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": []any{"events.amazonaws.com"}}, "Action": "kms:GenerateDataKey*", "Resource": "*"},
	}}
	stmts := tp.statements(doc)
	ctx := func(account, arn string) map[string]string {
		return map[string]string{"aws:sourceaccount": account, "aws:sourcearn": arn, "aws:securetransport": "true"}
	}
	tests := []struct {
		name string
		req  request
		want bool
	}{
		{"alarm of the account", request{"service:cloudwatch.amazonaws.com", "sns:Publish", "arn:aws:sns:r:a:t", ctx("111111111111", "arn:aws:cloudwatch:r:111111111111:alarm:x")}, true},
		{"alarm of another account", request{"service:cloudwatch.amazonaws.com", "sns:Publish", "arn:aws:sns:r:a:t", ctx("222222222222", "arn:aws:cloudwatch:r:222222222222:alarm:x")}, false},
		{"alarm without source keys", request{"service:cloudwatch.amazonaws.com", "sns:Publish", "arn:aws:sns:r:a:t", nil}, false},
		{"without TLS", request{"service:cloudwatch.amazonaws.com", "sns:Publish", "arn:aws:sns:r:a:t",
			map[string]string{"aws:sourceaccount": "111111111111", "aws:sourcearn": "arn:aws:cloudwatch:r:111111111111:alarm:x", "aws:securetransport": "false"}}, false},
		{"another principal", request{"service:events.amazonaws.com", "sns:Publish", "arn:aws:sns:r:a:t", ctx("111111111111", "arn:aws:cloudwatch:r:111111111111:alarm:x")}, false},
		{"another action", request{"service:cloudwatch.amazonaws.com", "sns:Subscribe", "arn:aws:sns:r:a:t", ctx("111111111111", "arn:aws:cloudwatch:r:111111111111:alarm:x")}, false},
		{"action wildcard", request{"service:events.amazonaws.com", "kms:GenerateDataKey", "arn:aws:kms:r:a:key/k", nil}, true},
		{"action outside the wildcard", request{"service:events.amazonaws.com", "kms:Decrypt", "arn:aws:kms:r:a:key/k", nil}, false},
	}
	for _, tc := range tests {
		if got := allows(stmts, tc.req); got != tc.want {
			t.Errorf("%s: allows = %v, want %v", tc.name, got, tc.want)
		}
	}
}
