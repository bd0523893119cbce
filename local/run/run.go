// Package run is `kpilake local run`: it takes a range of business days through the pipeline's own
// code, in the order AWS runs it, with local stand-ins for the AWS services (DESIGN.md, section 7):
//
//	for each day D, at the instants of D+1 that the environment configures:
//	  what the log streams land by the log crawl, by arrival day (local/ingest.AccessLogDeliveries)
//	  the app_logs crawler runs (LogCrawlTime)       -> its event -> plan -> aggregate (each KPI)
//	  each source is extracted (its schedule)        -> its crawler -> event -> plan -> aggregate
//
// The extraction, the plan (due days, waves), the aggregate handler (the deferral gate) and the
// CTAS runner (publish protocol) are the Lambdas' code; the catalog (local/catalog), the query
// engine (local/duck) and the bucket (a directory) are the stand-ins. A day whose raw partition
// exists already is not extracted again, as the daily schedule does not run twice: re-running a
// range changes nothing and publishes nothing new (one run per KPI partition).
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/queries"
)

// The buckets of a local lake: folders of the lake directory.
const (
	RawBucket        = "raw"
	AggregatedBucket = "aggregated"
	// Database is the catalog's database.
	Database = "kpilake"
	// Workgroup is the name the runner sends; the local engine ignores it.
	Workgroup = "local"
)

// Bucket is the S3 of a local lake (local/lakedir): what the runner and the plan call.
type Bucket interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// Extracted is what one source's extraction of a day wrote.
type Extracted struct {
	Tables []TableExtract
}

// TableExtract is one table's extraction.
type TableExtract struct {
	Table string
	Rows  int64
	Bytes int64
}

// Ingest puts a day's source data into the raw zone. local/ingest implements it over the real
// extractor.
type Ingest interface {
	// Extract runs the extraction of src for day at the instant at (the schedule's), writing
	// raw/<source>/<table>/dt=<day>/.
	Extract(ctx context.Context, src config.Source, day layout.Day, at time.Time) (Extracted, error)
	// DeliverLogs writes the stream's objects that Firehose lands after after and by until, each
	// under raw/app_logs/<stream>/dt=<arrival day>/ at its own landing instant, and returns how
	// many records they hold.
	DeliverLogs(ctx context.Context, stream string, after, until time.Time) (int, error)
}

// Options configure a run.
type Options struct {
	// Lake is the lake directory: raw/, aggregated/ and the catalog (_catalog.json).
	Lake string
	// Env is the environment whose sources, log streams, time zone and schedules are run.
	Env *config.Environment
	// KPIs is the KPI catalog (queries.Load, or queries.LoadDir for files being edited).
	KPIs *queries.Catalog
	// From and To are the business days to run, both included.
	From, To layout.Day
	// Bucket is the lake's S3 (lakedir over Lake).
	Bucket Bucket
	// Ingest extracts and delivers the days' data.
	Ingest Ingest
	// Engine configures DuckDB.
	Engine duck.Options
	// Progress receives a line per day and step. Default: io.Discard.
	Progress io.Writer
	// Log receives the Lambdas' JSON logs. Default: Lake/_logs/run.jsonl.
	Log io.Writer
	// Now is the wall clock (run ids, object times). Default: time.Now.
	Now func() time.Time
}

func (o *Options) validate() error {
	var errs []error
	if o.Lake == "" {
		errs = append(errs, errors.New("Lake: give the lake directory"))
	}
	if o.Env == nil || o.Env.Location == nil {
		errs = append(errs, errors.New("Env: give an environment of cdk.json (with its time zone)"))
	}
	if o.KPIs == nil {
		errs = append(errs, errors.New("KPIs: give the KPI catalog"))
	}
	if o.From.IsZero() || o.To.IsZero() || o.To.Before(o.From) {
		errs = append(errs, fmt.Errorf("From %s and To %s: give a range of business days, From not after To", o.From, o.To))
	}
	if o.Bucket == nil || o.Ingest == nil {
		errs = append(errs, errors.New("Bucket and Ingest are required"))
	}
	return errors.Join(errs...)
}

