package ctas

import (
	"context"
	"errors"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/layout"
)

// errKilled is what every call of a killed run's clients answers.
var errKilled = errors.New("process killed")

// dyingGlue and dyingS3 answer errKilled once dead is set: the run's process is gone, and
// nothing it would still do (its settle, its cleanup) happens.
type dyingGlue struct {
	glueAPI
	dead *atomic.Bool
}

func (g dyingGlue) GetTable(ctx context.Context, in *glue.GetTableInput, o ...func(*glue.Options)) (*glue.GetTableOutput, error) {
	if g.dead.Load() {
		return nil, errKilled
	}
	return g.glueAPI.GetTable(ctx, in, o...)
}

func (g dyingGlue) GetTables(ctx context.Context, in *glue.GetTablesInput, o ...func(*glue.Options)) (*glue.GetTablesOutput, error) {
	if g.dead.Load() {
		return nil, errKilled
	}
	return g.glueAPI.GetTables(ctx, in, o...)
}

func (g dyingGlue) DeleteTable(ctx context.Context, in *glue.DeleteTableInput, o ...func(*glue.Options)) (*glue.DeleteTableOutput, error) {
	if g.dead.Load() {
		return nil, errKilled
	}
	return g.glueAPI.DeleteTable(ctx, in, o...)
}

func (g dyingGlue) GetPartition(ctx context.Context, in *glue.GetPartitionInput, o ...func(*glue.Options)) (*glue.GetPartitionOutput, error) {
	if g.dead.Load() {
		return nil, errKilled
	}
	return g.glueAPI.GetPartition(ctx, in, o...)
}

func (g dyingGlue) UpdatePartition(ctx context.Context, in *glue.UpdatePartitionInput, o ...func(*glue.Options)) (*glue.UpdatePartitionOutput, error) {
	if g.dead.Load() {
		return nil, errKilled
	}
	return g.glueAPI.UpdatePartition(ctx, in, o...)
}

func (g dyingGlue) CreatePartition(ctx context.Context, in *glue.CreatePartitionInput, o ...func(*glue.Options)) (*glue.CreatePartitionOutput, error) {
	if g.dead.Load() {
		return nil, errKilled
	}
	return g.glueAPI.CreatePartition(ctx, in, o...)
}

type dyingS3 struct {
	s3API
	dead *atomic.Bool
}

func (d dyingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if d.dead.Load() {
		return nil, errKilled
	}
	return d.s3API.ListObjectsV2(ctx, in, o...)
}

func (d dyingS3) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if d.dead.Load() {
		return nil, errKilled
	}
	return d.s3API.PutObject(ctx, in, o...)
}

func (d dyingS3) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if d.dead.Load() {
		return nil, errKilled
	}
	return d.s3API.DeleteObjects(ctx, in, o...)
}

// runnerOn is l.runner with its own S3 client in place of the lake's.
func (l *lake) runnerOn(t *testing.T, a athenaAPI, g glueAPI, s s3API, tweak func(*Config)) *Runner {
	t.Helper()
	r := l.runner(t, a, g, tweak)
	r.s3 = s
	r.pub.s3 = s
	return r
}

// dataAt lists the data objects (not markers) under an s3:// location of the lake's bucket.
func (l *lake) dataAt(t *testing.T, loc string) []string {
	t.Helper()
	prefix, ok := strings.CutPrefix(loc, "s3://"+l.bucket+"/")
	if !ok {
		t.Fatalf("location %q is not in bucket %s", loc, l.bucket)
	}
	out, err := l.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		if k := aws.ToString(o.Key); !strings.HasPrefix(path.Base(k), "_") {
			keys = append(keys, k)
		}
	}
	return keys
}

