package ctas

// The publish protocol of one (KPI, day): how a run's output becomes the day's partition, and
// when output that serves no more is deleted. Terms: run X writes under <kpi>/dt=D/run=X/ (run
// ids sort by start time); X is ready once its ReadyMarker exists; the partition names X when its
// location is X's run prefix; N is the newer run of X whose ReadyMarker was written first.
// writeWindow is how long a decision to write the partition can take to land: the invocation
// that takes it ends within Lambda's 15 minutes. ε is how stale a Glue read can be (seconds; AWS
// promises no read-after-write, so nothing below relies on a read seeing a recent write).
//
// I1 A write names only ready output: a run's switch names its own run after writing its
// ReadyMarker; a settle names the newest run whose ReadyMarker it listed (S3 lists are strongly
// consistent). So writes naming X are decided by X itself or before N's ReadyMarker exists, and
// land by max(X's ReadyMarker, N's ReadyMarker) + writeWindow.
//
// I2 Whoever moves the partition away from a run (switch, settle) first writes that run's
// SupersededMarker; the move lands within writeWindow of the marker's LastModified.
//
// I3 Run X is deleted only if a partition read of the same pass does not name it, X is not the
// newest ready run, and now - since(X) >= Grace. since(X) is the latest of X's SupersededMarker,
// X's ReadyMarker and N's ReadyMarker for a ready X; of X's SupersededMarker and X's start for
// an unready X (which no write names, by I1; its orphan query ends within Athena's DML timeout).
// Times are S3 LastModified and run ids, never a Glue read. A pass (a run's, or the sweep's,
// which reads every partition once at its start) ends within writeWindow. X's ReadyMarker is
// deleted first and its SupersededMarker last: a run partly deleted is unready, so no settle
// names it again.
//
// I4 A run settles its day (heal) while its query runs, before its switch, and settles again
// after its switch; the sweep settles every day it finds off its newest ready run. A settle
// leaves the partition on the newest ready run (or on a newer run that has data and no marker:
// an older runner's).
//
// From these: a partition never names deleted data, since a read in a deletion pass can be stale
// only about writes of the last ε + writeWindow, and by I1 and I3 the last write naming X is
// older than Grace - writeWindow. A reader that planned against X may list X's files for at
// least Grace - 2*writeWindow - ε after the partition stopped naming it (I2, or I1 when the
// mover read stale). Grace is therefore at least the longest query plus 2*writeWindow
// (MinSupersededGrace).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/layout"
)

// ReadyMarker is the object a run writes under its run prefix once its output is complete and fits
// the KPI table, before it switches the partition: a partition names only run prefixes that hold
// one (I1). Athena (Trino) skips files whose names start with "_", so queries never read it.
const ReadyMarker = "_kpilake_ready"

// SupersededMarker is the object written under a run prefix just before the partition is moved
// away from that run (I2); its LastModified starts the run's grace period.
const SupersededMarker = "_kpilake_superseded"

// writeWindow bounds how long a partition write takes to land after it was decided: the deciding
// invocation ends within Lambda's 15 minutes (MinStaleTempAfter adds a margin for clock skew).
const writeWindow = MinStaleTempAfter

// maxSettleWrites bounds the partition writes of one settle: each one answers another run's
// overlapping write, and a day has a handful of overlapping runs at most.
const maxSettleWrites = 8

// publisher owns the publish protocol of the (KPI, day)s: ready markers, the partition switch,
// settle, and the deferred deletion of superseded runs (collect.go). It keeps I1 to I4 above.
type publisher struct {
	glue     glueAPI
	s3       s3API
	bucket   string
	database string
	grace    time.Duration
	log      *slog.Logger
	now      func() time.Time
	retry    retryFunc
}

// publish makes the KPI table ready for the temporary table's columns, marks the run ready and
// switches dt=Date to loc (the settle that follows says which run serves the day). It returns the
// KPI table.
func (r *Runner) publish(ctx context.Context, req Request, tmp, loc string) (*gtypes.Table, error) {
	cols, err := r.outputColumns(ctx, tmp)
	if err != nil {
		return nil, err
	}
	table, err := r.kpiTable(ctx, req, cols)
	if err != nil {
		return nil, err
	}
	if err := partitionedByDay(req.Table, table); err != nil {
		return nil, err
	}
	if err := compatible(req.Table, table.StorageDescriptor.Columns, cols); err != nil {
		return nil, fmt.Errorf("%w; the dt=%s partition still serves the previous run (new output left at %s)", err, req.Date, loc)
	}
	if err := r.pub.markReady(ctx, req, runOf(loc)); err != nil {
		return nil, err
	}
	if _, err := r.pub.switchPartition(ctx, req, table, loc); err != nil {
		return nil, err
	}
	return table, nil
}

