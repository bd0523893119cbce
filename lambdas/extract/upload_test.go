package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
)

// faultyS3 wraps an S3API (moto, or memS3) and injects failures into UploadPart.
type faultyS3 struct {
	S3API
	failPart  int32 // UploadPart of this part fails
	stallPart int32 // UploadPart of this part blocks until its context ends
	stallFrom int32 // UploadPart of this part and later ones (if not 0) blocks until its context ends

	mu                         sync.Mutex
	creates, completes, aborts int
	parts                      []int32
}

func (f *faultyS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	f.mu.Lock()
	f.creates++
	f.mu.Unlock()
	return f.S3API.CreateMultipartUpload(ctx, in, opts...)
}

func (f *faultyS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	f.mu.Lock()
	f.parts = append(f.parts, *in.PartNumber)
	f.mu.Unlock()
	switch *in.PartNumber {
	case f.failPart:
		return nil, errors.New("injected failure: connection reset by peer")
	case f.stallPart:
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.stallFrom != 0 && *in.PartNumber >= f.stallFrom {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.S3API.UploadPart(ctx, in, opts...)
}

func (f *faultyS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	f.mu.Lock()
	f.completes++
	f.mu.Unlock()
	return f.S3API.CompleteMultipartUpload(ctx, in, opts...)
}

func (f *faultyS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	f.mu.Lock()
	f.aborts++
	f.mu.Unlock()
	return f.S3API.AbortMultipartUpload(ctx, in, opts...)
}

// memS3 is an in-memory S3 for multipart uploads: objects appear on Complete only.
type memS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	uploads map[string]map[int32][]byte
	next    int
}

func newMemS3() *memS3 {
	return &memS3{objects: map[string][]byte{}, uploads: map[string]map[int32][]byte{}}
}

func (m *memS3) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	id := strconv.Itoa(m.next)
	m.uploads[id] = map[int32][]byte{}
	return &s3.CreateMultipartUploadOutput{UploadId: &id}, nil
}

func (m *memS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	up, ok := m.uploads[*in.UploadId]
	if !ok {
		return nil, errors.New("NoSuchUpload")
	}
	up[*in.PartNumber] = data
	return &s3.UploadPartOutput{ETag: aws.String(fmt.Sprintf(`"%d"`, *in.PartNumber))}, nil
}

func (m *memS3) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	up, ok := m.uploads[*in.UploadId]
	if !ok {
		return nil, errors.New("NoSuchUpload")
	}
	var obj []byte
	for i, p := range in.MultipartUpload.Parts {
		if *p.PartNumber != int32(i+1) {
			return nil, fmt.Errorf("InvalidPartOrder: part %d at %d", *p.PartNumber, i)
		}
		obj = append(obj, up[*p.PartNumber]...)
	}
	m.objects[*in.Key] = obj
	delete(m.uploads, *in.UploadId)
	return &s3.CompleteMultipartUploadOutput{}, nil
}

// ListObjectsV2 lists the objects under the prefix in key order, up to MaxKeys.
func (m *memS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if n := int(aws.ToInt32(in.MaxKeys)); n > 0 && len(keys) > n {
		keys = keys[:n]
	}
	out := &s3.ListObjectsV2Output{}
	for _, k := range keys {
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k)})
	}
	return out, nil
}

func (m *memS3) AbortMultipartUpload(_ context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.uploads, *in.UploadId)
	return &s3.AbortMultipartUploadOutput{}, nil
}

func TestUpload_AssemblesPartsInOrder(t *testing.T) {
	for _, size := range []int{0, 1, 1000, 1024, 5000, 10 * 1024} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			mem := newMemS3()
			u := &uploader{api: mem, bucket: "b", key: "k", partSize: 1024, concurrency: 3}
			data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			n, parts, err := u.upload(context.Background(), bytes.NewReader(data), nil)
			if err != nil {
				t.Fatal(err)
			}
			wantParts := max(1, (size+1023)/1024)
			if n != int64(size) || parts != wantParts {
				t.Errorf("size, parts = %d, %d; want %d, %d", n, parts, size, wantParts)
			}
			if !bytes.Equal(mem.objects["k"], data) {
				t.Errorf("object differs from the input")
			}
		})
	}
}

