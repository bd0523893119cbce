package backfillsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/lambdas/backfill/backfillsim"
)

// benchScenarios are the issue's scenarios, the sequential baselines, and what-ifs that measure
// a proposed change. Every one is 365 days × the 5 KPIs on a quota of 20 with 20 workers and
// queries of 30 s on average unless it says otherwise; baseline names the one-worker run its
// speedup is measured against.
var benchScenarios = []struct {
	name, baseline string
	edit           func(*backfillsim.Scenario)
}{
	{"a_no_faults", "sequential", func(*backfillsim.Scenario) {}},
	{"b_throttle20", "sequential", func(s *backfillsim.Scenario) { s.ThrottleRate = 0.2 }},
	{"c_crash2", "sequential", func(s *backfillsim.Scenario) { s.CrashRate = 0.02 }},
	{"bc_throttle20_crash2", "sequential", func(s *backfillsim.Scenario) { s.ThrottleRate, s.CrashRate = 0.2, 0.02 }},
	// One worker: the baseline of the speedups, the whole year measured (not sampled).
	{"sequential", "sequential", func(s *backfillsim.Scenario) { s.Concurrency = 1 }},
	// Queries of 15 s on average: one worker then takes about 8 h, as the system this replaces did.
	{"a_mean15s", "sequential_mean15s", func(s *backfillsim.Scenario) { s.MeanQuery = 15 * time.Second }},
	{"sequential_mean15s", "sequential_mean15s", func(s *backfillsim.Scenario) {
		s.MeanQuery, s.Concurrency = 15*time.Second, 1
	}},
	// Before: the runner polled at most every 5 s (ctas.Config.PollMax), not every second.
	{"before_a_pollmax5s", "sequential", func(s *backfillsim.Scenario) { s.Runner.PollMax = 5 * time.Second }},
	{"before_a_mean15s_pollmax5s", "sequential_mean15s", func(s *backfillsim.Scenario) {
		s.MeanQuery, s.Runner.PollMax = 15*time.Second, 5*time.Second
	}},
	// Before: the worker held no lease, so a crashed job waited for the visibility timeout.
	{"before_bc_nolease", "sequential", func(s *backfillsim.Scenario) {
		s.ThrottleRate, s.CrashRate, s.IgnoreVisibilityChanges = 0.2, 0.02, true
	}},
	// SQS standard queues deliver at least once: 5% of receives hand a second worker a copy.
	{"dup5", "sequential", func(s *backfillsim.Scenario) { s.DuplicateRate = 0.05 }},
}

func scenario(name string) (backfillsim.Scenario, bool) {
	for _, s := range benchScenarios {
		if s.name == name {
			sc := backfillsim.Issue6()
			s.edit(&sc)
			return sc, true
		}
	}
	return backfillsim.Scenario{}, false
}

// The benchmark runs each scenario in a child process of the test binary (TestSimulationChild),
// because testing/synctest's fake clock is only given to tests. On the fake clock the runner keeps
// its production poll and retry intervals and the figures do not depend on the host's timer slack,
// which in scaled real time inflates every sleep (BenchmarkBackfillWallClock shows by how much).
const (
	childEnv     = "KPILAKE_BACKFILLSIM_SCENARIO"
	reportPrefix = "backfillsim-report: "
)

// TestSimulationChild runs the benchmark scenario named by $KPILAKE_BACKFILLSIM_SCENARIO on the
// fake clock and prints its report for BenchmarkBackfill, its parent. Run as a plain test, it
// checks the same path on the small scenario: the report survives its JSON round trip.
func TestSimulationChild(t *testing.T) {
	name := os.Getenv(childEnv)
	sc, ok := scenario(name)
	if name == "" {
		sc, ok = small(), true
	}
	if !ok {
		t.Fatalf("no benchmark scenario %q", name)
	}
	r := runVirtual(t, sc)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		var back backfillsim.Report
		if err := json.Unmarshal(b, &back); err != nil || back.Makespan != r.Makespan || back.Lost != r.Lost || back.Ideal != r.Ideal {
			t.Errorf("report does not survive its JSON round trip: %v\n%s", err, b)
		}
		wantClean(t, r)
		return
	}
	fmt.Printf("\n%s%s\n", reportPrefix, b)
}

func runChild(b *testing.B, name string) backfillsim.Report {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestSimulationChild$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("scenario %s: %v\n%s%s", name, err, out, stderr.Bytes())
	}
	for line := range strings.Lines(string(out)) {
		if js, ok := strings.CutPrefix(line, reportPrefix); ok {
			var r backfillsim.Report
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				b.Fatalf("scenario %s: %v", name, err)
			}
			return r
		}
	}
	b.Fatalf("scenario %s printed no report:\n%s", name, out)
	return backfillsim.Report{}
}

// report adds the figures to the benchmark line; sequential is the baseline's makespan (0: none).
func report(b *testing.B, r backfillsim.Report, sequential time.Duration) {
	b.ReportMetric(0, "ns/op") // wall time of the simulation, not of the backfill
	b.ReportMetric(r.IdealRatio(), "x-ideal")
	if sequential > 0 {
		b.ReportMetric(float64(sequential)/float64(r.Makespan), "x-speedup")
	}
	b.ReportMetric(r.Makespan.Minutes(), "makespan-min")
	b.ReportMetric(r.Ideal.Minutes(), "ideal-min")
	b.ReportMetric(float64(r.Lost), "lost")
	b.ReportMetric(float64(r.Duplicated), "duplicated")
	b.ReportMetric(float64(r.DLQ), "dlq")
	b.ReportMetric(float64(r.Republished), "republished")
	b.ReportMetric(float64(r.LeakedTempTables), "leaked-tmp")
	b.Log(r.Summary())
}

// BenchmarkBackfill reports, per scenario, the makespan against the ideal (partitions / quota ×
// mean query time) and against one worker doing the whole year, and the partitions lost,
// duplicated and dead-lettered. Times are simulated; `make bench-backfill` runs it.
func BenchmarkBackfill(b *testing.B) {
	reports := map[string]backfillsim.Report{}
	for _, s := range benchScenarios {
		if _, ok := reports[s.baseline]; !ok {
			reports[s.baseline] = runChild(b, s.baseline)
		}
	}
	for _, s := range benchScenarios {
		b.Run(s.name, func(b *testing.B) {
			r, ok := reports[s.name]
			if !ok {
				for b.Loop() {
					r = runChild(b, s.name)
				}
			}
			report(b, r, reports[s.baseline].Makespan)
		})
	}
}

// BenchmarkBackfillWallClock runs scenario (a) in scaled real time, 1 simulated second =
// $KPILAKE_BACKFILLSIM_SCALE of wall time (default 5ms): a cross-check of the fake clock. Its
// ratio to the ideal is higher by the host's timer slack (about 1 ms a sleep here) over the scale.
func BenchmarkBackfillWallClock(b *testing.B) {
	scale := 5 * time.Millisecond
	if v := os.Getenv("KPILAKE_BACKFILLSIM_SCALE"); v != "" {
		var err error
		if scale, err = time.ParseDuration(v); err != nil || scale <= 0 {
			b.Fatalf("KPILAKE_BACKFILLSIM_SCALE=%q: give a positive duration such as 5ms", v)
		}
	}
	sc := backfillsim.Issue6()
	sc.Scale = scale
	var r backfillsim.Report
	for b.Loop() {
		var err error
		if r, err = backfillsim.Run(b.Context(), sc); err != nil {
			b.Fatal(err)
		}
	}
	report(b, r, 0)
}
