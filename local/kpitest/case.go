// Package kpitest runs the KPI catalog's test cases: data files next to the SQL (queries/tests/),
// so that a new KPI and its test are files only. Each case is a small lake (input tables, one
// file per catalog table and day), the business days and time zone it runs, and the rows each
// KPI it checks must produce. The runner writes the inputs as the lake holds them (Parquet as
// the extractor writes it, JSON lines as Firehose delivers them), catalogues them with the local
// crawler, and runs the KPIs rendered for DuckDB through the CTAS runner on the local engine
// (local/duck), in a session time zone that is neither UTC nor the business zone. The format is
// documented in queries/README.md ("Test cases").
//
// The engine needs cgo; built without it, Run returns duck.ErrUnavailable.
package kpitest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/big"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Names of a case's files.
const (
	// CaseFile describes a case: its days and business time zone.
	CaseFile = "case.json"
	// ExpectedDir holds one <kpi>.csv per KPI the case checks.
	ExpectedDir = "expected"
	// Null is how a CSV field writes NULL.
	Null = "NULL"
)

// Case is one test case: a directory of the tests folder.
type Case struct {
	// Name is the directory's name; Dir its path in the tests file system.
	Name, Dir string
	// Description says what the case covers.
	Description string
	// Location is the business time zone the KPIs are rendered for.
	Location *time.Location
	// Dates are the business days run, in order.
	Dates []layout.Day
	// Tolerance is the largest difference accepted between an expected and a produced double.
	Tolerance float64
	// Inputs are the input tables' partitions, by catalog table then day.
	Inputs []Input
	// Expected are the KPIs the case checks, by name.
	Expected map[string]*Table
}

// Input is one partition of an input table.
type Input struct {
	// Table is the catalog table (social_posts, app_logs_web_access, kpi_<name>).
	Table string
	// Source is the raw table Table is the catalog table of; zero for a KPI's table.
	Source queries.SourceTable
	Day    layout.Day
	// File is the file's path, for messages.
	File string
	// JSON is a JSON-lines partition (a log stream's), kept as delivered; otherwise Rows.
	JSON []byte
	Rows *Table
}

// Column is a column of a CSV file: its name and Hive type (bigint, string, timestamp, ...).
type Column struct {
	Name, Type string
}

// Table is a typed CSV file's content.
type Table struct {
	File    string
	Columns []Column
	Rows    []Row
}

// Row is one CSV record: its fields (Null for NULL) and its line.
type Row struct {
	Line   int
	Fields []string
}

// caseJSON is case.json.
type caseJSON struct {
	Description string   `json:"description"`
	TimeZone    string   `json:"time_zone"`
	Dates       []string `json:"dates"`
	Tolerance   float64  `json:"tolerance"`
}

var partitionFileRE = regexp.MustCompile(`^dt=(\d{4}-\d{2}-\d{2})\.(csv|jsonl)$`)

// Load reads every case of the tests file system fsys (one directory per case) that checks one of
// kpis (all cases when kpis is empty), checking each against the catalog cat. It returns every
// problem at once, each naming its file (prefix, such as "queries/tests/", then its path in fsys)
// and line.
func Load(fsys fs.FS, prefix string, cat *queries.Catalog, kpis []string) ([]*Case, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("list test cases: %w", err)
	}
	var cases []*Case
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		c, err := loadCase(fsys, prefix, e.Name(), cat)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(kpis) > 0 && !slices.ContainsFunc(kpis, func(k string) bool { return c.Expected[k] != nil }) {
			continue
		}
		cases = append(cases, c)
	}
	return cases, errors.Join(errs...)
}

// Untested lists the KPIs of cat that no case checks.
func Untested(cat *queries.Catalog, cases []*Case) []string {
	var out []string
	for _, n := range cat.Names() {
		if !slices.ContainsFunc(cases, func(c *Case) bool { return c.Expected[n] != nil }) {
			out = append(out, n)
		}
	}
	return out
}

