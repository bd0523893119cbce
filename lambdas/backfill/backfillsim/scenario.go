package backfillsim

import (
	"errors"
	"fmt"
	"time"

	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/lambdas/ctas"
)

// Scenario is one simulated backfill. Durations are simulated time (see Scale).
type Scenario struct {
	// Days is how many business days are backfilled, one SQS job each, from FirstDay.
	Days int
	// FirstDay is the first business day, YYYY-MM-DD. Default: 2025-01-01.
	FirstDay string
	// KPIs each job names; nil means the whole catalog, as `kpilake backfill` sends by default.
	KPIs []string
	// GeneratedKPIs, when positive, replaces the catalog of queries/ (five KPIs) with that many
	// made-up ones (GeneratedCatalog), so that a day needs more than one invocation.
	GeneratedKPIs int

	// Quota is Athena's active-query quota: StartQueryExecution is throttled while this many
	// queries are QUEUED or RUNNING.
	Quota int
	// Concurrency is the event source mapping's MaxConcurrency: how many workers run at once.
	Concurrency int

	// MeanQuery is the mean query time of a (KPI, day). Query times are lognormal with
	// QuerySpread as the sigma of their logarithm, fixed per (KPI, day) and Seed, so every scenario
	// with the same Seed runs the same queries for the same times.
	MeanQuery   time.Duration
	QuerySpread float64
	// RerunSpread is the sigma of the lognormal factor by which one run of a (KPI, day) differs
	// from another (a rerun of the same query does not take exactly the same time).
	RerunSpread float64
	// APILatency is how long every AWS call takes, Athena, Glue, S3 and SQS alike.
	APILatency time.Duration

	// ThrottleRate is the share of StartQueryExecution calls answered TooManyRequestsException
	// whatever the number of active queries (another user of the account, the 20 TPS limit).
	ThrottleRate float64
	// CrashRate is the probability that an invocation dies before it can report: it stops at a
	// random AWS call of its job (or after its last) and its message reappears when the worker's
	// lease on it runs out (the visibility timeout, if it died before its first lease).
	CrashRate float64
	// DuplicateRate is the probability that SQS delivers a received message a second time at once,
	// as a standard queue may (at-least-once delivery).
	DuplicateRate float64
	// Malformed adds this many jobs that are not JSON; the worker must dead-letter them.
	Malformed int

	// FunctionTimeout is the worker Lambda's timeout: the invocation's deadline. Default: 15m, as
	// infra/backfill.FunctionTimeout.
	FunctionTimeout time.Duration
	// VisibilityTimeout of the queue. Default: 6 × FunctionTimeout, as infra/backfill sets it.
	VisibilityTimeout time.Duration
	// MaxReceiveCount of the redrive policy. Default: 3, as infra/backfill.MaxReceiveCount.
	MaxReceiveCount int
	// Lease is the worker's lease on the message it works (backfill.Config.Lease): the job of an
	// invocation that died comes back at most this long after its last heartbeat. Default:
	// backfill.DefaultLease. In scaled real time it is rounded up to whole wall seconds (SQS's
	// unit) and at least backfill.MinLease of wall time: coarse, so scaled runs are for fault-free
	// cross-checks.
	Lease time.Duration
	// RetryDelay is how long a job reported as failed waits for its next delivery, doubling with
	// each failed delivery (backfill.Config.RetryDelay). Default: backfill.DefaultRetryDelay;
	// whole wall seconds in scaled real time.
	RetryDelay time.Duration
	// IgnoreVisibilityChanges is a what-if, the worker as it was before its lease: SQS accepts
	// ChangeMessageVisibility and ignores it, so the message of an invocation that died or
	// reported a failure reappears VisibilityTimeout after it was received.
	IgnoreVisibilityChanges bool

	// Runner tunes the CTAS runner: PollInitial, PollMax, RetryBase, RetryMax, StopMargin (all
	// simulated time) and RetryAttempts. Zero values are the runner's defaults (DefaultRunner).
	// Database, Workgroup, AggregatedBucket, Logger and Tracer are set by the simulation.
	Runner ctas.Config

	// Seed makes query times, throttles, crashes and duplicates reproducible (up to goroutine
	// scheduling). Default: 1.
	Seed uint64
	// Scale is the wall time that stands for one simulated second: time.Second under
	// testing/synctest, a millisecond or two in real time. Default: time.Second.
	Scale time.Duration
}

