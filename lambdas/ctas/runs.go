package ctas

// The runs of a day as S3 lists them: which are ready, which were superseded and when, and which
// keys each holds. The protocol's times are these S3 LastModified and the run ids, never a Glue
// read (publish.go, I3).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/layout"
)

// runState is what a day's prefix holds of one run.
type runState struct {
	ready, data bool
	// readyAt and supersededAt are the LastModified of the run's markers; zero if it has none.
	readyAt, supersededAt time.Time
	// readyKeys, dataKeys and supersededKeys are the run's keys: its ReadyMarker, its output, its
	// SupersededMarker.
	readyKeys, dataKeys, supersededKeys []string
}

// add records one object of the run.
func (st *runState) add(key, name string, modified time.Time) {
	switch name {
	case ReadyMarker:
		st.ready, st.readyAt = true, modified
		st.readyKeys = append(st.readyKeys, key)
	case SupersededMarker:
		st.supersededAt = modified
		st.supersededKeys = append(st.supersededKeys, key)
	default:
		st.data = true
		st.dataKeys = append(st.dataKeys, key)
	}
}

// dayRuns lists the runs of req's day in the aggregated bucket. Objects outside a run prefix (an
// older layout's) are not the protocol's and are left alone.
func (p *publisher) dayRuns(ctx context.Context, req Request) (map[string]*runState, error) {
	dayPrefix := layout.KPIPrefix(req.KPI) + req.Date.Partition() + "/"
	runs := map[string]*runState{}
	err := listObjects(ctx, p.s3, p.bucket, dayPrefix, func(key string, modified time.Time) {
		if id, name, ok := runKey(strings.TrimPrefix(key, dayPrefix)); ok {
			addObject(runs, id, key, name, modified)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dayPrefix, err)
	}
	return runs, nil
}

// addObject records one object of run id in runs.
func addObject(runs map[string]*runState, id, key, name string, modified time.Time) {
	if runs[id] == nil {
		runs[id] = &runState{}
	}
	runs[id].add(key, name, modified)
}

// listObjects calls visit with the key and LastModified of each object under prefix in bucket.
func listObjects(ctx context.Context, c s3API, bucket, prefix string, visit func(key string, modified time.Time)) error {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			visit(aws.ToString(o.Key), aws.ToTime(o.LastModified))
		}
	}
	return nil
}

// runKey splits a key relative to a day's prefix into its run id and the name under the run
// prefix; ok is false for a key outside any run prefix.
func runKey(rest string) (id, name string, ok bool) {
	after, found := strings.CutPrefix(rest, layout.RunKey+"=")
	if !found {
		return "", "", false
	}
	return strings.Cut(after, "/")
}

// runOf is the run id in a run location (…/run=<id>/), or "" for any other location. Run ids
// sort in time order (layout.NewRunID).
func runOf(location string) string { return layout.RunOf(location) }

// newestReady is the newest run with a ReadyMarker, or "".
func newestReady(runs map[string]*runState) string {
	newest := ""
	for id, st := range runs {
		if st.ready && id > newest {
			newest = id
		}
	}
	return newest
}
