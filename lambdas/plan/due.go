package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// DefaultLookbackDays covers a re-extraction up to a month back.
const DefaultLookbackDays = 31

// MaxLookbackDays bounds the days one run may aggregate, so that an execution's history and
// output stay far within Step Functions' limits.
const MaxLookbackDays = 92

// objectLister is the S3 call the plan makes: it lists the raw zone.
type objectLister interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// partitionLister is the Glue call the plan makes: it reads the KPI tables' partitions.
type partitionLister interface {
	GetPartitions(context.Context, *glue.GetPartitionsInput, ...func(*glue.Options)) (*glue.GetPartitionsOutput, error)
}

var (
	_ objectLister    = (*s3.Client)(nil)
	_ partitionLister = (*glue.Client)(nil)
)

// Lake reads when the raw tables' days last changed (the objects' S3 LastModified) and when the
// KPIs' days were published (the start of the run that a KPI partition's location names). A plan
// makes one paginated listing per raw table and one per KPI table, bounded by the lookback.
type Lake struct {
	s3        objectLister
	glue      partitionLister
	rawBucket string
	database  string
	lookback  int
	lateness  time.Duration
}

// WithLogLateness sets how long after the next business day starts a day's log records may still
// land (contract.EnvLogLateness). Without it, a KPI that reads a log stream by event time counts what
// landed by midnight.
func (l *Lake) WithLogLateness(lateness time.Duration) *Lake {
	l.lateness = lateness
	return l
}

