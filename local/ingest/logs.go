package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/sample"
)

// firehoseTimeLayout is the delivery time in a Firehose object's name.
const firehoseTimeLayout = "2006-01-02-15-04-05"

// AccessLogKey is the raw-zone key of stream's access logs of day d, as Firehose names a
// delivery (infra/ingest: prefix layout.AppLogStreamPrefix + dt=D/, GZIP, extension .json.gz):
// app_logs/<stream>/dt=D/<stream>-1-<YYYY-MM-DD-HH-MM-SS>-local.json.gz, stamped with the day's
// start in the business zone. One object per day, so a re-run replaces it.
func AccessLogKey(ds *sample.Dataset, stream string, d layout.Day) string {
	return layout.AppLogStreamPrefix(stream) + d.Partition() + "/" +
		stream + "-1-" + d.Start(ds.Config.Location).Format(firehoseTimeLayout) + "-local.json.gz"
}

// WriteAccessLogs writes the sample's access-log records of business day d into the raw zone
// as Firehose delivers stream: gzip-compressed JSON lines (sample.WriteAccessLogs), at
// AccessLogKey, written atomically. It returns the key and the number of records.
func WriteAccessLogs(ctx context.Context, lake *lakedir.Lake, ds *sample.Dataset, stream string, d layout.Day) (string, int, error) {
	if err := layout.ValidateName("log stream", stream); err != nil {
		return "", 0, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	lines := &lineCounter{w: zw}
	if err := sample.WriteAccessLogs(lines, ds, d); err != nil {
		return "", 0, err
	}
	if err := zw.Close(); err != nil {
		return "", 0, fmt.Errorf("compress the access logs of %s: %w", d, err)
	}
	key := AccessLogKey(ds, stream, d)
	if _, err := lake.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(RawBucket), Key: aws.String(key),
		Body: bytes.NewReader(buf.Bytes()), ContentType: aws.String("application/json"), ContentEncoding: aws.String("gzip")}); err != nil {
		return "", 0, fmt.Errorf("write the access logs of %s: %w", d, err)
	}
	return key, lines.n, nil
}

// Delivery is one object that a Firehose stream writes: the records that arrived in one buffer
// window, gzip-compressed JSON lines in arrival order.
type Delivery struct {
	// Key is the object's key in the raw zone, named as Firehose names its objects.
	Key string
	// Day is the arrival day it is filed under (dt=Day): the business day of the window's start.
	Day layout.Day
	// Flushed is when it lands, the end of its window: its LastModified.
	Flushed time.Time
	// Records is how many records it holds.
	Records int
	Body    []byte
}

// AccessLogDeliveries returns the objects of stream that land after after and by until, as
// Firehose writes them: it buffers the sample's records by arrival (sample.AccessLog.Arrival) in
// windows of interval that start at each business day's midnight (so none straddles midnight),
// and writes a window's records as one object when the window ends, under the arrival day. A
// record stamped late on D can so land in D+1's partition, as in production.
func AccessLogDeliveries(ds *sample.Dataset, stream string, interval time.Duration, after, until time.Time) ([]Delivery, error) {
	if err := layout.ValidateName("log stream", stream); err != nil {
		return nil, err
	}
	if interval <= 0 {
		return nil, fmt.Errorf("buffer interval %v: give a positive duration", interval)
	}
	loc := ds.Config.Location
	window := func(t time.Time) time.Time {
		start := layout.DayOf(t, loc).Start(loc)
		return start.Add(t.Sub(start) / interval * interval)
	}
	lo, hi := window(after), window(until)
	if !lo.Before(hi) {
		return nil, nil
	}
	logs := ds.AccessLogs
	first := sort.Search(len(logs), func(i int) bool { return !logs[i].Timestamp.Before(lo.Add(-sample.ArrivalBound)) })
	type arrived struct {
		at  time.Time
		rec sample.AccessLog
	}
	byWindow := map[time.Time][]arrived{}
	for _, rec := range logs[first:] {
		if !rec.Timestamp.Before(hi) {
			break
		}
		at := rec.Arrival()
		if at.Before(lo) || !at.Before(hi) {
			continue
		}
		w := window(at)
		byWindow[w] = append(byWindow[w], arrived{at, rec})
	}
	starts := make([]time.Time, 0, len(byWindow))
	for w := range byWindow {
		starts = append(starts, w)
	}
	slices.SortFunc(starts, time.Time.Compare)
	out := make([]Delivery, 0, len(starts))
	for _, w := range starts {
		recs := byWindow[w]
		slices.SortStableFunc(recs, func(a, b arrived) int { return a.at.Compare(b.at) })
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		enc := json.NewEncoder(zw)
		enc.SetEscapeHTML(false)
		for _, r := range recs {
			if err := enc.Encode(r.rec); err != nil {
				return nil, fmt.Errorf("access logs of %s: %w", w.Format(time.RFC3339), err)
			}
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("compress the access logs of %s: %w", w.Format(time.RFC3339), err)
		}
		d := layout.DayOf(w, loc)
		out = append(out, Delivery{
			Key: layout.AppLogStreamPrefix(stream) + d.Partition() + "/" + stream + "-1-" + w.In(loc).Format(firehoseTimeLayout) + "-local.json.gz",
			Day: d, Flushed: w.Add(interval), Records: len(recs), Body: buf.Bytes(),
		})
	}
	return out, nil
}

// lineCounter counts the JSON lines written through it.
type lineCounter struct {
	w io.Writer
	n int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return c.w.Write(p)
}
