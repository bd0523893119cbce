//go:build !unit

package test

import (
	"fmt"
	"strings"
	"testing"
)

// Every log group, the functions', the Firehose streams', the state machines' (which log
// execution data) and the crawlers', is encrypted with a KMS key that CloudWatch Logs of the
// stack's region may use for the account's log groups, and that nobody else's log groups can use.
func TestLogGroups_EncryptedWithAKeyScopedToCloudWatchLogs(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			tp := loadTemplate(t, a, name)
			groups := tp.ofType("AWS::Logs::LogGroup")
			if len(groups) == 0 {
				t.Fatal("no log group in the template")
			}
			for _, id := range groups {
				for _, p := range logKeyProblems(tp, id) {
					t.Errorf("log group %s: %s", id, p)
				}
			}
		})
	}
}

// logKeyProblems checks the key of log group id and the key's policy.
func logKeyProblems(tp *cfnTemplate, id string) []string {
	props := tp.Resources[id].Properties
	ref, ok := props["KmsKeyId"].(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("not encrypted with a customer managed key (KmsKeyId is %v)", props["KmsKeyId"])}
	}
	att, _ := ref["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" || tp.Resources[fmt.Sprint(att[0])].Type != "AWS::KMS::Key" {
		return []string{fmt.Sprintf("KmsKeyId %v is not the ARN of a key of this stack", ref)}
	}
	key := fmt.Sprint(att[0])
	policy := tp.statements(tp.Resources[key].Properties["KeyPolicy"])
	groupName := tp.render(props["LogGroupName"])
	if props["LogGroupName"] == nil {
		groupName = "KpiLake-generated-" + id
	}
	groupArn := func(region, account string) string {
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, account, groupName)
	}
	logs := func(region string) string { return "service:logs." + region + ".amazonaws.com" }
	use := func(principal, arn string) request {
		return request{Principal: principal, Action: "kms:GenerateDataKey", Resource: "*",
			Context: map[string]string{"kms:encryptioncontext:aws:logs:arn": arn}}
	}
	var problems []string
	if !allows(policy, use(logs(tp.Region), groupArn(tp.Region, tp.Account))) {
		problems = append(problems, fmt.Sprintf("key %s does not let CloudWatch Logs of %s use it for the group", key, tp.Region))
	}
	refused := map[string]request{
		"CloudWatch Logs of another region": use(logs(tp.foreignRegion()), groupArn(tp.foreignRegion(), tp.Account)),
		"a log group of another account":    use(logs(tp.Region), groupArn(tp.Region, foreignAccount)),
		"no log group in the context":       {Principal: logs(tp.Region), Action: "kms:GenerateDataKey", Resource: "*"},
	}
	for what, req := range refused {
		if allows(policy, req) {
			problems = append(problems, fmt.Sprintf("key %s lets %s use it", key, what))
		}
	}
	for _, s := range policy {
		for _, p := range s.Principals {
			if s.Effect == "Allow" && strings.HasPrefix(p, "service:logs") && s.Condition == nil {
				problems = append(problems, fmt.Sprintf("key %s lets %s use it without a condition: %s", key, p, s.Raw))
			}
		}
	}
	return problems
}

// TestLogGroups_AllOnTheLogsKey: every log group and the crawlers' CloudWatch Logs encryption (the
// Glue security configuration) use one logs key, and that key encrypts nothing but logs; no
// other key of the stack lets CloudWatch Logs use it.
func TestLogGroups_AllOnTheLogsKey(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			for _, p := range logsKeyProblems(loadTemplate(t, a, name)) {
				t.Error(p)
			}
		})
	}
}

// logsKeyProblems lists where the template's log encryption departs from one logs key.
func logsKeyProblems(tp *cfnTemplate) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	users := map[string][]string{} // key -> the log groups and security configurations it encrypts
	for _, id := range tp.ofType("AWS::Logs::LogGroup") {
		users[keyRef(tp, tp.Resources[id].Properties["KmsKeyId"])] = append(users[keyRef(tp, tp.Resources[id].Properties["KmsKeyId"])], id)
	}
	for _, id := range tp.ofType("AWS::Glue::SecurityConfiguration") {
		enc, _ := tp.Resources[id].Properties["EncryptionConfiguration"].(map[string]any)
		cw, _ := enc["CloudWatchEncryption"].(map[string]any)
		if cw["CloudWatchEncryptionMode"] != "SSE-KMS" {
			report("security configuration %s does not encrypt its CloudWatch logs with KMS (%v)", id, cw)
		}
		users[keyRef(tp, cw["KmsKeyArn"])] = append(users[keyRef(tp, cw["KmsKeyArn"])], id)
	}
	if len(users) != 1 {
		report("log groups and crawler logs are encrypted with %d keys, want the one logs key: %v", len(users), users)
	}
	for key, ids := range users {
		if key == "" {
			report("%v are not encrypted with a key of the stack", ids)
			continue
		}
		var others []string
		for _, r := range references(tp, key) {
			if typ := tp.Resources[r].Type; typ != "AWS::Logs::LogGroup" && typ != "AWS::Glue::SecurityConfiguration" {
				others = append(others, r)
			}
		}
		if len(others) > 0 {
			report("logs key %s is also named by %v; keep it for logs", key, others)
		}
	}
	for _, key := range tp.ofType("AWS::KMS::Key") {
		if _, ok := users[key]; ok {
			continue
		}
		for _, s := range tp.statements(tp.Resources[key].Properties["KeyPolicy"]) {
			for _, p := range s.Principals {
				if s.Effect == "Allow" && strings.HasPrefix(p, "service:logs.") {
					report("key %s, not the logs key, lets %s use it: %s", key, p, s.Raw)
				}
			}
		}
	}
	return problems
}
