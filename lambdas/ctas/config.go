package ctas

// Config, its defaults and its validation: what a Runner or a Sweeper needs besides its clients.

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/kpilake/kpilake/internal/rematch"
	"github.com/kpilake/kpilake/lambdas/metrics"
)

// Config is what a Runner needs besides its clients; one Config serves every KPI of an environment.
type Config struct {
	// Database is the Glue database of the KPI tables (and of the temporary tables). Required.
	Database string
	// Workgroup is the Athena workgroup the queries run in. Required.
	Workgroup string
	// AggregatedBucket is the aggregated zone's bucket name (no s3:// prefix). Required.
	AggregatedBucket string
	// ResultLocation (s3://bucket/prefix/) and ResultKMSKey (a KMS key ARN), when set, are sent
	// with every query as its result configuration: output under ResultLocation, encrypted with
	// SSE_KMS and ResultKMSKey. Give both or neither; neither leaves both to the workgroup.
	// Default: "", the workgroup's.
	ResultLocation, ResultKMSKey string
	// StopMargin is how long before the context's deadline the runner stops a running query and
	// fails, leaving time to stop it and clean up. Default: 30s.
	StopMargin time.Duration
	// PollInitial and PollMax bound the delay between GetQueryExecution calls, which doubles from
	// PollInitial up to PollMax. Default: 500ms and 1s: a query's end is seen within a second,
	// which keeps a backfill near its ideal makespan (with 5s, 8% of it went to noticing ends;
	// see lambdas/backfill/backfillsim), at one call per second per running query.
	PollInitial, PollMax time.Duration
	// RetryAttempts is how many times a throttled call is tried in all (on top of the SDK's own
	// retries). Default: 8.
	RetryAttempts int
	// RetryBase and RetryMax bound the full-jitter exponential backoff between throttled attempts.
	// Default: 500ms and 20s.
	RetryBase, RetryMax time.Duration
	// Logger receives one JSON line per run. Default: slog JSON to stdout.
	Logger *slog.Logger
	// Tracer records a span per run. Default: no tracing.
	Tracer Tracer
	// Metrics receives one EMF record per published run (bytes scanned, engine time, published
	// day and its age). Default: nil, no metrics.
	Metrics *metrics.EMF
	// TimeZone is the business time zone, in which a published day's age is measured. Default: UTC.
	TimeZone *time.Location
	// StaleTempAfter is the age (by run id) past which a temporary table of the same KPI and day
	// is left over from a run that crashed, and is dropped by the next run's cleanup. At least
	// MinStaleTempAfter. Default: DefaultStaleTempAfter.
	StaleTempAfter time.Duration
	// SupersededGrace is how long a run's output stays after the partition stopped naming it
	// (publish.go, I3), so that queries planned against it still read it. At least
	// MinSupersededGrace and StaleTempAfter. Default: DefaultSupersededGrace.
	SupersededGrace time.Duration
}

// A run's temporary table exists from its CTAS to its cleanup, all within its Lambda invocation,
// which Lambda ends after 15 minutes at most. Older temporary tables belong to runs that cannot be
// in flight any more: a crashed invocation's, or one whose process was killed.
const (
	// MinStaleTempAfter is Lambda's longest invocation plus a margin for clock skew.
	MinStaleTempAfter = 20 * time.Minute
	// DefaultStaleTempAfter leaves plenty of room beyond MinStaleTempAfter.
	DefaultStaleTempAfter = time.Hour
)

// A superseded run must outlive every query that planned against it (publish.go, I3): Athena's
// DML query timeout is 30 minutes unless raised, and can be raised to 240 minutes at most
// (docs.aws.amazon.com/athena/latest/ug/service-limits.html); add twice writeWindow for writes
// of dying runs and the moves that follow them.
const (
	// MinSupersededGrace covers the default DML timeout: 30 minutes plus 2*writeWindow.
	MinSupersededGrace = 30*time.Minute + 2*writeWindow
	// DefaultSupersededGrace covers the largest DML timeout Athena allows (240 minutes) plus
	// 2*writeWindow, with an hour to spare for a query's time in Athena's queue: 6 hours. Keeping
	// a day's KPI output twice for 6 hours costs next to nothing.
	DefaultSupersededGrace = 6 * time.Hour
)

