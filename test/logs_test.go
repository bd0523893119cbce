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
