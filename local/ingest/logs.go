package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"

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

// lineCounter counts the JSON lines written through it.
type lineCounter struct {
	w io.Writer
	n int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return c.w.Write(p)
}
