package backfillsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/lambdas/backfill/backfillsim"
)

// benchEnvironment is the environment of the benchmark's backfill as cdk.json would declare it:
// Athena's default quota of 20 active queries, none reserved (the backfill runs alone), and
// backfill.maxConcurrency at the headroom that leaves, the most infra/config allows.
const benchEnvironment = `{"environments": {"bench": {"region": "ap-northeast-1",
	"athena": {"activeQueryQuota": 20, "reservedQueries": 0}, "backfill": {"maxConcurrency": 20}}}}`

// cdkJSON is the project's cdk.json, whose prod environment one scenario runs.
const cdkJSON = "../../../cdk.json"

// configured returns the issue's scenario with the quota and workers of environment env of the
// "kpilake" context value ctx, validated by infra/config as synth validates it: the backfill's
// quota is its headroom (the reserved queries are the daily workflow's and analysts'), its
// workers the event source mapping's maximum concurrency.
func configured(ctx []byte, env string) (backfillsim.Scenario, error) {
	cfg, err := config.FromJSON(ctx)
	if err != nil {
		return backfillsim.Scenario{}, err
	}
	e, ok := cfg.Environments[env]
	if !ok {
		return backfillsim.Scenario{}, fmt.Errorf("no environment %q", env)
	}
	sc := backfillsim.Issue6()
	sc.Quota = e.Athena.ActiveQueryQuota - e.Athena.ReservedQueries
	sc.Concurrency = e.Backfill.MaxConcurrency
	return sc, nil
}

// prodConfigured is the issue's scenario with cdk.json's prod quota and workers.
func prodConfigured() (backfillsim.Scenario, error) {
	b, err := os.ReadFile(cdkJSON)
	if err != nil {
		return backfillsim.Scenario{}, err
	}
	var doc struct {
		Context map[string]json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return backfillsim.Scenario{}, fmt.Errorf("%s: %w", cdkJSON, err)
	}
	return configured(doc.Context[config.ContextKey], "prod")
}

// Goals of the issue, checked on every run of a scenario that has them.
const (
	goalIdealRatio = 1.15
	// goalSeeds is how many seeds a scenario with goals runs: a crash near the end costs more
	// than one early, and one seed could be lucky.
	goalSeeds = 4
)

