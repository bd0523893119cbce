package backfillsim_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpilake/kpilake/lambdas/backfill/backfillsim"
)

// runVirtual runs sc on testing/synctest's fake clock: the runner's real timers, no scaling, and
// a simulated hour costs only the CPU the calls take.
func runVirtual(t *testing.T, sc backfillsim.Scenario) backfillsim.Report {
	t.Helper()
	var r backfillsim.Report
	synctest.Test(t, func(t *testing.T) {
		var err error
		if r, err = backfillsim.Run(t.Context(), sc); err != nil {
			t.Fatal(err)
		}
	})
	t.Log(r.Summary())
	return r
}

// small is the issue's scenario cut down to run in a few seconds under -race: 60 days, quota 10.
func small() backfillsim.Scenario {
	sc := backfillsim.Issue6()
	sc.Days, sc.Quota, sc.Concurrency = 60, 10, 10
	return sc
}

// wantClean fails unless every (KPI, day) ends published once, in one run prefix.
func wantClean(t *testing.T, r backfillsim.Report) {
	t.Helper()
	if r.Lost != 0 || r.Duplicated != 0 || r.DLQ != 0 {
		t.Errorf("lost %d, duplicated %d, dead-lettered %d; want none of them", r.Lost, r.Duplicated, r.DLQ)
	}
	if r.MaxActive > r.Scenario.Quota {
		t.Errorf("%d queries were active at once; the quota is %d", r.MaxActive, r.Scenario.Quota)
	}
}

func TestSimulation_PublishesEveryPartitionOnceWithoutFaults(t *testing.T) {
	sc := small()
	r := runVirtual(t, sc)
	wantClean(t, r)
	if r.Republished != 0 || r.LeakedTempTables != 0 || r.QuotaThrottles != 0 {
		t.Errorf("republished %d, leaked temp tables %d, quota throttles %d; want 0 without faults",
			r.Republished, r.LeakedTempTables, r.QuotaThrottles)
	}
	if r.Invocations != sc.Days || r.Queries != r.Partitions {
		t.Errorf("%d invocations and %d queries; want one per job (%d) and one per partition (%d)",
			r.Invocations, r.Queries, sc.Days, r.Partitions)
	}
	// One worker per quota slot, one query at a time each: the slots stay busy but for polling
	// lag and the tail of the last jobs.
	if got := r.IdealRatio(); got < 1 || got > 1.3 {
		t.Errorf("makespan %s is %.3f × the ideal %s; want within [1, 1.3]", r.Makespan, got, r.Ideal)
	}
}

func TestSimulation_LosesAndDuplicatesNothingUnderThrottlingAndCrashes(t *testing.T) {
	sc := small()
	sc.ThrottleRate, sc.CrashRate = 0.2, 0.05
	r := runVirtual(t, sc)
	wantClean(t, r)
	if r.Crashed == 0 || r.InjectedThrottles == 0 {
		t.Errorf("%d crashes and %d injected throttles; the scenario must exercise both", r.Crashed, r.InjectedThrottles)
	}
}

func TestSimulation_WorkersBeyondTheQuotaAreThrottledNotLost(t *testing.T) {
	sc := small()
	sc.Days, sc.Concurrency = 30, 15
	r := runVirtual(t, sc)
	wantClean(t, r)
	if r.QuotaThrottles == 0 {
		t.Error("15 workers on a quota of 10 were never throttled; the stand-in does not enforce the quota")
	}
}

func TestSimulation_SequentialRunTakesTheSumOfItsQueries(t *testing.T) {
	sc := small()
	sc.Days, sc.Concurrency = 6, 1
	r := runVirtual(t, sc)
	wantClean(t, r)
	if r.Makespan < r.QueryTime || r.Makespan > r.QueryTime*5/4 {
		t.Errorf("one worker took %s for %s of queries; want between 1 and 1.25 times that", r.Makespan, r.QueryTime)
	}
}

func TestSimulation_DeadLettersMalformedJobsWithoutRetry(t *testing.T) {
	sc := small()
	sc.Days, sc.Malformed = 3, 2
	r := runVirtual(t, sc)
	if r.DLQ != 2 || r.Invocations != 5 || r.Lost != 0 {
		t.Errorf("DLQ %d, invocations %d, lost %d; want the 2 malformed jobs dead-lettered at their first "+
			"delivery and the 3 days published", r.DLQ, r.Invocations, r.Lost)
	}
}

