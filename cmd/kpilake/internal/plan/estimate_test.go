package plan

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/layout"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { testsvc.Main(m) }

// fakeBucket answers ListObjectsV2 from a map of key -> size, one object per call page, and
// counts the prefixes listed.
type fakeBucket struct {
	objects map[string]int64
	mu      sync.Mutex
	listed  map[string]int
	err     error
}

func (f *fakeBucket) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if f.err != nil {
		return nil, f.err
	}
	prefix := aws.ToString(in.Prefix)
	f.mu.Lock()
	if f.listed == nil {
		f.listed = map[string]int{}
	}
	f.listed[prefix]++
	f.mu.Unlock()
	// One object per page, so that the estimator must follow continuation tokens.
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, prefix) && k > aws.ToString(in.ContinuationToken) {
			keys = append(keys, k)
		}
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	if len(keys) == 0 {
		return out, nil
	}
	first := keys[0]
	for _, k := range keys {
		first = min(first, k)
	}
	out.Contents = []s3types.Object{{Key: aws.String(first), Size: aws.Int64(f.objects[first])}}
	if len(keys) > 1 {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(first)
	}
	return out, nil
}

// lakeObjects is a raw zone from 2026-10-20 to 2026-11-30: web access logs of 250 MB a day in
// two objects, posts of 3 MB, users of 1.2 MB, departments of 2 kB, except that departments
// were not extracted on 2026-11-03 and 2026-11-04.
func lakeObjects(t *testing.T) map[string]int64 {
	objs := map[string]int64{}
	for d := day(t, "2026-10-20"); !day(t, "2026-11-30").Before(d); d = d.AddDays(1) {
		logs := layout.TablePartitionPrefix(layout.AppLogsSource, "web_access", d)
		objs[logs+"part-0.gz"] = 150_000_000
		objs[logs+"part-1.gz"] = 100_000_000
		objs[layout.TablePartitionPrefix("social", "posts", d)+"posts.parquet"] = 3_000_000
		objs[layout.TablePartitionPrefix("social", "users", d)+"users.parquet"] = 1_200_000
		if s := d.String(); s != "2026-11-03" && s != "2026-11-04" {
			objs[layout.TablePartitionPrefix("social", "departments", d)+"departments.parquet"] = 2_000
		}
	}
	return objs
}

func TestBilled_RoundsUpToAMegabyteWithATenMegabyteMinimum(t *testing.T) {
	tests := []struct{ scanned, want int64 }{
		{0, 10 * MB},
		{1, 10 * MB},
		{10 * MB, 10 * MB},
		{10*MB + 1, 11 * MB},
		{250 * MB, 250 * MB},
		{2*TB + 1, 2*TB + MB},
	}
	for _, tt := range tests {
		if got := Billed(tt.scanned); got != tt.want {
			t.Errorf("Billed(%d) = %d, want %d", tt.scanned, got, tt.want)
		}
	}
}