var (
	dbRE      = rematch.MustCompile(`^[a-z0-9_]+$`, 1, 255)
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	workgrpRE = rematch.MustCompile(`^[a-zA-Z0-9._-]+$`, 1, 128)
	s3URIRE   = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.+/)?$`)
	kmsKeyRE  = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$`)
)

// validate names every problem of c, each under its field with the fix.
func (c *Config) validate() error {
	return errors.Join(c.validateNames(), c.validateResults(), c.validateAges(), c.validateSigns())
}

// validateNames checks the names of the database, the workgroup and the bucket.
func (c *Config) validateNames() error {
	var errs []error
	if !dbRE.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("Database %q: give the Glue database name (lowercase letters, digits, _)", c.Database))
	}
	if !workgrpRE.MatchString(c.Workgroup) {
		errs = append(errs, fmt.Errorf("Workgroup %q: give the Athena workgroup name", c.Workgroup))
	}
	if !bucketRE.MatchString(c.AggregatedBucket) {
		errs = append(errs, fmt.Errorf("AggregatedBucket %q: give the bucket name without s3://", c.AggregatedBucket))
	}
	return errors.Join(errs...)
}

// validateResults checks the result settings, which come both or neither.
func (c *Config) validateResults() error {
	switch {
	case c.ResultLocation == "" && c.ResultKMSKey == "":
		return nil
	case !s3URIRE.MatchString(c.ResultLocation):
		return fmt.Errorf("ResultLocation %q: give the query results location as s3://bucket/prefix/ (with ResultKMSKey)", c.ResultLocation)
	case !kmsKeyRE.MatchString(c.ResultKMSKey):
		return fmt.Errorf("ResultKMSKey %q: give the ARN of the KMS key that encrypts query results (with ResultLocation)", c.ResultKMSKey)
	}
	return nil
}

// validateAges checks StaleTempAfter and SupersededGrace against their minimums; 0 stands for the
// default.
func (c *Config) validateAges() error {
	var errs []error
	if c.StaleTempAfter != 0 && c.StaleTempAfter < MinStaleTempAfter {
		errs = append(errs, fmt.Errorf("StaleTempAfter is %v; give at least %v (a run may be in flight for 15 minutes), or 0 for the default (%v)",
			c.StaleTempAfter, MinStaleTempAfter, DefaultStaleTempAfter))
	}
	stale := cmp.Or(c.StaleTempAfter, DefaultStaleTempAfter)
	if c.SupersededGrace != 0 && (c.SupersededGrace < MinSupersededGrace || c.SupersededGrace < stale) {
		errs = append(errs, fmt.Errorf("SupersededGrace is %v; give at least %v (Athena's default DML timeout and the writes of dying runs) "+
			"and at least StaleTempAfter (%v), or 0 for the default (%v)", c.SupersededGrace, MinSupersededGrace, stale, DefaultSupersededGrace))
	}
	return errors.Join(errs...)
}

// validateSigns checks that no duration or count is negative.
func (c *Config) validateSigns() error {
	if min(c.StopMargin, c.PollInitial, c.PollMax, c.RetryBase, c.RetryMax) < 0 || c.RetryAttempts < 0 {
		return errors.New("durations and RetryAttempts must not be negative")
	}
	return nil
}

// withDefaults sets every field left zero to its default.
func (c *Config) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.StopMargin, 30*time.Second)
	def(&c.PollInitial, 500*time.Millisecond)
	def(&c.PollMax, time.Second)
	def(&c.RetryBase, 500*time.Millisecond)
	def(&c.RetryMax, 20*time.Second)
	def(&c.StaleTempAfter, DefaultStaleTempAfter)
	def(&c.SupersededGrace, DefaultSupersededGrace)
	if c.PollMax < c.PollInitial {
		c.PollMax = c.PollInitial
	}
	if c.RetryAttempts == 0 {
		c.RetryAttempts = 8
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if c.Tracer == nil {
		c.Tracer = NopTracer{}
	}
	if c.TimeZone == nil {
		c.TimeZone = time.UTC
	}
}
