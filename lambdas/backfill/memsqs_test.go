package backfill_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/kpilake/kpilake/lambdas/backfill"
)

// sqsAPI is the SQS calls of the tests' event source mapping (queues) and of the worker
// (backfill.Queue). Both moto's client and memSQS implement it; TestMemSQS_AnswersAsMotoDoes runs
// the same cases against both, so that the tests that run on memSQS test what moto would answer.
type sqsAPI interface {
	backfill.Queue
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

var (
	_ sqsAPI = (*sqs.Client)(nil)
	_ sqsAPI = (*memSQS)(nil)
)

// memSQS is standard SQS queues in memory, as moto 5.2.1 runs them: messages are received in
// the order they were sent; any receipt handle a message was ever given changes its visibility
// or deletes it; a message already received maxReceiveCount times moves to the dead-letter queue
// at the next receive that finds it visible, keeping its receive count and attributes; a long
// poll returns as soon as a message can be received. Its clock is time.Now, so under
// testing/synctest a visibility timeout costs no wall time. What it does not model (FIFO queues,
// other attributes, other data types) it refuses with an error that says so, rather than answer
// differently from moto.
type memSQS struct {
	mu      sync.Mutex
	queues  map[string]*memQueue // by URL
	byARN   map[string]*memQueue
	seq     int
	changed chan struct{} // closed, and replaced, when a message is sent or made visible
}

type memQueue struct {
	name, url, arn string
	visibility     time.Duration
	dlq            *memQueue
	maxReceives    int
	msgs           []*memMessage   // in the queue (not deleted, not moved), in send order
	deleted        map[string]bool // every receipt handle of a deleted message
}

type memMessage struct {
	id, body     string
	attrs        map[string]sqstypes.MessageAttributeValue
	sent         time.Time
	firstReceive time.Time
	delayedUntil time.Time
	visibleAt    time.Time
	receives     int
	handles      []string // every receipt handle the message was given, the latest last
}

const (
	// memAccount and memSender are moto's account and sender id.
	memAccount = "123456789012"
	memSender  = "AIDAIT2UOQQY3AUEKVGXU"
	// memMaxVisibility is SQS's limit on a message's visibility timeout, from its send.
	memMaxVisibility = 12 * time.Hour
)

func newMemSQS() *memSQS {
	return &memSQS{queues: map[string]*memQueue{}, byARN: map[string]*memQueue{}, changed: make(chan struct{})}
}

// apiError is an SQS error as the SDK returns moto's: errors.As finds the typed error.
func apiError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "SQS", OperationName: op, Err: err}
}

func notModelled(op, what string) error {
	return apiError(op, fmt.Errorf("memSQS does not model %s; add it, with a case in TestMemSQS_AnswersAsMotoDoes", what))
}

// broadcastLocked wakes the long polls.
func (s *memSQS) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memSQS) queue(op string, url *string) (*memQueue, error) {
	q, ok := s.queues[aws.ToString(url)]
	if !ok {
		return nil, apiError(op, &sqstypes.QueueDoesNotExist{Message: aws.String("The specified queue does not exist.")})
	}
	return q, nil
}

