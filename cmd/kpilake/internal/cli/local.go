package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/lakedir"
	localrun "github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
	"github.com/kpilake/kpilake/sample"
)

// localFlags are the flags of `kpilake local run`.
type localFlags struct {
	env, from, to, lake, dsn, queriesDir, report, sessionZone string
	days, users                                               int
	seed                                                      int64
	clean                                                     bool
}

func (a *App) localCommand(configPath *string) *cobra.Command {
	local := &cobra.Command{
		Use:   "local",
		Short: "Run the pipeline on this machine: no AWS account, no server",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var f localFlags
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Take business days through extract, crawl, plan and aggregate, into a local lake",
		Long: `local run takes a range of business days through the pipeline's own code, in the order AWS
runs it: the log streams' records land; at the environment's times on the next day, the app_logs
crawler runs, each source is extracted (the real extractor: type mapping, exclude/hash,
incremental windows, Parquet, multipart upload) and crawled; each crawl's event goes through the
real plan (due days, waves) and the real aggregate handler and CTAS runner (deferral gate, publish
protocol), with DuckDB executing each KPI's SQL. The lake is a directory in the S3 layout
(raw/<source>/<table>/dt=D/, aggregated/<kpi>/dt=D/run=<id>/) with its catalog in _catalog.json.

With no --dsn it needs no database server: the sample (go doc ./sample) is replayed day by day as
the database looked at each extraction. With --dsn it extracts the tables of --env's sources from
that database (mysql://user:pass@127.0.0.1:3306/db or postgres://...; TLS is optional on
loopback only).

Re-running a range is idempotent: a day whose raw partition exists is not extracted again, so
nothing is due and nothing is republished. --clean starts from an empty lake.

At the end it prints each KPI's values per day and writes a self-contained HTML report.`,
		Example: `  kpilake local run                       # the sample week into ./lake
  kpilake local run --days 30 --clean     # a month of the sample
  kpilake local run --env dev --dsn 'mysql://reader:secret@127.0.0.1:3306/social' --from 2026-11-01 --to 2026-11-07`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.localRun(cmd, *configPath, f)
		},
	}
	fs := runCmd.Flags()
	fs.StringVar(&f.env, "env", "dev", "the environment of cdk.json whose sources, log streams, time zone and schedules are run")
	fs.StringVar(&f.from, "from", "", "first business day, YYYY-MM-DD (default: the sample's first day, "+sample.DefaultStart+")")
	fs.StringVar(&f.to, "to", "", "last business day, YYYY-MM-DD (default: --from plus --days - 1)")
	fs.IntVar(&f.days, "days", sample.DefaultDays, "number of business days, when --to is not given")
	fs.StringVar(&f.lake, "lake", "lake", "the lake directory")
	fs.StringVar(&f.dsn, "dsn", "", "extract from this database instead of the embedded sample")
	fs.StringVar(&f.queriesDir, "queries", "", "read the KPIs from this directory's *.sql (files being edited) instead of the built-in ones")
	fs.StringVar(&f.report, "report", "", "the HTML report to write (default: <lake>/report.html)")
	fs.StringVar(&f.sessionZone, "session-time-zone", "UTC", "DuckDB's session time zone (Athena's is UTC); KPI results must not depend on it")
	fs.Int64Var(&f.seed, "seed", 0, "the sample's seed")
	fs.IntVar(&f.users, "users", 0, "the sample's number of users (default: "+fmt.Sprint(sample.DefaultUsers)+")")
	fs.BoolVar(&f.clean, "clean", false, "delete the lake directory first")
	local.AddCommand(runCmd)
	return local
}

