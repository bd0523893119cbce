// Package ctas publishes one day of one KPI: it runs Athena CTAS into a fresh run prefix
// (aggregated/<kpi>/dt=D/run=<id>/) through a uniquely named temporary table, then points the KPI
// table's dt=D partition at that prefix with one Glue catalog call and drops the temporary table.
// Readers see the previous day's output or the new one, never a mix; a failed, stopped or
// incompatible run leaves the previous partition in place. Runs of one day may overlap: the publish
// protocol (publish.go, its invariants at its top) keeps the partition on ready output that
// exists, and deletes a superseded run only after a grace period, by a later run of the day or by
// the Sweeper.
//
// The daily workflow Lambda and the backfill worker both use Runner.
package ctas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/internal/rematch"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// athenaAPI is the part of Athena the runner calls.
type athenaAPI interface {
	StartQueryExecution(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	GetQueryExecution(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
	StopQueryExecution(context.Context, *athena.StopQueryExecutionInput, ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error)
}

// glueAPI is the part of the Glue Data Catalog the runner calls.
type glueAPI interface {
	GetTable(context.Context, *glue.GetTableInput, ...func(*glue.Options)) (*glue.GetTableOutput, error)
	CreateTable(context.Context, *glue.CreateTableInput, ...func(*glue.Options)) (*glue.CreateTableOutput, error)
	DeleteTable(context.Context, *glue.DeleteTableInput, ...func(*glue.Options)) (*glue.DeleteTableOutput, error)
	GetTables(context.Context, *glue.GetTablesInput, ...func(*glue.Options)) (*glue.GetTablesOutput, error)
	GetPartition(context.Context, *glue.GetPartitionInput, ...func(*glue.Options)) (*glue.GetPartitionOutput, error)
	CreatePartition(context.Context, *glue.CreatePartitionInput, ...func(*glue.Options)) (*glue.CreatePartitionOutput, error)
	UpdatePartition(context.Context, *glue.UpdatePartitionInput, ...func(*glue.Options)) (*glue.UpdatePartitionOutput, error)
}

// s3API is the part of S3 the runner calls: listing a day, marking a run ready and deleting
// earlier runs.
type s3API interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var (
	_ athenaAPI = (*athena.Client)(nil)
	_ glueAPI   = (*glue.Client)(nil)
	_ s3API     = (*s3.Client)(nil)
)

// Errors a caller (a Step Functions task, the backfill worker) can tell apart with errors.Is.
var (
	// ErrQueryFailed: Athena answered FAILED or CANCELLED; the message carries Athena's reason.
	ErrQueryFailed = errors.New("athena query failed")
	// ErrQueryRetryable: Athena answered FAILED but marked the failure retryable (AthenaError
	// Retryable: an internal or transient storage error), so running the query again may
	// succeed. It does not match ErrQueryFailed.
	ErrQueryRetryable = errors.New("athena query failed, and Athena says a retry may succeed")
	// ErrDeadline: the invocation's deadline came near; a running query was stopped.
	ErrDeadline = errors.New("invocation deadline near")
	// ErrThrottled: an AWS call was still throttled after every retry.
	ErrThrottled = errors.New("throttled")
	// ErrIncompatibleSchema: the query's output columns differ from the KPI table's.
	ErrIncompatibleSchema = errors.New("incompatible schema")
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
	dbRE     = rematch.MustCompile(`^[a-z0-9_]+$`, 1, 255)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// identRE is what the runner accepts as a table name it puts between double quotes.
	identRE   = rematch.MustCompile(`^[a-z][a-z0-9_]*$`, 1, 255)
	runIDRE   = regexp.MustCompile(`^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{8}$`)
	workgrpRE = rematch.MustCompile(`^[a-zA-Z0-9._-]+$`, 1, 128)
	s3URIRE   = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.+/)?$`)
	kmsKeyRE  = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$`)
)

