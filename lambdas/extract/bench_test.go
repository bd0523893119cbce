package extract

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// createPosts fills a realistic "posts" table of an enterprise social network with n rows.
func createPosts(t testing.TB, d *testDB, n int) {
	t.Helper()
	d.exec(t, `CREATE TABLE posts (
			id BIGINT NOT NULL PRIMARY KEY, user_id INT NOT NULL, department_id SMALLINT,
			title VARCHAR(200) NOT NULL, body TEXT, likes INT, score DECIMAL(10,2),
			created_at DATETIME(3) NOT NULL, updated_at TIMESTAMP(3) NULL, deleted_at DATETIME NULL)`,
		fmt.Sprintf(`INSERT INTO posts SELECT seq, seq MOD 5000, seq MOD 40,
			CONCAT('週報 ', seq, ' 号 — 進捗 🎉'), CONCAT('本文 ', REPEAT(MD5(seq), 3)), seq MOD 997,
			(seq MOD 100000) / 100, '2026-01-01 00:00:00' + INTERVAL seq SECOND,
			'2026-01-01 00:00:00' + INTERVAL (seq * 7) SECOND,
			IF(seq MOD 10 = 0, '2026-11-24 12:00:00', NULL)
			FROM seq_1_to_%d`, n))
}

// heapSampler records the peak of runtime.MemStats.HeapInuse while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func sampleHeap(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) done() uint64 {
	close(s.stop)
	s.wg.Wait()
	return s.peak.Load()
}

// TestExtract_MemoryStaysBounded streams 200,000 rows (about 60 MB of values) and checks that the
// heap never holds more than a fixed bound: one row group and the in-flight parts, not the table.
func TestExtract_MemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 200,000-row extraction")
	}
	const rows, bound = 200_000, 128 << 20
	d := newMariaDB(t, newAWS(t))
	createPosts(t, d, rows)
	r := newRun(t, d, TableSpec{Name: "posts"})
	e := r.extractor(t)
	runtime.GC()
	s := sampleHeap(5 * time.Millisecond)
	res, err := e.Handle(context.Background(), Request{Source: "social", Table: "posts", Date: "2026-11-24"})
	peak := s.done()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows, %.1f MB Parquet in %d ms; peak HeapInuse %.1f MiB", res.Rows, float64(res.Bytes)/1e6, res.DurationMs, float64(peak)/(1<<20))
	if res.Rows != rows {
		t.Errorf("rows = %d, want %d", res.Rows, rows)
	}
	if peak > bound {
		t.Errorf("peak HeapInuse %d MiB exceeds %d MiB", peak>>20, bound>>20)
	}
	f := openParquet(t, d.aws.get(t, r.bucket, res.Key))
	if f.NumRows() != rows || len(f.RowGroups()) != 2 {
		t.Errorf("file has %d rows in %d row groups; want %d in 2", f.NumRows(), len(f.RowGroups()), rows)
	}
}

// BenchmarkExtract extracts an N-row MariaDB table (KPILAKE_BENCH_ROWS, default 100000) into
// moto S3. Besides rows/s and MB/s (Parquet bytes written per second), it reports the peak heap
// and RSS and, when the mariadb client is installed, compares with a `mariadb -B` dump of the
// same table over TLS: vs_mysql_B is our rows/s over the dump's, size_vs_gzip the Parquet size
// over the gzipped dump, src_MB/s the dump's (text) size over our time.
func BenchmarkExtract(b *testing.B) {
	n := 100_000
	if v := os.Getenv("KPILAKE_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("KPILAKE_BENCH_ROWS=%q is not a positive number", v)
		}
	}
	d := newMariaDB(b, newAWS(b))
	createPosts(b, d, n)
	r := newRun(b, d, TableSpec{Name: "posts"})
	e := r.extractor(b)
	resetPeakRSS()
	runtime.GC()
	s := sampleHeap(10 * time.Millisecond)
	var res Result
	start := time.Now()
	iters := 0
	for b.Loop() {
		var err error
		res, err = e.Handle(context.Background(), Request{Source: "social", Table: "posts", Date: "2026-11-24"})
		if err != nil {
			b.Fatal(err)
		}
		iters++
	}
	elapsed := time.Since(start).Seconds()
	peak := s.done()
	rowsPerSec := float64(n*iters) / elapsed
	b.ReportMetric(rowsPerSec, "rows/s")
	b.ReportMetric(float64(res.Bytes)*float64(iters)/elapsed/1e6, "MB/s")
	b.ReportMetric(float64(res.Bytes)/1e6, "parquet_MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
	}
	if dumpSecs, raw, gz, ok := mysqlDump(b, d, "posts"); ok {
		b.ReportMetric(rowsPerSec/(float64(n)/dumpSecs), "vs_mysql_B")
		b.ReportMetric(float64(res.Bytes)/float64(gz), "size_vs_gzip")
		// The table's text size over our time: throughput in source terms.
		b.ReportMetric(float64(raw)*float64(iters)/elapsed/1e6, "src_MB/s")
	}
}

// mysqlDump times `mariadb -B` writing the table to a sink and returns the dump's size, plain
// and gzipped.
func mysqlDump(b *testing.B, d *testDB, table string) (secs float64, rawBytes, gzBytes int64, ok bool) {
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		if bin, err = exec.LookPath("mysql"); err != nil {
			return 0, 0, 0, false
		}
	}
	args := []string{"-h", d.server.Host, "-P", strconv.Itoa(d.server.Port), "-u", d.server.User,
		"--ssl-ca=" + d.server.TLS.CA, "-B", "-e", "SELECT * FROM " + d.name + "." + table}
	cmd := exec.Command(bin, args...)
	raw := &countWriter{}
	cmd.Stdout = raw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Logf("mariadb -B: %v: %s", err, stderr.String())
		return 0, 0, 0, false
	}
	secs = time.Since(start).Seconds()
	cmd = exec.Command(bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	counter := &countWriter{}
	done := make(chan error, 1)
	go func() {
		zw := gzip.NewWriter(counter)
		_, err := io.Copy(zw, pr)
		done <- errorsJoin(err, zw.Close())
	}()
	err = cmd.Run()
	pw.Close()
	if err := errorsJoin(err, <-done); err != nil {
		b.Logf("mariadb -B | gzip: %v", err)
		return 0, 0, 0, false
	}
	return secs, raw.n, counter.n, true
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM from /proc/self/status, in bytes; 0 where it is not available.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
