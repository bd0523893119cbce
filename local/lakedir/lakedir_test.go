package lakedir_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/kpilake/kpilake/local/lakedir"
)

const bucket = "raw"

func open(t *testing.T, opts ...lakedir.Option) *lakedir.Lake {
	t.Helper()
	l, err := lakedir.Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func put(t *testing.T, l *lakedir.Lake, key, body string) {
	t.Helper()
	if _, err := l.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, l *lakedir.Lake, key string) (string, error) {
	t.Helper()
	out, err := l.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

// listAll pages through a listing with the SDK's own paginator, as ctas and plan do.
func listAll(t *testing.T, l *lakedir.Lake, in *s3.ListObjectsV2Input) (keys, prefixes []string, pages int) {
	t.Helper()
	in.Bucket = aws.String(bucket)
	p := s3.NewListObjectsV2Paginator(l, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, *cp.Prefix)
		}
		if int(aws.ToInt32(page.KeyCount)) != len(page.Contents)+len(page.CommonPrefixes) {
			t.Errorf("KeyCount %d, but %d keys and %d prefixes", aws.ToInt32(page.KeyCount), len(page.Contents), len(page.CommonPrefixes))
		}
	}
	return keys, prefixes, pages
}

func TestListObjectsV2_FollowsS3Semantics(t *testing.T) {
	l := open(t)
	keys := []string{
		"a-b", "a/b", "a/c/d", "a/c/e", "a/d", "a0", "b/x/y/z", "b/x/z", "kpi/dt=2025-04-28/run=1/_kpilake_ready",
		"kpi/dt=2025-04-28/run=1/data.parquet", "kpi/dt=2025-04-28/run=2/data.parquet", "kpi/dt=2025-04-29/run=1/x",
	}
	for _, k := range slices.Backward(keys) { // written out of order: the listing sorts
		put(t, l, k, k)
	}
	tests := []struct {
		name         string
		in           s3.ListObjectsV2Input
		wantKeys     []string
		wantPrefixes []string
		wantPages    int
	}{
		{"everything in byte order (a-b before a/b, a0 after a/...)", s3.ListObjectsV2Input{}, keys, nil, 1},
		{"prefix that is not a directory", s3.ListObjectsV2Input{Prefix: aws.String("a")}, keys[:6], nil, 1},
		{"prefix of a directory", s3.ListObjectsV2Input{Prefix: aws.String("a/")}, []string{"a/b", "a/c/d", "a/c/e", "a/d"}, nil, 1},
		{"prefix inside a name", s3.ListObjectsV2Input{Prefix: aws.String("a/c/")}, []string{"a/c/d", "a/c/e"}, nil, 1},
		{"prefix that matches nothing", s3.ListObjectsV2Input{Prefix: aws.String("zz/")}, nil, nil, 1},
		{"prefix of a missing directory deep down", s3.ListObjectsV2Input{Prefix: aws.String("q/r/s/")}, nil, nil, 1},
		{"prefix with an empty folder", s3.ListObjectsV2Input{Prefix: aws.String("a//")}, nil, nil, 1},
		{"delimiter at the top", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, []string{"a-b", "a0"}, []string{"a/", "b/", "kpi/"}, 1},
		{"delimiter under a prefix", s3.ListObjectsV2Input{Prefix: aws.String("a/"), Delimiter: aws.String("/")}, []string{"a/b", "a/d"}, []string{"a/c/"}, 1},
		{"delimiter: the partitions of a KPI", s3.ListObjectsV2Input{Prefix: aws.String("kpi/"), Delimiter: aws.String("/")}, nil, []string{"kpi/dt=2025-04-28/", "kpi/dt=2025-04-29/"}, 1},
		{"a delimiter other than /", s3.ListObjectsV2Input{Prefix: aws.String("kpi/"), Delimiter: aws.String("run=")}, nil, []string{"kpi/dt=2025-04-28/run=", "kpi/dt=2025-04-29/run="}, 1},
		{"start after a key", s3.ListObjectsV2Input{StartAfter: aws.String("a/c/d")}, keys[3:], nil, 1},
		{"start after a key that does not exist", s3.ListObjectsV2Input{StartAfter: aws.String("a/c")}, keys[2:], nil, 1},
		{"start after, inside a common prefix: the prefix still appears", s3.ListObjectsV2Input{Delimiter: aws.String("/"), StartAfter: aws.String("a/c/d")}, []string{"a0"}, []string{"a/", "b/", "kpi/"}, 1},
		{"start after everything", s3.ListObjectsV2Input{StartAfter: aws.String("zzz")}, nil, nil, 1},
		{"pages of one key", s3.ListObjectsV2Input{MaxKeys: aws.Int32(1)}, keys, nil, len(keys)},
		{"pages of five keys", s3.ListObjectsV2Input{MaxKeys: aws.Int32(5)}, keys, nil, 3},
		{"pages of one with a delimiter: a prefix is not repeated on the next page", s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}, []string{"a-b", "a0"}, []string{"a/", "b/", "kpi/"}, 5},
		{"pages and start after", s3.ListObjectsV2Input{Prefix: aws.String("kpi/"), StartAfter: aws.String("kpi/dt=2025-04-28/run=1/data.parquet"), MaxKeys: aws.Int32(1)}, keys[10:], nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			gotKeys, gotPrefixes, pages := listAll(t, l, &in)
			if !slices.Equal(gotKeys, tt.wantKeys) {
				t.Errorf("keys\n got %q\nwant %q", gotKeys, tt.wantKeys)
			}
			if !slices.Equal(gotPrefixes, tt.wantPrefixes) {
				t.Errorf("common prefixes\n got %q\nwant %q", gotPrefixes, tt.wantPrefixes)
			}
			if pages != tt.wantPages {
				t.Errorf("%d pages, want %d", pages, tt.wantPages)
			}
		})
	}
}

