package names

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// UniqueID agrees with the CDK's own Names.uniqueId for a stack of the app, and gives the same
// for the same stack in a stage, where the CDK's differs.
func TestUniqueID_IsTheCDKsCountedFromTheStack(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (make test-unit): builds constructs through jsii")
	}
	app := awscdk.NewApp(nil)
	top := awscdk.NewStack(app, jsii.String("KpiLake-prod"), nil)
	topQueue := awssqs.NewQueue(awscdk.NewNestedStack(top, jsii.String("Backfill"), nil), jsii.String("Queue"), nil)
	stage := awscdk.NewStage(awscdk.NewStack(app, jsii.String("KpiLake-pipeline"), nil), jsii.String("prod"), nil)
	staged := awssqs.NewQueue(awscdk.NewNestedStack(awscdk.NewStack(stage, jsii.String("KpiLake-prod"), nil), jsii.String("Backfill"), nil), jsii.String("Queue"), nil)

	want := *awscdk.Names_UniqueId(topQueue)
	if got := UniqueID(topQueue); got != want {
		t.Errorf("UniqueID(top-level) = %q, the CDK's %q", got, want)
	}
	if got := UniqueID(staged); got != want {
		t.Errorf("UniqueID(staged) = %q, want the top-level's %q", got, want)
	}
	if cdk := *awscdk.Names_UniqueId(staged); cdk == want {
		t.Errorf("the CDK's uniqueId in a stage is the top-level's (%q): this package is no longer needed", cdk)
	}
	if got, want := UniqueID(topQueue.Node().Scope(), "Queue"), UniqueID(topQueue); got != want {
		t.Errorf("UniqueID(scope, id) = %q, UniqueID(child) = %q", got, want)
	}
}

func TestMakeUniqueID(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"one component", []string{"My-Stack"}, "MyStack"},
		{"Default is hidden, Resource only from the human part", []string{"A", "Default", "B", "Resource"}, "AB"},
		{"repeats collapse", []string{"Queue", "Queue"}, "Queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := makeUniqueID(tc.in)
			if len(tc.in) > 1 {
				got = got[:len(got)-8]
			}
			if got != tc.want {
				t.Errorf("makeUniqueID(%q) = %q (without its hash), want %q", tc.in, got, tc.want)
			}
		})
	}
}
