package queue

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
)

// scriptedQueues answers GetQueueAttributes from a script of counts, one per poll (the last
// repeats), and advances a fake clock by the poll interval on each sleep.
type scriptedQueues struct {
	script []Counts
	polls  int
	now    time.Time
}

func (s *scriptedQueues) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	c := s.script[min(s.polls/2, len(s.script)-1)]
	s.polls++
	attrs := map[string]string{}
	if strings.Contains(aws.ToString(in.QueueUrl), "dlq") {
		attrs["ApproximateNumberOfMessages"] = strconv.Itoa(c.DeadLetters)
	} else {
		attrs["ApproximateNumberOfMessages"] = strconv.Itoa(c.Visible)
		attrs["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(c.InFlight)
		attrs["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(c.Delayed)
	}
	return &sqs.GetQueueAttributesOutput{Attributes: attrs}, nil
}

func (s *scriptedQueues) clock() time.Time { return s.now }

func (s *scriptedQueues) sleep(_ context.Context, d time.Duration) error {
	s.now = s.now.Add(d)
	return nil
}

// recorder keeps every progress a watch renders.
type recorder struct {
	updates []Progress
	final   *Progress
}

func (r *recorder) Update(p Progress) error { r.updates = append(r.updates, p); return nil }
func (r *recorder) Finish(p Progress) error { r.final = &p; return nil }

func watcher(s *scriptedQueues, settle time.Duration) *Watcher {
	return &Watcher{SQS: s, QueueURL: "https://sqs/backfill", DLQURL: "https://sqs/backfill-dlq",
		Interval: 10 * time.Second, Settle: settle, Now: s.clock, Sleep: s.sleep}
}

func TestWatcher_CountsDoneFailedAndETAFromTheDrainRate(t *testing.T) {
	s := &scriptedQueues{now: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC), script: []Counts{
		{Visible: 8, InFlight: 2, DeadLetters: 1}, // 10 sent; 1 dead letter from an earlier request
		{Visible: 6, InFlight: 2, DeadLetters: 1}, // 2 done in 10s
		{Visible: 2, InFlight: 2, DeadLetters: 2}, // 5 done, 1 failed in 20s
		{Visible: 0, InFlight: 0, DeadLetters: 2},
	}}
	r := &recorder{}
	p, err := watcher(s, 15*time.Second).Watch(context.Background(), Watch{Total: 10, DeadLetterBaseline: 1}, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []Progress{
		{Total: 10, Done: 0, Queued: 8, InFlight: 2, ETA: -1},
		{Total: 10, Done: 2, Queued: 6, InFlight: 2, Elapsed: 10 * time.Second, ETA: 40 * time.Second},
		{Total: 10, Done: 5, Queued: 2, InFlight: 2, Failed: 1, Elapsed: 20 * time.Second, ETA: 13 * time.Second},
		{Total: 10, Done: 9, Failed: 1, Elapsed: 30 * time.Second},
		{Total: 10, Done: 9, Failed: 1, Elapsed: 40 * time.Second},
	}
	if diff := cmp.Diff(want, r.updates); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
	wantFinal := Progress{Total: 10, Done: 9, Failed: 1, Elapsed: 50 * time.Second, Drained: true}
	if diff := cmp.Diff(&wantFinal, r.final); diff != "" {
		t.Errorf("final (-want +got):\n%s", diff)
	}
	if p != wantFinal {
		t.Errorf("Watch = %+v, want %+v", p, wantFinal)
	}
}

func TestWatcher_WithoutATotalCountsWhatItSeesAndGrows(t *testing.T) {
	s := &scriptedQueues{now: time.Unix(0, 0), script: []Counts{
		{Visible: 3, InFlight: 1},
		{Visible: 6, InFlight: 1, Delayed: 1}, // more were sent meanwhile
		{Visible: 5, InFlight: 1, Delayed: 1}, // still there on the next poll: 4 more jobs, 1 done
		{InFlight: 1, DeadLetters: 1},
		{DeadLetters: 1},
	}}
	r := &recorder{}
	p, err := watcher(s, 0).Watch(context.Background(), Watch{}, r)
	if err != nil {
		t.Fatal(err)
	}
	var totals, done []int
	for _, u := range r.updates {
		totals = append(totals, u.Total)
		done = append(done, u.Done)
	}
	if diff := cmp.Diff([]int{4, 4, 8, 8}, totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 0, 1, 6}, done); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}
	if !p.Drained || p.Done != 7 || p.Failed != 1 {
		t.Errorf("Watch = %+v, want drained with 7 done and 1 failed", p)
	}
}