func TestUpload_AbortsWhenPart2Fails(t *testing.T) {
	mem := newMemS3()
	f := &faultyS3{S3API: mem, failPart: 2}
	u := &uploader{api: f, bucket: "b", key: "k", partSize: 1024, concurrency: 2}
	var failed error
	_, _, err := u.upload(context.Background(), bytes.NewReader(make([]byte, 10*1024)), func(err error) { failed = err })
	if err == nil || !strings.Contains(err.Error(), "upload part 2 of s3://b/k: injected failure") {
		t.Fatalf("err = %v", err)
	}
	if failed == nil {
		t.Errorf("onFail was not called")
	}
	if f.aborts != 1 || f.completes != 0 {
		t.Errorf("aborts = %d, completes = %d; want 1, 0", f.aborts, f.completes)
	}
	if len(mem.objects) != 0 || len(mem.uploads) != 0 {
		t.Errorf("objects %d, open uploads %d; want none", len(mem.objects), len(mem.uploads))
	}
}

func TestUpload_AbortsWhenTheReaderFails(t *testing.T) {
	mem := newMemS3()
	f := &faultyS3{S3API: mem}
	u := &uploader{api: f, bucket: "b", key: "k", partSize: 1024, concurrency: 2}
	r := io.MultiReader(bytes.NewReader(make([]byte, 3000)), iotestErrReader{errors.New("database went away")})
	_, _, err := u.upload(context.Background(), r, nil)
	if err == nil || !strings.Contains(err.Error(), "database went away") {
		t.Fatalf("err = %v", err)
	}
	if f.aborts != 1 || f.completes != 0 || len(mem.objects) != 0 {
		t.Errorf("aborts = %d, completes = %d, objects = %d; want 1, 0, 0", f.aborts, f.completes, len(mem.objects))
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// TestExtractor_AbortsWhenPart2Fails runs a whole extraction against a fake source and a
// fault-injecting S3: no object may appear, and the stream stops. Parts after 2 hold their
// buffers until the failure cancels them, so which parts start does not depend on scheduling:
// the uploader has DefaultUploadConcurrency buffers, and part 1 gives one back.
func TestExtractor_AbortsWhenPart2Fails(t *testing.T) {
	mem := newMemS3()
	f := &faultyS3{S3API: mem, failPart: 2, stallFrom: 3}
	e := fakeExtractor(t, f, 20000)
	e.partSize = 16 << 10
	_, err := e.Handle(context.Background(), Request{Source: "social", Table: "events", Date: "2026-11-24"})
	if err == nil || !strings.Contains(err.Error(), "upload part 2") {
		t.Fatalf("err = %v", err)
	}
	if f.aborts != 1 || f.completes != 0 || len(mem.objects) != 0 || len(mem.uploads) != 0 {
		t.Errorf("aborts %d, completes %d, objects %d, open uploads %d; want 1, 0, 0, 0",
			f.aborts, f.completes, len(mem.objects), len(mem.uploads))
	}
	if last := int32(DefaultUploadConcurrency + 1); slices.Max(f.parts) > last {
		t.Errorf("parts %v: the stream went on after part 2 failed (at most part %d may start)", f.parts, last)
	}
}

func TestExtractor_AbortsWhenTheSourceFailsMidStream(t *testing.T) {
	mem := newMemS3()
	f := &faultyS3{S3API: mem}
	e := fakeExtractor(t, f, 20000)
	e.partSize = 16 << 10
	inner := e.open
	e.open = func(ctx context.Context, c dbCredentials, db string) (source, error) {
		s, err := inner(ctx, c, db)
		s.(*fakeSource).failAfter = 15000
		return s, err
	}
	_, err := e.Handle(context.Background(), Request{Source: "social", Table: "events", Date: "2026-11-24"})
	if err == nil || !strings.Contains(err.Error(), "read table social.events: server closed the connection") {
		t.Fatalf("err = %v", err)
	}
	if f.aborts != 1 || f.completes != 0 || len(mem.objects) != 0 {
		t.Errorf("aborts %d, completes %d, objects %d; want 1, 0, 0", f.aborts, f.completes, len(mem.objects))
	}
}

func TestExtractor_WritesRowGroupsAndLogs(t *testing.T) {
	mem := newMemS3()
	mem.objects[earlierDayKey("social", "events")] = nil // not the table's first day
	var logs bytes.Buffer
	e := fakeExtractor(t, mem, 2500)
	e.log = slog.New(slog.NewJSONHandler(&logs, nil))
	e.cfg.RowGroupRows = 1000
	res, err := e.Handle(context.Background(), Request{Source: "social", Table: "events", Date: "2026-11-24"})
	if err != nil {
		t.Fatal(err)
	}
	data := mem.objects[res.Key]
	if res.Rows != 2500 || res.Bytes != int64(len(data)) {
		t.Errorf("rows, bytes = %d, %d; want 2500, %d", res.Rows, res.Bytes, len(data))
	}
	f := readParquet(t, data)
	if len(f.Rows) != 2500 || f.Rows[2499]["id"] != int64(2499) {
		t.Errorf("read back %d rows, last %v", len(f.Rows), f.Rows[len(f.Rows)-1])
	}
	pf := openParquet(t, data)
	if n := len(pf.RowGroups()); n != 3 {
		t.Errorf("%d row groups, want 3 (1000 rows each)", n)
	}
	recs := logRecords(t, &logs)
	if len(recs) != 1 {
		t.Fatalf("logs: %v", recs)
	}
	got := recs[0]
	delete(got, "time")
	want := map[string]any{"level": "INFO", "msg": "extracted", "source": "social", "table": "events",
		"date": "2026-11-24", "key": res.Key, "mode": "snapshot", "rows": float64(2500),
		"bytes": float64(res.Bytes), "duration_ms": float64(res.DurationMs)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log record (-want +got):\n%s", diff)
	}
}

// fakeSource serves a generated table "events (id bigint, name text)".
type fakeSource struct {
	rows      int
	failAfter int
}

func (f *fakeSource) columns(context.Context, string) ([]Column, error) {
	return []Column{{Name: "id", DataType: "bigint", ColumnType: "bigint"}, {Name: "name", DataType: "text", ColumnType: "text"}}, nil
}

func (f *fakeSource) mapColumn(c Column) (mapping, bool) { return (&postgresDB{}).mapColumn(c) }

func (f *fakeSource) selectExpr(c Column, m mapping) string { return c.Name }

func (f *fakeSource) query(table string, selects []string, filter string) string { return "q" }

func (f *fakeSource) sinceFilter(Column, time.Time, *time.Location) (string, []any, error) {
	return "", nil, nil
}

func (f *fakeSource) stream(ctx context.Context, _ string, _ []any, fn func([]any) error) error {
	vals := make([]any, 2)
	for i := range f.rows {
		if f.failAfter > 0 && i == f.failAfter {
			return errors.New("server closed the connection")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Incompressible-ish text, so that the file spans several small parts.
		vals[0], vals[1] = int64(i), fmt.Sprintf("event %d %x", i, uint64(i)*0x9E3779B97F4A7C15)
		if err := fn(vals); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) close() {}

// fakeExtractor is an Extractor over a fakeSource of n rows, with a stub secret.
func fakeExtractor(t *testing.T, api S3API, n int) *Extractor {
	t.Helper()
	e, err := New(Config{
		Source: SourceSpec{Name: "social", Engine: PostgreSQL, TimeZone: "Asia/Tokyo", Tables: []TableSpec{{Name: "events"}}},
		Bucket: "raw", SecretID: "arn:secret", RootCAs: otherCA(t),
		Logger: discardLogger(), Now: dailyRunOfTestDay,
	}, stubSecrets{`{"username":"u","password":"p","host":"db","port":5432,"dbname":"app"}`}, api)
	if err != nil {
		t.Fatal(err)
	}
	e.open = func(context.Context, dbCredentials, string) (source, error) { return &fakeSource{rows: n}, nil }
	return e
}

type stubSecrets struct{ value string }

func (s stubSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: &s.value}, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func itoa(i int) string { return strconv.Itoa(i) }

func wantInputError(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", substr)
	}
	if !errors.Is(err, ErrBadRequest) {
		t.Errorf("error is not ErrBadRequest: %v", err)
	}
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Errorf("error is not an *InputError: %T", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error does not mention %q:\n%v", substr, err)
	}
}
