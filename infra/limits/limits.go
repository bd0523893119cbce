// Package limits checks synthesized templates against the AWS service limits that would otherwise
// fail their deployment (or, for a dashboard, its update) halfway through: resources and bytes per
// template, IAM policy sizes and counts, alarm metrics and actions, dashboard widgets, state
// machine definitions and EventBridge targets. An environment that outgrows one fails synth with a
// message that names the count, the limit and the fix, instead of a CloudFormation rollback.
package limits

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Limits of AWS services that a kpilake template can reach as an environment grows. Where AWS
// documents a quota as adjustable, the value is the default, the one an account starts with.
const (
	// MaxResources is CloudFormation's resources per stack (nested stacks count apart).
	MaxResources = 500
	// MaxTemplateBytes is CloudFormation's template size for a template uploaded to S3, as the
	// CDK CLI uploads every template larger than 51,200 bytes (and every nested stack's): 1 MB,
	// which the CDK counts as 1,000,000 bytes.
	MaxTemplateBytes = 1_000_000
	// MaxRoleInlinePolicyBytes is IAM's aggregate size of a role's inline policies (whitespace
	// not counted).
	MaxRoleInlinePolicyBytes = 10_240
	// MaxManagedPolicyBytes is IAM's size of one managed policy (whitespace not counted).
	MaxManagedPolicyBytes = 6_144
	// MaxManagedPoliciesPerRole is IAM's managed policies attached to one role (default quota).
	MaxManagedPoliciesPerRole = 10
	// MaxAlarmMetrics is the metrics (and expressions) of one CloudWatch metric-math alarm.
	MaxAlarmMetrics = 10
	// MaxAlarmActions is the actions of one alarm state (AlarmActions, OKActions, ...).
	MaxAlarmActions = 5
	// MaxDashboardWidgets is CloudWatch's widgets per dashboard.
	MaxDashboardWidgets = 500
	// MaxWidgetMetrics is CloudWatch's metrics (and expressions) per graph widget.
	MaxWidgetMetrics = 500
	// MaxAlarmStatusWidgetAlarms is CloudWatch's alarms per alarm status widget.
	MaxAlarmStatusWidgetAlarms = 100
	// MaxStateMachineDefinitionBytes is Step Functions' state machine definition size.
	MaxStateMachineDefinitionBytes = 1_048_576
	// MaxStatePayloadBytes is Step Functions' input or output of a state or an execution.
	MaxStatePayloadBytes = 262_144
	// MaxRuleTargets is EventBridge's targets per rule.
	MaxRuleTargets = 5
	// MaxFunctionEnvironmentBytes is Lambda's size of a function's environment variables, keys
	// and values together.
	MaxFunctionEnvironmentBytes = 4_096
	// MinReferenceBytes is what a reference ({"Ref"}, {"Fn::GetAtt"}) in a function's environment
	// counts for: the shortest name CloudFormation generates for the resources kpilake passes
	// there (a Glue crawler's: its logical ID, a dash and 12 characters). A function's check is
	// therefore a lower bound: a synth that fails it would fail to deploy.
	MinReferenceBytes = 28
	// MaxEventPatternBytes is EventBridge's size of a rule's event pattern (default quota; it can
	// be raised to 4,096), counted as compact JSON with each reference as MinReferenceBytes.
	MaxEventPatternBytes = 2_048
)

// Fixes say what a user can change when a limit is crossed, in the words of the environment's
// configuration (cdk.json keys, queries/). A field left empty gets a generic sentence.
type Fixes struct {
	// Growth is the fix when a template grows with the environment (resources, bytes, widgets).
	Growth string
	// Environment is the fix when a function's environment variables outgrow Lambda's limit.
	Environment string
}

func (f Fixes) growth() string {
	if f.Growth != "" {
		return f.Growth
	}
	return "split the environment: move some sources or KPIs to another environment"
}

func (f Fixes) environment() string {
	if f.Environment != "" {
		return f.Environment
	}
	return "a function's environment grows with a source's tables and with the environment's sources: split a source with many tables into two, or move sources to another environment"
}