func (c *Config) validate() error {
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
	switch {
	case c.ResultLocation == "" && c.ResultKMSKey == "":
	case !s3URIRE.MatchString(c.ResultLocation):
		errs = append(errs, fmt.Errorf("ResultLocation %q: give the query results location as s3://bucket/prefix/ (with ResultKMSKey)", c.ResultLocation))
	case !kmsKeyRE.MatchString(c.ResultKMSKey):
		errs = append(errs, fmt.Errorf("ResultKMSKey %q: give the ARN of the KMS key that encrypts query results (with ResultLocation)", c.ResultKMSKey))
	}
	if c.StaleTempAfter != 0 && c.StaleTempAfter < MinStaleTempAfter {
		errs = append(errs, fmt.Errorf("StaleTempAfter is %v; give at least %v (a run may be in flight for 15 minutes), or 0 for the default (%v)",
			c.StaleTempAfter, MinStaleTempAfter, DefaultStaleTempAfter))
	}
	stale := c.StaleTempAfter
	if stale == 0 {
		stale = DefaultStaleTempAfter
	}
	if c.SupersededGrace != 0 && (c.SupersededGrace < MinSupersededGrace || c.SupersededGrace < stale) {
		errs = append(errs, fmt.Errorf("SupersededGrace is %v; give at least %v (Athena's default DML timeout and the writes of dying runs) "+
			"and at least StaleTempAfter (%v), or 0 for the default (%v)", c.SupersededGrace, MinSupersededGrace, stale, DefaultSupersededGrace))
	}
	if c.StopMargin < 0 || c.PollInitial < 0 || c.PollMax < 0 || c.RetryBase < 0 || c.RetryMax < 0 || c.RetryAttempts < 0 {
		errs = append(errs, errors.New("durations and RetryAttempts must not be negative"))
	}
	return errors.Join(errs...)
}

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

// Runner publishes (KPI, day) aggregates. It is safe for concurrent use; build one per Lambda
// container, not per invocation.
type Runner struct {
	athena athenaAPI
	glue   glueAPI
	s3     s3API
	cfg    Config
	now    func() time.Time
	newRun func(time.Time) string
	pub    *publisher
}

// New returns a Runner over the given clients (in production *athena.Client, *glue.Client,
// *s3.Client). It fails if cfg is incomplete, naming every problem.
func New(a athenaAPI, g glueAPI, s s3API, cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("ctas.New: %w", err)
	}
	if a == nil || g == nil || s == nil {
		return nil, errors.New("ctas.New: the Athena, Glue and S3 clients are required")
	}
	cfg.withDefaults()
	r := &Runner{athena: a, glue: g, s3: s, cfg: cfg, now: time.Now, newRun: NewRunID}
	r.pub = &publisher{glue: g, s3: s, bucket: cfg.AggregatedBucket, database: cfg.Database, grace: cfg.SupersededGrace,
		log: cfg.Logger, now: func() time.Time { return r.now() }, retry: r.retry}
	return r, nil
}

// SDKRetryAttempts is how many attempts the clients built by NewFromConfig make per call: more than
// the SDK's default 3, because Athena throttles StartQueryExecution at about 20 TPS and refuses
// queries while the account's active-query quota is full.
const SDKRetryAttempts = 10

// NewFromConfig builds the Athena, Glue and S3 clients from awsCfg with a raised retry budget and
// returns a Runner over them.
func NewFromConfig(awsCfg aws.Config, cfg Config) (*Runner, error) {
	a, g, s := clients(awsCfg)
	return New(a, g, s, cfg)
}

// NewSweeperFromConfig is NewFromConfig for a Sweeper.
func NewSweeperFromConfig(awsCfg aws.Config, cfg Config) (*Sweeper, error) {
	a, g, s := clients(awsCfg)
	return NewSweeper(a, g, s, cfg)
}

