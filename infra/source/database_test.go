//go:build !unit

package source_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/salt"
	"github.com/kpilake/kpilake/infra/source"
)

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }

// moduleRoot is the module's root relative to this package: where lambdas/ lives.
const moduleRoot = "../.."

// newSales wires the sales source into stack, as the README shows: the environment's lake,
// catalog, alert topic, plan function and hash salt live in the stack; the source gets a nested
// stack of its own.
func newSales(stack awscdk.Stack) *source.Database {
	lk := lake.NewLake(stack, "Lake", nil)
	cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lk})
	al := alerts.NewAlerts(stack, "Alerts", nil)
	planFn := golambda.NewFunction(stack, "Plan", &golambda.FunctionProps{
		Entry:       filepath.Join(moduleRoot, "lambdas", "cmd", "plan"),
		Environment: map[string]string{contract.EnvTimeZone: "Asia/Tokyo"},
	})
	// The plan function is the environment's; infra/stack suppresses its findings (X-Ray's
	// actions take no resource), as a reuser's stack would.
	cdknag.NagSuppressions_AddResourceSuppressions(planFn.Role, &[]*cdknag.NagPackSuppression{
		nag.SuppressMatching("AwsSolutions-IAM5", "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.", `^Resource::\*$`),
	}, jsii.Bool(true))
	return source.NewDatabase(stack, "Source-sales", &source.DatabaseProps{
		Source: cdktest.SalesSource(), Environment: "dev", TimeZone: "Asia/Tokyo", Root: moduleRoot,
		Catalog: cat, Alerts: al, Plan: planFn, Salt: salt.New(stack, "Salt", nil),
	})
}

// A database source in one call: its crawler, extraction and alarms land in a nested stack, and
// the parent holds only that stack's resource.
func ExampleNewDatabase() {
	stack := cdktest.NewStack("Example")
	sales := newSales(stack)
	tp, err := cdktest.Synth(stack)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sales.Name, "nested stacks:", len(tp.Resources("AWS::CloudFormation::Stack")),
		"crawlers in the parent:", len(tp.Resources("AWS::Glue::Crawler")))
	// Output: sales_db nested stacks: 1 crawlers in the parent: 0
}

// The source's nested stack passes the AwsSolutions pack with its own suppressions: no finding of
// a resource under Source-sales is left unsuppressed.
func TestNewDatabase_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	var sales *source.Database
	cdktest.Setup(t, func() { sales = newSales(stack) })
	findings := cdktest.AwsSolutionsFindings(t, stack, "/Source-sales/")
	for _, f := range findings {
		t.Error(f)
	}
	if got := *sales.NestedStackResource().CfnResourceType(); got != "AWS::CloudFormation::Stack" {
		t.Errorf("the source is a %s, want a nested stack", got)
	}
}

func TestNewDatabase_RequiresTheEnvironmentsParts(t *testing.T) {
	err := cdktest.Recover(func() {
		source.NewDatabase(cdktest.NewStack("Test"), "Source", &source.DatabaseProps{Source: config.Source{Name: "Bad-Name"}})
	})
	for _, want := range []string{"Source.Name", "Catalog is required", "Alerts is required", "Plan is required", "Salt is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewDatabase = %v, want an error with %q", err, want)
		}
	}
}