// Problem is one limit crossed by one resource or template.
type Problem struct {
	// Where is the template (stack) and, if one, the resource's logical ID.
	Where string
	// What is counted ("resources", "bytes of its inline policies", ...).
	What string
	// Count is the synthesized count; Limit the service's.
	Count, Limit int
	// Service names the limit's owner and scope ("CloudFormation allows ... per stack").
	Service string
	// Fix says what to change.
	Fix string
}

func (p Problem) Error() string {
	return fmt.Sprintf("%s: %d %s, over the limit of %d (%s); %s", p.Where, p.Count, p.What, p.Limit, p.Service, p.Fix)
}

// Error lists every limit crossed by an assembly.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the environment would not deploy: %d AWS limit(s) crossed", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p.Error())
	}
	return b.String()
}

// CheckDir checks every template (stacks and nested stacks) of the cloud assembly in dir.
func CheckDir(dir string, fixes Fixes) error {
	// A pipeline's stages are assemblies of their own (assembly-<stage>/), deployed alike.
	var files []string
	for _, pattern := range []string{"*.template.json", filepath.Join("assembly-*", "*.template.json")} {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		files = append(files, matches...)
	}
	sort.Strings(files)
	var problems []Problem
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("limits: %w", err)
		}
		ps, err := CheckTemplate(strings.TrimSuffix(filepath.Base(f), ".template.json"), raw, fixes)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

type template struct {
	Resources map[string]resource `json:"Resources"`
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// CheckTemplate checks one template, named name, against every limit of this package.
func CheckTemplate(name string, raw []byte, fixes Fixes) ([]Problem, error) {
	var t template
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("limits: template %s: %w", name, err)
	}
	growth := fixes.Growth
	if growth == "" {
		growth = "split the environment: move some sources or KPIs to another environment"
	}
	var ps []Problem
	add := func(where, what string, count, limit int, service, fix string) {
		if count > limit {
			ps = append(ps, Problem{Where: where, What: what, Count: count, Limit: limit, Service: service, Fix: fix})
		}
	}
	add(name, "resources", len(t.Resources), MaxResources, "CloudFormation, per stack", growth)
	add(name, "template bytes", len(raw), MaxTemplateBytes, "CloudFormation, a template uploaded to S3", growth)

	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	inline := map[string]int{}  // role -> bytes of its inline policies
	managed := map[string]int{} // role -> managed policies attached
	kpilakeDefect := "kpilake's grants should not grow with the environment: please report it, with the environment's size"
	for _, id := range ids {
		r := t.Resources[id]
		where := name + "/" + id
		switch r.Type {
		case "AWS::IAM::Role":
			for _, p := range list(r.Properties["Policies"]) {
				inline[id] += compactSize(p)
			}
			managed[id] += len(list(r.Properties["ManagedPolicyArns"]))
		case "AWS::IAM::Policy":
			for _, role := range refs(r.Properties["Roles"]) {
				inline[role] += compactSize(r.Properties["PolicyDocument"])
			}
		case "AWS::IAM::ManagedPolicy":
			add(where, "bytes of policy", compactSize(r.Properties["PolicyDocument"]), MaxManagedPolicyBytes, "IAM, per managed policy", kpilakeDefect)
			for _, role := range refs(r.Properties["Roles"]) {
				managed[role]++
			}
		case "AWS::CloudWatch::Alarm":
			add(where, "metrics", len(list(r.Properties["Metrics"])), MaxAlarmMetrics, "CloudWatch, per metric-math alarm", kpilakeDefect)
			for _, k := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
				add(where, k, len(list(r.Properties[k])), MaxAlarmActions, "CloudWatch, per alarm state", kpilakeDefect)
			}
		case "AWS::CloudWatch::Dashboard":
			ps = append(ps, checkDashboard(where, r.Properties["DashboardBody"], growth)...)
		case "AWS::StepFunctions::StateMachine":
			add(where, "bytes of definition", len(joined(r.Properties["DefinitionString"])), MaxStateMachineDefinitionBytes,
				"Step Functions, per state machine", growth)
		case "AWS::Lambda::Function":
			env, _ := r.Properties["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			n := 0
			for k, v := range vars {
				n += len(k) + minSize(v)
			}
			add(where, "bytes of environment variables", n, MaxFunctionEnvironmentBytes, "Lambda, per function", fixes.environment())
		case "AWS::Events::Rule":
			if pattern, ok := r.Properties["EventPattern"]; ok {
				add(where, "bytes of event pattern", minJSONSize(pattern), MaxEventPatternBytes, "EventBridge, per rule (default quota)", fixes.growth())
			}
			add(where, "targets", len(list(r.Properties["Targets"])), MaxRuleTargets, "EventBridge, per rule", kpilakeDefect)
		}
	}
	for _, role := range sortedKeys(inline) {
		add(name+"/"+role, "bytes of inline policies", inline[role], MaxRoleInlinePolicyBytes, "IAM, per role", kpilakeDefect)
	}
	for _, role := range sortedKeys(managed) {
		add(name+"/"+role, "managed policies", managed[role], MaxManagedPoliciesPerRole, "IAM, per role (default quota)", kpilakeDefect)
	}
	return ps, nil
}

