package limits_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/limits"
)

// resources is a template of n resources built by each; a helper of the cases below.
func resources(n int, each func(i int) map[string]any) map[string]any {
	rs := map[string]any{}
	for i := range n {
		rs[fmt.Sprintf("R%04d", i)] = each(i)
	}
	return rs
}

func res(typ string, props map[string]any) map[string]any {
	return map[string]any{"Type": typ, "Properties": props}
}

// policy is a policy document of about n bytes (compact JSON, as IAM counts it).
func policy(n int) map[string]any {
	doc := func(resource string) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}}}
	}
	empty, _ := json.Marshal(doc(""))
	return doc(strings.Repeat("x", max(0, n-len(empty))))
}

func items(n int, v func(i int) any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v(i)
	}
	return out
}

func dashboard(widgets []any) map[string]any {
	body, _ := json.Marshal(map[string]any{"widgets": widgets})
	// As the CDK writes it: a join around references to alarms.
	return res("AWS::CloudWatch::Dashboard", map[string]any{"DashboardBody": map[string]any{
		"Fn::Join": []any{"", []any{string(body)}}}})
}

// Each limit, driven one past it (and, for the sizes, by a margin), fails with the count, the
// limit, the service and a fix; the same template at the limit passes.
func TestCheckTemplate_EachLimitFailsPastItAndNamesTheFix(t *testing.T) {
	role := res("AWS::IAM::Role", map[string]any{})
	for _, tc := range []struct {
		name string
		// template builds the resources with n of the counted thing.
		template func(n int) map[string]any
		limit    int
		want     string
	}{
		{"resources per stack", func(n int) map[string]any {
			return resources(n, func(int) map[string]any { return res("AWS::SQS::Queue", nil) })
		}, limits.MaxResources, "resources, over the limit of 500 (CloudFormation, per stack)"},
		{"template bytes", func(n int) map[string]any {
			// One parameter-free resource whose description pads the template to about n bytes.
			return map[string]any{"Big": res("AWS::SNS::Topic", map[string]any{"DisplayName": strings.Repeat("x", n-80)})}
		}, limits.MaxTemplateBytes, "template bytes, over the limit of 1000000 (CloudFormation, a template uploaded to S3)"},
		{"inline policies per role", func(n int) map[string]any {
			// Statements of about 100 bytes: n/100 of them.
			return map[string]any{"Role": role, "Policy": res("AWS::IAM::Policy", map[string]any{
				"Roles": []any{map[string]any{"Ref": "Role"}}, "PolicyDocument": policy(n)})}
		}, limits.MaxRoleInlinePolicyBytes, "bytes of inline policies, over the limit of 10240 (IAM, per role)"},
		{"managed policy size", func(n int) map[string]any {
			return map[string]any{"Policy": res("AWS::IAM::ManagedPolicy", map[string]any{"PolicyDocument": policy(n)})}
		}, limits.MaxManagedPolicyBytes, "bytes of policy, over the limit of 6144 (IAM, per managed policy)"},
		{"managed policies per role", func(n int) map[string]any {
			rs := resources(n, func(int) map[string]any {
				return res("AWS::IAM::ManagedPolicy", map[string]any{"Roles": []any{map[string]any{"Ref": "Role"}}, "PolicyDocument": policy(100)})
			})
			rs["Role"] = role
			return rs
		}, limits.MaxManagedPoliciesPerRole, "managed policies, over the limit of 10 (IAM, per role (default quota))"},
		{"metrics of an alarm", func(n int) map[string]any {
			return map[string]any{"Alarm": res("AWS::CloudWatch::Alarm", map[string]any{"Metrics": items(n, func(i int) any { return map[string]any{"Id": fmt.Sprint("m", i)} })})}
		}, limits.MaxAlarmMetrics, "metrics, over the limit of 10 (CloudWatch, per metric-math alarm)"},
		{"actions of an alarm", func(n int) map[string]any {
			return map[string]any{"Alarm": res("AWS::CloudWatch::Alarm", map[string]any{"AlarmActions": items(n, func(i int) any { return fmt.Sprint("arn:", i) })})}
		}, limits.MaxAlarmActions, "AlarmActions, over the limit of 5 (CloudWatch, per alarm state)"},
		{"widgets of a dashboard", func(n int) map[string]any {
			return map[string]any{"Dashboard": dashboard(items(n, func(int) any { return map[string]any{"type": "text", "properties": map[string]any{}} }))}
		}, limits.MaxDashboardWidgets, "widgets, over the limit of 500 (CloudWatch, per dashboard)"},
		{"metrics of a graph widget", func(n int) map[string]any {
			return map[string]any{"Dashboard": dashboard([]any{map[string]any{"type": "metric", "properties": map[string]any{
				"title": "KPI freshness", "metrics": items(n, func(i int) any { return []any{"kpilake", "PublishedDay", "KPI", fmt.Sprint("k", i)} })}}})}
		}, limits.MaxWidgetMetrics, `widget "KPI freshness": 501 metrics, over the limit of 500 (CloudWatch, per graph widget)`},
		{"alarms of an alarm status widget", func(n int) map[string]any {
			return map[string]any{"Dashboard": dashboard([]any{map[string]any{"type": "alarm", "properties": map[string]any{
				"title": "Alarms", "alarms": items(n, func(i int) any { return fmt.Sprint("arn:aws:cloudwatch:alarm:", i) })}}})}
		}, limits.MaxAlarmStatusWidgetAlarms, `widget "Alarms": 101 alarms, over the limit of 100 (CloudWatch, per alarm status widget)`},
		{"state machine definition", func(n int) map[string]any {
			// References count as resolved ARNs (76 bytes), not as their few bytes of template.
			return map[string]any{"SM": res("AWS::StepFunctions::StateMachine", map[string]any{"DefinitionString": map[string]any{
				"Fn::Join": []any{"", items(n/76+1, func(int) any { return map[string]any{"Ref": "Function"} })}}})}
		}, limits.MaxStateMachineDefinitionBytes, "bytes of definition, over the limit of 1048576 (Step Functions, per state machine)"},
		{"targets of a rule", func(n int) map[string]any {
			return map[string]any{"Rule": res("AWS::Events::Rule", map[string]any{"Targets": items(n, func(i int) any { return map[string]any{"Id": fmt.Sprint(i)} })})}
		}, limits.MaxRuleTargets, "targets, over the limit of 5 (EventBridge, per rule)"},
		{"event pattern of a rule", func(n int) map[string]any {
			// A crawler name is a reference (limits.MinReferenceBytes) and 3 bytes of JSON.
			names := items(n/(limits.MinReferenceBytes+3), func(int) any { return map[string]any{"Ref": "Crawler"} })
			return map[string]any{"Rule": res("AWS::Events::Rule", map[string]any{"EventPattern": map[string]any{"detail": map[string]any{"crawlerName": names}}})}
		}, limits.MaxEventPatternBytes, "bytes of event pattern, over the limit of 2048 (EventBridge, per rule (default quota))"},
		{"environment of a function", func(n int) map[string]any {
			// Keys count with their values; a reference counts as limits.MinReferenceBytes.
			return map[string]any{"Fn": res("AWS::Lambda::Function", map[string]any{"Environment": map[string]any{"Variables": map[string]any{
				"KPILAKE_BUCKET": map[string]any{"Ref": "Bucket"},
				"KPILAKE_SOURCE": strings.Repeat("x", n-len("KPILAKE_BUCKET")-limits.MinReferenceBytes-len("KPILAKE_SOURCE")),
			}}})}
		}, limits.MaxFunctionEnvironmentBytes, "bytes of environment variables, over the limit of 4096 (Lambda, per function)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(n int) []limits.Problem {
				raw, err := json.Marshal(map[string]any{"Resources": tc.template(n)})
				if err != nil {
					t.Fatal(err)
				}
				ps, err := limits.CheckTemplate("KpiLake-dev", raw, limits.Fixes{Growth: "move sources out of kpilake.environments.dev.sources"})
				if err != nil {
					t.Fatal(err)
				}
				return ps
			}
			// Sizes are approximate in the template builders: well under and well over.
			under, over := tc.limit, tc.limit+1
			if tc.limit > 1000 {
				under, over = tc.limit*9/10, tc.limit*11/10
			}
			if ps := check(under); len(ps) != 0 {
				t.Errorf("at %d (limit %d): %v, want no problem", under, tc.limit, ps)
			}
			ps := check(over)
			if len(ps) != 1 {
				t.Fatalf("past the limit: %d problems %v, want 1", len(ps), ps)
			}
			msg := ps[0].Error()
			if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "KpiLake-dev") || ps[0].Fix == "" {
				t.Errorf("problem %q: want it to name the stack, the count and the limit (%q) and a fix", msg, tc.want)
			}
			if tc.limit <= 1000 && ps[0].Count != over {
				t.Errorf("count %d, want %d", ps[0].Count, over)
			}
		})
	}
}

// A growth limit's fix is the one the caller gives, in the words of cdk.json.
func TestCheckDir_ListsEveryProblemWithTheGrowthFixStagesIncluded(t *testing.T) {
	dir := t.TempDir()
	// KpiLake-prod is in a pipeline's stage: an assembly of its own.
	if err := os.Mkdir(filepath.Join(dir, "assembly-KpiLake-pipeline-prod"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"KpiLake-dev": 501, "KpiLake-dev-nested": 3, "assembly-KpiLake-pipeline-prod/KpiLake-prod": 502} {
		raw, _ := json.Marshal(map[string]any{"Resources": resources(n, func(int) map[string]any { return res("AWS::SQS::Queue", nil) })})
		if err := os.WriteFile(filepath.Join(dir, name+".template.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := limits.CheckDir(dir, limits.Fixes{Growth: "move sources out of kpilake.environments.dev.sources"})
	e, ok := limits.As(err)
	if !ok || len(e.Problems) != 2 {
		t.Fatalf("CheckDir = %v, want 2 problems", err)
	}
	for _, want := range []string{"2 AWS limit(s) crossed", "KpiLake-dev: 501 resources", "KpiLake-prod: 502 resources",
		"move sources out of kpilake.environments.dev.sources"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