func loadCase(fsys fs.FS, prefix, dir string, cat *queries.Catalog) (*Case, error) {
	c := &Case{Name: dir, Dir: prefix + dir, Expected: map[string]*Table{}}
	var errs []error
	bad := func(file, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", prefix, file, fmt.Sprintf(format, args...)))
	}
	cf := path.Join(dir, CaseFile)
	data, err := fs.ReadFile(fsys, cf)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w; every case directory needs one (see queries/README.md, Test cases)", prefix, cf, err)
	}
	var cj caseJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cj); err != nil {
		return nil, fmt.Errorf("%s%s: %w; give description, time_zone, dates and optionally tolerance", prefix, cf, err)
	}
	c.Description = cj.Description
	if cj.TimeZone == "" || cj.TimeZone == "Local" {
		bad(cf, "time_zone is required: the business time zone (IANA), such as \"Asia/Tokyo\"")
	} else if c.Location, err = time.LoadLocation(cj.TimeZone); err != nil {
		bad(cf, "time_zone %q is not an IANA time zone; use a name such as \"Asia/Tokyo\"", cj.TimeZone)
	}
	if len(cj.Dates) == 0 {
		bad(cf, "dates is required: the business days to run, such as [\"2026-11-24\"]")
	}
	for _, s := range cj.Dates {
		d, err := layout.ParseDay(s)
		if err != nil {
			bad(cf, "dates: %v", err)
			continue
		}
		if len(c.Dates) > 0 && !c.Dates[len(c.Dates)-1].Before(d) {
			bad(cf, "dates: %s is not after %s; list the days in order, each once", d, c.Dates[len(c.Dates)-1])
		}
		c.Dates = append(c.Dates, d)
	}
	if cj.Tolerance < 0 || math.IsNaN(cj.Tolerance) {
		bad(cf, "tolerance %v: give 0 (exact) or a positive difference", cj.Tolerance)
	}
	c.Tolerance = cj.Tolerance

	sources := map[string]queries.SourceTable{}
	for _, s := range cat.Sources() {
		sources[s.CatalogName()] = s
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", prefix, dir, err)
	}
	expectedGiven := false
	for _, e := range entries {
		name := e.Name()
		p := path.Join(dir, name)
		switch {
		case name == CaseFile || strings.HasPrefix(name, ".") || (!e.IsDir() && strings.HasSuffix(name, ".md")):
			continue
		case !e.IsDir():
			bad(p, "unexpected file; a case holds %s, %s/ and one directory per input table", CaseFile, ExpectedDir)
			continue
		case name == ExpectedDir:
			expectedGiven = true
			errs = append(errs, c.loadExpected(fsys, prefix, p, cat)...)
			continue
		}
		src, isSource := sources[name]
		kpi, isKPI := strings.CutPrefix(name, layout.KPITablePrefix)
		if isKPI {
			_, isKPI = cat.KPI(kpi)
		}
		if !isSource && !isKPI {
			bad(p, "no KPI reads a table %q; name an input directory after a catalog table a KPI reads: %s", name, tableList(cat))
			continue
		}
		files, err := fs.ReadDir(fsys, p)
		if err != nil {
			bad(p, "%v", err)
			continue
		}
		for _, f := range files {
			fp := path.Join(p, f.Name())
			m := partitionFileRE.FindStringSubmatch(f.Name())
			if f.IsDir() || m == nil {
				bad(fp, "an input file is named dt=YYYY-MM-DD.csv (or .jsonl for a log stream), one per day")
				continue
			}
			day, err := layout.ParseDay(m[1])
			if err != nil {
				bad(fp, "%v", err)
				continue
			}
			data, err := fs.ReadFile(fsys, fp)
			if err != nil {
				bad(fp, "%v", err)
				continue
			}
			in := Input{Table: name, Day: day, File: prefix + fp}
			if isSource {
				in.Source = src
			}
			logs := isSource && src.Source == layout.AppLogsSource
			switch {
			case m[2] == "jsonl" && !logs:
				bad(fp, "%s is not a log stream, which the lake holds as Parquet: write it as dt=%s.csv with typed columns", name, day)
				continue
			case m[2] == "csv" && logs:
				bad(fp, "%s is a log stream, which the lake holds as JSON lines as delivered: write it as dt=%s.jsonl", name, day)
				continue
			case logs:
				if err := checkJSONLines(prefix+fp, data); err != nil {
					errs = append(errs, err)
					continue
				}
				in.JSON = data
			default:
				t, err := parseCSV(prefix+fp, data, false)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				in.Rows = t
			}
			c.Inputs = append(c.Inputs, in)
		}
	}
	if len(c.Expected) == 0 && !expectedGiven {
		bad(dir, "the case checks no KPI: add %s/<kpi>.csv with the rows a KPI must produce", ExpectedDir)
	}
	for k := range c.Expected {
		if slices.ContainsFunc(c.Inputs, func(in Input) bool { return in.Table == layout.KPITableName(k) }) {
			bad(path.Join(dir, layout.KPITableName(k)), "the case checks %s and gives its table as input; remove one", k)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func tableList(cat *queries.Catalog) string {
	var s []string
	for _, t := range cat.Sources() {
		s = append(s, t.CatalogName())
	}
	for _, n := range cat.Names() {
		s = append(s, layout.KPITableName(n))
	}
	return strings.Join(s, ", ")
}

func (c *Case) loadExpected(fsys fs.FS, prefix, dir string, cat *queries.Catalog) []error {
	files, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return []error{fmt.Errorf("%s%s: %w", prefix, dir, err)}
	}
	var errs []error
	for _, f := range files {
		data, err := fs.ReadFile(fsys, path.Join(dir, f.Name()))
		fp := prefix + path.Join(dir, f.Name())
		name, ok := strings.CutSuffix(f.Name(), ".csv")
		if f.IsDir() || !ok {
			errs = append(errs, fmt.Errorf("%s: an expected file is named <kpi>.csv", fp))
			continue
		}
		if _, ok := cat.KPI(name); !ok {
			errs = append(errs, fmt.Errorf("%s: no KPI %q in the catalog (%s)", fp, name, strings.Join(cat.Names(), ", ")))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fp, err))
			continue
		}
		t, err := parseCSV(fp, data, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range t.Rows {
			d, _ := layout.ParseDay(r.Fields[0])
			if !slices.Contains(c.Dates, d) {
				errs = append(errs, fmt.Errorf("%s:%d: dt %s is not one of the case's dates (%s)", fp, r.Line, r.Fields[0], dayList(c.Dates)))
			}
		}
		c.Expected[name] = t
	}
	return errs
}