func (s *memSQS) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	const op = "CreateQueue"
	s.mu.Lock()
	defer s.mu.Unlock()
	name := aws.ToString(in.QueueName)
	q := &memQueue{name: name, url: "http://sqs.memory/" + memAccount + "/" + name,
		arn: "arn:aws:sqs:ap-northeast-1:" + memAccount + ":" + name, visibility: 30 * time.Second, deleted: map[string]bool{}}
	if _, dup := s.queues[q.url]; dup {
		return nil, notModelled(op, "creating a queue twice")
	}
	for k, v := range in.Attributes {
		switch sqstypes.QueueAttributeName(k) {
		case sqstypes.QueueAttributeNameVisibilityTimeout:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > int(memMaxVisibility/time.Second) {
				return nil, apiError(op, &sqstypes.InvalidAttributeValue{Message: aws.String("VisibilityTimeout " + v)})
			}
			q.visibility = time.Duration(n) * time.Second
		case sqstypes.QueueAttributeNameRedrivePolicy:
			var p struct {
				DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
				MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
			}
			if err := json.Unmarshal([]byte(v), &p); err != nil {
				return nil, apiError(op, &sqstypes.InvalidAttributeValue{Message: aws.String("RedrivePolicy: " + err.Error())})
			}
			var err error
			raw := string(p.MaxReceiveCount)
			if unq, uerr := strconv.Unquote(raw); uerr == nil {
				raw = unq
			}
			if q.maxReceives, err = strconv.Atoi(raw); err != nil || q.maxReceives < 1 {
				return nil, apiError(op, &sqstypes.InvalidAttributeValue{Message: aws.String("maxReceiveCount " + raw)})
			}
			if q.dlq = s.byARN[p.DeadLetterTargetArn]; q.dlq == nil {
				return nil, apiError(op, &sqstypes.InvalidAttributeValue{Message: aws.String("no dead-letter queue " + p.DeadLetterTargetArn)})
			}
		default:
			return nil, notModelled(op, "queue attribute "+k)
		}
	}
	s.queues[q.url] = q
	s.byARN[q.arn] = q
	return &sqs.CreateQueueOutput{QueueUrl: aws.String(q.url)}, nil
}

func (s *memSQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	const op = "GetQueueAttributes"
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(op, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		count := func(f func(m *memMessage) bool) string {
			c := 0
			for _, m := range q.msgs {
				if f(m) {
					c++
				}
			}
			return strconv.Itoa(c)
		}
		switch n {
		case sqstypes.QueueAttributeNameQueueArn:
			out[string(n)] = q.arn
		case sqstypes.QueueAttributeNameApproximateNumberOfMessages:
			out[string(n)] = count(func(m *memMessage) bool { return m.receivable(now) })
		case sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible:
			out[string(n)] = count(func(m *memMessage) bool { return !m.visible(now) })
		case sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed:
			out[string(n)] = count(func(m *memMessage) bool { return m.delayed(now) })
		default:
			return nil, notModelled(op, "queue attribute "+string(n))
		}
	}
	return &sqs.GetQueueAttributesOutput{Attributes: out}, nil
}

// visible, delayed and receivable are moto's tests, but for the instant itself: moto counts in
// milliseconds and makes a message visible after visibleAt; here it is visible at visibleAt,
// which no client of moto can tell apart (no call takes less than a millisecond) and which lets
// a fake clock's instant receive a message made visible at that instant.
func (m *memMessage) visible(now time.Time) bool    { return !now.Before(m.visibleAt) }
func (m *memMessage) delayed(now time.Time) bool    { return now.Before(m.delayedUntil) }
func (m *memMessage) receivable(now time.Time) bool { return m.visible(now) && !m.delayed(now) }

func (m *memMessage) hadHandle(h string) bool { return slices.Contains(m.handles, h) }