// Run runs the days and returns what happened; the lake keeps the results. An error names the day
// and the step.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("local run: %w", err)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Lake, 0o755); err != nil {
		return nil, fmt.Errorf("local run: %w", err)
	}
	if err := writeLakeEnvironment(o.Lake, LakeEnvironment{Name: o.Env.Name, TimeZone: o.Env.Location.String()}); err != nil {
		return nil, fmt.Errorf("local run: record the lake's environment: %w", err)
	}
	if o.Log == nil {
		dir := filepath.Join(o.Lake, "_logs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("local run: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "run.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("local run: %w", err)
		}
		defer f.Close()
		o.Log = f
	}
	p, err := newPipeline(o)
	if err != nil {
		return nil, err
	}
	defer p.engine.Close()
	rep := &Report{From: o.From.String(), To: o.To.String(), TimeZone: o.Env.TimeZone, Lake: o.Lake}
	for d := o.From; !o.To.Before(d); d = d.AddDays(1) {
		dr, err := p.day(ctx, d)
		rep.Days = append(rep.Days, dr)
		if err != nil {
			return rep, err
		}
	}
	if err := p.collect(ctx, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// pipeline is the wired stand-ins and handlers.
type pipeline struct {
	o         Options
	cat       *catalog.Catalog
	engine    *duck.Engine
	plan      *plan.Handler
	aggregate *aggregate.Handler
	crawlers  []crawlerAt // in the order of their time of day
	logCrawl  config.TimeOfDay
	log       *slog.Logger
}

// crawlerAt is a crawler and when, on the day after the business day, it runs.
type crawlerAt struct {
	catalog.Crawler
	at     config.TimeOfDay
	source *config.Source // nil for the log streams' crawler
}

func newPipeline(o Options) (*pipeline, error) {
	cat, err := catalog.Open(filepath.Join(o.Lake, catalog.FileName), Database)
	if err != nil {
		return nil, fmt.Errorf("local run: %w", err)
	}
	engine, err := duck.Open(o.Lake, cat, o.Engine)
	if err != nil {
		return nil, fmt.Errorf("local run: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(o.Log, nil))
	p := &pipeline{o: o, cat: cat, engine: engine, log: log}
	prefixes := plan.Crawlers{}
	if len(o.Env.LogStreams) > 0 {
		at, err := config.ParseTimeOfDay(o.Env.LogCrawlTime)
		if err != nil {
			engine.Close()
			return nil, fmt.Errorf("local run: logCrawlTime: %w", err)
		}
		p.logCrawl = at
		p.crawlers = append(p.crawlers, crawlerAt{Crawler: catalog.Crawler{Name: "local-" + layout.AppLogsSource,
			Root: o.Lake, Bucket: RawBucket, Prefixes: []string{layout.AppLogsPrefix()}}, at: at})
	}
	for i := range o.Env.Sources {
		src := &o.Env.Sources[i]
		at, err := scheduleTime(src.Schedule)
		if err != nil {
			engine.Close()
			return nil, fmt.Errorf("local run: source %q: %w", src.Name, err)
		}
		p.crawlers = append(p.crawlers, crawlerAt{Crawler: catalog.Crawler{Name: "local-" + src.Name,
			Root: o.Lake, Bucket: RawBucket, Prefixes: []string{layout.SourcePrefix(src.Name)}}, at: at, source: src})
	}
	slices.SortStableFunc(p.crawlers, func(a, b crawlerAt) int {
		return (a.at.Hour*60 + a.at.Minute) - (b.at.Hour*60 + b.at.Minute)
	})
	for _, c := range p.crawlers {
		prefixes[c.Name] = c.Prefixes
	}
	triggers, err := plan.NewTriggers(prefixes, o.KPIs)
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("local run: the environment's crawlers and the KPIs do not match: %w", err)
	}
	lake, err := plan.NewLake(o.Bucket, cat, RawBucket, Database, o.Env.Aggregate.LookbackDays)
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("local run: %w", err)
	}
	lake.WithLogLateness(o.Env.LogLateness())
	emf := metrics.New(io.Discard, "local")
	p.plan = plan.NewHandler(o.Env.Location, log, o.KPIs, triggers).WithLake(lake, o.KPIs, emf, o.Now)
	runner, err := ctas.New(engine, cat, o.Bucket, ctas.Config{
		Database: Database, Workgroup: Workgroup, AggregatedBucket: AggregatedBucket,
		Logger: log, TimeZone: o.Env.Location, PollInitial: time.Millisecond, PollMax: time.Millisecond,
	})
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("local run: %w", err)
	}
	raw, err := plan.NewRawZone(o.Bucket, RawBucket)
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("local run: %w", err)
	}
	p.aggregate = aggregate.NewHandler(o.KPIs, Database, o.Env.Location, runner, log).WithDialect(queries.DuckDB).
		WithState(o.Env.StateKeys(), raw)
	return p, nil
}

