package ctas

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kpilake/kpilake/layout"
)

// lateWriteGlue holds the first partition write (create or update) of one runner until released,
// as Glue throttling or a retried ConcurrentModificationException can delay it.
type lateWriteGlue struct {
	glueAPI
	once    sync.Once
	arrived chan struct{} // the held write is waiting
	release chan struct{} // let it through
	landed  chan struct{} // the held write returned
}

func newLateWriteGlue(g glueAPI) *lateWriteGlue {
	return &lateWriteGlue{glueAPI: g, arrived: make(chan struct{}), release: make(chan struct{}), landed: make(chan struct{})}
}

// write runs do, first holding it if it is the first write.
func (g *lateWriteGlue) write(do func()) {
	held := false
	g.once.Do(func() { held = true })
	if !held {
		do()
		return
	}
	close(g.arrived)
	<-g.release
	do()
	close(g.landed)
}

func (g *lateWriteGlue) CreatePartition(ctx context.Context, in *glue.CreatePartitionInput, opts ...func(*glue.Options)) (out *glue.CreatePartitionOutput, err error) {
	g.write(func() { out, err = g.glueAPI.CreatePartition(ctx, in, opts...) })
	return out, err
}

func (g *lateWriteGlue) UpdatePartition(ctx context.Context, in *glue.UpdatePartitionInput, opts ...func(*glue.Options)) (out *glue.UpdatePartitionOutput, err error) {
	g.write(func() { out, err = g.glueAPI.UpdatePartition(ctx, in, opts...) })
	return out, err
}

// afterWriteGlue calls after once its first partition write naming a location that contains
// match has returned (the run's switch, not a heal that moves the partition elsewhere).
type afterWriteGlue struct {
	glueAPI
	match string
	once  sync.Once
	after func()
}

func (g *afterWriteGlue) done(in *gtypes.PartitionInput) {
	if strings.Contains(aws.ToString(in.StorageDescriptor.Location), g.match) {
		g.once.Do(g.after)
	}
}

func (g *afterWriteGlue) CreatePartition(ctx context.Context, in *glue.CreatePartitionInput, opts ...func(*glue.Options)) (*glue.CreatePartitionOutput, error) {
	defer g.done(in.PartitionInput)
	return g.glueAPI.CreatePartition(ctx, in, opts...)
}

func (g *afterWriteGlue) UpdatePartition(ctx context.Context, in *glue.UpdatePartitionInput, opts ...func(*glue.Options)) (*glue.UpdatePartitionOutput, error) {
	defer g.done(in.PartitionInput)
	return g.glueAPI.UpdatePartition(ctx, in, opts...)
}

// fixedRun makes the runner's next runs use ids, in order.
func fixedRun(r *Runner, ids ...string) {
	var mu sync.Mutex
	r.newRun = func(time.Time) string {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		ids = ids[1:]
		return id
	}
}

// Two runs of one day overlap (a retried task, a job delivered twice): the older run read the
// partition before the newer run switched it, and its own write lands late: after the newer run's
// switch, or only after the newer run has published, deleted the older runs' output and checked
// the partition. The day must end served by the newer run, whose output exists; the older runs'
// output stays for the grace period (publish.go, I3) and goes after it.
func TestRunner_OlderRunsLateSwitchLeavesTheDayAtTheNewerRun(t *testing.T) {
	const (
		previous = "20261124T040000000Z-00000001"
		older    = "20261124T050000000Z-0000000a"
		newer    = "20261124T050001000Z-0000000b"
	)
	for _, tc := range []struct {
		name      string
		published bool // the day was published before the two runs
		// afterSwitch: the older run's write lands right after the newer run's switch, before
		// its cleanup; otherwise after the newer run has returned.
		afterSwitch bool
	}{
		{name: "republication, the older run's update lands last", published: true},
		{name: "first publication, the older run's create lands last"},
		{name: "republication, the older run's update lands before the newer run's cleanup", published: true, afterSwitch: true},
		{name: "first publication, the older run's create lands before the newer run's cleanup", afterSwitch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			if tc.published {
				r := l.runner(t, nil, nil, nil)
				fixedRun(r, previous)
				mustRun(t, r, context.Background())
			}
			late := newLateWriteGlue(l.glue)
			olderRunner := l.runner(t, nil, late, nil)
			fixedRun(olderRunner, older)
			var newerGlue glueAPI = l.glue
			if tc.afterSwitch {
				newerGlue = &afterWriteGlue{glueAPI: l.glue, match: newer, after: func() {
					close(late.release)
					<-late.landed
				}}
			}
			newerRunner := l.runner(t, nil, newerGlue, nil)
			fixedRun(newerRunner, newer)

			olderDone := make(chan error, 1)
			var olderRes Result
			go func() {
				var err error
				olderRes, err = olderRunner.Run(context.Background(), request())
				olderDone <- err
			}()
			select {
			case <-late.arrived:
			case err := <-olderDone:
				close(late.release)
				t.Fatalf("the older run ended (%v) without switching the partition", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the older run never reached its partition switch")
			}
			res := mustRun(t, newerRunner, context.Background())
			if !tc.afterSwitch {
				close(late.release)
			}
			if err := <-olderDone; err != nil {
				t.Errorf("older run: %v", err)
			}

			want := l.location(res)
			if got := l.partition(t); got != want {
				t.Errorf("partition at %q, want the newer run's %q", got, want)
			}
			// The older run reports where the day is served from, not its own deleted output.
			if olderRes.RunID != older || olderRes.SupersededBy != newer || olderRes.Location != want {
				t.Errorf("older run's result: run %s, superseded by %q, location %q; want run %s, superseded by %s, location %s",
					olderRes.RunID, olderRes.SupersededBy, olderRes.Location, older, newer, want)
			}
			if res.SupersededBy != "" {
				t.Errorf("the newer run's result says it is superseded by %q", res.SupersededBy)
			}
			if n := l.partitionCount(t); n != 1 {
				t.Errorf("%d partitions, want 1", n)
			}
			l.checkServesData(t, "after both runs")
			if len(l.dataAt(t, "s3://"+l.bucket+"/"+layout.KPIRunPrefix(testKPI, testDay, older))) == 0 {
				t.Errorf("the older run's output is gone within the grace period")
			}
			// Past the grace period, a later pass deletes all but the newer run.
			r := l.runner(t, nil, nil, nil)
			r.now = func() time.Time { return time.Now().Add(DefaultSupersededGrace + time.Minute) }
			if _, err := r.pub.collect(context.Background(), request()); err != nil {
				t.Fatal(err)
			}
			for _, k := range l.keys(t) {
				if !strings.HasPrefix(k, layout.KPIRunPrefix(testKPI, testDay, newer)) {
					t.Errorf("object %s left after the grace period; want only the newer run's output", k)
				}
			}
			if got := l.tables(t); len(got) != 1 || got[0] != layout.KPITableName(testKPI) {
				t.Errorf("tables %v, want the KPI table only", got)
			}
		})
	}
}
