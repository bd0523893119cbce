package run

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/termtext"
)

// Series is one measure of a KPI over the run's days, for one combination of its dimensions.
type Series struct {
	Key    string             // the dimensions, "department_id=3, department_name=Sales"; "" for none
	Values map[string]float64 // by day; a day without a row is absent
}

// Measure is one numeric column of a KPI (not an *_id column), pivoted by day.
type Measure struct {
	KPI, Column string
	Days        []string
	Series      []Series // ordered by key
}

// Measures pivots every KPI's published rows: the numeric columns (except those named *_id) are
// measures; every other column, except dt, is a dimension.
func (r *Report) Measures() []Measure {
	var out []Measure
	days := r.days()
	for _, k := range r.KPIs {
		dt := slices.Index(k.Columns, layout.PartitionKey)
		if dt < 0 {
			continue
		}
		var dims, measures []int
		for i, c := range k.Columns {
			if i == dt {
				continue
			}
			if !strings.HasSuffix(c, "_id") && c != "id" && numericColumn(k.Rows, i) {
				measures = append(measures, i)
			} else {
				dims = append(dims, i)
			}
		}
		for _, m := range measures {
			byKey := map[string]*Series{}
			for _, row := range k.Rows {
				parts := make([]string, len(dims))
				for j, d := range dims {
					parts[j] = k.Columns[d] + "=" + format(row[d])
				}
				key := strings.Join(parts, ", ")
				s, ok := byKey[key]
				if !ok {
					s = &Series{Key: key, Values: map[string]float64{}}
					byKey[key] = s
				}
				if v, ok := number(row[m]); ok {
					s.Values[fmt.Sprint(row[dt])] = v
				}
			}
			meas := Measure{KPI: k.Name, Column: k.Columns[m], Days: days}
			for _, key := range slices.SortedFunc(maps.Keys(byKey), naturalLess) {
				meas.Series = append(meas.Series, *byKey[key])
			}
			out = append(out, meas)
		}
	}
	return out
}

func (r *Report) days() []string {
	var out []string
	for _, d := range r.Days {
		out = append(out, d.Date)
	}
	return out
}

func numericColumn(rows [][]any, i int) bool {
	seen := false
	for _, row := range rows {
		if row[i] == nil {
			continue
		}
		if _, ok := number(row[i]); !ok {
			return false
		}
		seen = true
	}
	return seen
}

// number converts the numeric values DuckDB returns.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		f, _ := strconv.ParseFloat(fmt.Sprint(x), 64)
		return f, true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case interface{ Float64() float64 }: // duckdb.Decimal
		return x.Float64(), true
	}
	return 0, false
}

