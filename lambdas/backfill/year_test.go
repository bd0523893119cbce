package backfill_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpilake/kpilake/lambdas/backfill"
)

// TestWorker_AYearOfJobsIsWorkedOnceThroughTheQueue runs a year of jobs through the worker at the
// scale the moto tests cannot afford: memSQS (held to moto's answers by
// TestMemSQS_AnswersAsMotoDoes) on testing/synctest's fake clock, the same event source mapping
// as the moto tests (queues.drain: eight pollers, events of one to ten records), and the fake
// aggregator for the lake, which TestBackfill_JobsInBatchesOfEverySizePublishEveryKPIOfEveryDayOnce
// covers on moto.
func TestWorker_AYearOfJobsIsWorkedOnceThroughTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newMemSQS()
		q := newQueues(t, api, "backfill-year", 5*time.Minute)
		q.wait = 20 // as Lambda's event source mapping polls
		q.fakeClock = true
		// Ten seconds a KPI, a minute a job: an event of ten records takes ten minutes, twice the
		// queue's visibility timeout, so that only the lease's heartbeat keeps the later jobs of an
		// event from being delivered again. The last events of the year complete minutes apart.
		q.stall = 15 * time.Minute
		took := map[string]time.Duration{}
		for _, k := range allKPIs {
			took[k] = 10 * time.Second
		}
		agg := &fakeAggregator{took: took}
		w, err := backfill.NewWorker(catalog(t), agg, api, backfill.Config{QueueURL: q.queueURL, DeadLetterQueueURL: q.dlqURL,
			TimeZone: testZone(t), EarliestDay: mustDay(t, "2020-01-01"), Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		q.worker = w
		year := days("2024-01-01", 366) // a leap year
		ids := q.enqueue(t, q.jobs(t, year)...)

		began := time.Now()
		q.drain(t, 1, 10, 3, 7, 5, 10, 2, 8)
		t.Logf("%d jobs drained in %s of fake time", len(year), time.Since(began))

		var problems []string
		for _, id := range ids {
			if got := q.deliveries[id]; !slices.Equal(got, []string{"1"}) {
				problems = append(problems, fmt.Sprintf("message %s (%s) delivered with receive counts %v, want once", id, q.bodies[id], got))
			}
		}
		published := map[string][]string{}
		for _, r := range agg.published {
			published[r.Date] = append(published[r.Date], r.KPI)
		}
		cat := catalog(t)
		for _, d := range year {
			got := published[d.String()]
			if !sameKPIs(got, allKPIs) {
				problems = append(problems, fmt.Sprintf("dt=%s: published %v, want each of %v once", d, got, allKPIs))
			}
			for i, name := range got {
				k, _ := cat.KPI(name)
				for _, dep := range k.DependsOn {
					if slices.Index(got, dep) > i {
						problems = append(problems, fmt.Sprintf("dt=%s: %s published before %s, which it depends on", d, name, dep))
					}
				}
			}
		}
		if len(agg.published) != len(year)*len(allKPIs) || len(published) != len(year) {
			problems = append(problems, fmt.Sprintf("%d KPIs published on %d days, want %d on %d", len(agg.published), len(published),
				len(year)*len(allKPIs), len(year)))
		}
		if len(problems) > 0 {
			t.Errorf("%d problems, first ones:\n  %s", len(problems), strings.Join(problems[:min(len(problems), 10)], "\n  "))
		}
		if len(q.reported) != 0 {
			t.Errorf("%d messages reported for redelivery: %v", len(q.reported), q.reported)
		}
		if q.largest != 10 {
			t.Errorf("the largest event held %d records, want the pollers' largest batch, 10", q.largest)
		}
		q.deadLetters(t, 0)
	})
}

// sameKPIs reports whether got holds the KPIs of want, each once, in any order.
func sameKPIs(got, want []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}