// benchScenarios are the issue's scenarios (goal: within 1.15 × ideal, nothing lost or duplicated,
// on each of goalSeeds seeds), the sequential baselines, and before/what-if runs that measure a
// change. Every one is 365 days × the 5 KPIs on benchEnvironment (quota 20, 20 workers) with
// queries of 30 s on average unless it says otherwise (the many50 ones: 73 days × 50 KPIs);
// baseline names the one-worker run its speedup is measured against.
var benchScenarios = []struct {
	name, baseline string
	goal           bool
	edit           func(*backfillsim.Scenario)
}{
	{"a_no_faults", "sequential", true, func(*backfillsim.Scenario) {}},
	{"b_throttle20", "sequential", true, func(s *backfillsim.Scenario) { s.ThrottleRate = 0.2 }},
	{"c_crash2", "sequential", true, func(s *backfillsim.Scenario) { s.CrashRate = 0.02 }},
	{"bc_throttle20_crash2", "sequential", true, func(s *backfillsim.Scenario) { s.ThrottleRate, s.CrashRate = 0.2, 0.02 }},
	{"bc_throttle20_crash5", "sequential", true, func(s *backfillsim.Scenario) { s.ThrottleRate, s.CrashRate = 0.2, 0.05 }},
	// SQS standard queues deliver at least once: 5% of receives hand a second worker a copy.
	{"dup5", "sequential", true, func(s *backfillsim.Scenario) { s.DuplicateRate = 0.05 }},
	// Queries of 15 s on average: one worker then takes about 8 h, as the system this replaces did.
	{"a_mean15s", "sequential_mean15s", true, func(s *backfillsim.Scenario) { s.MeanQuery = 15 * time.Second }},
	// cdk.json's prod: quota 20 with 5 reserved, 15 workers; the ideal is against its headroom.
	{"prod_bc_throttle20_crash2", "sequential", true, func(s *backfillsim.Scenario) {
		prod, err := prodConfigured()
		if err != nil {
			panic(err)
		}
		s.Quota, s.Concurrency = prod.Quota, prod.Concurrency
		s.ThrottleRate, s.CrashRate = 0.2, 0.02
	}},
	// 50 KPIs a day (GeneratedCatalog: 40 independent, a chain of 10 on top), 25 minutes of
	// queries a day, so every day takes two invocations or more and is handed on; 73 days, as many
	// partitions as two years of the catalog's five. Busy: other users' queries throttle 20% of
	// the starts; crashes land between a continuation's send and its original's deletion too.
	{"many50_throttle20", "sequential_many50", true, func(s *backfillsim.Scenario) {
		s.Days, s.GeneratedKPIs, s.ThrottleRate = 73, 50, 0.2
	}},
	{"many50_throttle20_crash2", "sequential_many50", true, func(s *backfillsim.Scenario) {
		s.Days, s.GeneratedKPIs, s.ThrottleRate, s.CrashRate = 73, 50, 0.2, 0.02
	}},
	// One worker: the baseline of the speedups, the whole year measured (not sampled).
	{"sequential", "sequential", false, func(s *backfillsim.Scenario) { s.Concurrency = 1 }},
	{"sequential_mean15s", "sequential_mean15s", false, func(s *backfillsim.Scenario) {
		s.MeanQuery, s.Concurrency = 15*time.Second, 1
	}},
	{"sequential_many50", "sequential_many50", false, func(s *backfillsim.Scenario) {
		s.Days, s.GeneratedKPIs, s.Concurrency = 73, 50, 1
	}},
	// Before: the worker held no lease, so a crashed or failed job waited for the queue's
	// visibility timeout (90 min).
	{"before_c_crash2_nolease", "sequential", false, func(s *backfillsim.Scenario) {
		s.CrashRate, s.IgnoreVisibilityChanges = 0.02, true
	}},
	{"before_bc_throttle20_crash2_nolease", "sequential", false, func(s *backfillsim.Scenario) {
		s.ThrottleRate, s.CrashRate, s.IgnoreVisibilityChanges = 0.2, 0.02, true
	}},
	// What-if: a lease of 1 or 5 minutes instead of 2.
	{"whatif_bc_throttle20_crash5_lease1m", "sequential", false, func(s *backfillsim.Scenario) {
		s.ThrottleRate, s.CrashRate, s.Lease = 0.2, 0.05, time.Minute
	}},
	{"whatif_bc_throttle20_crash5_lease5m", "sequential", false, func(s *backfillsim.Scenario) {
		s.ThrottleRate, s.CrashRate, s.Lease = 0.2, 0.05, 5*time.Minute
	}},
}

