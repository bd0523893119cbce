package backfillsim

import (
	"fmt"
	"strings"
	"testing/fstest"

	"github.com/kpilake/kpilake/queries"
)

// GeneratedCatalog is a catalog of n made-up KPIs (kpi_000, kpi_001, ...) for scenarios with more
// KPIs than queries/ holds. Four in five read a raw table; the rest form a chain of dependents,
// each on the KPI before it and on one of the first group, so a day's KPIs run in n/5 + 1 waves
// and the dependency order matters.
func GeneratedCatalog(n int) (*queries.Catalog, error) {
	if n < 1 {
		return nil, fmt.Errorf("backfillsim: GeneratedKPIs is %d; give at least 1", n)
	}
	leaves := max(1, n*4/5)
	fsys := fstest.MapFS{}
	for i := range n {
		name := generatedName(i)
		var deps []string
		var body string
		if i < leaves {
			body = `SELECT COUNT(*) AS value FROM {{ source "sim" "events" }} AS e`
		} else {
			deps = []string{generatedName((i * 7) % leaves), generatedName(i - 1)}
			body = fmt.Sprintf(`SELECT a.value + b.value AS value FROM {{ kpi %q }} AS a CROSS JOIN {{ kpi %q }} AS b`, deps[0], deps[1])
		}
		sources := ""
		if i < leaves {
			sources = " sim.events"
		}
		fsys[name+".sql"] = &fstest.MapFile{Data: fmt.Appendf(nil,
			"-- name: %s\n-- description: Simulated KPI %d.\n-- depends_on: %s\n-- sources:%s\n--\n%s\n",
			name, i, strings.Join(deps, ", "), sources, body)}
	}
	return queries.Parse(fsys)
}

func generatedName(i int) string { return fmt.Sprintf("kpi_%03d", i) }
