package plan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Athena's billing rules (https://aws.amazon.com/athena/pricing/): data scanned is rounded up to
// the next megabyte, with a 10 MB minimum per query, and priced per terabyte. Decimal units, as
// Athena's own data usage controls count them (their least cutoff is 10,000,000 bytes).
const (
	MB              = 1_000_000
	TB              = 1_000_000_000_000
	MinBilledBytes  = 10 * MB
	DefaultPricePTB = 5.0 // USD per TB scanned in most regions
)

// Billed is what Athena bills for one query that scans scanned bytes.
func Billed(scanned int64) int64 {
	mb := (scanned + MB - 1) / MB * MB
	return max(mb, MinBilledBytes)
}

// ObjectLister lists a bucket's objects; *s3.Client is one.
type ObjectLister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ ObjectLister = (*s3.Client)(nil)

// Estimator sizes the raw partitions a plan's queries read.
type Estimator struct {
	// S3 lists the raw bucket. Required.
	S3 ObjectLister
	// Bucket is the raw zone's bucket (stack output RawBucketName). Required.
	Bucket string
	// Concurrency bounds the listings in flight. Default: 16.
	Concurrency int
}

// Estimate is what a plan's queries will scan: every raw partition each KPI reads for each day,
// whole objects. It is an upper bound: Athena reads only the Parquet columns a query uses. The
// upstream KPI tables a KPI reads are not counted; they are small, and the per-query minimum
// covers them.
type Estimate struct {
	Bucket string
	// KPIs holds one line per KPI of the plan, in wave order.
	KPIs []KPIEstimate
	// Tables holds one line per raw table the plan reads, sorted.
	Tables []TableEstimate
	// Partitions is the number of distinct partitions listed (each once, whatever reads it).
	Partitions int
	// Queries is the number of queries: one per KPI and day.
	Queries int
	// ScannedBytes sums the KPIs' scans; BilledBytes applies Athena's per-query rounding.
	ScannedBytes, BilledBytes int64
}

// KPIEstimate is one KPI's share of the estimate, over every day of the plan.
type KPIEstimate struct {
	Name string
	// Days is the number of queries (one per day).
	Days int
	// Lookback is how many daily partitions of each source one query reads.
	Lookback     int
	ScannedBytes int64
	BilledBytes  int64
}

// TableEstimate is one raw table over the plan's days (its own partitions, not the lookback).
type TableEstimate struct {
	Table queries.SourceTable
	// Bytes sums the table's partitions on the plan's days.
	Bytes int64
	// Missing lists the plan's days on which the table has no data: those days aggregate
	// nothing from it.
	Missing []layout.Day
}

// Cost is the estimate's price in dollars at pricePerTB.
func (e *Estimate) Cost(pricePerTB float64) float64 {
	return float64(e.BilledBytes) / TB * pricePerTB
}

// partition is one raw table on one day.
type partition struct {
	table queries.SourceTable
	day   layout.Day
}

// Estimate lists every raw partition the plan's queries read (each once) and sums them per
// KPI, per query and per table.
func (e *Estimator) Estimate(ctx context.Context, cat *queries.Catalog, p *Plan) (*Estimate, error) {
	var kpis []*queries.KPI
	for _, name := range p.Selected() {
		k, ok := cat.KPI(name)
		if !ok {
			return nil, fmt.Errorf("estimate: kpi %q is not in the catalog", name)
		}
		kpis = append(kpis, k)
	}
	sizes, err := e.list(ctx, partitionsRead(kpis, p))
	if err != nil {
		return nil, err
	}
	est := &Estimate{Bucket: e.Bucket, Partitions: len(sizes)}
	days := p.Days()
	for _, k := range kpis {
		ke := kpiEstimate(k, days, sizes)
		est.KPIs = append(est.KPIs, ke)
		est.ScannedBytes += ke.ScannedBytes
		est.BilledBytes += ke.BilledBytes
		est.Queries += ke.Days
	}
	est.Tables = tableEstimates(kpis, days, sizes)
	return est, nil
}

// partitionsRead are the raw partitions that the queries of kpis over the plan's days read: each
// day's and its lookback's, each once.
func partitionsRead(kpis []*queries.KPI, p *Plan) map[partition]bool {
	need := map[partition]bool{}
	n := len(p.Days())
	for _, k := range kpis {
		for _, t := range k.Sources {
			for i := -(k.Lookback - 1); i < n; i++ {
				need[partition{t, p.From.AddDays(i)}] = true
			}
		}
	}
	return need
}

// kpiEstimate sums what k's query of each day scans: every source's partitions of the day and
// its lookback, billed per query.
func kpiEstimate(k *queries.KPI, days []layout.Day, sizes map[partition]size) KPIEstimate {
	ke := KPIEstimate{Name: k.Name, Days: len(days), Lookback: k.Lookback}
	for _, d := range days {
		var scanned int64
		for _, t := range k.Sources {
			for i := range k.Lookback {
				scanned += sizes[partition{t, d.AddDays(-i)}].bytes
			}
		}
		ke.ScannedBytes += scanned
		ke.BilledBytes += Billed(scanned)
	}
	return ke
}

// tableEstimates are the raw tables that kpis read, each over the plan's days (its own
// partitions, not the lookback), by name.
func tableEstimates(kpis []*queries.KPI, days []layout.Day, sizes map[partition]size) []TableEstimate {
	seen := map[queries.SourceTable]bool{}
	var out []TableEstimate
	for _, k := range kpis {
		for _, t := range k.Sources {
			if seen[t] {
				continue
			}
			seen[t] = true
			te := TableEstimate{Table: t}
			for _, d := range days {
				s := sizes[partition{t, d}]
				te.Bytes += s.bytes
				if s.objects == 0 {
					te.Missing = append(te.Missing, d)
				}
			}
			out = append(out, te)
		}
	}
	slices.SortFunc(out, func(a, b TableEstimate) int {
		return strings.Compare(a.Table.String(), b.Table.String())
	})
	return out
}

type size struct {
	objects int
	bytes   int64
}

// list sizes every partition in need, a bounded number at a time; the first error stops it.
func (e *Estimator) list(ctx context.Context, need map[partition]bool) (map[partition]size, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan partition)
	var (
		mu    sync.Mutex
		sizes = make(map[partition]size, len(need))
		wg    sync.WaitGroup
	)
	workers := e.Concurrency
	if workers <= 0 {
		workers = 16
	}
	for range min(workers, max(len(need), 1)) {
		wg.Go(func() {
			for pt := range work {
				s, err := e.size(ctx, pt)
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				sizes[pt] = s
				mu.Unlock()
			}
		})
	}
	keys := make([]partition, 0, len(need))
	for pt := range need {
		keys = append(keys, pt)
	}
feed:
	for _, pt := range keys {
		select {
		case work <- pt:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return sizes, nil
}

func (e *Estimator) size(ctx context.Context, pt partition) (size, error) {
	prefix := layout.TablePartitionPrefix(pt.table.Source, pt.table.Table, pt.day)
	var s size
	pages := s3.NewListObjectsV2Paginator(e.S3, &s3.ListObjectsV2Input{Bucket: aws.String(e.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return size{}, fmt.Errorf("estimate: list s3://%s/%s: %w", e.Bucket, prefix, err)
		}
		for _, o := range out.Contents {
			s.objects++
			s.bytes += aws.ToInt64(o.Size)
		}
	}
	return s, nil
}
