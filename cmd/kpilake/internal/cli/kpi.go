package cli

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/catalog"
	"github.com/kpilake/kpilake/local/duck"
	"github.com/kpilake/kpilake/local/kpitest"
	localrun "github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/local/termtext"
	"github.com/kpilake/kpilake/queries"
)

// kpiFlags are the flags the kpi subcommands share.
type kpiFlags struct {
	env, timeZone, queriesDir string
}

func (f *kpiFlags) addZone(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.env, "env", "dev", "the environment of cdk.json whose business time zone renders the day")
	cmd.Flags().StringVar(&f.timeZone, "time-zone", "", "without a cdk.json: the business time zone (IANA), such as Asia/Tokyo")
}

func (f *kpiFlags) addQueries(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&f.queriesDir, "queries", "", what)
}

const queriesFlagHelp = "a folder of KPI files (<kpi>.sql) to use instead of the catalog built into kpilake, such as the queries/ you are editing"

func (a *App) kpiCommand(configPath *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kpi",
		Short: "Write KPIs: render a KPI's SQL, run it on the local lake, run the KPI test cases",
		Long: `The KPI author's loop, on this machine, with no AWS account:

  kpilake kpi render <kpi> --date D   prints the SELECT the pipeline runs for business day D
  kpilake kpi run <kpi> --date D      runs it on the local lake that 'kpilake local run' wrote
  kpilake kpi test [KPI...]           runs the KPIs' test cases (queries/tests/) and shows a diff

--queries DIR reads the KPI files of DIR (such as queries/) instead of those built into kpilake,
so that an edited file is used without a rebuild. queries/README.md documents the KPI files and
the test cases. Errors in a KPI file name the file and line and exit with code 2.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.kpiRenderCommand(configPath), a.kpiRunCommand(configPath), a.kpiTestCommand(configPath))
	return cmd
}

// kpiCatalog loads the KPI files of dir, or the built-in catalog when dir is "". A catalog that
// does not parse is a usage error naming each file and line.
func (a *App) kpiCatalog(dir string) (*queries.Catalog, error) {
	var cat *queries.Catalog
	var err error
	if dir == "" {
		cat, err = a.Catalog()
	} else {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, usageError(fmt.Errorf("--queries %s: not a folder; give the folder of the KPI files (<kpi>.sql), such as queries", dir))
		}
		cat, err = queries.LoadDir(dir)
	}
	if err != nil {
		return nil, usageError(err)
	}
	return cat, nil
}

// lookupKPI returns the named KPI, or a usage error listing the catalog's.
func lookupKPI(cat *queries.Catalog, name string) (*queries.KPI, error) {
	k, ok := cat.KPI(name)
	if !ok {
		return nil, usageError(fmt.Errorf("unknown KPI %q; the catalog has %s", name, strings.Join(cat.Names(), ", ")))
	}
	return k, nil
}

// businessZone is the time zone business days start in: the environment's in cdk.json, or
// --time-zone when there is no cdk.json, or else the one that the local run recorded in lake
// ("" for none).
func (a *App) businessZone(configPath string, f *kpiFlags, lake string) (*time.Location, error) {
	path := configPath
	if path == "" {
		path = findConfig(a.Dir)
	}
	if path == "" {
		if f.timeZone == "" && lake != "" {
			if _, loc, ok, err := localrun.ReadLakeEnvironment(lake); err != nil {
				return nil, usageError(err)
			} else if ok {
				return loc, nil
			}
		}
		if f.timeZone == "" {
			return nil, usageError(errors.New("no cdk.json here or in a parent directory, so the business time zone is unknown: run in the project, give --config <the project's cdk.json>, or give --time-zone ZONE"))
		}
		loc, err := time.LoadLocation(f.timeZone)
		if err != nil || f.timeZone == "Local" {
			return nil, usageError(fmt.Errorf("--time-zone: %q is not an IANA time zone; give one such as Asia/Tokyo", f.timeZone))
		}
		return loc, nil
	}
	e, err := loadEnvironment(path, a.Dir, f.env)
	if err != nil {
		return nil, err
	}
	if f.timeZone != "" {
		return nil, usageError(fmt.Errorf("--time-zone is for use without a cdk.json; %s sets environment %s's time zone (%s): remove the flag, or choose another --env",
			e.Config, e.Name, e.Location))
	}
	return e.Location, nil
}

// kpiForDay resolves what render and run share: the KPI named name in the catalog (or
// --queries), the business day date, and the business time zone (see businessZone for lake).
func (a *App) kpiForDay(configPath string, f *kpiFlags, name, date, lake string) (*queries.KPI, layout.Day, *time.Location, error) {
	day, err := parseDate(date)
	if err != nil {
		return nil, layout.Day{}, nil, err
	}
	cat, err := a.kpiCatalog(f.queriesDir)
	if err != nil {
		return nil, layout.Day{}, nil, err
	}
	k, err := lookupKPI(cat, name)
	if err != nil {
		return nil, layout.Day{}, nil, err
	}
	loc, err := a.businessZone(configPath, f, lake)
	if err != nil {
		return nil, layout.Day{}, nil, err
	}
	return k, day, loc, nil
}

func parseDate(s string) (layout.Day, error) {
	if s == "" {
		return layout.Day{}, usageError(errors.New("--date is required: the business day, YYYY-MM-DD"))
	}
	d, err := layout.ParseDay(s)
	if err != nil {
		return layout.Day{}, usageError(fmt.Errorf("--date: %w", err))
	}
	return d, nil
}

func (a *App) kpiRenderCommand(configPath *string) *cobra.Command {
	var f kpiFlags
	var date, dialect, database string
	cmd := &cobra.Command{
		Use:   "render <kpi> --date YYYY-MM-DD",
		Short: "Print the SELECT a KPI runs for a business day",
		Long: `Prints the SELECT that the pipeline runs for the KPI on the business day: the template calls
replaced by the tables' partition filters and the day's bounds (as UTC instants) in the
environment's time zone. --dialect athena (the default) prints what Athena runs; duckdb what the
local engine runs. Athena names the tables in the stack's Glue database (its output
DatabaseName): give it with --database.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d queries.Dialect
			switch dialect {
			case string(queries.Athena), string(queries.DuckDB):
				d = queries.Dialect(dialect)
			default:
				return usageError(fmt.Errorf("--dialect %q: use %s or %s", dialect, queries.Athena, queries.DuckDB))
			}
			k, day, loc, err := a.kpiForDay(*configPath, &f, args[0], date, "")
			if err != nil {
				return err
			}
			if err := refuseState(k); err != nil {
				return err
			}
			q, err := k.Render(day, queries.Names{Database: database, Location: loc, Dialect: d})
			if err != nil {
				return usageError(err)
			}
			_, err = io.WriteString(a.Out, q)
			return err
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the business day, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&dialect, "dialect", string(queries.Athena), "the engine: athena or duckdb")
	cmd.Flags().StringVar(&database, "database", localrun.Database, "the database that qualifies the tables: the stack output DatabaseName on Athena")
	f.addZone(cmd)
	f.addQueries(cmd, queriesFlagHelp)
	return cmd
}

