package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/backfill"
)

// TestMemSQS_AnswersAsMotoDoes runs the same cases against moto's SQS and memSQS: every answer the
// tests on memSQS rely on (the order and count of deliveries, receipt handles, visibility, delays,
// the redrive to the dead-letter queue, long polls, refusals) is moto's. The memSQS half runs on
// testing/synctest's fake clock, where the cases' waits take no time, and under -short too.
func TestMemSQS_AnswersAsMotoDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range sqsContract {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("moto", func(t *testing.T) {
				t.Parallel()
				api := sqs.NewFromConfig(testsvc.MotoServer(t).AWSConfig())
				q := newQueues(t, api, fmt.Sprintf("contract-%d", envSeq.Add(1)), 30*time.Second)
				tc.run(t, &contractQueue{api: api, url: q.queueURL, dlq: q.dlqURL})
			})
			t.Run("memory", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					api := newMemSQS()
					q := newQueues(t, api, "contract", 30*time.Second)
					tc.run(t, &contractQueue{api: api, url: q.queueURL, dlq: q.dlqURL})
				})
			})
		})
	}
}

// contractQueue is a backfill queue and its dead-letter queue (maxReceiveCount receives, 30 s
// visibility timeout) for one case of the contract.
type contractQueue struct {
	api      sqsAPI
	url, dlq string
}

func (c *contractQueue) send(t *testing.T, body string, delay int32, attrs map[string]sqstypes.MessageAttributeValue) string {
	t.Helper()
	out, err := c.api.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(c.url),
		MessageBody: aws.String(body), DelaySeconds: delay, MessageAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.MD5OfMessageBody), md5Hex(body); got != want {
		t.Errorf("MD5OfMessageBody %s, want %s", got, want)
	}
	return aws.ToString(out.MessageId)
}

// receive asks url for up to n messages with every system and message attribute.
func (c *contractQueue) receive(t *testing.T, url string, n, wait int32) []sqstypes.Message {
	t.Helper()
	out, err := c.api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
		MaxNumberOfMessages: n, WaitTimeSeconds: wait, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

func (c *contractQueue) change(handle *string, seconds int32) error {
	_, err := c.api.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(c.url),
		ReceiptHandle: handle, VisibilityTimeout: seconds})
	return err
}

func (c *contractQueue) delete(t *testing.T, handles ...*string) *sqs.DeleteMessageBatchOutput {
	t.Helper()
	in := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.url)}
	for i, h := range handles {
		in.Entries = append(in.Entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: h})
	}
	out, err := c.api.DeleteMessageBatch(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// counts are the queue's messages visible, in flight and delayed.
func (c *contractQueue) counts(t *testing.T) [3]string {
	t.Helper()
	names := []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}
	out, err := c.api.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(c.url), AttributeNames: names})
	if err != nil {
		t.Fatal(err)
	}
	return [3]string{out.Attributes[string(names[0])], out.Attributes[string(names[1])], out.Attributes[string(names[2])]}
}

func bodies(msgs []sqstypes.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, aws.ToString(m.Body))
	}
	return out
}

func receiveCount(m sqstypes.Message) string {
	return m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]
}

// wantCode fails unless err is the API error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != code {
		t.Errorf("%s: error %v, want the API error %s", what, err, code)
	}
}

// deadLetterAttrs are the message attributes the worker sets on a job it dead-letters.
var deadLetterAttrs = map[string]sqstypes.MessageAttributeValue{
	backfill.AttrError:             {DataType: aws.String("String"), StringValue: aws.String(`malformed backfill job: field "date": é`)},
	backfill.AttrErrorKind:         {DataType: aws.String("String"), StringValue: aws.String(backfill.KindMalformed)},
	backfill.AttrOriginalMessageID: {DataType: aws.String("String"), StringValue: aws.String("m-1")},
}