// DefaultRunner is ctas.Config's documented defaults for the tuning the simulation scales.
var DefaultRunner = ctas.Config{
	StopMargin:    30 * time.Second,
	PollInitial:   500 * time.Millisecond,
	PollMax:       time.Second,
	RetryAttempts: 8,
	RetryBase:     500 * time.Millisecond,
	RetryMax:      20 * time.Second,
}

// SDKMaxBackoff is the retryer's MaxBackoff in ctas.NewFromConfig; its attempts are
// ctas.SDKRetryAttempts.
const SDKMaxBackoff = 20 * time.Second

// Issue6 is the issue's scenario (a): 365 days × the five KPIs of the catalog, Athena quota 20,
// 20 workers, no faults. Query times average 30 s.
func Issue6() Scenario {
	return Scenario{
		Days:        365,
		Quota:       20,
		Concurrency: 20,
		MeanQuery:   30 * time.Second,
		QuerySpread: 0.5,
		RerunSpread: 0.1,
		APILatency:  50 * time.Millisecond,
		Seed:        1,
	}
}

func (s *Scenario) withDefaults() {
	if s.FirstDay == "" {
		s.FirstDay = "2025-01-01"
	}
	if s.FunctionTimeout == 0 {
		s.FunctionTimeout = 15 * time.Minute
	}
	if s.VisibilityTimeout == 0 {
		s.VisibilityTimeout = 6 * s.FunctionTimeout
	}
	if s.MaxReceiveCount == 0 {
		s.MaxReceiveCount = 3
	}
	if s.Lease == 0 {
		s.Lease = backfill.DefaultLease
	}
	if s.RetryDelay == 0 {
		s.RetryDelay = backfill.DefaultRetryDelay
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.Scale == 0 {
		s.Scale = time.Second
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&s.Runner.StopMargin, DefaultRunner.StopMargin)
	def(&s.Runner.PollInitial, DefaultRunner.PollInitial)
	def(&s.Runner.PollMax, DefaultRunner.PollMax)
	def(&s.Runner.RetryBase, DefaultRunner.RetryBase)
	def(&s.Runner.RetryMax, DefaultRunner.RetryMax)
	if s.Runner.RetryAttempts == 0 {
		s.Runner.RetryAttempts = DefaultRunner.RetryAttempts
	}
}

func (s *Scenario) validate() error {
	var errs []error
	if s.Days < 1 {
		errs = append(errs, fmt.Errorf("Days is %d; give at least 1", s.Days))
	}
	if s.Quota < 1 {
		errs = append(errs, fmt.Errorf("Quota is %d; give Athena's active-query quota (at least 1)", s.Quota))
	}
	if s.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("Concurrency is %d; give at least 1 worker", s.Concurrency))
	}
	if s.MeanQuery <= 0 {
		errs = append(errs, errors.New("MeanQuery must be positive"))
	}
	if s.QuerySpread < 0 || s.RerunSpread < 0 {
		errs = append(errs, errors.New("QuerySpread and RerunSpread must not be negative"))
	}
	for name, p := range map[string]float64{"ThrottleRate": s.ThrottleRate, "CrashRate": s.CrashRate, "DuplicateRate": s.DuplicateRate} {
		if p < 0 || p >= 1 {
			errs = append(errs, fmt.Errorf("%s is %g; give a probability in [0, 1)", name, p))
		}
	}
	if s.GeneratedKPIs < 0 {
		errs = append(errs, fmt.Errorf("GeneratedKPIs is %d; give 0 for the catalog of queries/, or how many KPIs to make up", s.GeneratedKPIs))
	}
	if s.APILatency < 0 || s.Malformed < 0 || s.MaxReceiveCount < 0 || s.FunctionTimeout < 0 || s.VisibilityTimeout < 0 ||
		s.Lease < 0 || s.RetryDelay < 0 || s.Scale < 0 {
		errs = append(errs, errors.New("APILatency, Malformed, MaxReceiveCount, FunctionTimeout, VisibilityTimeout, Lease, RetryDelay and Scale must not be negative"))
	}
	return errors.Join(errs...)
}

// wall converts a simulated duration to wall time.
func (s *Scenario) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(s.Scale) / float64(time.Second))
}

