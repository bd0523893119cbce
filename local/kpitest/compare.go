package kpitest

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Format writes a value that the engine returned for a column of the Hive type typ in the
// canonical text of that type (see canonical): NULL, integers in decimal, doubles as the shortest
// text that reads back the same, dates as YYYY-MM-DD, timestamps in UTC.
func Format(typ string, v any) string {
	switch x := v.(type) {
	case nil:
		return Null
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case time.Time:
		if typ == "date" {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format("2006-01-02 15:04:05.000000+00:00")
	case *big.Int:
		return x.String()
	case []byte:
		return fmt.Sprintf("%x", x)
	}
	s := fmt.Sprint(v)
	if decimalTypeRE.MatchString(typ) {
		if r, ok := new(big.Rat).SetString(s); ok {
			return r.RatString()
		}
	}
	return s
}

// match pairs the expected rows with the produced ones, in any order: each expected row takes the
// first produced row left whose every value equals its own (doubles within tolerance). It returns
// the expected rows left and the produced rows left.
func match(cols []Column, want []Row, got [][]string, tolerance float64) (missing []Row, unexpected [][]string) {
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && rowEqual(cols, w.Fields, g, tolerance) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	for i, g := range got {
		if !used[i] {
			unexpected = append(unexpected, g)
		}
	}
	return missing, unexpected
}

func rowEqual(cols []Column, want, got []string, tolerance float64) bool {
	for i, w := range want {
		g := got[i]
		if w == Null || g == Null {
			if w != g {
				return false
			}
			continue
		}
		cw, err := canonical(cols[i].Type, w)
		if err != nil {
			return false
		}
		if cols[i].Type == "double" || cols[i].Type == "float" {
			a, _ := strconv.ParseFloat(cw, 64)
			b, err := strconv.ParseFloat(g, 64)
			if err != nil || math.Abs(a-b) > tolerance {
				return false
			}
			continue
		}
		if cw != g {
			return false
		}
	}
	return true
}

// Report writes what a case found: "ok" and its checks, or "FAIL" and, for each failed check, its
// problems and a diff of its rows (- expected, not produced; + produced, not expected).
func (r *Result) Report(w io.Writer) {
	c := r.Case
	var kpis []string
	for _, ch := range r.Checks {
		if ch.Expected != nil && !slices.Contains(kpis, ch.KPI) {
			kpis = append(kpis, ch.KPI)
		}
	}
	if !r.Failed() {
		fmt.Fprintf(w, "ok    %s: %s on %s\n", c.Name, strings.Join(kpis, ", "), dayList(c.Dates))
		return
	}
	fmt.Fprintf(w, "FAIL  %s (%s)\n", c.Name, c.Dir)
	for _, ch := range r.Checks {
		if !ch.Failed() {
			continue
		}
		file := "a KPI the case reads"
		if ch.Expected != nil {
			file = ch.Expected.File
		}
		fmt.Fprintf(w, "      %s on %s (%s):\n", ch.KPI, ch.Day, file)
		for _, p := range ch.Problems {
			fmt.Fprintf(w, "        %s\n", p)
		}
		if len(ch.Missing)+len(ch.Unexpected) == 0 {
			continue
		}
		fmt.Fprintf(w, "        %d expected rows not produced (-), %d produced rows not expected (+); columns:\n", len(ch.Missing), len(ch.Unexpected))
		names := make([]string, len(ch.Columns))
		for i, col := range ch.Columns {
			names[i] = col.Name
		}
		fmt.Fprintf(w, "          %s\n", strings.Join(names, " | "))
		for _, m := range ch.Missing {
			fmt.Fprintf(w, "        - %s    (line %d)\n", strings.Join(m.Fields, " | "), m.Line)
		}
		for _, u := range ch.Unexpected {
			fmt.Fprintf(w, "        + %s\n", strings.Join(u, " | "))
		}
	}
	if r.Err != nil {
		fmt.Fprintf(w, "      error: %v\n", r.Err)
	}
}