func TestListObjectsV2_NeverListsOutsideTheBucket(t *testing.T) {
	l := open(t)
	put(t, l, "a/b", "x")
	if _, err := l.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("secret/k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"../other/", "../other/secret/", "../", "a/../../other/"} {
		keys, prefixes, _ := listAll(t, l, &s3.ListObjectsV2Input{Prefix: aws.String(prefix)})
		if len(keys)+len(prefixes) != 0 {
			t.Errorf("prefix %q lists %q %q, outside bucket %s", prefix, keys, prefixes, bucket)
		}
	}
}

func TestListObjectsV2_CapsPagesAtAThousandKeys(t *testing.T) {
	l := open(t)
	for i := range 1001 {
		put(t, l, fmt.Sprintf("k/%04d", i), "")
	}
	out, err := l.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(5000)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1000 || !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
		t.Fatalf("got %d keys, truncated %v; want 1000 and a continuation", len(out.Contents), aws.ToBool(out.IsTruncated))
	}
	keys, _, pages := listAll(t, l, &s3.ListObjectsV2Input{})
	if len(keys) != 1001 || pages != 2 {
		t.Errorf("paginated: %d keys in %d pages, want 1001 in 2", len(keys), pages)
	}
}

func TestListObjectsV2_MissingBucketIsEmpty(t *testing.T) {
	l := open(t)
	out, err := l.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("nothing-here")})
	if err != nil || len(out.Contents) != 0 || aws.ToBool(out.IsTruncated) {
		t.Fatalf("got %+v, %v; want an empty listing", out, err)
	}
}

func TestListObjectsV2_RejectsAForeignContinuationToken(t *testing.T) {
	l := open(t)
	_, err := l.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: aws.String("not-a-token!")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidArgument" {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
}

func TestGetAndHead_MissingKeysAreTypedAsTheSDKs(t *testing.T) {
	l := open(t)
	put(t, l, "a/b", "x")
	for _, key := range []string{"nope", "a", "a/b/c", "a/bb"} {
		_, err := l.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		var nsk *s3types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Errorf("GetObject %q: got %v, want *types.NoSuchKey", key, err)
		}
		_, err = l.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		var nf *s3types.NotFound
		if !errors.As(err, &nf) {
			t.Errorf("HeadObject %q: got %v, want *types.NotFound", key, err)
		}
	}
}

func TestPutObject_ReplacesAndStampsTheClock(t *testing.T) {
	at := time.Date(2025, 4, 29, 1, 30, 0, 0, time.UTC)
	l := open(t, lakedir.WithClock(func() time.Time { return at }))
	put(t, l, "k", "one")
	at = at.Add(time.Hour)
	put(t, l, "k", "two")
	if got, err := get(t, l, "k"); err != nil || got != "two" {
		t.Fatalf("got %q, %v; want two", got, err)
	}
	head, err := l.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	if !head.LastModified.Equal(at) || aws.ToInt64(head.ContentLength) != 3 {
		t.Errorf("LastModified %v, length %d; want %v, 3", head.LastModified, aws.ToInt64(head.ContentLength), at)
	}
}

