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

// The Runner, its ports (the AWS calls it makes) and the errors callers tell apart.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	r := &Runner{athena: a, glue: g, s3: s, cfg: cfg, now: time.Now, newRun: layout.NewRunID}
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
