package queries_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/local/kpitest"
	"github.com/kpilake/kpilake/queries"
)

// TestKPITestCases runs every test case of tests/ (the KPIs' fixtures and expected rows, as data
// files; see README.md, Test cases) on the local engine, as `kpilake kpi test` does, and checks
// that every KPI of the catalog has one.
func TestKPITestCases(t *testing.T) {
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := kpitest.Load(os.DirFS("tests"), "queries/tests/", cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if untested := kpitest.Untested(cat, cases); len(untested) > 0 {
		t.Errorf("KPIs without a test case: %s; add tests/<case>/expected/<kpi>.csv", strings.Join(untested, ", "))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			res, err := kpitest.Run(context.Background(), cat, c, kpitest.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				var b strings.Builder
				res.Report(&b)
				t.Error("\n" + b.String())
			}
		})
	}
}