// cronRE is a daily schedule: minute and hour fixed, every day.
var cronRE = regexp.MustCompile(`^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$`)

// scheduleTime is the time of day of a source's daily schedule (cron(M H * * ? *)).
func scheduleTime(schedule string) (config.TimeOfDay, error) {
	if schedule == "" {
		schedule = config.DefaultSchedule
	}
	m := cronRE.FindStringSubmatch(schedule)
	if m == nil {
		return config.TimeOfDay{}, fmt.Errorf("schedule %q: a local run replays daily schedules of the form cron(M H * * ? *) only", schedule)
	}
	minute, _ := strconv.Atoi(m[1])
	hour, _ := strconv.Atoi(m[2])
	return config.TimeOfDay{Hour: hour, Minute: minute}, nil
}

// instant is the time of day t on day d in the business zone.
func instant(d layout.Day, t config.TimeOfDay, loc *time.Location) time.Time {
	s := d.Start(loc)
	return time.Date(s.Year(), s.Month(), s.Day(), t.Hour, t.Minute, 0, 0, loc)
}

// day runs one business day.
func (p *pipeline) day(ctx context.Context, d layout.Day) (DayReport, error) {
	dr := DayReport{Date: d.String()}
	next := d.AddDays(1)
	step := func(name string, fn func() (string, error)) error {
		start := time.Now()
		msg, err := fn()
		took := time.Since(start)
		dr.Steps = append(dr.Steps, StepReport{Name: name, Seconds: took.Seconds(), Detail: msg})
		if err != nil {
			fmt.Fprintf(p.o.Progress, "%s  %-32s FAILED after %s\n", d, name, took.Round(time.Millisecond))
			return fmt.Errorf("day %s, step %s: %w", d, name, err)
		}
		fmt.Fprintf(p.o.Progress, "%s  %-32s %-36s %s\n", d, name, msg, took.Round(time.Millisecond))
		return nil
	}
	if len(p.o.Env.LogStreams) > 0 {
		// What lands between the log crawl of D (or D's midnight, on the run's first day) and
		// that of D+1: D's records, and the late ones of D-1.
		after := d.Start(p.o.Env.Location)
		if d != p.o.From {
			after = instant(d, p.logCrawl, p.o.Env.Location)
		}
		until := instant(next, p.logCrawl, p.o.Env.Location)
		for _, ls := range p.o.Env.LogStreams {
			if err := step("deliver "+ls.Name, func() (string, error) {
				n, err := p.o.Ingest.DeliverLogs(ctx, ls.Name, after, until)
				dr.LogRecords += int64(n)
				return fmt.Sprintf("%d records", n), err
			}); err != nil {
				return dr, err
			}
		}
	}
	for _, c := range p.crawlers {
		at := instant(next, c.at, p.o.Env.Location)
		if c.source != nil {
			src := *c.source
			if err := step("extract "+src.Name, func() (string, error) {
				if p.extracted(src, d) {
					return "already extracted", nil
				}
				ex, err := p.o.Ingest.Extract(ctx, src, d, at)
				var rows int64
				for _, t := range ex.Tables {
					rows += t.Rows
				}
				dr.RowsExtracted += rows
				return fmt.Sprintf("%d tables, %d rows", len(ex.Tables), rows), err
			}); err != nil {
				return dr, err
			}
			at = at.Add(5 * time.Minute) // the crawl starts once the extraction has ended
		}
		var event plan.Request
		if err := step("crawl "+c.Name, func() (string, error) {
			res, err := c.Crawl(p.cat)
			event = plan.Request{Time: at.UTC().Format(time.RFC3339), DetailType: plan.CrawlerEventDetailType,
				Detail: plan.Detail{CrawlerName: c.Name}}
			return fmt.Sprintf("%d new partitions", res.Partitions), err
		}); err != nil {
			return dr, err
		}
		if err := step("aggregate after "+c.Name, func() (string, error) {
			return p.aggregateEvent(ctx, event, &dr)
		}); err != nil {
			return dr, err
		}
	}
	return dr, nil
}