// NewLake reads the raw zone's bucket through s3 and the KPI tables of database through glue; a
// crawl makes due at most the lookbackDays days before its business day (1 to MaxLookbackDays).
func NewLake(s3 objectLister, glue partitionLister, rawBucket, database string, lookbackDays int) (*Lake, error) {
	var errs []error
	if rawBucket == "" {
		errs = append(errs, fmt.Errorf("%s is not set; the stack sets it to the raw zone's bucket", contract.EnvRawBucket))
	}
	if database == "" {
		errs = append(errs, fmt.Errorf("%s is not set; the stack sets it to the catalog's database", contract.EnvDatabase))
	}
	if lookbackDays < 1 || lookbackDays > MaxLookbackDays {
		errs = append(errs, fmt.Errorf("%s is %d; give 1 to %d days (aggregate.lookbackDays)", contract.EnvLookbackDays, lookbackDays, MaxLookbackDays))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Lake{s3: s3, glue: glue, rawBucket: rawBucket, database: database, lookback: lookbackDays}, nil
}

// rawSlack covers S3's LastModified, which counts whole seconds: an object of the second in which
// a run started may have landed after the run read its day.
const rawSlack = time.Second

// Span is a range of days, both ends included.
type Span struct{ From, To layout.Day }

func (s Span) contains(d layout.Day) bool { return !d.Before(s.From) && !s.To.Before(d) }

// Snapshot is what the plan knows of the lake: per raw table and day, the newest object's
// LastModified; per KPI and day, the start of the run that serves the day (the zero time for a
// partition whose location names no run).
type Snapshot struct {
	Raw       map[queries.SourceTable]map[layout.Day]time.Time
	Published map[string]map[layout.Day]time.Time
	// Landed lists, per log stream read by event time (queries.KPI.Events) and arrival day, every
	// object's LastModified, sorted: an arrival partition after D counts among D's inputs only
	// with the objects that landed by the time D settled.
	Landed map[queries.SourceTable]map[layout.Day][]time.Time
	// Location and Lateness say when day D settles: Lateness after D+1 starts in Location, the
	// business time zone (UTC when nil). See Lake.WithLogLateness.
	Location *time.Location
	Lateness time.Duration
	// At is the instant of the event being planned: a KPI that reads a log stream by event time
	// is not due for a day that has not settled by then. Zero: no such gate.
	At time.Time
}

// settled is when the log records of day d have all landed: Lateness after the start of the
// last arrival day that can hold them.
func (s Snapshot) settled(d layout.Day) time.Time {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	return d.AddDays(layout.LogLateDays).Start(loc).Add(s.Lateness)
}

// landedBy is the newest LastModified among the objects of t's arrival day that landed by c.
func (s Snapshot) landedBy(t queries.SourceTable, day layout.Day, c time.Time) (time.Time, bool) {
	times := s.Landed[t][day]
	i, _ := slices.BinarySearchFunc(times, c, func(x, c time.Time) int {
		if x.After(c) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return time.Time{}, false
	}
	return times[i-1], true
}

// Catalog is what the due-day computation reads of the KPI catalog (queries.Catalog).
type Catalog interface {
	Planner
	KPI(name string) (*queries.KPI, bool)
}

var _ Catalog = (*queries.Catalog)(nil)

// Gap is one KPI's days within the lookback that have inputs and are not published (or were
// published before their inputs last changed), as found before the run aggregates any of them.
type Gap struct {
	KPI  string
	Days []layout.Day
	// Age is how long ago the newest input of the longest-waiting of Days changed.
	Age time.Duration
}

// Due is the outcome of DueDays.
type Due struct {
	// Days maps each due day to the KPIs due on it, sorted; their dependents are due too.
	Days map[layout.Day][]string
	// Gaps are the unpublished days of each KPI considered, in the order of kpis.
	Gaps []Gap
}

// DueDays finds, among the days of within, those on which a KPI of kpis (a closure over
// dependents, Catalog.Waves) must be aggregated. A KPI's inputs for day D are the objects of the
// raw tables it reads and the partitions of the KPIs it reads, over its window (a KPI with a
// Lookback of N reads the days D-N+1..D). D is due when no partition of the KPI serves it and D
// itself has an input, or when an input of the window changed after the run that serves D
// started. A KPI due on a day makes the KPIs that read it due on every day whose window holds
// that day. A KPI that reads a log stream by event time (queries.KPI.Events) also reads the
// arrival partitions after D, with the objects that landed by the time D settled (Snapshot.settled),
// and is not due for D before then (Snapshot.At). A state node (queries.KPI.StateOf) also reads
// its own previous day: D is due when D-1's state is due, or was published after the run that
// serves D started. now dates the gaps' ages.
func DueDays(c Catalog, kpis []string, snap Snapshot, within Span, now time.Time) Due {
	due := Due{Days: map[layout.Day][]string{}}
	dueOf := map[string]map[layout.Day]bool{}
	// kpis is a dependency closure in wave order (Catalog.Waves), so every upstream KPI comes first.
	for _, name := range kpis {
		k, ok := c.KPI(name)
		if !ok {
			continue
		}
		window := max(k.Lookback, 1)
		dueOf[name] = map[layout.Day]bool{}
		gap := Gap{KPI: name}
		for d := within.From; !within.To.Before(d); d = d.AddDays(1) {
			if len(k.Events) > 0 && !snap.At.IsZero() && snap.At.Before(snap.settled(d)) {
				continue // its late records may still land
			}
			newest, inWindow, onDay := newestInput(k, window, d, snap)
			served, published := snap.Published[name][d]
			// A day not yet published waits for its own inputs: the earlier days of a window
			// alone would publish it before its data arrived.
			stale := published && inWindow && newest.after(served) || !published && onDay
			if stale {
				gap.Days = append(gap.Days, d)
				gap.Age = max(gap.Age, now.Sub(newest.t))
			}
			// A state node reads its own previous day: that day due makes this one due, as
			// an upstream KPI's would (a re-extraction re-makes every later state day, oldest
			// first, and the KPIs that read them).
			previousDue := k.State != nil && published && dueOf[name][d.AddDays(-1)]
			upstreamDue := previousDue || slices.ContainsFunc(k.DependsOn, func(up string) bool {
				for i := range window {
					if dueOf[up][d.AddDays(-i)] && (published || i == 0) {
						return true
					}
				}
				return false
			})
			if stale || upstreamDue {
				dueOf[name][d] = true
				due.Days[d] = append(due.Days[d], name)
			}
		}
		due.Gaps = append(due.Gaps, gap)
	}
	for d := range due.Days {
		slices.Sort(due.Days[d])
	}
	return due
}

// input is when an input last changed; slack is how late after t it may have landed.
type input struct {
	t     time.Time
	slack time.Duration
}

// after reports whether the input may have changed after a run that started at start.
func (in input) after(start time.Time) bool { return in.t.Add(in.slack).After(start) }

// newestInput is the latest change among the inputs of k for day d over its window; inWindow
// reports whether there is any, onDay whether there is one of day d itself.
func newestInput(k *queries.KPI, window int, d layout.Day, snap Snapshot) (newest input, inWindow, onDay bool) {
	take := func(t time.Time, slack time.Duration) {
		if !inWindow || t.Add(slack).After(newest.t.Add(newest.slack)) {
			newest = input{t, slack}
		}
		inWindow = true
	}
	for i := range window {
		day := d.AddDays(-i)
		for _, src := range k.Sources {
			if t, ok := snap.Raw[src][day]; ok {
				take(t, rawSlack)
			}
		}
		for _, up := range k.DependsOn {
			if t, ok := snap.Published[up][day]; ok {
				take(t, 0)
			}
		}
		if i == 0 {
			onDay = inWindow
		}
	}
	settled := snap.settled(d)
	for _, src := range k.Events {
		for j := 1; j <= layout.LogLateDays; j++ {
			if t, ok := snap.landedBy(src, d.AddDays(j), settled); ok {
				take(t, rawSlack)
			}
		}
	}
	// A state node's day reads the state of the day before, which is an input but not one of
	// the day itself: a day without its own partition waits for it.
	if k.State != nil {
		if t, ok := snap.Published[k.Name][d.AddDays(-1)]; ok {
			take(t, 0)
		}
	}
	return newest, inWindow, onDay
}

// Read takes the snapshot of what kpis read and publish over the days of within, each table over
// the windows of the KPIs that read it.
func (l *Lake) Read(ctx context.Context, c Catalog, kpis []string, within Span) (Snapshot, error) {
	snap := Snapshot{Raw: map[queries.SourceTable]map[layout.Day]time.Time{}, Published: map[string]map[layout.Day]time.Time{},
		Landed: map[queries.SourceTable]map[layout.Day][]time.Time{}, Lateness: l.lateness}
	rawFrom := map[queries.SourceTable]layout.Day{}
	events := map[queries.SourceTable]bool{}
	kpiFrom := map[string]layout.Day{}
	earlier := func(m, d layout.Day) layout.Day {
		if m.IsZero() || d.Before(m) {
			return d
		}
		return m
	}
	for _, name := range kpis {
		k, ok := c.KPI(name)
		if !ok {
			continue
		}
		from := within.From.AddDays(1 - max(k.Lookback, 1))
		kpiFrom[name] = earlier(kpiFrom[name], within.From)
		if k.State != nil {
			kpiFrom[name] = earlier(kpiFrom[name], within.From.AddDays(-1))
		}
		for _, src := range k.Sources {
			rawFrom[src] = earlier(rawFrom[src], from)
		}
		for _, src := range k.Events {
			events[src] = true
		}
		for _, up := range k.DependsOn {
			kpiFrom[up] = earlier(kpiFrom[up], from)
		}
	}
	for src, from := range rawFrom {
		span := Span{from, within.To}
		var landed map[layout.Day][]time.Time
		if events[src] {
			span.To = span.To.AddDays(layout.LogLateDays)
			landed = map[layout.Day][]time.Time{}
		}
		days, err := l.rawDays(ctx, src, span, landed)
		if err != nil {
			return Snapshot{}, err
		}
		snap.Raw[src] = days
		if landed != nil {
			for _, times := range landed {
				slices.SortFunc(times, time.Time.Compare)
			}
			snap.Landed[src] = landed
		}
	}
	for name, from := range kpiFrom {
		days, err := l.published(ctx, name, Span{from, within.To})
		if err != nil {
			return Snapshot{}, err
		}
		snap.Published[name] = days
	}
	return snap, nil
}

// rawDays is the newest LastModified of each day of t within span; with landed, it also appends
// every object's LastModified to its day's list. Keys sort by their dt= folder, so the listing
// starts at the span's first day and stops after its last.
func (l *Lake) rawDays(ctx context.Context, t queries.SourceTable, span Span, landed map[layout.Day][]time.Time) (map[layout.Day]time.Time, error) {
	return rawDays(ctx, l.s3, l.rawBucket, t, span, landed)
}

func rawDays(ctx context.Context, lister objectLister, bucket string, t queries.SourceTable, span Span, landed map[layout.Day][]time.Time) (map[layout.Day]time.Time, error) {
	prefix := layout.TablePrefix(t.Source, t.Table)
	days := map[layout.Day]time.Time{}
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix),
	}
	if !span.From.IsZero() {
		in.StartAfter = aws.String(prefix + span.From.Partition())
	}
	for p := s3.NewListObjectsV2Paginator(lister, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			d, name, ok := partitionOf(strings.TrimPrefix(aws.ToString(o.Key), prefix))
			if !ok || o.LastModified == nil || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
				continue
			}
			if span.To.Before(d) {
				return days, nil
			}
			if !span.contains(d) {
				continue
			}
			if o.LastModified.After(days[d]) {
				days[d] = *o.LastModified
			}
			if landed != nil {
				landed[d] = append(landed[d], *o.LastModified)
			}
		}
	}
	return days, nil
}

