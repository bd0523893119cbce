package ctas

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/layout"
)

// createTemp registers a temporary table as a CTAS would, with its output under its run prefix.
func (l *lake) createTemp(t *testing.T, name string) {
	t.Helper()
	if _, err := l.glue.CreateTable(context.Background(), &glue.CreateTableInput{DatabaseName: aws.String(l.db),
		TableInput: &gtypes.TableInput{Name: aws.String(name), TableType: aws.String("EXTERNAL_TABLE"),
			StorageDescriptor: &gtypes.StorageDescriptor{Columns: cols("department string", "users bigint"),
				Location: aws.String("s3://" + l.bucket + "/elsewhere/")}}}); err != nil {
		t.Fatal(err)
	}
}

// A crashed run (a Lambda timeout, a killed process) leaves its temporary table behind; the next
// run of the same KPI and day drops it once no run that old can be in flight, and touches nothing
// else: not a recent run's table (it may still be reading it), not another day's or another KPI's.
func TestRunner_DropsTemporaryTablesLeftByCrashedRunsOfTheDay(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	r := l.runner(t, nil, nil, nil)
	r.now = func() time.Time { return now }
	fixedRun(r, "20261125T060000000Z-000000ff")

	crashed := []string{
		TempTableName(testKPI, testDay, "20261125T045959999Z-0000000a"), // 1h00m00.001s before the run
		TempTableName(testKPI, testDay, "20261124T230000000Z-0000000b"),
	}
	kept := []string{
		TempTableName(testKPI, testDay, "20261125T050000000Z-0000000c"), // exactly an hour: may not be over
		TempTableName(testKPI, testDay, "20261125T055000000Z-0000000d"), // may still be in flight
		TempTableName(testKPI, testDay.AddDays(-1), "20261124T000000000Z-0000000e"),
		TempTableName(testKPI+"_by_team", testDay, "20261124T000000000Z-0000000f"), // a KPI whose name extends this one's
		TempTableName(testKPI, testDay, "") + "manual_copy",
		"tmp_ctas_" + testKPI + "_" + strings.ReplaceAll(testDay.String(), "-", ""), // no run id part
	}
	for _, name := range append(slices.Clone(crashed), kept...) {
		l.createTemp(t, name)
	}
	mustRun(t, r, context.Background())

	want := append([]string{layout.KPITableName(testKPI)}, kept...)
	slices.Sort(want)
	if got := l.tables(t); !slices.Equal(got, want) {
		t.Errorf("tables %v\nwant %v\n(the crashed runs' %v dropped)", got, want, crashed)
	}
}

func TestTempRunStart_ReadsTheRunIDOfTempTableName(t *testing.T) {
	id := layout.NewRunID(time.Date(2026, 11, 25, 5, 6, 15, 123e6, time.UTC))
	name := TempTableName(testKPI, testDay, id)
	got, ok := tempRunStart(strings.TrimPrefix(name, TempTableName(testKPI, testDay, "")))
	if want := time.Date(2026, 11, 25, 5, 6, 15, 123e6, time.UTC); !ok || !got.Equal(want) {
		t.Errorf("tempRunStart(%q) = %v, %t; want %v", name, got, ok, want)
	}
	for _, bad := range []string{"", "manual_copy", "20261125t050615123z", "20261125t050615123z_1f2e3d4c_x", "20261325t050615123z_1f2e3d4c"} {
		if _, ok := tempRunStart(bad); ok {
			t.Errorf("tempRunStart(%q) accepted a name part that is no run id", bad)
		}
	}
}