// heal settles req's day as a run starts, while its query runs (I4), so that a day a dead run
// left on unready or deleted output is readable again even if this run fails. A day without a
// KPI table or partition has nothing to heal.
func (r *Runner) heal(ctx context.Context, req Request) error {
	table, err := r.getTable(ctx, req.Table)
	if hasCode(err, "EntityNotFoundException") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("heal: read KPI table %q: %w", req.Table, err)
	}
	if table == nil || table.StorageDescriptor == nil {
		return nil
	}
	if _, err := r.pub.settle(ctx, req, table); err != nil && !errors.Is(err, errNoReadyRun) {
		return fmt.Errorf("heal: %w", err)
	}
	return nil
}

// location is the s3:// location of a run of req's day.
func (p *publisher) location(req Request, runID string) string {
	return "s3://" + p.bucket + "/" + layout.KPIRunPrefix(req.KPI, req.Date, runID)
}

// put writes an empty marker object under a run of req's day.
func (p *publisher) put(ctx context.Context, req Request, runID, name string) error {
	key := layout.KPIRunPrefix(req.KPI, req.Date, runID) + name
	err := p.retry(ctx, "s3 PutObject", func(ctx context.Context) error {
		_, err := p.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key),
			Body: strings.NewReader(""), ContentLength: aws.Int64(0)})
		return err
	})
	if err != nil {
		return fmt.Errorf("write s3://%s/%s: %w", p.bucket, key, err)
	}
	return nil
}

// markReady writes the run's ReadyMarker.
func (p *publisher) markReady(ctx context.Context, req Request, runID string) error {
	if err := p.put(ctx, req, runID, ReadyMarker); err != nil {
		return fmt.Errorf("mark run %s ready: %w", runID, err)
	}
	return nil
}

// markSuperseded writes the SupersededMarker of the run that location names, if it names a run
// (I2). A marker left by a move that then failed only starts the grace early while the run still
// serves, and a serving run is never deleted; the next move writes it again.
func (p *publisher) markSuperseded(ctx context.Context, req Request, location string) error {
	id := runOf(location)
	if id == "" {
		return nil
	}
	if err := p.put(ctx, req, id, SupersededMarker); err != nil {
		return fmt.Errorf("mark run %s superseded: %w", id, err)
	}
	return nil
}

// switchPartition points dt=Date at loc: one CreatePartition or UpdatePartition, which readers see
// as the switch from the previous run to this one. It leaves a partition that serves a newer run
// alone and returns that run. The read only keeps the partition moving forward; a stale one is
// corrected by the settle that follows.
func (p *publisher) switchPartition(ctx context.Context, req Request, table *gtypes.Table, loc string) (serving string, err error) {
	current, exists, err := p.readPartition(ctx, req)
	if err != nil {
		return "", err
	}
	if !exists {
		err := p.writePartition(ctx, req, table, loc, false)
		if err == nil {
			return runOf(loc), nil
		}
		if !hasCode(err, "AlreadyExistsException") {
			return "", err
		}
		// Another run of the day created it meanwhile; it may be newer than this one.
		if current, _, err = p.readPartition(ctx, req); err != nil {
			return "", err
		}
	}
	// Two runs of one day may overlap (a retry, a duplicate backfill job); the partition only
	// moves forward, so an older run finishing last never replaces a newer run's output.
	if newer := runOf(current); newer > runOf(loc) {
		return newer, nil
	}
	if current != loc {
		if err := p.markSuperseded(ctx, req, current); err != nil {
			return "", err
		}
	}
	if err := p.writePartition(ctx, req, table, loc, true); err != nil {
		return "", err
	}
	return runOf(loc), nil
}

