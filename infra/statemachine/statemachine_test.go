//go:build !unit

package statemachine_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/statemachine"
)

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }

// nightly is a one-state workflow under "Nightly" in stack.
func nightly(stack awscdk.Stack) *statemachine.Alerting {
	return statemachine.New(constructs.NewConstruct(stack, jsii.String("Nightly")), &statemachine.Props{
		Subject:    "nightly job",
		Comment:    "kpilake: an example",
		Definition: awsstepfunctions.NewPass(stack, jsii.String("Done"), nil),
		Timeout:    awscdk.Duration_Hours(jsii.Number(1)),
		Alerts:     alerts.NewAlerts(stack, "Alerts", nil),
	})
}

func ExampleNew() {
	stack := cdktest.NewStack("Example")
	nightly(stack)
	tp, err := cdktest.Synth(stack)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, typ := range []string{"AWS::StepFunctions::StateMachine", "AWS::Logs::LogGroup", "AWS::Events::Rule"} {
		fmt.Println(typ, len(tp.Resources(typ)))
	}
	// Output:
	// AWS::StepFunctions::StateMachine 1
	// AWS::Logs::LogGroup 1
	// AWS::Events::Rule 1
}

// The workflow is traced, logs every execution with its data, times out, may publish to the alert
// topic, and an execution that times out or is aborted alerts, naming the workflow.
func TestNew_TracedLoggedAndAlerting(t *testing.T) {
	stack := cdktest.TestStack(t)
	var a *statemachine.Alerting
	cdktest.Setup(t, func() { a = nightly(stack) })
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	sm := tp.LogicalID(a.StateMachine.StateMachineArn())
	tp.HasProperties(t, sm, map[string]any{
		"StateMachineType":     "STANDARD",
		"TracingConfiguration": map[string]any{"Enabled": true},
		"LoggingConfiguration": map[string]any{"Level": "ALL", "IncludeExecutionData": true},
	})
	if def, err := tp.StateMachineDefinition(sm); err != nil || def["TimeoutSeconds"] != float64(3600) {
		t.Errorf("definition %v (%v), want TimeoutSeconds 3600", def, err)
	}
	if got := strings.Join(tp.Permissions(tp.LogicalID(a.StateMachine.Role().RoleName())), "\n"); !strings.Contains(got, "sns:Publish") {
		t.Errorf("the workflow's role cannot publish alerts:\n%s", got)
	}
	rule := tp.Properties(t, tp.LogicalID(a.Ended.RuleName()))
	pattern := fmt.Sprint(rule["EventPattern"])
	for _, want := range []string{"TIMED_OUT", "ABORTED", "aws.states"} {
		if !strings.Contains(pattern, want) {
			t.Errorf("the ended rule's pattern %s lacks %s", pattern, want)
		}
	}
	if got := fmt.Sprint(rule["Targets"]); !strings.Contains(got, "kpilake: nightly job") {
		t.Errorf("the ended alert %s does not name the workflow", got)
	}
}

func TestNew_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() { nightly(stack) })
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Nightly/") {
		t.Error(f)
	}
}

func TestNew_NamesEveryMissingProp(t *testing.T) {
	err := cdktest.Recover(func() { statemachine.New(cdktest.NewStack("Test"), &statemachine.Props{}) })
	for _, want := range []string{"Subject", "Comment", "Definition", "Timeout", "Alerts"} {
		if err == nil || !strings.Contains(err.Error(), want+" is required") {
			t.Errorf("New = %v, want an error naming %s", err, want)
		}
	}
}