// sim converts a wall duration to simulated time.
func (s *Scenario) sim(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(time.Second) / float64(s.Scale))
}

// Report is what one simulated backfill did. Durations are simulated time.
type Report struct {
	Scenario Scenario
	// Jobs is the number of SQS messages sent (days, plus the malformed ones); Partitions the
	// number of (KPI, day) partitions they must publish.
	Jobs, Partitions int
	// Continuations counts the jobs the worker sent on: the KPIs of a day that one invocation
	// could not finish.
	Continuations int

	// Makespan runs from the first message sent to the last invocation's end, when the queue is
	// empty and no worker is busy.
	Makespan time.Duration
	// QueryTime is the sum of the first-run query times of every (KPI, day): what a sequential run
	// spends in Athena at the least.
	QueryTime time.Duration
	// Ideal is Partitions / Quota × the mean query time: QueryTime / Quota.
	Ideal time.Duration

	// Lost counts (KPI, day) with no partition at the end, or one that points at a prefix
	// holding no object.
	Lost int
	// Duplicated counts (KPI, day) whose partition is not on its newest run prefix in S3, or
	// with objects outside a run prefix (superseded runs stay for the grace period).
	Duplicated int
	// DLQ counts messages on the dead-letter queue: sent by the worker or moved by the redrive.
	DLQ int
	// Republished counts partition switches beyond the first per (KPI, day): a redelivered job
	// reruns its day.
	Republished int
	// OutOfOrder counts the queries of a (KPI, day) started before every KPI it depends on had a
	// partition for the day.
	OutOfOrder int
	// LeakedTempTables counts temporary CTAS tables left in the catalog.
	LeakedTempTables int

	// Invocations of the worker, of which Crashed died before reporting, TimedOut ran into
	// Lambda's timeout and Failed reported their record as failed.
	Invocations, Crashed, TimedOut, Failed int
	// VisibilityChanges counts the worker's ChangeMessageVisibility calls: leases and retry delays.
	VisibilityChanges int
	// Queries started (accepted by StartQueryExecution); QuotaThrottles and InjectedThrottles
	// count the StartQueryExecution calls refused; MaxActive is the most queries active at once.
	Queries, QuotaThrottles, InjectedThrottles, MaxActive int

	// Where the workers' time went, summed over all workers (Concurrency × Makespan in all):
	// ObserveLag is from a query's end to the GetQueryExecution that saw it; ThrottleWait from a
	// run's first StartQueryExecution to the one accepted; Idle is workers waiting for a message.
	ObserveLag, ThrottleWait, Idle time.Duration
	// Utilization is the share of Quota × Makespan during which queries ran.
	Utilization float64
}

// IdealRatio is Makespan / Ideal.
func (r Report) IdealRatio() float64 { return float64(r.Makespan) / float64(r.Ideal) }

// Summary is the report on one line (simulated durations).
func (r Report) Summary() string {
	q := float64(max(r.Queries, 1))
	return fmt.Sprintf("%d jobs (+%d continuations), %d partitions, Q=%d, concurrency %d: makespan %s, ideal %s (×%.3f), "+
		"lost %d, duplicated %d, DLQ %d, republished %d, out of order %d, leaked temp tables %d; "+
		"invocations %d (crashed %d, timed out %d, failed %d), visibility changes %d, queries %d, throttled %d by the quota + %d injected, max active %d; "+
		"per query: observe lag %.2fs, throttle wait %.2fs; idle workers %.1f%%, Athena utilization %.1f%%",
		r.Jobs, r.Continuations, r.Partitions, r.Scenario.Quota, r.Scenario.Concurrency, r.Makespan.Round(time.Second), r.Ideal.Round(time.Second), r.IdealRatio(),
		r.Lost, r.Duplicated, r.DLQ, r.Republished, r.OutOfOrder, r.LeakedTempTables,
		r.Invocations, r.Crashed, r.TimedOut, r.Failed, r.VisibilityChanges, r.Queries, r.QuotaThrottles, r.InjectedThrottles, r.MaxActive,
		r.ObserveLag.Seconds()/q, r.ThrottleWait.Seconds()/q,
		100*float64(r.Idle)/float64(time.Duration(r.Scenario.Concurrency)*r.Makespan), 100*r.Utilization)
}