// partitionOf splits dt=YYYY-MM-DD/<name> into its day and the object's name.
func partitionOf(rest string) (layout.Day, string, bool) {
	folder, name, ok := strings.Cut(rest, "/")
	value, isDt := strings.CutPrefix(folder, layout.PartitionKey+"=")
	if !ok || !isDt || name == "" || strings.HasSuffix(name, "/") {
		return layout.Day{}, "", false
	}
	d, err := layout.ParseDay(value)
	return d, name, err == nil
}

// published is the start of the run serving each day of kpi within span; a KPI table that does
// not exist yet has none.
func (l *Lake) published(ctx context.Context, kpi string, span Span) (map[layout.Day]time.Time, error) {
	table := layout.KPITableName(kpi)
	days := map[layout.Day]time.Time{}
	in := &glue.GetPartitionsInput{
		DatabaseName: aws.String(l.database), TableName: aws.String(table),
		Expression: aws.String(fmt.Sprintf("%s >= '%s' AND %s <= '%s'", layout.PartitionKey, span.From, layout.PartitionKey, span.To)),
	}
	for p := glue.NewGetPartitionsPaginator(l.glue, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		var missing *gtypes.EntityNotFoundException
		if errors.As(err, &missing) {
			return days, nil
		}
		if err != nil {
			return nil, fmt.Errorf("glue GetPartitions %s.%s: %w", l.database, table, err)
		}
		for _, part := range page.Partitions {
			if len(part.Values) != 1 {
				continue
			}
			d, err := layout.ParseDay(part.Values[0])
			if err != nil {
				continue
			}
			var start time.Time // a location without a run: as old as can be, so any input is newer
			if part.StorageDescriptor != nil {
				start, _ = layout.RunStart(layout.RunOf(aws.ToString(part.StorageDescriptor.Location)))
			}
			days[d] = start
		}
	}
	return days, nil
}

// RawZone reads when the raw tables last changed, from the objects' S3 LastModified.
type RawZone struct {
	s3     objectLister
	bucket string
}

// NewRawZone reads the raw zone's bucket through s3.
func NewRawZone(s3 objectLister, bucket string) (*RawZone, error) {
	if bucket == "" {
		return nil, fmt.Errorf("%s is not set; the stack sets it to the raw zone's bucket", contract.EnvRawBucket)
	}
	return &RawZone{s3: s3, bucket: bucket}, nil
}

// LastChange is the newest LastModified among the objects of t's partitions up to and including
// through, plus the slack of S3's whole-second clock; ok is false when there is none. It lists
// the table's folder from its first day: one request per 1,000 objects.
func (z *RawZone) LastChange(ctx context.Context, t queries.SourceTable, through layout.Day) (last time.Time, ok bool, err error) {
	days, err := rawDays(ctx, z.s3, z.bucket, t, Span{To: through}, nil)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, m := range days {
		if m.After(last) {
			last, ok = m, true
		}
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return last.Add(rawSlack), true, nil
}
