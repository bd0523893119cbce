package cdktest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const stateMachineTemplate = `{"Resources": {
  "SM": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": {"Fn::Join": ["", [
    "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:",
    {"Ref": "AWS::Partition"},
    ":states:::lambda:invoke\",\"Parameters\":{\"FunctionName\":\"",
    {"Fn::GetAtt": ["Fn1", "Arn"]},
    "\",\"Topic\":\"",
    {"Ref": "Topic1"},
    "\"},\"End\":true}}}"]]}}},
  "Bad": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": {"Fn::Join": ["", [
    "{\"x\":\"", {"Fn::ImportValue": "Other"}, "\"}"]]}}},
  "Bucket": {"Type": "AWS::S3::Bucket"}
}}`

func TestStateMachineDefinition_RendersReferencesAsPlaceholders(t *testing.T) {
	tp := &Template{JSON: decode(t, stateMachineTemplate)}
	def, err := tp.StateMachineDefinition("SM")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"StartAt": "A", "States": map[string]any{"A": map[string]any{
		"Type":       "Task",
		"Resource":   "arn:aws:states:::lambda:invoke",
		"Parameters": map[string]any{"FunctionName": "${Fn1.Arn}", "Topic": "${Topic1}"},
		"End":        true,
	}}}
	if diff := cmp.Diff(want, def); diff != "" {
		t.Errorf("definition (-want +got):\n%s", diff)
	}
}

func TestStateMachineDefinition_FailsOnUnknownIntrinsicsAndOtherResources(t *testing.T) {
	tp := &Template{JSON: decode(t, stateMachineTemplate)}
	for id, want := range map[string]string{
		"Bad":     "Fn::ImportValue",
		"Bucket":  `no state machine "Bucket"`,
		"Missing": `no state machine "Missing"`,
	} {
		if _, err := tp.StateMachineDefinition(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("StateMachineDefinition(%s) = %v, want an error naming %s", id, err, want)
		}
	}
}

func TestRender_JoinsWithTheSeparator(t *testing.T) {
	got, err := render(map[string]any{"Fn::Join": []any{":", []any{"arn", map[string]any{"Ref": "AWS::Region"}, map[string]any{"Ref": "AWS::AccountId"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:" + Region + ":" + Account; got != want {
		t.Errorf("render = %q, want %q", got, want)
	}
}
