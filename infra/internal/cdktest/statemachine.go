package cdktest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Placeholder renders a CloudFormation value (a token such as fn.FunctionArn(), or an expression
// as it appears in the template) as text: {"Ref": "X"} becomes "${X}", {"Fn::GetAtt": ["X", "Arn"]}
// becomes "${X.Arn}", Fn::Join is joined, and the pseudo parameters AWS::Partition, AWS::Region,
// AWS::AccountId and AWS::URLSuffix become aws, Region, Account and amazonaws.com. It is how
// StateMachineDefinition writes references, so a test compares a state's Resource or
// FunctionName with tp.Placeholder(fn.FunctionArn()). It panics on any other intrinsic function:
// the test is wrong, not the construct.
func (tp *Template) Placeholder(v any) string {
	s, err := render(tp.Resolve(v))
	if err != nil {
		panic(fmt.Errorf("cdktest.Placeholder: %w", err))
	}
	return s
}

// StateMachineDefinition returns the Amazon States Language definition of state machine
// logicalID, decoded from its DefinitionString, with every CloudFormation reference written as
// Placeholder writes it.
func (tp *Template) StateMachineDefinition(logicalID string) (map[string]any, error) {
	all, _ := tp.JSON["Resources"].(map[string]any)
	res, _ := all[logicalID].(map[string]any)
	if res == nil || res["Type"] != "AWS::StepFunctions::StateMachine" {
		return nil, fmt.Errorf("cdktest: template has no state machine %q", logicalID)
	}
	props, _ := res["Properties"].(map[string]any)
	text, err := render(props["DefinitionString"])
	if err != nil {
		return nil, fmt.Errorf("cdktest: DefinitionString of %s: %w", logicalID, err)
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(text), &def); err != nil {
		return nil, fmt.Errorf("cdktest: DefinitionString of %s is not JSON once rendered: %w\n%s", logicalID, err, text)
	}
	return def, nil
}

// render writes a CloudFormation string expression as text, references as placeholders.
func render(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				s, err := render(p)
				if err != nil {
					return "", err
				}
				out[i] = s
			}
			return strings.Join(out, sep), nil
		}
		if ref, ok := x["Ref"].(string); ok {
			switch ref {
			case "AWS::Partition":
				return "aws", nil
			case "AWS::Region":
				return Region, nil
			case "AWS::AccountId":
				return Account, nil
			case "AWS::URLSuffix":
				return "amazonaws.com", nil
			}
			return "${" + ref + "}", nil
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			id, _ := att[0].(string)
			name, _ := att[1].(string)
			return "${" + id + "." + name + "}", nil
		}
	}
	return "", fmt.Errorf("cannot render %s as text; only strings, Fn::Join, Ref and Fn::GetAtt", canonical(v))
}