func TestSimulation_ADayOfFiftyKPIsUnderABusyQuotaCompletes(t *testing.T) {
	sc := small()
	// 50 KPIs of 30 s on average: 25 minutes a day, more than one 15-minute invocation, and
	// longer still while the quota is full: 8 workers on 3 slots, and other users' queries
	// throttle 30% of the starts besides.
	sc.Days, sc.GeneratedKPIs = 8, 50
	sc.Quota, sc.Concurrency, sc.ThrottleRate = 3, 8, 0.3
	r := runVirtual(t, sc)
	wantClean(t, r)
	if r.Partitions != sc.Days*50 || r.OutOfOrder != 0 {
		t.Errorf("%d partitions, %d queries started before their dependencies were published; want %d and none",
			r.Partitions, r.OutOfOrder, sc.Days*50)
	}
	if r.Continuations < sc.Days || r.QuotaThrottles == 0 || r.InjectedThrottles == 0 {
		t.Errorf("%d continuations, %d quota and %d injected throttles; the scenario must need several invocations a day "+
			"and a busy quota", r.Continuations, r.QuotaThrottles, r.InjectedThrottles)
	}
}

func TestSimulation_KPILongerThanTheFunctionTimeoutEndsInTheDLQ(t *testing.T) {
	sc := small()
	// Every query takes 3 minutes and the function 2: no invocation publishes a KPI, so no
	// delivery makes progress and the job is not handed on.
	sc.Days, sc.FunctionTimeout, sc.MeanQuery = 1, 2*time.Minute, 3*time.Minute
	sc.QuerySpread, sc.RerunSpread = 0, 0
	r := runVirtual(t, sc)
	if r.DLQ != 1 || r.Invocations != r.Scenario.MaxReceiveCount || r.Lost != r.Partitions || r.Continuations != 0 {
		t.Errorf("DLQ %d, invocations %d, lost %d, continuations %d; want the job tried %d times, then dead-lettered, nothing published",
			r.DLQ, r.Invocations, r.Lost, r.Continuations, r.Scenario.MaxReceiveCount)
	}
	// Each failed delivery is given back after the worker's retry delay, not the visibility
	// timeout (12 minutes here), which two redeliveries would have waited twice.
	if vt := r.Scenario.VisibilityTimeout; r.Makespan >= vt {
		t.Errorf("the job reached the dead-letter queue after %s; want less than one visibility timeout (%s)", r.Makespan, vt)
	}
}

func TestSimulation_CrashedJobsComeBackAfterTheLeaseNotTheVisibilityTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		noLease bool
		check   func(r backfillsim.Report) string
	}{
		{"with the lease", false, func(r backfillsim.Report) string {
			if r.Makespan > r.Ideal*13/10 {
				return fmt.Sprintf("makespan %s is %.3f × the ideal %s; want at most 1.3", r.Makespan, r.IdealRatio(), r.Ideal)
			}
			return ""
		}},
		// The worker as it was: SQS ignores its visibility changes.
		{"without", true, func(r backfillsim.Report) string {
			if r.Makespan < r.Scenario.VisibilityTimeout {
				return fmt.Sprintf("makespan %s; a crashed job should wait for the visibility timeout (%s)", r.Makespan, r.Scenario.VisibilityTimeout)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := small()
			sc.CrashRate, sc.IgnoreVisibilityChanges = 0.05, tc.noLease
			r := runVirtual(t, sc)
			wantClean(t, r)
			if r.Crashed == 0 {
				t.Fatal("no invocation crashed; the scenario must exercise crashes")
			}
			if why := tc.check(r); why != "" {
				t.Error(why)
			}
		})
	}
}

func TestSimulation_RunsOnTheWallClockToo(t *testing.T) {
	sc := small()
	// 1 simulated second = 1 ms: a job of about 150 s takes a fifth of a second, timer slack
	// included, and its 15-minute timeout almost one second.
	sc.Days, sc.Quota, sc.Concurrency = 2, 2, 2
	sc.Scale = time.Millisecond
	r, err := backfillsim.Run(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	wantClean(t, r)
}

func TestSimulation_DuplicateDeliveriesLeaveOneRunPerDay(t *testing.T) {
	sc := small()
	sc.DuplicateRate = 0.1
	wantClean(t, runVirtual(t, sc))
}