func (s *memSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	const op = "SendMessage"
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(op, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	m, err := s.newMessageLocked(op, aws.ToString(in.MessageBody), in.DelaySeconds, in.MessageAttributes)
	if err != nil {
		return nil, err
	}
	if in.MessageDeduplicationId != nil || in.MessageGroupId != nil || in.MessageSystemAttributes != nil {
		return nil, notModelled(op, "FIFO queues and message system attributes")
	}
	q.msgs = append(q.msgs, m)
	s.broadcastLocked()
	return &sqs.SendMessageOutput{MessageId: aws.String(m.id), MD5OfMessageBody: aws.String(md5Hex(m.body))}, nil
}

func (s *memSQS) newMessageLocked(op, body string, delay int32, attrs map[string]sqstypes.MessageAttributeValue) (*memMessage, error) {
	if body == "" {
		return nil, apiError(op, &smithy.GenericAPIError{Code: "MissingParameter", Message: "The request must contain the parameter MessageBody."})
	}
	if delay < 0 || delay > 900 {
		return nil, apiError(op, &smithy.GenericAPIError{Code: "InvalidParameterValue",
			Message: fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", delay)})
	}
	for k, v := range attrs {
		if aws.ToString(v.DataType) != "String" || v.BinaryValue != nil || v.StringListValues != nil || v.BinaryListValues != nil {
			return nil, notModelled(op, "message attribute "+k+" of data type "+aws.ToString(v.DataType))
		}
	}
	s.seq++
	now := time.Now()
	return &memMessage{id: fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq), body: body, attrs: attrs,
		sent: now, delayedUntil: now.Add(time.Duration(delay) * time.Second)}, nil
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// checkBatch refuses a batch as the SDK and SQS do: empty (the SDK, before it sends), more than
// ten entries, or ids given twice.
func checkBatch(op string, ids []string) error {
	switch {
	case len(ids) == 0:
		invalid := smithy.InvalidParamsError{Context: op + "Input"}
		invalid.Add(smithy.NewErrParamRequired("Entries"))
		return apiError(op, invalid)
	case len(ids) > 10:
		return apiError(op, &sqstypes.TooManyEntriesInBatchRequest{
			Message: aws.String(fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(ids)))})
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return apiError(op, &sqstypes.BatchEntryIdsNotDistinct{Message: aws.String("Id " + id + " repeated.")})
		}
		seen[id] = true
	}
	return nil
}

func (s *memSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	const op = "SendMessageBatch"
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(op, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.Id))
	}
	if err := checkBatch(op, ids); err != nil {
		return nil, err
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if e.MessageDeduplicationId != nil || e.MessageGroupId != nil || e.MessageSystemAttributes != nil {
			return nil, notModelled(op, "FIFO queues and message system attributes")
		}
		m, err := s.newMessageLocked(op, aws.ToString(e.MessageBody), e.DelaySeconds, e.MessageAttributes)
		if err != nil {
			return nil, err
		}
		q.msgs = append(q.msgs, m)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id,
			MessageId: aws.String(m.id), MD5OfMessageBody: aws.String(md5Hex(m.body))})
	}
	s.broadcastLocked()
	return out, nil
}

