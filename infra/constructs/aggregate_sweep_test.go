//go:build !unit

package constructs

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/layout"
)

type sweepSynth struct {
	tp      *cdktest.Template
	sw      *aggregate.Sweep
	lake    *lake.Lake
	catalog *catalog.Catalog
	fn      string
	fnRole  string
}

var sweepSynthesized = sync.OnceValues(func() (*sweepSynth, error) {
	s := &sweepSynth{}
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		s.lake = lake.NewLake(stack, "Lake", nil)
		s.catalog = catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: s.lake})
		s.sw = aggregate.NewSweep(stack, "Sweep", &aggregate.SweepProps{Catalog: s.catalog, Lake: s.lake, KPIs: kpis,
			Grace: 8 * time.Hour, Root: moduleRoot})
		tp, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s.tp = tp
		s.fn = tp.LogicalID(s.sw.Function.Function.FunctionName())
		s.fnRole = tp.LogicalID(s.sw.Function.Role.RoleName())
	})
	return s, err
})

func TestSweep_RunsHourlyWithRetriesAndADeadLetterQueue(t *testing.T) {
	s, err := sweepSynthesized()
	if err != nil {
		t.Fatal(err)
	}
	tp := s.tp
	id := tp.LogicalID(s.sw.Schedule.ScheduleName())
	tp.HasProperties(t, id, map[string]any{"ScheduleExpression": "rate(1 hour)", "State": "ENABLED"})
	target, _ := tp.Properties(t, id)["Target"].(map[string]any)
	for k, want := range map[string]any{
		"Arn":              tp.Resolve(s.sw.Function.Function.FunctionArn()),
		"DeadLetterConfig": map[string]any{"Arn": tp.Resolve(s.sw.DeadLetters.QueueArn())},
		"RetryPolicy":      map[string]any{"MaximumRetryAttempts": float64(3), "MaximumEventAgeInSeconds": float64(3600)},
		"Input":            "{}",
	} {
		if diff := cmp.Diff(want, target[k]); diff != "" {
			t.Errorf("schedule target %s (-want +got):\n%s", k, diff)
		}
	}
	env, _ := tp.Properties(t, s.fn)["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if got := vars[contract.EnvSupersededGrace]; got != "8h0m0s" {
		t.Errorf("%s = %v, want the configured grace 8h0m0s", contract.EnvSupersededGrace, got)
	}
	tp.HasProperties(t, s.fn, map[string]any{"Timeout": 15 * 60, "Architectures": []any{"arm64"}})
}

// The sweep may only read the catalog, move the KPI tables' partitions, drop the KPIs' temporary
// tables, work under the KPIs' aggregated prefixes and find and stop queries in the aggregation
// workgroup: no query, no raw zone, no other table.
func TestSweep_MayTouchOnlyTheKPIsTablesPrefixesAndWorkgroup(t *testing.T) {
	s, err := sweepSynthesized()
	if err != nil {
		t.Fatal(err)
	}
	tp := s.tp
	db := s.catalog.DatabaseName
	var want []string
	add := func(actions []string, resources ...any) {
		for _, a := range actions {
			for _, r := range resources {
				want = append(want, cdktest.Permission("Allow", a, r, nil))
			}
		}
	}
	res := func(v *string) any { return tp.Resolve(v) }
	add(aggregate.SweepAthenaActions, "arn:aws:athena:ap-northeast-1:123456789012:workgroup/"+s.catalog.AggregationWorkgroupName)
	add(aggregate.GlueReadActions, res(s.catalog.CatalogArn()), res(s.catalog.DatabaseArn()), res(s.catalog.TablesArn("")))
	// KPI and temporary tables by their reserved prefixes: one statement for any number of KPIs.
	kpiTables := []any{res(s.catalog.CatalogArn()), res(s.catalog.DatabaseArn()),
		"arn:aws:glue:ap-northeast-1:123456789012:table/" + db + "/" + layout.KPITablePrefix + "*"}
	tempTables := []any{res(s.catalog.CatalogArn()), res(s.catalog.DatabaseArn()), res(s.catalog.TablesArn(layout.TempTablePrefix))}
	add(aggregate.SweepGlueKPITableActions, kpiTables...)
	add(aggregate.SweepGlueTempActions, tempTables...)
	agg := res(s.lake.Aggregated.BucketArn())
	// Every KPI's folder: the aggregated zone holds nothing else (layout.KPIsPrefix).
	add([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"},
		map[string]any{"Fn::Join": []any{"", []any{agg, "/" + layout.KPIsPrefix + "*"}}})
	add([]string{"s3:ListBucket"}, agg)
	add([]string{"kms:Decrypt", "kms:GenerateDataKey"}, res(s.lake.Key.KeyArn()))
	add([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, res(s.sw.Function.LogGroup.LogGroupArn()))
	add([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "*")
	if diff := cmp.Diff(sortedLines(want), sortedLines(tp.Permissions(s.fnRole))); diff != "" {
		t.Errorf("permissions of the sweep function (-want +got):\n%s", diff)
	}
}

func TestNewSweep_FailsIf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*aggregate.SweepProps)
		want   string
	}{
		{"no KPIs", func(p *aggregate.SweepProps) { p.KPIs = nil }, "KPIs"},
		{"a grace shorter than a query", func(p *aggregate.SweepProps) { p.Grace = time.Hour }, "Grace"},
		{"no catalog", func(p *aggregate.SweepProps) { p.Catalog = nil }, "Catalog is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cdktest.Recover(func() {
				stack := cdktest.NewStack("Test")
				lk := lake.NewLake(stack, "Lake", nil)
				p := &aggregate.SweepProps{Catalog: catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lk}), Lake: lk,
					KPIs: kpis, Root: moduleRoot}
				tc.change(p)
				aggregate.NewSweep(stack, "Sweep", p)
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewSweep error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
