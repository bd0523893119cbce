package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kpilake/kpilake/lambdas/backfill"
)

// Mover receives, sends and deletes messages; *sqs.Client is one.
type Mover interface {
	BatchSender
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

var _ Mover = (*sqs.Client)(nil)

// Redriver moves failed jobs from the dead-letter queue back to the backfill queue. It receives,
// sends, then deletes, so a crash in between leaves a job on both queues rather than on none (a
// duplicate job is harmless: a day's aggregation is idempotent).
//
// SQS's own redrive (StartMessageMoveTask) would do the same server-side; this loop works on any
// SQS implementation, moto included, and a backfill's dead-letter queue holds at most a few
// thousand jobs.
type Redriver struct {
	// SQS moves the messages. Required.
	SQS Mover
	// From is the dead-letter queue; To is the backfill queue. Required.
	From, To string
	// Retry bounds the resending of entries SQS failed.
	Retry Retry
	// Wait is each receive's long poll, in whole seconds (1 to 20). Default: 2s.
	Wait time.Duration
	// VisibilityTimeout hides a received message while it is moved. Default: 60s.
	VisibilityTimeout time.Duration
}

// Redriven is the outcome of a redrive.
type Redriven struct {
	// Moved is the number of jobs moved back to the backfill queue.
	Moved int
	// Rejected counts the moved jobs the worker had rejected as malformed (it marks them with
	// the attributes backfill.AttrError and AttrErrorKind backfill.KindMalformed): they will fail
	// again. Reason is one of their errors. A job whose query failed was moved by the worker too,
	// but may succeed once its cause is fixed: it is not counted.
	Rejected int
	Reason   string
}

// Redrive moves up to limit jobs (the dead-letter count when the redrive starts, so that a job
// failing again while it runs is not moved twice) and reports each batch moved to progress.
func (r *Redriver) Redrive(ctx context.Context, limit int, progress func(moved int)) (Redriven, error) {
	wait := int32(r.Wait / time.Second)
	if wait <= 0 {
		wait = 2
	}
	vis := int32(r.VisibilityTimeout / time.Second)
	if vis <= 0 {
		vis = 60
	}
	var res Redriven
	for res.Moved < limit {
		out, err := r.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(r.From),
			MaxNumberOfMessages:   int32(min(MaxBatch, limit-res.Moved)),
			WaitTimeSeconds:       min(wait, 20),
			VisibilityTimeout:     vis,
			MessageAttributeNames: []string{backfill.AttrError, backfill.AttrErrorKind},
		})
		if err != nil {
			return res, fmt.Errorf("receive from the dead-letter queue %s: %w", r.From, err)
		}
		if len(out.Messages) == 0 {
			return res, nil
		}
		entries := make([]entry, len(out.Messages))
		byID := map[string]sqstypes.Message{}
		for i, m := range out.Messages {
			id := "m" + strconv.Itoa(i)
			entries[i] = entry{id: id, body: aws.ToString(m.Body)}
			byID[id] = m
		}
		sent, sendErr := sendBatch(ctx, r.SQS, r.To, entries, r.Retry)
		if err := r.deleteMoved(ctx, sent, byID, &res); err != nil {
			return res, err
		}
		if sendErr != nil {
			return res, fmt.Errorf("move jobs to %s: %w", r.To, sendErr)
		}
		if progress != nil {
			progress(res.Moved)
		}
	}
	return res, nil
}

// deleteMoved deletes from the dead-letter queue the messages sent, by entry id, and counts them
// (and the malformed among them) in res.
func (r *Redriver) deleteMoved(ctx context.Context, sent []string, byID map[string]sqstypes.Message, res *Redriven) error {
	if len(sent) == 0 {
		return nil
	}
	del := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(r.From)}
	for _, id := range sent {
		m := byID[id]
		del.Entries = append(del.Entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(id), ReceiptHandle: m.ReceiptHandle})
		if a, ok := m.MessageAttributes[backfill.AttrError]; ok && malformed(m) {
			res.Rejected++
			if res.Reason == "" {
				res.Reason = aws.ToString(a.StringValue)
			}
		}
	}
	res.Moved += len(sent)
	dout, err := r.SQS.DeleteMessageBatch(ctx, del)
	if err != nil {
		return fmt.Errorf("delete %d moved jobs from the dead-letter queue %s (they are on both queues now; the duplicates are harmless): %w",
			len(sent), r.From, err)
	}
	if len(dout.Failed) > 0 {
		f := dout.Failed[0]
		return fmt.Errorf("delete %d of %d moved jobs from the dead-letter queue %s: %s (%s); they are on both queues now (the duplicates are harmless)",
			len(dout.Failed), len(sent), r.From, aws.ToString(f.Message), aws.ToString(f.Code))
	}
	return nil
}

// malformed reports whether the worker dead-lettered m as malformed; a dead letter without a kind
// comes from a worker that dead-lettered only malformed jobs.
func malformed(m sqstypes.Message) bool {
	k, ok := m.MessageAttributes[backfill.AttrErrorKind]
	return !ok || aws.ToString(k.StringValue) == backfill.KindMalformed
}
