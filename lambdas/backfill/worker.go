package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/queries"
)

// Aggregator aggregates one KPI for one day; *aggregate.Handler is one, so the backfill runs the
// same rendering and CTAS runner as the daily workflow.
type Aggregator interface {
	Handle(ctx context.Context, req aggregate.Request) (ctas.Result, error)
}

var _ Aggregator = (*aggregate.Handler)(nil)

// Sender sends one SQS message; *sqs.Client is one.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Message attributes the worker sets on a job it moves to the dead-letter queue.
const (
	AttrError             = "kpilake-error"
	AttrOriginalMessageID = "kpilake-original-message-id"
)

// Worker works backfill jobs delivered by an SQS event source mapping with
// ReportBatchItemFailures: it reports only the messages that failed, so SQS redelivers those
// (and moves them to the dead-letter queue after the queue's maxReceiveCount), while a malformed
// job goes to the dead-letter queue at once.
type Worker struct {
	kpis   *queries.Catalog
	agg    Aggregator
	dlq    Sender
	dlqURL string
	log    *slog.Logger
}

// NewWorker returns a worker over the catalog kpis that aggregates through agg and sends
// malformed jobs with dlq to the queue at dlqURL.
func NewWorker(kpis *queries.Catalog, agg Aggregator, dlq Sender, dlqURL string, log *slog.Logger) (*Worker, error) {
	var errs []error
	if kpis == nil {
		errs = append(errs, errors.New("backfill worker: the KPI catalog is nil"))
	}
	if agg == nil {
		errs = append(errs, errors.New("backfill worker: the aggregator is nil"))
	}
	if dlq == nil || dlqURL == "" {
		errs = append(errs, fmt.Errorf("backfill worker: no dead-letter queue; set %s to its URL", EnvDeadLetterQueueURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{kpis: kpis, agg: agg, dlq: dlq, dlqURL: dlqURL, log: log}, nil
}

// Handle works every record of the batch and reports the ones to redeliver.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		if err := w.work(ctx, rec); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// work runs one job; an error means "deliver it again".
func (w *Worker) work(ctx context.Context, rec events.SQSMessage) error {
	start := time.Now()
	job, day, waves, err := ParseJob([]byte(rec.Body), w.kpis)
	log := w.log.With("message_id", rec.MessageId, "request_id", job.RequestID, "date", job.Date,
		"receive_count", rec.Attributes["ApproximateReceiveCount"])
	var bad *MalformedError
	if errors.As(err, &bad) {
		log.ErrorContext(ctx, "backfill job malformed; moved to the dead-letter queue without retries", "err", err)
		if err := w.deadLetter(ctx, rec, err); err != nil {
			log.ErrorContext(ctx, "backfill job malformed and not moved to the dead-letter queue; SQS will redeliver it", "err", err)
			return err
		}
		return nil
	}
	var done []string
	for _, wave := range waves {
		for _, kpi := range wave {
			if err := ctx.Err(); err != nil {
				log.ErrorContext(ctx, "backfill job stopped", "kpis_done", done, "err", err)
				return err
			}
			res, err := w.agg.Handle(ctx, aggregate.Request{KPI: kpi, Date: day.String()})
			if err != nil {
				log.ErrorContext(ctx, "backfill job failed; SQS will redeliver it", "kpi", kpi, "kpis_done", done,
					"err", err, "error_type", fmt.Sprintf("%T", err))
				return err
			}
			log.InfoContext(ctx, "backfill KPI published", "kpi", kpi, "query_id", res.QueryID, "location", res.Location)
			done = append(done, kpi)
		}
	}
	log.InfoContext(ctx, "backfill job done", "kpis", done, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// maxAttrError bounds the reason attached to a dead-lettered job, in bytes.
const maxAttrError = 1024

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence: SQS refuses an
// attribute that is not valid Unicode, and the reason quotes the job (an unknown KPI name, say).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// deadLetter sends the record's body to the dead-letter queue with the reason attached.
func (w *Worker) deadLetter(ctx context.Context, rec events.SQSMessage, reason error) error {
	msg := truncate(reason.Error(), maxAttrError)
	_, err := w.dlq.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(w.dlqURL),
		MessageBody: aws.String(rec.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			AttrError:             {DataType: aws.String("String"), StringValue: aws.String(msg)},
			AttrOriginalMessageID: {DataType: aws.String("String"), StringValue: aws.String(rec.MessageId)},
		},
	})
	if err != nil {
		return fmt.Errorf("send malformed job %s to the dead-letter queue: %w", rec.MessageId, err)
	}
	return nil
}