func TestPutObject_ReaderNeverSeesAPartialObject(t *testing.T) {
	l := open(t)
	small, large := strings.Repeat("a", 10), strings.Repeat("b", 4<<20)
	put(t, l, "k", small)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := small
			if i%2 == 0 {
				body = large
			}
			put(t, l, "k", body)
		}
	}()
	for range 200 {
		got, err := get(t, l, "k")
		if err != nil {
			t.Fatal(err)
		}
		if got != small && got != large {
			t.Fatalf("read %d bytes: a partial object", len(got))
		}
	}
	close(stop)
	wg.Wait()
}

func TestPutObject_RejectsUnmodelledRequestsAndBadKeys(t *testing.T) {
	l := open(t)
	put(t, l, "a/b", "x")
	for _, in := range []*s3.PutObjectInput{
		{Bucket: aws.String(bucket), Key: aws.String("k"), IfNoneMatch: aws.String("*")},
		{Bucket: aws.String(bucket), Key: aws.String("a//b")},
		{Bucket: aws.String(bucket), Key: aws.String("../escape")},
		{Bucket: aws.String(bucket), Key: aws.String("folder/")},
		{Bucket: aws.String(bucket), Key: aws.String("a")},     // a prefix of a/b
		{Bucket: aws.String(bucket), Key: aws.String("a/b/c")}, // under the object a/b
		{Bucket: aws.String(".uploads"), Key: aws.String("k")},
		{Bucket: aws.String(""), Key: aws.String("k")},
	} {
		if _, err := l.PutObject(context.Background(), in); err == nil {
			t.Errorf("PutObject s3://%s/%s succeeded; want an error", *in.Bucket, *in.Key)
		}
	}
	if got, _ := get(t, l, "a/b"); got != "x" {
		t.Errorf("a/b is %q after the rejected writes, want x", got)
	}
}

func TestDeleteObjects_MissingKeysAreDeletedAndEmptyDirectoriesPruned(t *testing.T) {
	l := open(t)
	put(t, l, "kpi/dt=2025-04-28/run=1/data", "x")
	put(t, l, "kpi/dt=2025-04-28/run=1/_ready", "")
	put(t, l, "kpi/dt=2025-04-28/run=2/data", "y")
	del := func(quiet bool, keys ...string) *s3.DeleteObjectsOutput {
		t.Helper()
		var ids []s3types.ObjectIdentifier
		for _, k := range keys {
			ids = append(ids, s3types.ObjectIdentifier{Key: aws.String(k)})
		}
		out, err := l.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(quiet)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Errors) > 0 {
			t.Fatalf("errors: %v", *out.Errors[0].Message)
		}
		return out
	}
	out := del(false, "kpi/dt=2025-04-28/run=1/data", "kpi/dt=2025-04-28/run=1/_ready", "kpi/never/was", "kpi/dt=2025-04-28/run=1")
	if len(out.Deleted) != 4 {
		t.Errorf("not quiet: %d keys reported deleted, want 4 (missing keys included, as S3 does)", len(out.Deleted))
	}
	if _, err := os.Stat(filepath.Join(l.Root(), bucket, "kpi", "dt=2025-04-28", "run=1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run=1 is still a directory after its last object went (%v)", err)
	}
	_, prefixes, _ := listAll(t, l, &s3.ListObjectsV2Input{Prefix: aws.String("kpi/dt=2025-04-28/"), Delimiter: aws.String("/")})
	if !slices.Equal(prefixes, []string{"kpi/dt=2025-04-28/run=2/"}) {
		t.Errorf("prefixes after the delete: %q", prefixes)
	}
	if out := del(true, "kpi/dt=2025-04-28/run=2/data"); len(out.Deleted) != 0 {
		t.Errorf("quiet: %d keys reported, want none", len(out.Deleted))
	}
	if _, err := os.Stat(filepath.Join(l.Root(), bucket)); err != nil {
		t.Errorf("the bucket's directory is gone (%v); pruning stops at the bucket", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(l.Root(), bucket)); len(ents) != 0 {
		t.Errorf("bucket still holds %d entries, want none", len(ents))
	}
}