func (s *memSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	const op = "ReceiveMessage"
	n := int(in.MaxNumberOfMessages)
	if n == 0 {
		n = 1
	}
	if n < 1 || n > 10 || in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > 20 {
		return nil, apiError(op, &smithy.GenericAPIError{Code: "InvalidParameterValue",
			Message: fmt.Sprintf("MaxNumberOfMessages %d, WaitTimeSeconds %d", in.MaxNumberOfMessages, in.WaitTimeSeconds)})
	}
	//lint:ignore SA1019 moto answers the deprecated field; memSQS refuses it rather than ignore it.
	if len(in.AttributeNames) > 0 || in.ReceiveRequestAttemptId != nil {
		return nil, notModelled(op, "AttributeNames (use MessageSystemAttributeNames) and ReceiveRequestAttemptId")
	}
	for _, a := range in.MessageSystemAttributeNames {
		if a != sqstypes.MessageSystemAttributeNameAll {
			return nil, notModelled(op, "system attribute "+string(a)+" (ask for All)")
		}
	}
	end := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second)
	for {
		s.mu.Lock()
		q, err := s.queue(op, in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		got, next := s.receiveLocked(q, n, in)
		changed := s.changed
		s.mu.Unlock()
		now := time.Now()
		if len(got) > 0 || !now.Before(end) {
			return &sqs.ReceiveMessageOutput{Messages: got}, nil
		}
		wake := end
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		t := time.NewTimer(wake.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, apiError(op, ctx.Err())
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// receiveLocked receives up to n messages of q, moving those received maxReceives times to the
// dead-letter queue, and returns when the next message becomes receivable (zero: none will by
// itself).
func (s *memSQS) receiveLocked(q *memQueue, n int, in *sqs.ReceiveMessageInput) ([]sqstypes.Message, time.Time) {
	now := time.Now()
	visibility := q.visibility
	if in.VisibilityTimeout > 0 {
		visibility = time.Duration(in.VisibilityTimeout) * time.Second
	}
	var got []sqstypes.Message
	var next time.Time
	kept := q.msgs[:0:0]
	for _, m := range q.msgs {
		switch {
		case len(got) >= n:
		case !m.receivable(now):
			at := m.visibleAt
			if m.delayedUntil.After(at) {
				at = m.delayedUntil
			}
			if next.IsZero() || at.Before(next) {
				next = at
			}
		case q.dlq != nil && m.receives >= q.maxReceives:
			q.dlq.msgs = append(q.dlq.msgs, m)
			s.broadcastLocked()
			continue
		default:
			m.receives++
			if m.firstReceive.IsZero() {
				m.firstReceive = now
			}
			m.visibleAt = now.Add(visibility)
			s.seq++
			m.handles = append(m.handles, fmt.Sprintf("rh-%s-%d", m.id, s.seq))
			got = append(got, m.delivery(in))
		}
		kept = append(kept, m)
	}
	q.msgs = kept
	return got, next
}

// delivery is the message as ReceiveMessage answers it.
func (m *memMessage) delivery(in *sqs.ReceiveMessageInput) sqstypes.Message {
	d := sqstypes.Message{MessageId: aws.String(m.id), ReceiptHandle: aws.String(m.handles[len(m.handles)-1]),
		Body: aws.String(m.body), MD5OfBody: aws.String(md5Hex(m.body))}
	if len(in.MessageSystemAttributeNames) > 0 {
		ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
		d.Attributes = map[string]string{
			string(sqstypes.MessageSystemAttributeNameSenderId):                         memSender,
			string(sqstypes.MessageSystemAttributeNameSentTimestamp):                    ms(m.sent),
			string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount):          strconv.Itoa(m.receives),
			string(sqstypes.MessageSystemAttributeNameApproximateFirstReceiveTimestamp): ms(m.firstReceive),
		}
	}
	for k, v := range m.attrs {
		if slices.Contains(in.MessageAttributeNames, "All") || slices.Contains(in.MessageAttributeNames, k) {
			if d.MessageAttributes == nil {
				d.MessageAttributes = map[string]sqstypes.MessageAttributeValue{}
			}
			d.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: v.DataType, StringValue: v.StringValue}
		}
	}
	return d
}

func (s *memSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	const op = "ChangeMessageVisibility"
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(op, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	h := aws.ToString(in.ReceiptHandle)
	for _, m := range q.msgs {
		if !m.hadHandle(h) {
			continue
		}
		now := time.Now()
		at := now.Add(time.Duration(in.VisibilityTimeout) * time.Second)
		if in.VisibilityTimeout < 0 || at.Sub(m.sent) > memMaxVisibility {
			return nil, apiError(op, &smithy.GenericAPIError{Code: "InvalidParameterValue",
				Message: fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid.", in.VisibilityTimeout)})
		}
		m.visibleAt = at
		s.broadcastLocked()
		return &sqs.ChangeMessageVisibilityOutput{}, nil
	}
	return nil, apiError(op, &sqstypes.ReceiptHandleIsInvalid{Message: aws.String("The input receipt handle is invalid.")})
}

func (s *memSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	const op = "DeleteMessageBatch"
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(op, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.Id))
	}
	if err := checkBatch(op, ids); err != nil {
		return nil, err
	}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		h := aws.ToString(e.ReceiptHandle)
		i := slices.IndexFunc(q.msgs, func(m *memMessage) bool { return m.hadHandle(h) })
		switch {
		case q.deleted[h]:
		case i < 0:
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, SenderFault: true,
				Code: aws.String("ReceiptHandleIsInvalid"), Message: aws.String(fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", h))})
			continue
		default:
			for _, old := range q.msgs[i].handles {
				q.deleted[old] = true
			}
			q.msgs = slices.Delete(q.msgs, i, i+1)
		}
		out.Successful = append(out.Successful, sqstypes.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}
