package ctas

// The deferred deletion of superseded runs (publish.go, I3): which runs of a day a pass may
// delete, and their deletion in the order that keeps a partly deleted run unready.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kpilake/kpilake/layout"
)

// deletable returns the runs that I3 lets a pass delete at now, given the run the partition
// names (read in this pass). The newest ready run and the serving run always stay.
func deletable(runs map[string]*runState, serving string, now time.Time, grace time.Duration) []string {
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []string
	var next time.Time // the first ReadyMarker written of a newer run
	for i := len(ids) - 1; i >= 0; i-- {
		id, st := ids[i], runs[ids[i]]
		// A time S3 did not give (LastModified is always set by S3; a stand-in may omit it) proves
		// nothing: keep the run.
		if since, ok := graceStart(id, st, serving, next); ok && !since.IsZero() && now.Sub(since) >= grace {
			out = append(out, id)
		}
		if st.ready && (next.IsZero() || st.readyAt.Before(next)) {
			next = st.readyAt
		}
	}
	slices.Sort(out)
	return out
}

// graceStart is since(id) of I3, given the run the partition names and next, the first
// ReadyMarker written of a newer run (zero if none); ok is false for a run that stays however old.
func graceStart(id string, st *runState, serving string, next time.Time) (since time.Time, ok bool) {
	switch {
	case id == serving:
		return time.Time{}, false
	case st.ready && next.IsZero():
		return time.Time{}, false // the newest ready run
	case st.ready:
		return latest(st.supersededAt, st.readyAt, next), true
	}
	start, valid := layout.RunStart(id)
	return latest(st.supersededAt, start), valid // a folder that is no run of ours is left alone
}

// latest is the latest of ts, or the zero time.
func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// deleteRuns deletes the given runs of a day: their ReadyMarkers, then their output, then their
// SupersededMarkers (I3). It returns how many objects it deleted.
func (p *publisher) deleteRuns(ctx context.Context, runs map[string]*runState, ids []string) (int, error) {
	var ready, data, superseded []s3types.ObjectIdentifier
	for _, id := range ids {
		st := runs[id]
		for _, k := range st.readyKeys {
			ready = append(ready, s3types.ObjectIdentifier{Key: aws.String(k)})
		}
		for _, k := range st.dataKeys {
			data = append(data, s3types.ObjectIdentifier{Key: aws.String(k)})
		}
		for _, k := range st.supersededKeys {
			superseded = append(superseded, s3types.ObjectIdentifier{Key: aws.String(k)})
		}
	}
	n := 0
	for _, keys := range [][]s3types.ObjectIdentifier{ready, data, superseded} {
		if err := p.deleteObjects(ctx, keys); err != nil {
			return n, err
		}
		n += len(keys)
	}
	return n, nil
}

// deleteObjects deletes keys, 1000 per call.
func (p *publisher) deleteObjects(ctx context.Context, keys []s3types.ObjectIdentifier) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		out, err := p.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(p.bucket),
			Delete: &s3types.Delete{Objects: keys[:n], Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete superseded runs in s3://%s: %w", p.bucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete superseded runs in s3://%s: %d objects not deleted, first %s: %s",
				p.bucket, len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Message))
		}
		keys = keys[n:]
	}
	return nil
}

// collected is what one deletion pass over a day removed.
type collected struct{ runs, objects int }

// collect deletes the runs of req's day that I3 allows, reading the partition first. It is the
// deferred deletion of a run's own day; the sweep does the same for every day.
func (p *publisher) collect(ctx context.Context, req Request) (collected, error) {
	current, _, err := p.readPartition(ctx, req)
	if err != nil {
		return collected{}, fmt.Errorf("collect: %w", err)
	}
	runs, err := p.dayRuns(ctx, req)
	if err != nil {
		return collected{}, fmt.Errorf("collect: %w", err)
	}
	return p.collectRuns(ctx, req, runs, runOf(current))
}

// collectRuns deletes what I3 allows of a day's runs, given the run a partition read of this pass
// names.
func (p *publisher) collectRuns(ctx context.Context, req Request, runs map[string]*runState, serving string) (collected, error) {
	ids := deletable(runs, serving, p.now(), p.grace)
	if len(ids) == 0 {
		return collected{}, nil
	}
	n, err := p.deleteRuns(ctx, runs, ids)
	if err != nil {
		return collected{objects: n}, fmt.Errorf("collect %s %s: %w", req.KPI, req.Date, err)
	}
	p.log.InfoContext(ctx, "ctas: deleted superseded runs past their grace", "kpi", req.KPI, "date", req.Date.String(),
		"runs", ids, "objects", n, "grace", p.grace.String())
	return collected{runs: len(ids), objects: n}, nil
}