func TestMultipartUpload_PartsAreInvisibleUntilCompleteAndAtomic(t *testing.T) {
	start := time.Date(2025, 4, 29, 1, 30, 0, 0, time.UTC)
	now := start
	l := open(t, lakedir.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	put(t, l, "src/t/dt=2025-04-28/t.parquet", "old")
	key := aws.String("src/t/dt=2025-04-28/t.parquet")
	up, err := l.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{strings.Repeat("1", lakedir.MinPartSize), strings.Repeat("2", lakedir.MinPartSize), "3"}
	var done []s3types.CompletedPart
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, body := range slices.Backward(parts) { // concurrently, out of order
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int32(i + 1)
			out, err := l.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
				PartNumber: &n, Body: strings.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			done = append(done, s3types.CompletedPart{PartNumber: &n, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got, _ := get(t, l, *key); got != "old" {
		t.Fatalf("before Complete the key reads %d bytes, want the old object", len(got))
	}
	keys, _, _ := listAll(t, l, &s3.ListObjectsV2Input{})
	if len(keys) != 1 {
		t.Fatalf("before Complete the bucket lists %q, want only the old object", keys)
	}
	slices.SortFunc(done, func(a, b s3types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	now = start.Add(10 * time.Minute)
	if _, err := l.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	got, err := get(t, l, *key)
	if err != nil || got != strings.Join(parts, "") {
		t.Fatalf("after Complete: %d bytes, %v; want the parts joined", len(got), err)
	}
	head, _ := l.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: key})
	if !head.LastModified.Equal(start) {
		t.Errorf("LastModified %v, want the upload's initiation %v, as on S3", head.LastModified, start)
	}
	if ids, _ := l.Uploads(); len(ids) != 0 {
		t.Errorf("uploads left after Complete: %v", ids)
	}
	var nsu *s3types.NoSuchUpload
	if _, err := l.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}}); !errors.As(err, &nsu) {
		t.Errorf("a second Complete: %v, want NoSuchUpload", err)
	}
}

func TestMultipartUpload_AbortLeavesNothing(t *testing.T) {
	l := open(t)
	ctx := context.Background()
	key := aws.String("src/t/dt=2025-04-28/t.parquet")
	up, err := l.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := l.Uploads(); len(ids) != 0 {
		t.Errorf("uploads left after Abort: %v", ids)
	}
	if _, err := os.Stat(filepath.Join(l.Root(), bucket)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the aborted upload created the bucket's directory (%v)", err)
	}
	var nsu *s3types.NoSuchUpload
	if _, err := l.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		PartNumber: aws.Int32(2), Body: strings.NewReader("x")}); !errors.As(err, &nsu) {
		t.Errorf("UploadPart after Abort: %v, want NoSuchUpload", err)
	}
}

func TestCompleteMultipartUpload_RejectsWhatS3Rejects(t *testing.T) {
	l := open(t)
	ctx := context.Background()
	key := aws.String("k")
	up, err := l.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	etags := map[int32]*string{}
	for n, body := range map[int32]string{1: "small", 2: "last"} {
		out, err := l.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader([]byte(body))})
		if err != nil {
			t.Fatal(err)
		}
		etags[n] = out.ETag
	}
	part := func(n int32, etag *string) s3types.CompletedPart {
		return s3types.CompletedPart{PartNumber: aws.Int32(n), ETag: etag}
	}
	for _, tt := range []struct {
		name  string
		parts []s3types.CompletedPart
		code  string
	}{
		{"a part but the last below 5 MiB", []s3types.CompletedPart{part(1, etags[1]), part(2, etags[2])}, "EntityTooSmall"},
		{"parts out of order", []s3types.CompletedPart{part(2, etags[2]), part(1, etags[1])}, "InvalidPartOrder"},
		{"a part never uploaded", []s3types.CompletedPart{part(3, etags[2])}, "InvalidPart"},
		{"a wrong ETag", []s3types.CompletedPart{part(2, etags[1])}, "InvalidPart"},
	} {
		_, err := l.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: tt.parts}})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tt.code {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.code)
		}
	}
	if _, err := get(t, l, "k"); err == nil {
		t.Error("a rejected Complete left an object")
	}
	// The upload survives a rejected Complete, as on S3, and completes with the last part alone.
	if _, err := l.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{part(2, etags[2])}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := get(t, l, "k"); got != "last" {
		t.Errorf("got %q, want last", got)
	}
}