// readPartition returns the location of the KPI table's dt=Date partition, and whether it exists.
func (p *publisher) readPartition(ctx context.Context, req Request) (location string, exists bool, err error) {
	err = p.retry(ctx, "glue GetPartition", func(ctx context.Context) error {
		out, err := p.glue.GetPartition(ctx, &glue.GetPartitionInput{DatabaseName: aws.String(p.database),
			TableName: aws.String(req.Table), PartitionValues: []string{req.Date.String()}})
		if err == nil && out.Partition != nil && out.Partition.StorageDescriptor != nil {
			location = aws.ToString(out.Partition.StorageDescriptor.Location)
		}
		return err
	})
	if hasCode(err, "EntityNotFoundException") {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read partition %s of %q: %w", req.Date.Partition(), req.Table, err)
	}
	return location, true, nil
}

// writePartition points dt=Date at loc: UpdatePartition if it exists, CreatePartition if not.
func (p *publisher) writePartition(ctx context.Context, req Request, table *gtypes.Table, loc string, exists bool) error {
	sd := *table.StorageDescriptor
	sd.Location = aws.String(loc)
	db, name := aws.String(p.database), aws.String(req.Table)
	input := &gtypes.PartitionInput{Values: []string{req.Date.String()}, StorageDescriptor: &sd}
	if !exists {
		err := p.retry(ctx, "glue CreatePartition", func(ctx context.Context) error {
			_, err := p.glue.CreatePartition(ctx, &glue.CreatePartitionInput{DatabaseName: db, TableName: name, PartitionInput: input})
			return err
		})
		if err != nil {
			return fmt.Errorf("create partition %s of %q: %w", req.Date.Partition(), req.Table, err)
		}
		return nil
	}
	err := p.retry(ctx, "glue UpdatePartition", func(ctx context.Context) error {
		_, err := p.glue.UpdatePartition(ctx, &glue.UpdatePartitionInput{DatabaseName: db, TableName: name,
			PartitionValueList: input.Values, PartitionInput: input})
		return err
	})
	if err != nil {
		return fmt.Errorf("update partition %s of %q: %w", req.Date.Partition(), req.Table, err)
	}
	return nil
}

// settleTarget is where a settle moves a partition that names serving (exists: the partition
// exists): the newest ready run; move is false when the partition stays (I4).
func settleTarget(runs map[string]*runState, serving string, exists bool) (target string, move bool) {
	newest := newestReady(runs)
	switch {
	case newest == "":
		return "", false
	case exists && serving == newest:
		return newest, false
	case exists && serving > newest && runs[serving] != nil && runs[serving].data:
		// A newer run without a marker that still has data: an older runner published it.
		return serving, false
	}
	return newest, true
}

// errNoReadyRun: the partition is gone and no run of the day is ready to put back.
var errNoReadyRun = errors.New("no run of the day is ready")

// settle leaves dt=Date at the newest ready run of the day and returns the run it serves.
//
// Glue has no conditional partition update, so an overlapping older run's write can land at any
// time after it read the partition, even after a newer run published and checked the partition;
// a read-check-write in one run cannot prevent that. Instead, every run settles at its start and
// after its switch, and the sweep settles every day: it reads the partition, lists the day's runs
// and moves the partition to the newest ready run unless it already serves it.
func (p *publisher) settle(ctx context.Context, req Request, table *gtypes.Table) (string, error) {
	for range maxSettleWrites + 1 {
		current, exists, err := p.readPartition(ctx, req)
		if err != nil {
			return "", fmt.Errorf("settle: %w", err)
		}
		runs, err := p.dayRuns(ctx, req)
		if err != nil {
			return "", fmt.Errorf("settle: %w", err)
		}
		target, move := settleTarget(runs, runOf(current), exists)
		switch {
		case !move && exists:
			return runOf(current), nil
		case !move:
			return "", fmt.Errorf("settle: partition %s of %q is gone and %w", req.Date.Partition(), req.Table, errNoReadyRun)
		}
		loc := p.location(req, target)
		p.log.InfoContext(ctx, "ctas settle: moving the partition to the newest ready run",
			"kpi", req.KPI, "date", req.Date.String(), "from", current, "to", loc)
		if err := p.markSuperseded(ctx, req, current); err != nil {
			return "", fmt.Errorf("settle: %w", err)
		}
		if err := p.writePartition(ctx, req, table, loc, exists); err != nil && !hasCode(err, "AlreadyExistsException") {
			return "", fmt.Errorf("settle: %w", err)
		}
	}
	return "", fmt.Errorf("settle: partition %s of %q was moved by other runs %d times in a row; run the day again",
		req.Date.Partition(), req.Table, maxSettleWrites)
}