func TestWatcher_StopsWhenTheContextEnds(t *testing.T) {
	s := &scriptedQueues{now: time.Unix(0, 0), script: []Counts{{Visible: 1}}}
	ctx, cancel := context.WithCancel(context.Background())
	w := watcher(s, 0)
	w.Sleep = func(context.Context, time.Duration) error { cancel(); return ctx.Err() }
	_, err := w.Watch(ctx, Watch{Total: 1}, &recorder{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func progressSequence() []Progress {
	return []Progress{
		{Total: 10, Queued: 8, InFlight: 2, ETA: -1},
		{Total: 10, Queued: 8, InFlight: 2, ETA: -1, Elapsed: 10 * time.Second}, // no change
		{Total: 10, Done: 4, Queued: 3, InFlight: 2, Failed: 1, Elapsed: 20 * time.Second, ETA: 25 * time.Second},
	}
}

func TestLines_WriteOneLinePerChange(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	l := NewLines(&b, func() time.Time { at = at.Add(10 * time.Second); return at })
	for _, p := range progressSequence() {
		if err := l.Update(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Finish(Progress{Total: 10, Done: 9, Failed: 1, Elapsed: 95 * time.Second, Drained: true}); err != nil {
		t.Fatal(err)
	}
	want := `2026-11-25T06:00:10Z done 0/10 (0%), in flight 2, queued 8, failed 0, eta unknown
2026-11-25T06:00:20Z done 4/10 (40%), in flight 2, queued 3, failed 1, eta 25s
2026-11-25T06:00:30Z done 9/10 (90%), in flight 0, queued 0, failed 1, took 1m35s
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// screen is what a terminal shows of output that redraws one line with carriage returns.
func screen(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.LastIndex(strings.TrimRight(l, " \r"), "\r"); i >= 0 {
			l = l[i+1:]
		}
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return lines
}

func TestBar_RedrawsOneLineAndEndsIt(t *testing.T) {
	var b bytes.Buffer
	bar := NewBar(&b, 20)
	for _, p := range progressSequence() {
		if err := bar.Update(p); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := screen(b.String()), []string{"  40% |████████            | (4/10) in flight 2, queued 3, failed 1, eta 25s"}; !cmp.Equal(want, got) {
		t.Errorf("screen (-want +got):\n%s", cmp.Diff(want, got))
	}
	if err := bar.Finish(Progress{Total: 12, Done: 12, Elapsed: 95 * time.Second, Drained: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := screen(b.String()), []string{" 100% |████████████████████| (12/12) in flight 0, queued 0, failed 0, took 1m35s", ""}; !cmp.Equal(want, got) {
		t.Errorf("screen (-want +got):\n%s", cmp.Diff(want, got))
	}
}

func TestLines_SayOnceThatTheQueueIsEmpty(t *testing.T) {
	var b bytes.Buffer
	l := NewLines(&b, func() time.Time { return time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC) })
	for _, p := range []Progress{{}, {Elapsed: time.Second}} {
		if err := l.Update(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Finish(Progress{Elapsed: 2 * time.Second, Drained: true}); err != nil {
		t.Fatal(err)
	}
	if want := "2026-11-25T06:00:00Z no jobs on the queue\n"; b.String() != want {
		t.Errorf("output %q, want %q", b.String(), want)
	}
}

func TestBar_SaysSoWhenTheQueueIsEmpty(t *testing.T) {
	var b bytes.Buffer
	bar := NewBar(&b, 20)
	if err := bar.Update(Progress{}); err != nil {
		t.Fatal(err)
	}
	if err := bar.Finish(Progress{Drained: true}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "no jobs on the queue\n" {
		t.Errorf("output %q", b.String())
	}
}

// A job whose KPIs do not fit in one invocation is handed on: the worker sends a continuation
// (the KPIs not yet published), then its original is deleted. For a moment both are on the
// queue; that is one job, not two, and the original's delete does not finish it.
func TestWatcher_DoesNotCountAContinuationAsAJob(t *testing.T) {
	for _, tc := range []struct {
		name  string
		total int
	}{{"with a total", 4}, {"without", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scriptedQueues{now: time.Unix(0, 0), script: []Counts{
				{Visible: 3, InFlight: 1},
				{Visible: 4, InFlight: 1}, // the in-flight job sent its continuation on
				{Visible: 4},              // and its original was deleted: no day done yet
				{Visible: 3, InFlight: 1},
				{Visible: 2, InFlight: 1}, // one day done
				{},
			}}
			r := &recorder{}
			p, err := watcher(s, 0).Watch(context.Background(), Watch{Total: tc.total}, r)
			if err != nil {
				t.Fatal(err)
			}
			var totals, done []int
			for _, u := range r.updates {
				totals = append(totals, u.Total)
				done = append(done, u.Done)
			}
			if diff := cmp.Diff([]int{4, 4, 4, 4, 4}, totals); diff != "" {
				t.Errorf("totals (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]int{0, 0, 0, 0, 1}, done); diff != "" {
				t.Errorf("done (-want +got):\n%s", diff)
			}
			if !p.Drained || p.Total != 4 || p.Done != 4 {
				t.Errorf("Watch = %+v, want drained with the 4 jobs done", p)
			}
		})
	}
}