func format(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case interface{ Float64() float64 }:
		return strconv.FormatFloat(x.Float64(), 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// naturalLess orders keys with numbers by value: department_id=2 before department_id=10.
func naturalLess(a, b string) int {
	for a != "" && b != "" {
		na, ra := leadingNumber(a)
		nb, rb := leadingNumber(b)
		if na != "" && nb != "" {
			x, _ := strconv.Atoi(na)
			y, _ := strconv.Atoi(nb)
			if x != y {
				return cmp.Compare(x, y)
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func leadingNumber(s string) (string, string) {
	i := 0
	for i < len(s) && i < 9 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// maxTerminalDays and maxTerminalRows bound the terminal tables: the last days, the first rows;
// the HTML report has all.
const (
	maxTerminalDays = 7
	maxTerminalRows = 12
)

// WriteText prints each measure as a table: one row per dimension combination, one column per
// day (the last maxTerminalDays), "-" where the day has no row.
func (r *Report) WriteText(w io.Writer) {
	for _, m := range r.Measures() {
		days := m.Days
		if len(days) > maxTerminalDays {
			days = days[len(days)-maxTerminalDays:]
		}
		fmt.Fprintf(w, "\n%s.%s", m.KPI, m.Column)
		if len(days) < len(m.Days) {
			fmt.Fprintf(w, " (last %d of %d days; all in the report)", len(days), len(m.Days))
		}
		fmt.Fprintln(w)
		keyWidth := 0
		for _, s := range m.Series {
			keyWidth = max(keyWidth, termtext.Width(s.Key))
		}
		fmt.Fprintf(w, "  %s", termtext.PadRight("", keyWidth))
		for _, d := range days {
			fmt.Fprintf(w, " %10s", d[5:])
		}
		fmt.Fprintln(w)
		for i, s := range m.Series {
			if i == maxTerminalRows {
				fmt.Fprintf(w, "  ... and %d more rows (all in the report)\n", len(m.Series)-i)
				break
			}
			fmt.Fprintf(w, "  %s", termtext.PadRight(s.Key, keyWidth))
			for _, d := range days {
				if v, ok := s.Values[d]; ok {
					fmt.Fprintf(w, " %10s", strconv.FormatFloat(v, 'f', -1, 64))
				} else {
					fmt.Fprintf(w, " %10s", "-")
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// Facts are the run's totals, for the summary line and the report.
type Facts struct {
	Days, RowsExtracted, LogRecords, Published, Deferred int64
	Seconds                                              float64
	// StepSeconds is the wall time per kind of step (deliver, extract, crawl, aggregate).
	StepSeconds map[string]float64
	// Deferrals are the deferred runs with what they waited for.
	Deferrals []KPIRun
}

// Facts sums the run.
func (r *Report) Facts() Facts {
	f := Facts{Days: int64(len(r.Days)), StepSeconds: map[string]float64{}}
	for _, d := range r.Days {
		f.RowsExtracted += d.RowsExtracted
		f.LogRecords += d.LogRecords
		for _, s := range d.Steps {
			kind, _, _ := strings.Cut(s.Name, " ")
			f.StepSeconds[kind] += s.Seconds
			f.Seconds += s.Seconds
		}
		for _, run := range d.Runs {
			if len(run.WaitingFor) > 0 {
				f.Deferred++
				f.Deferrals = append(f.Deferrals, run)
			} else {
				f.Published++
			}
		}
	}
	return f
}

// WriteHTML writes a self-contained page (no script, no external file): the facts, then one
// chart per measure over the days, one line per series.
func (r *Report) WriteHTML(w io.Writer) error {
	type chart struct {
		Title  string
		SVG    template.HTML
		Legend []legendItem
	}
	var charts []chart
	for _, m := range r.Measures() {
		svg, legend := lineChart(m)
		charts = append(charts, chart{Title: m.KPI + " · " + m.Column, SVG: svg, Legend: legend})
	}
	f := r.Facts()
	steps := slices.Sorted(maps.Keys(f.StepSeconds))
	return reportTemplate.Execute(w, map[string]any{
		"R": r, "F": f, "Charts": charts, "Steps": steps,
		"Seconds": func(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) },
	})
}

type legendItem struct {
	Color, Key string
}

var palette = []string{"#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0"}

// maxSeries caps the lines of a chart; the rest are summed into "others".
const maxSeries = 10

// lineChart draws a measure as inline SVG.
func lineChart(m Measure) (template.HTML, []legendItem) {
	const width, height, left, right, top, bottom = 720.0, 260.0, 56.0, 16.0, 12.0, 36.0
	series := m.Series
	if len(series) > maxSeries {
		totals := func(s Series) float64 {
			t := 0.0
			for _, v := range s.Values {
				t += math.Abs(v)
			}
			return t
		}
		sorted := slices.Clone(series)
		slices.SortStableFunc(sorted, func(a, b Series) int { return cmp.Compare(totals(b), totals(a)) })
		others := Series{Key: fmt.Sprintf("%d others (sum)", len(sorted)-maxSeries+1), Values: map[string]float64{}}
		for _, s := range sorted[maxSeries-1:] {
			for d, v := range s.Values {
				others.Values[d] += v
			}
		}
		series = append(sorted[:maxSeries-1:maxSeries-1], others)
	}
	lo, hi := 0.0, 0.0
	for _, s := range series {
		for _, v := range s.Values {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	n := len(m.Days)
	x := func(i int) float64 {
		if n == 1 {
			return left + (width-left-right)/2
		}
		return left + float64(i)*(width-left-right)/float64(n-1)
	}
	y := func(v float64) float64 { return top + (hi-v)/(hi-lo)*(height-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, width, height, template.HTMLEscapeString(m.KPI+" "+m.Column))
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, left, width-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="11" fill="#666">%s</text>`, left-6, y(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
	}
	step := max(1, n/10)
	for i, d := range m.Days {
		if i%step == 0 || i == n-1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="#666">%s</text>`, x(i), height-12, d[5:])
		}
	}
	var legend []legendItem
	for si, s := range series {
		color := palette[si%len(palette)]
		legend = append(legend, legendItem{Color: color, Key: cmp.Or(s.Key, m.Column)})
		// A day without a row breaks the line: an absent row is not a value to draw through.
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, d := range m.Days {
			v, ok := s.Values[d]
			if !ok {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s: %s</title></circle>`,
				x(i), y(v), color, template.HTMLEscapeString(s.Key), d, strconv.FormatFloat(v, 'f', -1, 64))
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), legend
}

var reportTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kpilake local run {{.R.From}} to {{.R.To}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222;padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:28px 0 6px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#666}
.legend span{display:inline-block;margin:0 12px 4px 0;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
</style></head><body>
<h1>kpilake local run</h1>
<div class="muted">business days {{.R.From}} to {{.R.To}} ({{.R.TimeZone}}) · lake {{.R.Lake}}</div>
<h2>Run</h2>
<table>
<tr><td>days</td><td class="n">{{.F.Days}}</td></tr>
<tr><td>rows extracted</td><td class="n">{{.F.RowsExtracted}}</td></tr>
<tr><td>log records delivered</td><td class="n">{{.F.LogRecords}}</td></tr>
<tr><td>KPI queries (published runs)</td><td class="n">{{.F.Published}}</td></tr>
<tr><td>deferred KPI runs</td><td class="n">{{.F.Deferred}}</td></tr>
{{range .Steps}}<tr><td>time in {{.}}</td><td class="n">{{call $.Seconds (index $.F.StepSeconds .)}} s</td></tr>
{{end}}</table>
{{if .F.Deferrals}}<h2>Deferred</h2><table><tr><th>day</th><th>KPI</th><th>after crawler</th><th>waiting for</th></tr>
{{range .F.Deferrals}}<tr><td>{{.Date}}</td><td>{{.KPI}}</td><td>{{.Crawler}}</td><td>{{range $i, $w := .WaitingFor}}{{if $i}}, {{end}}{{$w}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{range .Charts}}<h2>{{.Title}}</h2>{{.SVG}}
<div class="legend">{{range .Legend}}<span><i style="background:{{.Color}}"></i>{{.Key}}</span>{{end}}</div>
{{end}}
</body></html>
`))