// checkDashboard counts the widgets of a dashboard body, the metrics of each graph and the alarms
// of each alarm status widget. CloudFormation references in the body sit inside JSON strings, so
// the body is read with each replaced by a placeholder.
func checkDashboard(where string, body any, fix string) []Problem {
	var d struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string `json:"title"`
				Metrics []any  `json:"metrics"`
				Alarms  []any  `json:"alarms"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(joined(body)), &d); err != nil {
		return []Problem{{Where: where, What: "unreadable dashboard body (" + err.Error() + ")", Count: 1, Limit: 0,
			Service: "kpilake", Fix: "report it"}}
	}
	var ps []Problem
	if n := len(d.Widgets); n > MaxDashboardWidgets {
		ps = append(ps, Problem{Where: where, What: "widgets", Count: n, Limit: MaxDashboardWidgets, Service: "CloudWatch, per dashboard", Fix: fix})
	}
	for _, w := range d.Widgets {
		at := fmt.Sprintf("%s widget %q", where, w.Properties.Title)
		if n := len(w.Properties.Metrics); n > MaxWidgetMetrics {
			ps = append(ps, Problem{Where: at, What: "metrics", Count: n, Limit: MaxWidgetMetrics, Service: "CloudWatch, per graph widget", Fix: fix})
		}
		if n := len(w.Properties.Alarms); n > MaxAlarmStatusWidgetAlarms {
			ps = append(ps, Problem{Where: at, What: "alarms", Count: n, Limit: MaxAlarmStatusWidgetAlarms, Service: "CloudWatch, per alarm status widget", Fix: fix})
		}
	}
	return ps
}

// minSize is the least number of bytes a resolved value can have: its literal parts, and
// MinReferenceBytes for each reference.
func minSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			parts := list(j[1])
			n := len(sep) * max(len(parts)-1, 0)
			for _, p := range parts {
				n += minSize(p)
			}
			return n
		}
		return MinReferenceBytes
	case nil:
		return 0
	}
	raw, _ := json.Marshal(v)
	return len(raw)
}

// minJSONSize is the least size of v as compact JSON once deployed: each reference resolved to a
// string of MinReferenceBytes.
func minJSONSize(v any) int {
	var resolve func(v any) any
	resolve = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				for k := range x {
					if k == "Ref" || strings.HasPrefix(k, "Fn::") {
						return strings.Repeat("x", MinReferenceBytes)
					}
				}
			}
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = resolve(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = resolve(e)
			}
			return out
		}
		return v
	}
	return compactSize(resolve(v))
}

// joined renders a string property that may be an Fn::Join, with each reference replaced by a
// placeholder as long as a typical resolved value (an ARN), so that sizes stay close to deployed.
func joined(v any) string {
	const placeholder = "arn:aws:service:ap-northeast-1:123456789012:resource/placeholder-0123456789"
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			var parts []string
			for _, p := range list(j[1]) {
				parts = append(parts, joined(p))
			}
			return strings.Join(parts, sep)
		}
	}
	return placeholder
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// refs are the logical IDs of {"Ref": id} entries of a list.
func refs(v any) []string {
	var out []string
	for _, e := range list(v) {
		if m, ok := e.(map[string]any); ok {
			if id, ok := m["Ref"].(string); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// compactSize is the size of v as JSON without whitespace, as IAM counts a policy.
func compactSize(v any) int {
	raw, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(raw)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// As reports whether err holds an *Error, and returns it.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
