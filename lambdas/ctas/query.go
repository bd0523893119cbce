package ctas

// One CTAS from start to end: its statement, its start (idempotent under retries), the polling
// until Athena says it ended, and the stop when the invocation's deadline comes near.

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// query runs the run's CTAS to its end and records its id and statistics in res. A failed or
// stopped CTAS may still have registered the temporary table: it is dropped, and its data stays
// unreferenced until the next successful run of the day deletes it.
func (r *Runner) query(ctx context.Context, rn *run, res *Result) error {
	id, err := r.startQuery(ctx, Statement(r.cfg.Database, rn.tmp, res.Location, rn.req.Select), requestToken(rn.id, rn.req))
	if err != nil {
		return fmt.Errorf("start query: %w", err)
	}
	res.QueryID = id
	stats, err := r.wait(ctx, id)
	if err != nil {
		r.dropTemp(ctx, rn.log, rn.tmp)
		return fmt.Errorf("query %s: %w", id, err)
	}
	if stats != nil {
		res.BytesScanned = aws.ToInt64(stats.DataScannedInBytes)
		res.EngineTimeMs = aws.ToInt64(stats.EngineExecutionTimeInMillis)
	}
	return nil
}

// Statement renders the CTAS of one run. The identifiers and the location are validated by the
// caller; the SELECT comes from the KPI catalog.
func Statement(database, tempTable, location, selectSQL string) string {
	return fmt.Sprintf("CREATE TABLE \"%s\".\"%s\"\nWITH (format = 'PARQUET', write_compression = 'ZSTD', external_location = '%s')\nAS\n%s",
		database, tempTable, location, selectSQL)
}

// startQuery starts stmt in the runner's workgroup and returns its query id. token makes a
// retried start idempotent: Athena runs the query once.
func (r *Runner) startQuery(ctx context.Context, stmt, token string) (string, error) {
	out, err := retried(ctx, r.retry, "athena StartQueryExecution", func(ctx context.Context) (*athena.StartQueryExecutionOutput, error) {
		return r.athena.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
			QueryString:           aws.String(stmt),
			WorkGroup:             aws.String(r.cfg.Workgroup),
			QueryExecutionContext: &atypes.QueryExecutionContext{Database: aws.String(r.cfg.Database)},
			ResultConfiguration:   r.resultConfiguration(),
			ClientRequestToken:    aws.String(token),
		})
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueryExecutionId), nil
}

// requestToken is Athena's idempotency token for one run (32 to 128 characters).
func requestToken(runID string, req Request) string {
	t := runID + "-" + req.Date.String() + "-" + req.KPI
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

// resultConfiguration is the query's result configuration, or nil to leave it to the workgroup.
//
// A CTAS with external_location cannot run in a workgroup that enforces its settings, so the
// runner's workgroup does not, and in such a workgroup a client's settings win over the
// workgroup's. Athena encrypts a CTAS's table data with the query's result encryption; sending it
// with each query keeps the KPI data SSE-KMS with the lake key even if someone removes the
// workgroup's default, instead of trusting a setting the workgroup no longer enforces.
func (r *Runner) resultConfiguration() *atypes.ResultConfiguration {
	if r.cfg.ResultLocation == "" {
		return nil
	}
	return &atypes.ResultConfiguration{
		OutputLocation: aws.String(r.cfg.ResultLocation),
		EncryptionConfiguration: &atypes.EncryptionConfiguration{
			EncryptionOption: atypes.EncryptionOptionSseKms,
			KmsKey:           aws.String(r.cfg.ResultKMSKey),
		},
	}
}

// wait polls the query until it ends, stopping it when ctx's deadline is near.
func (r *Runner) wait(ctx context.Context, queryID string) (*atypes.QueryExecutionStatistics, error) {
	for delay := r.cfg.PollInitial; ; delay = min(2*delay, r.cfg.PollMax) {
		out, err := retried(ctx, r.retry, "athena GetQueryExecution", func(ctx context.Context) (*athena.GetQueryExecutionOutput, error) {
			return r.athena.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(queryID)})
		})
		if err != nil {
			r.stop(ctx, queryID)
			return nil, fmt.Errorf("query stopped: %w", err)
		}
		if stats, done, err := ended(out); done {
			return stats, err
		}
		if err := r.sleep(ctx, delay); err != nil {
			r.stop(ctx, queryID)
			return nil, fmt.Errorf("query stopped: %w", err)
		}
	}
}

// ended reads a query's state: done once it succeeded (with its statistics, err nil), failed or
// was cancelled (err ErrQueryRetryable or ErrQueryFailed).
func ended(out *athena.GetQueryExecutionOutput) (stats *atypes.QueryExecutionStatistics, done bool, err error) {
	var st atypes.QueryExecutionStatus
	if out.QueryExecution != nil && out.QueryExecution.Status != nil {
		st = *out.QueryExecution.Status
	}
	switch st.State {
	case atypes.QueryExecutionStateSucceeded:
		return out.QueryExecution.Statistics, true, nil
	case atypes.QueryExecutionStateFailed, atypes.QueryExecutionStateCancelled:
		if st.State == atypes.QueryExecutionStateFailed && st.AthenaError != nil && st.AthenaError.Retryable {
			return nil, true, fmt.Errorf("%w: %s", ErrQueryRetryable, describeFailure(st))
		}
		return nil, true, fmt.Errorf("%w: %s", ErrQueryFailed, describeFailure(st))
	}
	return nil, false, nil
}

// describeFailure is Athena's account of a query that failed or was cancelled.
func describeFailure(st atypes.QueryExecutionStatus) string {
	msg := string(st.State)
	if reason := aws.ToString(st.StateChangeReason); reason != "" {
		msg += ": " + reason
	}
	if e := st.AthenaError; e != nil {
		msg += fmt.Sprintf(" (AthenaError category %d type %d retryable %t: %s)",
			aws.ToInt32(e.ErrorCategory), aws.ToInt32(e.ErrorType), e.Retryable, aws.ToString(e.ErrorMessage))
	}
	return msg
}

// stop stops the query, best effort, even when ctx is already done.
func (r *Runner) stop(ctx context.Context, queryID string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := r.athena.StopQueryExecution(sctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(queryID)}); err != nil {
		r.cfg.Logger.Warn("ctas: stop query failed", "query_id", queryID, "err", err.Error())
	}
}