var sqsContract = []struct {
	name string
	run  func(t *testing.T, c *contractQueue)
}{
	{"messages are received in send order, once each, with their ids, digests and system attributes", func(t *testing.T, c *contractQueue) {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(c.url)}
		for i := range 5 {
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(fmt.Sprint("b", i))})
		}
		sent, err := c.api.SendMessageBatch(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{} // body -> id
		for _, ok := range sent.Successful {
			ids["b"+aws.ToString(ok.Id)] = aws.ToString(ok.MessageId)
		}
		first := c.receive(t, c.url, 2, 0)
		rest := c.receive(t, c.url, 10, 0)
		if diff := cmp.Diff([][]string{{"b0", "b1"}, {"b2", "b3", "b4"}}, [][]string{bodies(first), bodies(rest)}); diff != "" {
			t.Errorf("bodies received (-want +got):\n%s", diff)
		}
		for _, m := range slices.Concat(first, rest) {
			body := aws.ToString(m.Body)
			if aws.ToString(m.MessageId) != ids[body] || aws.ToString(m.MD5OfBody) != md5Hex(body) || m.MessageAttributes != nil {
				t.Errorf("%s: id %s (sent as %s), MD5 %s, attributes %v", body, aws.ToString(m.MessageId), ids[body],
					aws.ToString(m.MD5OfBody), m.MessageAttributes)
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range m.Attributes {
					if !yield(k) {
						return
					}
				}
			})
			if want := []string{"ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount", "SenderId", "SentTimestamp"}; !slices.Equal(keys, want) || receiveCount(m) != "1" {
				t.Errorf("%s: system attributes %v, want %v with receive count 1", body, m.Attributes, want)
			}
		}
		if got := c.receive(t, c.url, 10, 0); len(got) != 0 {
			t.Errorf("received %v again while in flight", bodies(got))
		}
		if got := c.counts(t); got != [3]string{"0", "5", "0"} {
			t.Errorf("visible, in flight, delayed: %v, want 0 5 0", got)
		}
	}},
	{"a batch of no, more than ten or repeated entries, and a delay over 900 s, are refused", func(t *testing.T, c *contractQueue) {
		ctx := context.Background()
		batch := func(ids ...string) error {
			in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(c.url)}
			for _, id := range ids {
				in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String("x")})
			}
			_, err := c.api.SendMessageBatch(ctx, in)
			return err
		}
		var tooMany *sqstypes.TooManyEntriesInBatchRequest
		if err := batch("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"); !errors.As(err, &tooMany) {
			t.Errorf("eleven entries: %v, want TooManyEntriesInBatchRequest", err)
		}
		var repeated *sqstypes.BatchEntryIdsNotDistinct
		if err := batch("a", "a"); !errors.As(err, &repeated) {
			t.Errorf("an id twice: %v, want BatchEntryIdsNotDistinct", err)
		}
		// The SDK refuses an empty batch before it sends it.
		var empty smithy.InvalidParamsError
		if err := batch(); !errors.As(err, &empty) {
			t.Errorf("no entry: %v, want the SDK's InvalidParamsError", err)
		}
		if _, err := c.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.url)}); !errors.As(err, &empty) {
			t.Errorf("no entry to delete: %v, want the SDK's InvalidParamsError", err)
		}
		_, err := c.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(c.url), MessageBody: aws.String("x"), DelaySeconds: 901})
		wantCode(t, "DelaySeconds 901", err, "InvalidParameterValue")
		if got := c.counts(t); got != [3]string{"0", "0", "0"} {
			t.Errorf("visible, in flight, delayed: %v after refused sends, want 0 0 0", got)
		}
	}},
	{"a visibility of zero gives a message back at once; any of its handles deletes it", func(t *testing.T, c *contractQueue) {
		id := c.send(t, "job", 0, nil)
		first := c.receive(t, c.url, 10, 0)
		if len(first) != 1 {
			t.Fatalf("received %v, want the job", bodies(first))
		}
		if err := c.change(first[0].ReceiptHandle, 0); err != nil {
			t.Fatal(err)
		}
		again := c.receive(t, c.url, 10, 0)
		if len(again) != 1 || aws.ToString(again[0].MessageId) != id || receiveCount(again[0]) != "2" ||
			aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
			t.Fatalf("received %v again; want the job, receive count 2, under a new handle", again)
		}
		// The first delivery's handle still changes the message's visibility and deletes it.
		if err := c.change(first[0].ReceiptHandle, 60); err != nil {
			t.Errorf("visibility change by the first handle: %v", err)
		}
		if got := c.counts(t); got != [3]string{"0", "1", "0"} {
			t.Errorf("visible, in flight, delayed: %v, want 0 1 0", got)
		}
		if out := c.delete(t, first[0].ReceiptHandle); len(out.Successful) != 1 || len(out.Failed) != 0 {
			t.Errorf("delete by the first handle: %+v", out)
		}
		if got := c.counts(t); got != [3]string{"0", "0", "0"} {
			t.Errorf("visible, in flight, delayed: %v after the delete, want 0 0 0", got)
		}
		// Deleting again is no error; changing a deleted message's visibility is.
		if out := c.delete(t, again[0].ReceiptHandle); len(out.Successful) != 1 || len(out.Failed) != 0 {
			t.Errorf("second delete: %+v", out)
		}
		var invalid *sqstypes.ReceiptHandleIsInvalid
		if err := c.change(again[0].ReceiptHandle, 0); !errors.As(err, &invalid) {
			t.Errorf("visibility change of a deleted message: %v, want ReceiptHandleIsInvalid", err)
		}
		if err := c.change(aws.String("garbage"), 0); !errors.As(err, &invalid) {
			t.Errorf("visibility change by an unknown handle: %v, want ReceiptHandleIsInvalid", err)
		}
		out := c.delete(t, aws.String("garbage"))
		if len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "ReceiptHandleIsInvalid" || !out.Failed[0].SenderFault {
			t.Errorf("delete by an unknown handle: %+v, want one failure ReceiptHandleIsInvalid, the sender's fault", out)
		}
	}},
	{"an extended visibility hides a message past its first timeout, until the extension runs out", func(t *testing.T, c *contractQueue) {
		c.send(t, "job", 0, nil)
		out, err := c.api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.url), VisibilityTimeout: 1})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("received %v, %v; want the job", out, err)
		}
		extended := time.Now()
		if err := c.change(out.Messages[0].ReceiptHandle, 2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		if got := c.receive(t, c.url, 10, 0); len(got) != 0 {
			t.Fatalf("received %v after the first timeout, within the extension", bodies(got))
		}
		got := c.receive(t, c.url, 10, 3)
		if back := time.Since(extended); len(got) != 1 || receiveCount(got[0]) != "2" || back < 1900*time.Millisecond {
			t.Errorf("received %v %s after the extension of 2 s; want the job again, receive count 2, no sooner", got, back)
		}
	}},
	{"a delayed message counts as delayed until its delay is over", func(t *testing.T, c *contractQueue) {
		sent := time.Now()
		c.send(t, "later", 1, nil)
		if got := c.counts(t); got != [3]string{"0", "0", "1"} {
			t.Errorf("visible, in flight, delayed: %v, want 0 0 1", got)
		}
		if got := c.receive(t, c.url, 10, 0); len(got) != 0 {
			t.Fatalf("received %v within its delay", bodies(got))
		}
		got := c.receive(t, c.url, 10, 3)
		if after := time.Since(sent); len(got) != 1 || after < 900*time.Millisecond {
			t.Errorf("received %v %s after the send with a delay of 1 s", bodies(got), after)
		}
	}},
	{"a message received maxReceiveCount times moves to the dead-letter queue at the next receive", func(t *testing.T, c *contractQueue) {
		id := c.send(t, "fails", 0, deadLetterAttrs)
		for i := range maxReceiveCount {
			got := c.receive(t, c.url, 10, 0)
			if len(got) != 1 || receiveCount(got[0]) != fmt.Sprint(i+1) {
				t.Fatalf("receive %d: %v", i+1, got)
			}
			if diff := cmp.Diff(deadLetterAttrs, got[0].MessageAttributes, cmpopts.IgnoreUnexported(sqstypes.MessageAttributeValue{})); diff != "" {
				t.Errorf("message attributes (-want +got):\n%s", diff)
			}
			if err := c.change(got[0].ReceiptHandle, 0); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.receive(t, c.url, 10, 0); len(got) != 0 {
			t.Errorf("received %v a %d-th time", got, maxReceiveCount+1)
		}
		if got := c.counts(t); got != [3]string{"0", "0", "0"} {
			t.Errorf("visible, in flight, delayed: %v, want 0 0 0 (moved)", got)
		}
		dead := c.receive(t, c.dlq, 10, 0)
		if len(dead) != 1 || aws.ToString(dead[0].MessageId) != id || aws.ToString(dead[0].Body) != "fails" ||
			receiveCount(dead[0]) != fmt.Sprint(maxReceiveCount+1) {
			t.Fatalf("dead-letter queue: %v; want the message, its id, its receive count going on", dead)
		}
		if diff := cmp.Diff(deadLetterAttrs, dead[0].MessageAttributes, cmpopts.IgnoreUnexported(sqstypes.MessageAttributeValue{})); diff != "" {
			t.Errorf("dead letter's message attributes (-want +got):\n%s", diff)
		}
	}},
	{"message attributes come only when asked for", func(t *testing.T, c *contractQueue) {
		c.send(t, "job", 0, deadLetterAttrs)
		out, err := c.api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.url)})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("received %v, %v", out, err)
		}
		if m := out.Messages[0]; m.MessageAttributes != nil || m.Attributes != nil {
			t.Errorf("attributes %v and message attributes %v, asked for none", m.Attributes, m.MessageAttributes)
		}
	}},
	{"a long poll returns a message sent while it waits, and an empty queue's nothing after the wait", func(t *testing.T, c *contractQueue) {
		began := time.Now()
		go func() {
			time.Sleep(300 * time.Millisecond)
			_, _ = c.api.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(c.url), MessageBody: aws.String("soon")})
		}()
		got := c.receive(t, c.url, 10, 5)
		if took := time.Since(began); !slices.Equal(bodies(got), []string{"soon"}) || took > 3*time.Second {
			t.Errorf("long poll answered %v after %s; want the message sent at 300 ms, soon after", bodies(got), took)
		}
		began = time.Now()
		got = c.receive(t, c.dlq, 10, 1)
		if took := time.Since(began); len(got) != 0 || took < 900*time.Millisecond {
			t.Errorf("long poll of 1 s on an empty queue answered %v after %s", bodies(got), took)
		}
	}},
}