func TestEstimate_SumsEachQuerysPartitionsAndListsEachOnce(t *testing.T) {
	cat := testCatalog(t)
	p, err := New(cat, Request{From: "2026-11-01", To: "2026-11-03"})
	if err != nil {
		t.Fatal(err)
	}
	bucket := &fakeBucket{objects: lakeObjects(t)}
	est, err := (&Estimator{S3: bucket, Bucket: "raw", Concurrency: 3}).Estimate(context.Background(), cat, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []KPIEstimate{
		{Name: "daily_users", Days: 3, Lookback: 1, ScannedBytes: 3 * 250 * MB, BilledBytes: 3 * 250 * MB},
		{Name: "posts", Days: 3, Lookback: 1, ScannedBytes: 3 * 4_200_000, BilledBytes: 3 * 10 * MB},
		{Name: "weekly_users", Days: 3, Lookback: 7, ScannedBytes: 3 * 7 * 250 * MB, BilledBytes: 3 * 7 * 250 * MB},
		// departments is missing on 2026-11-03: that query scans nothing and is billed 10 MB.
		{Name: "posts_per_user", Days: 3, Lookback: 1, ScannedBytes: 2 * 2_000, BilledBytes: 3 * 10 * MB},
	}
	if diff := cmp.Diff(want, est.KPIs); diff != "" {
		t.Errorf("KPIs (-want +got):\n%s", diff)
	}
	if est.Queries != 12 {
		t.Errorf("Queries = %d, want 12", est.Queries)
	}
	if want := int64(3*250*MB + 3*4_200_000 + 21*250*MB + 4_000); est.ScannedBytes != want {
		t.Errorf("ScannedBytes = %d, want %d", est.ScannedBytes, want)
	}
	// web_access: the 3 days and the 6 before them (weekly_users); the others: the 3 days.
	if est.Partitions != 9+3+3+3 {
		t.Errorf("Partitions = %d, want 18", est.Partitions)
	}
	for prefix, n := range bucket.listed {
		// A partition of two objects is two pages; every other is listed once.
		if want := 1 + strings.Count(prefix, "web_access"); n != want {
			t.Errorf("%s listed %d times, want %d", prefix, n, want)
		}
	}
	if len(bucket.listed) != est.Partitions {
		t.Errorf("%d prefixes listed, want %d", len(bucket.listed), est.Partitions)
	}
	var missing []string
	for _, te := range est.Tables {
		for _, d := range te.Missing {
			missing = append(missing, te.Table.String()+" "+d.String())
		}
	}
	if diff := cmp.Diff([]string{"social.departments 2026-11-03"}, missing); diff != "" {
		t.Errorf("missing partitions (-want +got):\n%s", diff)
	}
	if got, want := est.Cost(5), float64(est.BilledBytes)/TB*5; got != want {
		t.Errorf("Cost(5) = %v, want %v", got, want)
	}
}

func TestEstimate_ReportsTheListingThatFailed(t *testing.T) {
	cat := testCatalog(t)
	p, err := New(cat, Request{From: "2026-11-01", To: "2026-11-30"})
	if err != nil {
		t.Fatal(err)
	}
	denied := errors.New("AccessDenied")
	_, err = (&Estimator{S3: &fakeBucket{err: denied}, Bucket: "raw"}).Estimate(context.Background(), cat, p)
	if !errors.Is(err, denied) || !strings.Contains(err.Error(), "estimate: list s3://raw/") {
		t.Errorf("err = %v, want the listing and %v", err, denied)
	}
}

func TestRender_Golden(t *testing.T) {
	cat := testCatalog(t)
	tests := []struct {
		name     string
		req      Request
		target   Target
		estimate bool
	}{
		{
			name:     "kpi_with_dependents",
			req:      Request{Env: "prod", From: "2026-11-01", To: "2026-11-30", KPIs: []string{"daily_users"}},
			target:   Target{Stack: "KpiLake-prod", Region: "ap-northeast-1", PricePerTB: 5},
			estimate: true,
		},
		{
			name:     "whole_catalog",
			req:      Request{Env: "dev", From: "2026-11-01", To: "2026-11-07"},
			target:   Target{Stack: "KpiLake-dev", Region: "ap-northeast-1", RequestID: "bf-20261125T063000Z-a1b2c3", PricePerTB: 6.75},
			estimate: true,
		},
		{
			name:   "one_day_not_estimated",
			req:    Request{Env: "dev", From: "2026-11-01", To: "2026-11-01", KPIs: []string{"posts_per_user"}},
			target: Target{Stack: "KpiLake-dev", PricePerTB: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(cat, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if tt.estimate {
				est, err := (&Estimator{S3: &fakeBucket{objects: lakeObjects(t)}, Bucket: "kpilake-prod-raw"}).Estimate(context.Background(), cat, p)
				if err != nil {
					t.Fatal(err)
				}
				p.Estimate = est
			}
			var b bytes.Buffer
			if err := Render(&b, p, tt.target); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tt.name+".golden"), b.String())
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./cmd/kpilake/internal/plan -update` to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s changed (-want +got); run `go test ./cmd/kpilake/internal/plan -update` if intended:\n%s", path, diff)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {10 * MB, "10.0 MB"}, {999_960_000, "1.0 GB"},
		{1_234_567_890_123, "1.2 TB"}, {3_000_000_000_000_000, "3.0 PB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for d, want := range map[float64]string{0: "$0.00", 0.004: "< $0.01", 0.005: "$0.01", 12.345: "$12.35"} {
		if got := FormatDollars(d); got != want {
			t.Errorf("FormatDollars(%v) = %q, want %q", d, got, want)
		}
	}
}

var bucketSeq atomic.Int64

// TestEstimate_OnMoto sizes real objects in a moto bucket.
func TestEstimate_OnMoto(t *testing.T) {
	m := testsvc.MotoServer(t)
	ctx := context.Background()
	client := s3.NewFromConfig(m.AWSConfig(), testsvc.S3PathStyle)
	bucket := fmt.Sprintf("raw-estimate-%d", bucketSeq.Add(1))
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region)},
	}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, size int) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(make([]byte, size))}); err != nil {
			t.Fatal(err)
		}
	}
	d1, d2 := day(t, "2026-11-01"), day(t, "2026-11-02")
	put(layout.TablePartitionPrefix("social", "posts", d1)+"posts.parquet", 3000)
	put(layout.TablePartitionPrefix("social", "posts", d2)+"posts.parquet", 5000)
	put(layout.TablePartitionPrefix("social", "users", d1)+"users.parquet", 700)
	put(layout.TablePartitionPrefix("social", "users", d2)+"a.parquet", 400)
	put(layout.TablePartitionPrefix("social", "users", d2)+"b.parquet", 500)
	put(layout.TablePartitionPrefix("social", "users", d2.AddDays(1))+"users.parquet", 1_000_000) // after the range
	put(layout.TablePrefix("social", "posts")+"dt=2026-11-011/posts.parquet", 1_000_000)          // not a partition of the range

	cat := testCatalog(t)
	p, err := New(cat, Request{From: "2026-11-01", To: "2026-11-02", KPIs: []string{"posts"}})
	if err != nil {
		t.Fatal(err)
	}
	est, err := (&Estimator{S3: client, Bucket: bucket}).Estimate(ctx, cat, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []KPIEstimate{
		{Name: "posts", Days: 2, Lookback: 1, ScannedBytes: 3000 + 5000 + 700 + 900, BilledBytes: 2 * 10 * MB},
		// posts_per_user (a dependent) reads social.departments, which holds nothing.
		{Name: "posts_per_user", Days: 2, Lookback: 1, ScannedBytes: 0, BilledBytes: 2 * 10 * MB},
	}
	if diff := cmp.Diff(want, est.KPIs); diff != "" {
		t.Errorf("KPIs (-want +got):\n%s", diff)
	}
	if len(est.Tables) != 3 || len(est.Tables[0].Missing) != 2 || est.Tables[0].Table.Table != "departments" {
		t.Errorf("Tables = %+v, want departments missing on both days first", est.Tables)
	}
}