func (a *App) localRun(cmd *cobra.Command, configPath string, f localFlags) error {
	ctx := cmd.Context()
	if err := duck.Available(); err != nil {
		return usageError(err)
	}
	env, err := a.localEnvironment(configPath, f.env)
	if err != nil {
		return err
	}
	from, to, err := localRange(f)
	if err != nil {
		return err
	}
	kpis, err := a.localKPIs(f.queriesDir)
	if err != nil {
		return err
	}
	if f.clean {
		if err := cleanLake(f.lake); err != nil {
			return err
		}
	}
	bucket, err := lakedir.Open(f.lake)
	if err != nil {
		return failure(err)
	}
	ingest, err := a.LocalIngest(LocalIngestOptions{Lake: bucket, Env: env, DSN: f.dsn, From: from, To: to,
		Sample: sample.Config{Start: from, Days: days(from, to), Seed: f.seed, Users: f.users, Location: env.Location}})
	if err != nil {
		return usageError(err)
	}
	start := time.Now()
	rep, err := localrun.Run(ctx, localrun.Options{
		Lake: f.lake, Env: env, KPIs: kpis, From: from, To: to, Bucket: bucket, Ingest: ingest,
		Engine: duck.Options{TimeZone: f.sessionZone}, Progress: a.Out,
	})
	if errors.Is(err, duck.ErrUnavailable) {
		return usageError(err)
	}
	if err != nil {
		return failure(err)
	}
	rep.WriteText(a.Out)
	path := f.report
	if path == "" {
		path = filepath.Join(f.lake, "report.html")
	}
	if err := writeReport(rep, path); err != nil {
		return failure(err)
	}
	facts := rep.Facts()
	fmt.Fprintf(a.Out, "\n%d days, %d rows extracted, %d log records, %d KPI runs published, %d deferred, in %s\nreport: %s\n",
		facts.Days, facts.RowsExtracted, facts.LogRecords, facts.Published, facts.Deferred,
		time.Since(start).Round(100*time.Millisecond), path)
	return nil
}

// days counts the days from from to to, both included.
func days(from, to layout.Day) int {
	n := 1
	for d := from; d.Before(to); d = d.AddDays(1) {
		n++
	}
	return n
}

func localRange(f localFlags) (from, to layout.Day, err error) {
	start := f.from
	if start == "" {
		start = sample.DefaultStart
	}
	if from, err = layout.ParseDay(start); err != nil {
		return from, to, usageError(fmt.Errorf("--from: %w", err))
	}
	if f.to != "" {
		if to, err = layout.ParseDay(f.to); err != nil {
			return from, to, usageError(fmt.Errorf("--to: %w", err))
		}
		if to.Before(from) {
			return from, to, usageError(fmt.Errorf("--to %s is before --from %s", to, from))
		}
	} else {
		if f.days < 1 || f.days > sample.MaxDays {
			return from, to, usageError(fmt.Errorf("--days %d: give 1 to %d", f.days, sample.MaxDays))
		}
		to = from.AddDays(f.days - 1)
	}
	if n := days(from, to); f.dsn == "" && n > sample.MaxDays {
		return from, to, usageError(fmt.Errorf("--from %s --to %s is %d days; the sample holds at most %d", from, to, n, sample.MaxDays))
	}
	return from, to, nil
}

// localEnvironment is env from cdk.json, or, outside a project, the sample's environment.
func (a *App) localEnvironment(path, name string) (*config.Environment, error) {
	if path == "" {
		path = findConfig(a.Dir)
	}
	if path == "" {
		fmt.Fprintln(a.Err, "kpilake: no cdk.json here or in a parent directory: running the sample's environment (source social, log stream web_access, Asia/Tokyo)")
		return localrun.SampleEnvironment()
	}
	cfg, err := readConfig(path)
	if err != nil {
		return nil, usageError(err)
	}
	envs, err := cfg.Select(name)
	if err != nil {
		return nil, usageError(fmt.Errorf("--env: %w", err))
	}
	return envs[0], nil
}

func (a *App) localKPIs(dir string) (*queries.Catalog, error) {
	if dir == "" {
		kpis, err := a.Catalog()
		if err != nil {
			return nil, failure(err)
		}
		return kpis, nil
	}
	kpis, err := queries.Parse(os.DirFS(dir))
	if err != nil {
		return nil, usageError(fmt.Errorf("--queries %s: %w", dir, err))
	}
	return kpis, nil
}

// cleanLake deletes a lake directory, refusing a directory that is not one.
func cleanLake(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return failure(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case localrun.RawBucket, localrun.AggregatedBucket, "_catalog.json", localrun.EnvironmentFile, "_logs", "report.html", ".uploads", ".tmp", ".kpilake-hash-salt":
		default:
			return usageError(fmt.Errorf("--clean: %s holds %s, which a local run does not write; not deleting it (give another --lake)", dir, e.Name()))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return failure(err)
	}
	return nil
}

func writeReport(rep *localrun.Report, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