func (a *App) kpiRunCommand(configPath *string) *cobra.Command {
	var f kpiFlags
	var date, lake, format string
	cmd := &cobra.Command{
		Use:   "run <kpi> --date YYYY-MM-DD",
		Short: "Run a KPI on the local lake and print its rows",
		Long: `Renders the KPI for the local engine (DuckDB) and runs it on the local lake that 'kpilake local
run' (or 'make demo') wrote, reading the lake's tables as its catalog lists them, and prints the
rows (--format table, csv or json). Nothing is written to the lake. Every table the KPI reads
must have the day's partition.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "csv" && format != "json" {
				return usageError(fmt.Errorf("--format %q: use table, csv or json", format))
			}
			k, day, loc, err := a.kpiForDay(*configPath, &f, args[0], date, lake)
			if err != nil {
				return err
			}
			if err := refuseState(k); err != nil {
				return err
			}
			file := filepath.Join(lake, catalog.FileName)
			if _, err := os.Stat(file); err != nil {
				return usageError(fmt.Errorf("no local lake at %s (%s is missing): run `kpilake local run` (or `make demo`) first, or give --lake DIR", lake, file))
			}
			lc, err := catalog.Open(file, localrun.Database)
			if err != nil {
				return usageError(err)
			}
			if err := checkInputs(lc, k, day, lake); err != nil {
				return failure(err)
			}
			engine, err := duck.Open(lake, lc, duck.Options{})
			if err != nil {
				return failure(err)
			}
			defer engine.Close()
			q, err := k.Render(day, queries.Names{Database: localrun.Database, Location: loc, Dialect: queries.DuckDB})
			if err != nil {
				return usageError(err)
			}
			ctx := cmd.Context()
			cols, _, err := kpitest.Describe(ctx, engine, q)
			if err != nil {
				return failure(fmt.Errorf("%s on %s: %w", k.Name, day, err))
			}
			rows, err := engine.Query(ctx, q)
			if err != nil {
				return failure(fmt.Errorf("%s on %s: %w", k.Name, day, err))
			}
			return writeRows(a.Out, format, cols, rows)
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the business day, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&lake, "lake", "lake", "the local lake: the folder 'kpilake local run' writes")
	cmd.Flags().StringVar(&format, "format", "table", "how to print the rows: table, csv or json")
	f.addZone(cmd)
	f.addQueries(cmd, queriesFlagHelp)
	return cmd
}

// refuseState refuses a state node, whose query the aggregate handler generates from the lake
// (its columns, and whether the previous day's state is current), not from the catalog alone.
func refuseState(k *queries.KPI) error {
	if t, ok := k.StateOf(); ok {
		return usageError(fmt.Errorf("%s is the state of %s, whose query the pipeline generates from the lake at each run "+
			"(queries/testdata/%s.golden.sql shows both forms); its rows are in the table %s of a lake that the pipeline built",
			k.Name, t, k.Name, layout.KPITableName(k.Name)))
	}
	return nil
}

// checkInputs makes sure the lake has every table the KPI reads, with the day's partition.
func checkInputs(lc *catalog.Catalog, k *queries.KPI, day layout.Day, lake string) error {
	_, tables := lc.Snapshot()
	type input struct{ table, what string }
	var inputs []input
	for _, s := range k.Sources {
		inputs = append(inputs, input{s.CatalogName(), "raw table " + s.String()})
	}
	for _, d := range k.DependsOn {
		inputs = append(inputs, input{layout.KPITableName(d), "KPI " + d})
	}
	var errs []error
	for _, in := range inputs {
		i := slices.IndexFunc(tables, func(t catalog.Table) bool { return t.Name == in.table })
		if i < 0 {
			errs = append(errs, fmt.Errorf("the lake at %s has no table %s (%s), which %s reads: run `kpilake local run` over %s first", lake, in.table, in.what, k.Name, day))
			continue
		}
		t := tables[i]
		if slices.ContainsFunc(t.Partitions, func(p catalog.Partition) bool { return len(p.Values) == 1 && p.Values[0] == day.String() }) {
			continue
		}
		held := "no partition"
		if n := len(t.Partitions); n > 0 {
			held = fmt.Sprintf("%s=%s to %s", layout.PartitionKey, t.Partitions[0].Values[0], t.Partitions[n-1].Values[0])
		}
		errs = append(errs, fmt.Errorf("table %s (%s) has no partition %s in the lake at %s (it holds %s): run `kpilake local run` over %s first, or choose a day it holds",
			in.table, in.what, day.Partition(), lake, held, day))
	}
	return errors.Join(errs...)
}

// writeRows prints a result as an aligned table, CSV, or JSON (an array of objects), its rows
// sorted by their values from the first column on (numbers as numbers, NULL last), so that the
// same result always prints the same.
func writeRows(w io.Writer, format string, cols []kpitest.Column, rows *duck.Rows) error {
	values := slices.Clone(rows.Values)
	slices.SortStableFunc(values, func(a, b []any) int {
		for i := range a {
			if c := compareValues(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	rows = &duck.Rows{Columns: rows.Columns, Values: values}
	text := make([][]string, len(rows.Values))
	for i, r := range rows.Values {
		text[i] = make([]string, len(r))
		for j, v := range r {
			text[i][j] = kpitest.Format(cols[j].Type, v)
		}
	}
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		header := make([]string, len(cols))
		for i, c := range cols {
			header[i] = c.Name
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(text); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]map[string]any, len(rows.Values))
		for i, r := range rows.Values {
			m := map[string]any{}
			for j, v := range r {
				m[cols[j].Name] = jsonValue(cols[j].Type, v, text[i][j])
			}
			out[i] = m
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	numeric := make([]bool, len(cols))
	widths := make([]int, len(cols))
	for i, c := range cols {
		numeric[i] = isNumeric(c.Type)
		widths[i] = termtext.Width(c.Name)
	}
	for _, r := range text {
		for i, s := range r {
			widths[i] = max(widths[i], termtext.Width(s))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, s := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-termtext.Width(s))
			if numeric[i] {
				b.WriteString(pad + s)
			} else if i < len(cells)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	header := make([]string, len(cols))
	rule := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Name
		rule[i] = strings.Repeat("-", widths[i])
	}
	line(header)
	line(rule)
	for _, r := range text {
		line(r)
	}
	noun := "rows"
	if len(text) == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(w, "(%d %s)\n", len(text), noun)
	return err
}

// compareValues orders two values of a column: NULL last, numbers by value, times by instant,
// the rest by their text.
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			return cmp.Compare(x, y)
		}
	}
	if x, ok := a.(time.Time); ok {
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func isNumeric(hive string) bool {
	switch hive {
	case "bigint", "int", "smallint", "tinyint", "double", "float":
		return true
	}
	return strings.HasPrefix(hive, "decimal")
}

// jsonValue is a value as JSON writes it: numbers and booleans as themselves, NULL as null, the
// rest as the text the table shows.
func jsonValue(hive string, v any, text string) any {
	switch v.(type) {
	case nil:
		return nil
	case bool:
		return v
	}
	if isNumeric(hive) {
		return json.Number(text)
	}
	return text
}

func (a *App) kpiTestCommand(configPath *string) *cobra.Command {
	var f kpiFlags
	cmd := &cobra.Command{
		Use:   "test [KPI...]",
		Short: "Run the KPIs' test cases (queries/tests/) on the local engine",
		Long: `Runs the test cases of the KPIs (all of them, or those that check one of the KPIs named): each
case is a folder of queries/tests/ with the input tables as files, the days and time zone it runs
(case.json), and the rows each KPI it checks must produce (expected/<kpi>.csv). The KPIs run on
the local engine in a session time zone that is neither UTC nor the business zone, and a failed
case prints the rows expected but not produced (-) and produced but not expected (+).

The KPI files and the cases are read from --queries DIR, by default the queries/ folder next to
the project's cdk.json. Without KPI names, a KPI that no case checks is a failure.

Exit codes: 0 every case passed; 1 a case failed, or a KPI has no case; 2 a KPI file or a case
file is malformed (each problem names its file and line).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := f.queriesDir
			if dir == "" {
				path := *configPath
				if path == "" {
					path = findConfig(a.Dir)
				}
				if path == "" {
					return usageError(errors.New("no cdk.json here or in a parent directory: give --queries DIR, the folder of the KPI files and their tests/"))
				}
				dir = filepath.Join(filepath.Dir(path), "queries")
			}
			cat, err := a.kpiCatalog(dir)
			if err != nil {
				return err
			}
			for _, n := range args {
				if _, err := lookupKPI(cat, n); err != nil {
					return err
				}
			}
			tests := filepath.Join(dir, "tests")
			if st, err := os.Stat(tests); err != nil || !st.IsDir() {
				return failure(fmt.Errorf("no test cases: %s is not a folder; add one case per folder (see queries/README.md, Test cases)", tests))
			}
			cases, err := kpitest.Load(os.DirFS(tests), filepath.ToSlash(tests)+"/", cat, args)
			if err != nil {
				return usageError(err)
			}
			var problems []string
			if len(args) == 0 {
				for _, n := range kpitest.Untested(cat, cases) {
					problems = append(problems, fmt.Sprintf("KPI %s has no test case: add %s/<case>/expected/%s.csv", n, filepath.ToSlash(tests), n))
				}
			}
			failed := 0
			for _, c := range cases {
				res, err := kpitest.Run(cmd.Context(), cat, c, kpitest.Options{})
				if err != nil {
					return failure(err)
				}
				if err := cmd.Context().Err(); err != nil {
					return err // interrupted: the case's report would show the interruption as a failure
				}
				res.Report(a.Out)
				if res.Failed() {
					failed++
				}
			}
			for _, p := range problems {
				fmt.Fprintln(a.Out, "FAIL  "+p)
			}
			switch {
			case failed > 0:
				return failure(fmt.Errorf("%d of %d test cases failed", failed, len(cases)))
			case len(problems) > 0:
				return failure(fmt.Errorf("%d KPIs have no test case", len(problems)))
			case len(cases) == 0:
				return failure(fmt.Errorf("no test case in %s checks %s", tests, strings.Join(args, ", ")))
			}
			fmt.Fprintf(a.Out, "PASS  %d test cases\n", len(cases))
			return nil
		},
	}
	f.addQueries(cmd, "the folder of the KPI files and their tests/ (default: queries/ next to the project's cdk.json)")
	return cmd
}
