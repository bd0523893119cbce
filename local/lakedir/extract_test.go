package lakedir_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/local/lakedir"
)

// blobs is a RowSource of one table (id, blob) of incompressible text, failing after failAt
// rows when failAt > 0.
type blobs struct {
	rows, failAt int
}

var errSourceBroke = errors.New("source broke mid-stream")

func (b *blobs) Columns(context.Context, string) ([]extract.Column, error) {
	return []extract.Column{
		{Name: "id", DataType: "bigint", ColumnType: "bigint(20)", Precision: 19, HasPrecision: true},
		{Name: "blob", DataType: "text", ColumnType: "text"},
	}, nil
}

func (b *blobs) Rows(_ context.Context, _ extract.RowQuery, fn func([]any) error) error {
	buf := make([]byte, 4096)
	for i := range b.rows {
		if b.failAt > 0 && i == b.failAt {
			return errSourceBroke
		}
		_, _ = rand.Read(buf)
		if err := fn([]any{int64(i + 1), []byte(hex.EncodeToString(buf))}); err != nil {
			return err
		}
	}
	return nil
}

func extractor(t *testing.T, l *lakedir.Lake, src extract.RowSource) *extract.Extractor {
	t.Helper()
	e, err := extract.NewWithRows(extract.Config{
		Source: extract.SourceSpec{Name: "src", Engine: extract.MySQL, TimeZone: "Asia/Tokyo", Tables: []extract.TableSpec{{Name: "blobs"}}},
		Bucket: bucket, PartSize: lakedir.MinPartSize, UploadConcurrency: 3, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2025, 4, 28, 16, 30, 0, 0, time.UTC) }, // the daily run of 2025-04-28 (01:30 in Tokyo)
	}, src, l)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The real extractor's multipart upload (parts of 5 MiB, three in flight) lands as one
// readable Parquet object; a failure mid-stream aborts it and leaves the earlier object.
func TestLake_TakesTheExtractorsConcurrentMultipartUpload(t *testing.T) {
	l := open(t)
	ctx := context.Background()
	req := extract.Request{Source: "src", Table: "blobs", Date: "2025-04-28"}
	const n = 4000 // 8 KiB of hex each: about 16 MiB of Parquet, four parts
	res, err := extractor(t, l, &blobs{rows: n}).Handle(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes <= 3*lakedir.MinPartSize {
		t.Fatalf("object of %d bytes; the test needs at least four parts", res.Bytes)
	}
	rowsIn := func() int64 {
		out, err := l.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(res.Key)})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		data, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("the completed object is not Parquet: %v", err)
		}
		return f.NumRows()
	}
	if got := rowsIn(); got != n {
		t.Fatalf("object holds %d rows, want %d", got, n)
	}

	_, err = extractor(t, l, &blobs{rows: n, failAt: 3000}).Handle(ctx, req)
	if !errors.Is(err, errSourceBroke) {
		t.Fatalf("got %v, want the source's failure", err)
	}
	if ids, _ := l.Uploads(); len(ids) != 0 {
		t.Errorf("uploads left after the failed run: %v", ids)
	}
	if got := rowsIn(); got != n {
		t.Errorf("after the failed run the object holds %d rows, want the earlier run's %d", got, n)
	}
}