// scenario returns the benchmark scenario name (with its seed), or false.
func scenario(name string, seed uint64) (backfillsim.Scenario, bool) {
	for _, s := range benchScenarios {
		if s.name == name {
			sc, err := configured([]byte(benchEnvironment), "bench")
			if err != nil {
				panic(err)
			}
			s.edit(&sc)
			sc.Seed = seed
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
	seedEnv      = "KPILAKE_BACKFILLSIM_SEED"
	reportPrefix = "backfillsim-report: "
)

// TestSimulationChild runs the benchmark scenario named by $KPILAKE_BACKFILLSIM_SCENARIO with the
// seed $KPILAKE_BACKFILLSIM_SEED on the fake clock and prints its report for BenchmarkBackfill, its
// parent. Run as a plain test, it checks the same path on the small scenario: the report survives
// its JSON round trip.
func TestSimulationChild(t *testing.T) {
	name := os.Getenv(childEnv)
	seed, _ := strconv.ParseUint(os.Getenv(seedEnv), 10, 64)
	sc, ok := scenario(name, seed)
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

func runChild(b *testing.B, name string, seed uint64) backfillsim.Report {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestSimulationChild$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+name, seedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("scenario %s seed %d: %v\n%s%s", name, seed, err, out, stderr.Bytes())
	}
	for line := range strings.Lines(string(out)) {
		if js, ok := strings.CutPrefix(line, reportPrefix); ok {
			var r backfillsim.Report
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				b.Fatalf("scenario %s seed %d: %v", name, seed, err)
			}
			return r
		}
	}
	b.Fatalf("scenario %s seed %d printed no report:\n%s", name, seed, out)
	return backfillsim.Report{}
}

// missed lists how r misses the issue's goals.
func missed(r backfillsim.Report) []string {
	var why []string
	if x := r.IdealRatio(); x > goalIdealRatio {
		why = append(why, fmt.Sprintf("makespan %.3f × ideal > %.2f", x, goalIdealRatio))
	}
	for _, c := range []struct {
		what string
		n    int
	}{{"lost", r.Lost}, {"duplicated", r.Duplicated}, {"dead-lettered", r.DLQ}} {
		if c.n > 0 {
			why = append(why, fmt.Sprintf("%d partitions %s", c.n, c.what))
		}
	}
	if r.MaxActive > r.Scenario.Quota {
		why = append(why, fmt.Sprintf("%d queries active on a quota of %d", r.MaxActive, r.Scenario.Quota))
	}
	return why
}

// report adds the figures of a scenario's runs (runs[0] with seed 1, the seed of the sequential
// baseline's queries) to the benchmark line, as ratios; sequential is the baseline's makespan.
func report(b *testing.B, runs []backfillsim.Report, sequential time.Duration) {
	r := runs[0]
	b.ReportMetric(0, "ns/op") // wall time of the simulation, not of the backfill
	b.ReportMetric(r.IdealRatio(), "x-ideal")
	if len(runs) > 1 {
		worst := 0.0
		for _, r := range runs {
			worst = max(worst, r.IdealRatio())
		}
		b.ReportMetric(worst, "x-ideal-worst")
	}
	if sequential > 0 {
		b.ReportMetric(float64(sequential)/float64(r.Makespan), "x-speedup")
	}
	b.ReportMetric(r.Utilization, "utilization")
	var lost, dup, dlq int
	for _, r := range runs {
		lost, dup, dlq = lost+r.Lost, dup+r.Duplicated, dlq+r.DLQ
	}
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(dup), "duplicated")
	b.ReportMetric(float64(dlq), "dlq")
	for _, r := range runs {
		b.Logf("seed %d: %s", r.Scenario.Seed, r.Summary())
	}
}

// BenchmarkBackfill reports, per scenario, the makespan against the ideal (partitions / quota ×
// mean query time) and against one worker doing the whole year, Athena's utilization, and the
// partitions lost, duplicated and dead-lettered; it fails a scenario that misses the issue's goals
// (within 1.15 × ideal, nothing lost or duplicated) on any of its seeds. Times are simulated;
// `make bench-backfill` runs it.
func BenchmarkBackfill(b *testing.B) {
	baselines := map[string]backfillsim.Report{}
	for _, s := range benchScenarios {
		if _, ok := baselines[s.baseline]; !ok {
			baselines[s.baseline] = runChild(b, s.baseline, 1)
		}
	}
	for _, s := range benchScenarios {
		b.Run(s.name, func(b *testing.B) {
			var runs []backfillsim.Report
			if r, ok := baselines[s.name]; ok {
				runs = append(runs, r)
			} else {
				seeds := uint64(1)
				if s.goal {
					seeds = goalSeeds
				}
				for b.Loop() {
					runs = runs[:0]
					for seed := range seeds {
						runs = append(runs, runChild(b, s.name, seed+1))
					}
				}
			}
			report(b, runs, baselines[s.baseline].Makespan)
			if !s.goal {
				return
			}
			for _, r := range runs {
				if why := missed(r); len(why) > 0 {
					b.Errorf("seed %d misses the goal: %s", r.Scenario.Seed, strings.Join(why, "; "))
				}
			}
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
	sc, ok := scenario("a_no_faults", 1)
	if !ok {
		b.Fatal("no scenario a_no_faults")
	}
	sc.Scale = scale
	var r backfillsim.Report
	for b.Loop() {
		var err error
		if r, err = backfillsim.Run(b.Context(), sc); err != nil {
			b.Fatal(err)
		}
	}
	report(b, []backfillsim.Report{r}, 0)
}
