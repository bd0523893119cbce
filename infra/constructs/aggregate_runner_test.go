//go:build !unit

package constructs

import (
	"path/filepath"
	"testing"

	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
)

// A CTAS runner and the sweep, each alone beside the lake and the catalog, pass the AwsSolutions
// pack with their own suppressions (their grants name KPI and temporary tables by pattern).
func TestNewRunnerAndSweep_PassAwsSolutionsAlone(t *testing.T) {
	for _, under := range []string{"/Runner/", "/Sweep/"} {
		t.Run(under, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			cdktest.Setup(t, func() {
				lk := lake.NewLake(stack, "Lake", nil)
				cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lk})
				if under == "/Runner/" {
					aggregate.NewRunner(stack, "Runner", &aggregate.RunnerProps{Catalog: cat, Lake: lk, TimeZone: businessZone,
						Entry: filepath.Join(moduleRoot, "lambdas", "cmd", "aggregate")})
					return
				}
				aggregate.NewSweep(stack, "Sweep", &aggregate.SweepProps{Catalog: cat, Lake: lk, KPIs: kpis, Root: moduleRoot})
			})
			for _, f := range cdktest.AwsSolutionsFindings(t, stack, under) {
				t.Error(f)
			}
		})
	}
}