// checkServesData fails the test if the day's partition names a prefix without data.
func (l *lake) checkServesData(t *testing.T, step string) {
	t.Helper()
	loc := l.partition(t)
	if loc == "" {
		t.Errorf("%s: the day has no partition", step)
		return
	}
	if len(l.dataAt(t, loc)) == 0 {
		t.Errorf("%s: the partition points at %s, which holds no data: readers get an empty day", step, loc)
	}
}

// Issue 12 (2a): two runs of one (KPI, day) overlap; the older run's partition write is retried
// and lands after the newer run has switched, cleaned up and settled; then the older run dies
// before its own settle. At no step may the partition name a prefix without data, and the next
// run of the day leaves it on the newest ready run.
func TestPublish_LateWriteOfADyingRunNeverLeavesThePartitionOnDeletedOutput(t *testing.T) {
	const (
		previous = "20261124T040000000Z-00000001"
		older    = "20261124T050000000Z-0000000a"
		newer    = "20261124T050001000Z-0000000b"
		next     = "20261124T060000000Z-0000000c"
	)
	// Only an update can land late over a newer run's switch: a late create meets the newer
	// run's partition (AlreadyExistsException) and reads it.
	for _, tc := range []struct {
		name string
		then func(*testing.T, *lake) // the next pass over the day, which must leave it on the newest ready run
	}{
		{name: "then the next run", then: func(t *testing.T, l *lake) {
			r := l.runner(t, nil, nil, nil)
			fixedRun(r, next)
			res := mustRun(t, r, context.Background())
			if got, want := l.partition(t), l.location(res); got != want {
				t.Errorf("after the next run: partition at %q, want its newest ready run %q", got, want)
			}
		}},
		{name: "then the sweep", then: func(t *testing.T, l *lake) {
			if _, err := l.sweeper(t, nil, nil, nil).Sweep(context.Background(), []string{testKPI}); err != nil {
				t.Fatal(err)
			}
			if got, want := l.partition(t), "s3://"+l.bucket+"/"+layout.KPIRunPrefix(testKPI, testDay, newer); got != want {
				t.Errorf("after the sweep: partition at %q, want the newest ready run %q", got, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			then := tc.then
			l := newLake(t)
			r := l.runner(t, nil, nil, nil)
			fixedRun(r, previous)
			mustRun(t, r, context.Background())
			var dead atomic.Bool
			late := newLateWriteGlue(l.glue)
			olderRunner := l.runnerOn(t, nil, dyingGlue{glueAPI: late, dead: &dead}, dyingS3{s3API: l.s3, dead: &dead}, nil)
			fixedRun(olderRunner, older)
			newerRunner := l.runner(t, nil, nil, nil)
			fixedRun(newerRunner, newer)

			olderDone := make(chan error, 1)
			go func() {
				_, err := olderRunner.Run(context.Background(), request())
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
			mustRun(t, newerRunner, context.Background())
			l.checkServesData(t, "after the newer run")

			close(late.release)
			<-late.landed
			dead.Store(true) // the older run dies right after its late write, before its settle
			if err := <-olderDone; err == nil {
				t.Error("the killed older run reported success")
			}
			if got, want := l.partition(t), "s3://"+l.bucket+"/"+layout.KPIRunPrefix(testKPI, testDay, older); got != want {
				t.Fatalf("partition at %q; the older run's late write did not land last (want %q)", got, want)
			}
			l.checkServesData(t, "after the older run's late write and death")

			then(t, l)
			l.checkServesData(t, "after the next pass")
		})
	}
}

// Issue 12 (2b): a reader resolved the partition before a new run switched it (Athena plans with
// the location and lists its files later). Listing the old location after the new run has
// completed must still find the old data.
func TestPublish_AReaderHoldingTheOldLocationStillReadsItAfterANewRunPublishes(t *testing.T) {
	t.Parallel()
	l := newLake(t)
	first := mustRun(t, l.runner(t, nil, nil, nil), context.Background())
	held := l.partition(t) // the reader plans its query against this location
	if held != l.location(first) {
		t.Fatalf("partition at %q, want the first run's %q", held, l.location(first))
	}
	second := mustRun(t, l.runner(t, nil, nil, nil), context.Background())
	if got := l.partition(t); got != l.location(second) {
		t.Fatalf("partition at %q, want the second run's %q", got, l.location(second))
	}
	if len(l.dataAt(t, held)) == 0 {
		t.Errorf("the reader lists %s after the second run and finds nothing: its query reads zero rows for the day", held)
	}

	// Within the grace period, neither a sweep nor a third run deletes it; past it, the sweep does.
	if _, err := l.sweeper(t, nil, nil, nil).Sweep(context.Background(), []string{testKPI}); err != nil {
		t.Fatal(err)
	}
	if len(l.dataAt(t, held)) == 0 {
		t.Errorf("a sweep within the grace period deleted %s", held)
	}
	sw := l.sweeper(t, nil, nil, nil)
	sw.r.now = func() time.Time { return time.Now().Add(DefaultSupersededGrace + time.Minute) }
	res, err := sw.Sweep(context.Background(), []string{testKPI})
	if err != nil {
		t.Fatal(err)
	}
	if left := l.keysUnder(t, strings.TrimPrefix(held, "s3://"+l.bucket+"/")); len(left) > 0 || res.RunsDeleted != 1 {
		t.Errorf("past the grace period the sweep deleted %d runs and left %v; want the superseded run gone", res.RunsDeleted, left)
	}
	l.checkServesData(t, "after the sweep past the grace")
}

// pointPartition moves the day's partition to loc behind the runners' backs, as a dead run's late
// write (or an older runner) leaves it.
func (l *lake) pointPartition(t *testing.T, loc string) {
	t.Helper()
	in := &glue.GetPartitionInput{DatabaseName: aws.String(l.db), TableName: aws.String(layout.KPITableName(testKPI)),
		PartitionValues: []string{testDay.String()}}
	out, err := l.glue.GetPartition(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sd := *out.Partition.StorageDescriptor
	sd.Location = aws.String(loc)
	if _, err := l.glue.UpdatePartition(context.Background(), &glue.UpdatePartitionInput{DatabaseName: in.DatabaseName,
		TableName: in.TableName, PartitionValueList: in.PartitionValues,
		PartitionInput: &gtypes.PartitionInput{Values: in.PartitionValues, StorageDescriptor: &sd}}); err != nil {
		t.Fatal(err)
	}
}

// Issue 12 (2): a run starts by healing its day's partition if a previous run left it on output
// that is not ready or was deleted, so that the day is readable again even if this run fails.
func TestPublish_ARunFirstHealsAPartitionLeftOnUnreadyOrDeletedOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		// leave puts objects of a run that is left serving, under its run prefix; nil: none (deleted).
		leave []string
	}{
		{name: "deleted output"},
		{name: "unready output of an older run", leave: []string{"part-0.parquet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			ready := mustRun(t, l.runner(t, nil, nil, nil), context.Background())
			broken := layout.KPIRunPrefix(testKPI, testDay, "20200101T000000000Z-0000dead")
			for _, k := range tc.leave {
				l.put(t, broken+k)
			}
			l.pointPartition(t, "s3://"+l.bucket+"/"+broken)

			// This run's query fails: only its start can heal the day.
			fa := &faultyAthena{athenaAPI: l.sim, status: &atypes.QueryExecutionStatus{State: atypes.QueryExecutionStateFailed,
				StateChangeReason: aws.String("GENERIC_INTERNAL_ERROR")}}
			if _, err := l.runner(t, fa, nil, nil).Run(context.Background(), request()); !errors.Is(err, ErrQueryFailed) {
				t.Fatalf("error = %v, want %v", err, ErrQueryFailed)
			}
			if got, want := l.partition(t), l.location(ready); got != want {
				t.Errorf("partition at %q, want it healed to the newest ready run %q", got, want)
			}
		})
	}
}