func dayList(days []layout.Day) string {
	s := make([]string, len(days))
	for i, d := range days {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

// checkJSONLines checks that every non-empty line is a JSON object.
func checkJSONLines(file string, data []byte) error {
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(line, &obj); err != nil {
			return fmt.Errorf("%s:%d: not a JSON object: %v", file, i+1, err)
		}
	}
	return nil
}

// parseCSV reads a typed CSV file: a header of name:type columns (an expected file starts with an
// untyped dt), then one record per row; lines starting with # are comments, fields are trimmed,
// NULL is NULL. Every field is checked against its column's type.
func parseCSV(file string, data []byte, expected bool) (*Table, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1 // the header's count, once decimal(p,s) is joined again
	t := &Table{File: file}
	header, err := r.Read()
	header = joinParens(header)
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty; the first line is the header, name:type for each column (such as id:bigint,created_at:timestamp)", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if expected && i == 0 {
			if h != layout.PartitionKey {
				errs = append(errs, fmt.Errorf("%s:1: the first column of an expected file is %s, the day of each row; found %q", file, layout.PartitionKey, h))
			}
			t.Columns = append(t.Columns, Column{Name: layout.PartitionKey, Type: "string"})
			continue
		}
		name, typ, ok := strings.Cut(h, ":")
		name, typ = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(typ))
		switch {
		case !ok || name == "":
			errs = append(errs, fmt.Errorf("%s:1: column %d %q: write it as name:type, such as user_id:bigint (types: %s)", file, i+1, h, typeList))
			continue
		case name == layout.PartitionKey:
			errs = append(errs, fmt.Errorf("%s:1: column %s is the partition: the file name gives the day of an input, the first column that of an expected row", file, name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s:1: column %s appears twice", file, name))
		default:
			// The catalog holds column names in lowercase, as the crawler and Athena write them.
			if err := layout.ValidateName("column", name); err != nil {
				errs = append(errs, fmt.Errorf("%s:1: %w", file, err))
			}
		}
		if err := checkType(typ); err != nil {
			errs = append(errs, fmt.Errorf("%s:1: column %s: %w", file, name, err))
		}
		seen[name] = true
		t.Columns = append(t.Columns, Column{Name: name, Type: typ})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.FieldsPerRecord = len(header)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := r.FieldPos(0)
		row := Row{Line: line, Fields: make([]string, len(rec))}
		for i, f := range rec {
			f = strings.TrimSpace(f)
			row.Fields[i] = f
			col := t.Columns[i]
			if expected && i == 0 {
				if _, err := layout.ParseDay(f); err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %s: %v", file, line, col.Name, err))
				}
				continue
			}
			if f == Null {
				continue
			}
			if _, err := canonical(col.Type, f); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: column %s (%s): %v", file, line, col.Name, col.Type, err))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// joinParens joins the header fields that a comma inside parentheses split, as in
// amount:decimal(12,2).
func joinParens(fields []string) []string {
	var out []string
	open := false
	for _, f := range fields {
		if open {
			out[len(out)-1] += "," + f
		} else {
			out = append(out, f)
		}
		last := out[len(out)-1]
		open = strings.Count(last, "(") > strings.Count(last, ")")
	}
	return out
}

const typeList = "bigint, int, smallint, tinyint, double, float, boolean, string, date, timestamp, decimal(p,s)"

var decimalTypeRE = regexp.MustCompile(`^decimal\((\d+),\s*(\d+)\)$`)

func checkType(t string) error {
	switch t {
	case "bigint", "int", "smallint", "tinyint", "double", "float", "boolean", "string", "date", "timestamp":
		return nil
	}
	if m := decimalTypeRE.FindStringSubmatch(t); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		if p >= 1 && p <= 38 && s <= p {
			return nil
		}
	}
	return fmt.Errorf("type %q is not one of %s", t, typeList)
}

// timestampLayouts are the forms a timestamp field may take: an instant, with its UTC offset.
var timestampLayouts = []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999 Z07:00", "2006-01-02 15:04:05.999999999 Z07:00"}

// canonical checks a non-NULL field against a Hive type and returns its canonical text, which two
// equal values share: integers in decimal, doubles as the shortest text that reads back the
// same, timestamps in UTC with microseconds.
func canonical(typ, f string) (string, error) {
	switch typ {
	case "bigint", "int", "smallint", "tinyint":
		bits := map[string]int{"bigint": 64, "int": 32, "smallint": 16, "tinyint": 8}[typ]
		n, err := strconv.ParseInt(f, 10, bits)
		if err != nil {
			return "", fmt.Errorf("%q is not a %d-bit integer", f, bits)
		}
		return strconv.FormatInt(n, 10), nil
	case "double", "float":
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not a number", f)
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case "boolean":
		b, err := strconv.ParseBool(f)
		if err != nil || (f != "true" && f != "false") {
			return "", fmt.Errorf("%q is not true or false", f)
		}
		return strconv.FormatBool(b), nil
	case "date":
		d, err := layout.ParseDay(f)
		if err != nil {
			return "", err
		}
		return d.String(), nil
	case "timestamp":
		for _, l := range timestampLayouts {
			if t, err := time.Parse(l, f); err == nil {
				return t.UTC().Format("2006-01-02 15:04:05.000000+00:00"), nil
			}
		}
		return "", fmt.Errorf("%q is not an instant: give its UTC offset, as 2026-11-24T09:00:00+09:00 or 2026-11-24T00:00:00.000Z (the lake holds timestamps as UTC instants)", f)
	case "string":
		return f, nil
	}
	if decimalTypeRE.MatchString(typ) {
		r, ok := new(big.Rat).SetString(f)
		if !ok {
			return "", fmt.Errorf("%q is not a decimal number", f)
		}
		return r.RatString(), nil
	}
	return "", fmt.Errorf("unknown type %q", typ)
}
