// Package fnsub turns CloudFormation values that the CDK writes as Fn::Join into Fn::Sub strings.
package fnsub

import "strings"

// FromJoin is the Fn::Sub string of v, an Fn::Join with an empty delimiter of strings and Refs
// ({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}]]} is "arn:${AWS::Partition}"); false for
// anything else, and for a string that holds "${" (Fn::Sub would read it as a reference).
func FromJoin(v any) (string, bool) {
	m, _ := v.(map[string]any)
	join, ok := m["Fn::Join"].([]any)
	if !ok || len(join) != 2 || join[0] != "" {
		return "", false
	}
	parts, _ := join[1].([]any)
	var b strings.Builder
	for _, part := range parts {
		switch x := part.(type) {
		case string:
			if strings.Contains(x, "${") {
				return "", false
			}
			b.WriteString(x)
		case map[string]any:
			ref, ok := x["Ref"].(string)
			if !ok || len(x) != 1 {
				return "", false
			}
			b.WriteString("${" + ref + "}")
		default:
			return "", false
		}
	}
	return b.String(), true
}
