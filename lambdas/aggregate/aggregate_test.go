package aggregate_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// fakeRunner records the requests and answers with err. The catalog has every table's day
// except those in missing; partErr fails the partition checks.
type fakeRunner struct {
	got     []ctas.Request
	err     error
	missing []string
	partErr error
	checked []string
	// served is when each table/day was published (by a run that started then); columns the
	// columns of each table.
	served  map[string]time.Time
	columns map[string][]string
}

func (f *fakeRunner) Serving(_ context.Context, table string, day layout.Day) (time.Time, bool, error) {
	t, ok := f.served[table+"/"+day.String()]
	return t, ok, f.partErr
}

func (f *fakeRunner) Columns(_ context.Context, table string) ([]string, error) {
	cols, ok := f.columns[table]
	if !ok {
		return nil, fmt.Errorf("glue GetTable %s: EntityNotFoundException", table)
	}
	return cols, nil
}

func (f *fakeRunner) HasPartition(_ context.Context, table string, day layout.Day) (bool, error) {
	f.checked = append(f.checked, table+"/"+day.String())
	if f.partErr != nil {
		return false, f.partErr
	}
	return !slices.Contains(f.missing, table), nil
}

func (f *fakeRunner) Run(_ context.Context, req ctas.Request) (ctas.Result, error) {
	f.got = append(f.got, req)
	if f.err != nil {
		return ctas.Result{}, f.err
	}
	return ctas.Result{KPI: req.KPI, Date: req.Date.String(), QueryID: "q-1"}, nil
}

func handler(t *testing.T, run aggregate.Runner) *aggregate.Handler {
	t.Helper()
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return aggregate.NewHandler(kpis, "kpilake_dev", tokyo, run, slog.New(slog.NewJSONHandler(io.Discard, nil)))
}

func TestHandle_RendersTheKPIForTheDayAndRunsIt(t *testing.T) {
	run := &fakeRunner{}
	res, err := handler(t, run).Handle(context.Background(), aggregate.Request{KPI: "active_users_by_department", Date: "2026-11-24"})
	if err != nil {
		t.Fatal(err)
	}
	if res.QueryID != "q-1" || len(run.got) != 1 {
		t.Fatalf("result %+v after %d runs", res, len(run.got))
	}
	req := run.got[0]
	if req.KPI != "active_users_by_department" || req.Date.String() != "2026-11-24" {
		t.Errorf("runner got %s/%s", req.KPI, req.Date)
	}
	for _, want := range []string{`"kpilake_dev"."app_logs_web_access"`, `"dt" = '2026-11-24'`} {
		if !strings.Contains(req.Select, want) {
			t.Errorf("rendered SQL lacks %s:\n%s", want, req.Select)
		}
	}
}