// extracted reports whether every table of src has the day's raw partition: a day that an
// earlier run extracted only in part (a table failed) is extracted again.
func (p *pipeline) extracted(src config.Source, d layout.Day) bool {
	for _, t := range src.Tables {
		if !p.hasRawTable(layout.TablePrefix(src.Name, t.Name), d) {
			return false
		}
	}
	return len(src.Tables) > 0
}

// hasRawTable reports whether the raw table at prefix has data for the day.
func (p *pipeline) hasRawTable(prefix string, d layout.Day) bool {
	files, err := catalog.DataFiles(filepath.Join(p.o.Lake, RawBucket, filepath.FromSlash(prefix), d.Partition()))
	return err == nil && len(files) > 0
}

// aggregateEvent runs the aggregation workflow for one crawler event: the plan, then each day's
// waves in order, each KPI through the aggregate handler, as the state machine does.
func (p *pipeline) aggregateEvent(ctx context.Context, event plan.Request, dr *DayReport) (string, error) {
	pl, err := p.plan.Handle(ctx, event)
	if err != nil {
		return "", fmt.Errorf("plan: %w", err)
	}
	published, deferred := 0, 0
	for _, day := range pl.Days {
		for _, wave := range day.Waves {
			for _, kpi := range wave {
				res, err := p.aggregate.Handle(ctx, aggregate.Request{KPI: kpi, Date: day.Date, Trigger: pl.Trigger, Crawled: pl.Crawled})
				if err != nil {
					return "", fmt.Errorf("aggregate %s for %s: %w", kpi, day.Date, err)
				}
				run := KPIRun{KPI: kpi, Date: day.Date, RunID: res.RunID, WaitingFor: res.WaitingFor, Crawler: pl.Crawler,
					EngineMs: res.EngineTimeMs}
				dr.Runs = append(dr.Runs, run)
				if len(res.WaitingFor) > 0 {
					deferred++
				} else {
					published++
				}
			}
		}
	}
	days := make([]string, len(pl.Days))
	for i, d := range pl.Days {
		days[i] = d.Date
	}
	msg := fmt.Sprintf("%d published, %d deferred", published, deferred)
	if len(days) > 0 && (len(days) > 1 || days[0] != dr.Date) {
		msg += " (days " + strings.Join(days, ", ") + ")"
	}
	return msg, nil
}

// collect reads every KPI's published values per day from the lake.
func (p *pipeline) collect(ctx context.Context, rep *Report) error {
	for _, name := range p.o.KPIs.Names() {
		if k, _ := p.o.KPIs.KPI(name); k.State != nil {
			continue // a state node is the pipeline's own table, not a KPI to report
		}
		table := layout.KPITableName(name)
		if _, err := p.cat.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(Database), Name: aws.String(table)}); err != nil {
			continue // never published
		}
		rows, err := p.engine.Query(ctx, fmt.Sprintf(`SELECT * FROM "%s"."%s" WHERE %s BETWEEN ? AND ? ORDER BY ALL`,
			Database, table, layout.PartitionKey), rep.From, rep.To)
		if err != nil {
			return fmt.Errorf("read the published values of %s: %w", name, err)
		}
		rep.KPIs = append(rep.KPIs, KPIValues{Name: name, Columns: rows.Columns, Rows: rows.Values})
	}
	return nil
}
