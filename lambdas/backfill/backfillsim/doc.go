// Package backfillsim is test and benchmark infrastructure, never deployed: it runs the real
// backfill worker (lambdas/backfill.Worker through lambdas/aggregate.Handler and lambdas/ctas.Runner)
// against an in-memory stand-in for Athena, the Glue Data Catalog and the aggregated bucket, fed by a
// simulated SQS queue and Lambda event source mapping, and reports how long a backfill takes and
// whether every (KPI, day) partition ends published exactly once.
//
// The stand-in enforces Athena's active-query quota (StartQueryExecution answers
// *types.TooManyRequestsException while Quota queries are QUEUED or RUNNING), can throttle a share
// of starts regardless, and runs every query for a duration drawn from a lognormal distribution.
// A CTAS that succeeds registers its temporary table and writes its output under its
// external_location, as Athena does; a stopped one leaves partial output. The SDK's retryer sits
// between the runner and the stand-in, configured as ctas.NewFromConfig configures it.
//
// The queue has a visibility timeout, receive counts and a redrive to a dead-letter queue after
// MaxReceiveCount receives; up to Concurrency pollers invoke Worker.Handle with one record each,
// delete what succeeded and leave what failed to reappear. The queue honours the worker's
// ChangeMessageVisibility (its lease and its retry delay) as SQS does: only the latest receipt
// handle of a message in flight may change it. A crashing invocation stops dead at a random AWS
// call (before or after the call takes effect): it makes no further call, not even the runner's
// cleanup or a heartbeat, its running query goes on, and its message reappears when the lease
// runs out.
//
// Time: every duration of a Scenario is simulated time. Scenario.Scale is the wall time that stands
// for one simulated second; the stand-in, the queue and the runner's poll and retry intervals are
// scaled by it. Under testing/synctest (a fake clock) Scale is time.Second and nothing is scaled:
// the runner runs with its production defaults, a simulated hour costs only the CPU of its calls,
// and the figures do not depend on the host. In scaled real time every sleep overshoots by the
// host's timer slack (about 1 ms), which inflates the makespan by slack/Scale per sleep; the
// tests and BenchmarkBackfill therefore run on the fake clock.
package backfillsim