// engagement_score reads two upstream KPIs, one per crawler's source (the access logs and the
// database), and a raw database table. A crawler-triggered run publishes it only once the catalog
// has the day of all three; a manual run or a backfill job runs it as asked.
func TestHandle_EventRunsWaitForEveryInputOfTheDay(t *testing.T) {
	const day = "2026-11-24"
	for _, c := range []struct {
		name        string
		kpi         string // default engagement_score
		trigger     string
		crawled     []string
		missing     []string
		partErr     error
		wantRun     bool
		wantWaiting []string
		wantErr     string
	}{
		{name: "manual run, inputs missing", trigger: "", missing: []string{"kpi_department_activity"}, wantRun: true},
		{name: "event, every input has the day", trigger: plan.TriggerEvent, wantRun: true},
		{name: "event after the logs' crawl: the database's inputs are not in yet", trigger: plan.TriggerEvent,
			missing:     []string{"kpi_department_activity", "social_departments"},
			wantWaiting: []string{"kpi department_activity dt=" + day, "social.departments dt=" + day}},
		{name: "event after the database's crawl, the logs' KPI not published", trigger: plan.TriggerEvent,
			missing:     []string{"kpi_active_users_by_department"},
			wantWaiting: []string{"kpi active_users_by_department dt=" + day}},
		{name: "event after the logs' crawl, which found no access logs for the day", kpi: "active_users_by_department",
			trigger: plan.TriggerEvent, crawled: []string{"app_logs/"}, missing: []string{"app_logs_web_access"}, wantRun: true},
		{name: "event after the database's crawl, no access logs for the day", kpi: "active_users_by_department",
			trigger: plan.TriggerEvent, crawled: []string{"social/"}, missing: []string{"app_logs_web_access"},
			wantWaiting: []string{"app_logs.web_access dt=" + day}},
		{name: "the crawled source's raw table is not waited for, other inputs are", trigger: plan.TriggerEvent,
			crawled: []string{"social/"}, missing: []string{"social_departments", "kpi_active_users_by_department"},
			wantWaiting: []string{"kpi active_users_by_department dt=" + day}},
		{name: "event, the catalog cannot be read", trigger: plan.TriggerEvent,
			partErr: errors.New("AccessDeniedException"), wantErr: "check the inputs of engagement_score for " + day},
	} {
		t.Run(c.name, func(t *testing.T) {
			kpi := cmp.Or(c.kpi, "engagement_score")
			run := &fakeRunner{missing: c.missing, partErr: c.partErr}
			res, err := handler(t, run).Handle(context.Background(), aggregate.Request{KPI: kpi, Date: day, Trigger: c.trigger, Crawled: c.crawled})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || len(run.got) != 0 {
					t.Fatalf("err = %v after %d runs; want %q and no run", err, len(run.got), c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ran := len(run.got) == 1; ran != c.wantRun {
				t.Errorf("ran %d times, want run %t", len(run.got), c.wantRun)
			}
			if !slices.Equal(res.WaitingFor, c.wantWaiting) {
				t.Errorf("waiting for %q, want %q", res.WaitingFor, c.wantWaiting)
			}
			if !c.wantRun && (res.KPI != kpi || res.Date != day || res.QueryID != "") {
				t.Errorf("deferred result %+v", res)
			}
			if c.trigger == "" && len(run.checked) > 0 {
				t.Errorf("a manual run checked %v", run.checked)
			}
			if k := cmp.Or(c.kpi, "engagement_score"); k == "engagement_score" && c.trigger == plan.TriggerEvent && c.partErr == nil && len(c.crawled) == 0 && len(run.checked) != 3 {
				t.Errorf("checked %v, want the 3 inputs", run.checked)
			}
		})
	}
}

func TestHandle_TypesErrorsForTheWorkflow(t *testing.T) {
	tests := []struct {
		name    string
		req     aggregate.Request
		runErr  error
		want    any
		message string
	}{
		{"bad date", aggregate.Request{KPI: "engagement_score", Date: "2026-02-30"}, nil, &aggregate.InputError{}, `field "date"`},
		{"unknown KPI", aggregate.Request{KPI: "nope", Date: "2026-11-24"}, nil, &aggregate.InputError{}, `"nope" is not a KPI of the catalog (active_users_by_department,`},
		{"throttled", aggregate.Request{KPI: "engagement_score", Date: "2026-11-24"}, ctas.ErrThrottled, &aggregate.AthenaThrottled{}, "throttled"},
		{"query failed", aggregate.Request{KPI: "engagement_score", Date: "2026-11-24"}, errors.Join(ctas.ErrQueryFailed, errors.New("SYNTAX_ERROR")), &aggregate.QueryFailed{}, "SYNTAX_ERROR"},
		{"schema changed", aggregate.Request{KPI: "engagement_score", Date: "2026-11-24"}, ctas.ErrIncompatibleSchema, &aggregate.QueryFailed{}, "incompatible schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &fakeRunner{err: tt.runErr}
			_, err := handler(t, run).Handle(context.Background(), tt.req)
			if err == nil {
				t.Fatal("Handle succeeded")
			}
			var ok bool
			switch tt.want.(type) {
			case *aggregate.InputError:
				_, ok = err.(*aggregate.InputError)
				if len(run.got) != 0 {
					t.Errorf("bad input reached the runner")
				}
			case *aggregate.QueryFailed:
				_, ok = err.(*aggregate.QueryFailed)
			case *aggregate.AthenaThrottled:
				_, ok = err.(*aggregate.AthenaThrottled)
			}
			if !ok {
				t.Errorf("error is %T (%v), want %T", err, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q lacks %q", err, tt.message)
			}
		})
	}
}

// The deadline and a failure Athena marks retryable are neither InputError nor QueryFailed, so
// the workflow and the backfill worker retry them.
func TestHandle_PassesOtherErrorsThrough(t *testing.T) {
	for _, runErr := range []error{ctas.ErrDeadline, fmt.Errorf("%w: FAILED: INTERNAL_ERROR_QUERY_ENGINE", ctas.ErrQueryRetryable)} {
		run := &fakeRunner{err: runErr}
		_, err := handler(t, run).Handle(context.Background(), aggregate.Request{KPI: "engagement_score", Date: "2026-11-24"})
		var failed *aggregate.QueryFailed
		var input *aggregate.InputError
		if !errors.Is(err, runErr) || errors.As(err, &failed) || errors.As(err, &input) {
			t.Errorf("err = %v (%T), want %v as is (the workflow retries it)", err, err, runErr)
		}
	}
}

func TestRunnerConfig_ReadsTheEnvironmentAndNamesEveryMissingVariable(t *testing.T) {
	full := map[string]string{
		contract.EnvDatabase:         "kpilake_dev",
		contract.EnvWorkgroup:        "kpilake-dev-aggregation",
		contract.EnvAggregatedBucket: "aggregated-1",
		contract.EnvResultLocation:   "s3://query-results-1/athena/",
		contract.EnvResultKMSKey:     "arn:aws:kms:ap-northeast-1:123456789012:key/k-1",
	}
	without := func(names ...string) map[string]string {
		env := maps.Clone(full)
		for _, n := range names {
			delete(env, n)
		}
		return env
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		missing []string
	}{
		{name: "complete", env: full},
		{name: "no result settings", env: without(contract.EnvResultLocation, contract.EnvResultKMSKey),
			missing: []string{contract.EnvResultLocation, contract.EnvResultKMSKey}},
		{name: "no workgroup", env: without(contract.EnvWorkgroup), missing: []string{contract.EnvWorkgroup}},
		{name: "empty", env: map[string]string{}, missing: slices.Sorted(maps.Keys(full))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := aggregate.RunnerConfig(func(k string) string { return tc.env[k] })
			if len(tc.missing) == 0 {
				want := ctas.Config{Database: "kpilake_dev", Workgroup: "kpilake-dev-aggregation", AggregatedBucket: "aggregated-1",
					ResultLocation: "s3://query-results-1/athena/", ResultKMSKey: "arn:aws:kms:ap-northeast-1:123456789012:key/k-1"}
				if err != nil || cfg != want {
					t.Errorf("RunnerConfig = %+v, %v; want %+v", cfg, err, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("RunnerConfig accepted an environment without %v", tc.missing)
			}
			for _, name := range tc.missing {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
}

func TestRunnerConfig_ReadsTheSupersededGrace(t *testing.T) {
	env := map[string]string{
		contract.EnvDatabase: "kpilake_dev", contract.EnvWorkgroup: "wg", contract.EnvAggregatedBucket: "aggregated-1",
		contract.EnvResultLocation: "s3://query-results-1/athena/", contract.EnvResultKMSKey: "arn:aws:kms:ap-northeast-1:123456789012:key/k-1",
	}
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{{"", 0, true}, {"6h", 6 * time.Hour, true}, {"90m", 90 * time.Minute, true}, {"6", 0, false}, {"-1h", 0, false}} {
		env[contract.EnvSupersededGrace] = tc.value
		cfg, err := aggregate.RunnerConfig(func(k string) string { return env[k] })
		if tc.ok != (err == nil) || cfg.SupersededGrace != tc.want {
			t.Errorf("%s=%q: SupersededGrace %v, err %v; want %v, ok %t", contract.EnvSupersededGrace, tc.value, cfg.SupersededGrace, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), contract.EnvSupersededGrace) {
			t.Errorf("error %q does not name %s", err, contract.EnvSupersededGrace)
		}
	}
}