// clients builds the Athena, Glue and S3 clients from awsCfg with a raised retry budget.
func clients(awsCfg aws.Config) (*athena.Client, *glue.Client, *s3.Client) {
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = SDKRetryAttempts
			o.MaxBackoff = 20 * time.Second
			// The client-side retry quota would stop retrying exactly when Athena is busiest.
			o.RateLimiter = ratelimit.None
		})
	}
	return athena.NewFromConfig(awsCfg, func(o *athena.Options) { o.Retryer = retryer() }),
		glue.NewFromConfig(awsCfg, func(o *glue.Options) { o.Retryer = retryer() }),
		s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.Retryer = retryer() })
}

// Request names one (KPI, day) to publish.
type Request struct {
	// KPI is the catalog name of the KPI (snake_case). Required.
	KPI string
	// Date is the business day. Required.
	Date layout.Day
	// Select is the KPI's rendered SELECT for Date, produced by the KPI catalog. Required.
	Select string
	// Table is the KPI's catalog table. Default: layout.KPITableName(KPI).
	Table string
}

// Result describes a published (KPI, day).
type Result struct {
	KPI          string `json:"kpi"`
	Date         string `json:"date"`
	QueryID      string `json:"query_id"`
	BytesScanned int64  `json:"bytes_scanned"`
	EngineTimeMs int64  `json:"engine_time_ms"`
	// Location is the run prefix the dt=Date partition now points at: this run's, or that of the
	// newer run named by SupersededBy.
	Location string `json:"location"`
	RunID    string `json:"run_id"`
	// SupersededBy is the newer run that serves the day in place of this one (two runs of a day
	// overlapped); this run's output is deleted after the grace period. Empty when this run
	// serves the day.
	SupersededBy string `json:"superseded_by,omitempty"`
	// WaitingFor, set only by the aggregate handler, lists the inputs (tables, as source.table or
	// kpi name, with the partition) that the catalog does not have for the day yet: the KPI was
	// deferred, nothing was queried or published, and the run that brings the last input runs it.
	WaitingFor []string `json:"waiting_for,omitempty"`
}

// NewRunID returns a run id that sorts by time: the UTC millisecond, then 8 random hex digits, such
// as 20261125T050615123Z-1f2e3d4c.
func NewRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.Replace(t.UTC().Format("20060102T150405.000"), ".", "", 1) + "Z-" + hex.EncodeToString(b[:])
}

// TempTableName is the temporary table of one run: layout.TempTablePrefix<kpi>_<yyyymmdd>_<run id, lowercased,
// - as _>.
func TempTableName(kpi string, d layout.Day, runID string) string {
	return layout.TempTablePrefix + kpi + "_" + strings.ReplaceAll(d.String(), "-", "") + "_" + strings.ToLower(strings.ReplaceAll(runID, "-", "_"))
}

// Statement renders the CTAS of one run. The identifiers and the location are validated by the
// caller; the SELECT comes from the KPI catalog.
func Statement(database, tempTable, location, selectSQL string) string {
	return fmt.Sprintf("CREATE TABLE \"%s\".\"%s\"\nWITH (format = 'PARQUET', write_compression = 'ZSTD', external_location = '%s')\nAS\n%s",
		database, tempTable, location, selectSQL)
}

func (r *Runner) check(req *Request) error {
	var errs []error
	if err := layout.ValidateName("KPI", req.KPI); err != nil {
		errs = append(errs, err)
	}
	if req.Date.IsZero() {
		errs = append(errs, errors.New("Date is required"))
	}
	if req.Table == "" && req.KPI != "" {
		req.Table = layout.KPITableName(req.KPI)
	}
	if !identRE.MatchString(req.Table) {
		errs = append(errs, fmt.Errorf("Table %q is not a catalog identifier (lowercase letters, digits, _)", req.Table))
	}
	req.Select = strings.TrimRight(strings.TrimSpace(req.Select), "; \n\t")
	if req.Select == "" {
		errs = append(errs, errors.New("Select is empty; render the KPI's query for the day first"))
	}
	return errors.Join(errs...)
}
