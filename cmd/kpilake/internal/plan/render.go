package plan

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Target says where a plan would run, for its heading.
type Target struct {
	Stack  string
	Region string
	// RequestID is the request's id, when known (given, or generated for sending).
	RequestID string
	// PricePerTB is Athena's price per TB scanned, in dollars.
	PricePerTB float64
}

// maxMissingDays bounds the days listed in a missing-data warning.
const maxMissingDays = 5

// Render writes the plan as the operator reads it before sending.
func Render(w io.Writer, p *Plan, t Target) error {
	var b strings.Builder
	region := t.Region
	if region == "" {
		region = "the default region"
	}
	fmt.Fprintf(&b, "Backfill plan for environment %s (stack %s in %s)\n", p.Env, t.Stack, region)
	if t.RequestID != "" {
		fmt.Fprintf(&b, "  request  %s\n", t.RequestID)
	}
	n := p.DayCount()
	fmt.Fprintf(&b, "  days     %s to %s (%s)\n", p.From, p.To, plural(n, "day", "days"))
	fmt.Fprintf(&b, "  jobs     %s, one per day\n", plural(n, "queue message", "queue messages"))
	selected := p.Selected()
	if p.KPIs == nil {
		fmt.Fprintf(&b, "  KPIs     all %d of the catalog\n", len(selected))
	} else {
		var added []string
		for _, k := range selected {
			if !slices.Contains(p.KPIs, k) {
				added = append(added, k)
			}
		}
		fmt.Fprintf(&b, "  KPIs     %d: %s", len(selected), strings.Join(p.KPIs, ", "))
		if len(added) > 0 {
			fmt.Fprintf(&b, "; dependents added: %s", strings.Join(added, ", "))
		}
		b.WriteString("\n")
	}
	for i, wave := range p.Waves {
		label := ""
		if i == 0 {
			label = "waves"
		}
		fmt.Fprintf(&b, "  %-7s  %d: %s\n", label, i+1, strings.Join(wave, ", "))
	}
	fmt.Fprintf(&b, "  queries  %s, one per KPI and day\n", plural(p.Queries(), "Athena query", "Athena queries"))

	b.WriteString("\n")
	if p.Estimate == nil {
		b.WriteString("Athena scan: not estimated (--no-estimate)\n")
	} else {
		renderEstimate(&b, p, t.PricePerTB)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderEstimate(b *strings.Builder, p *Plan, pricePerTB float64) {
	e := p.Estimate
	fmt.Fprintf(b, "Athena scan estimate: the raw partitions each query reads, from s3://%s/ (%s listed)\n",
		e.Bucket, plural(e.Partitions, "partition", "partitions"))
	rows := [][]string{{"KPI", "queries", "window", "scanned", "billed"}}
	for _, k := range e.KPIs {
		rows = append(rows, []string{k.Name, strconv.Itoa(k.Days), plural(k.Lookback, "day", "days"),
			FormatBytes(k.ScannedBytes), FormatBytes(k.BilledBytes)})
	}
	rows = append(rows, []string{"total", strconv.Itoa(e.Queries), "", FormatBytes(e.ScannedBytes), FormatBytes(e.BilledBytes)})
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		line := fmt.Sprintf("  %-*s  %*s  %-*s  %*s  %*s", widths[0], r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3], widths[4], r[4])
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	fmt.Fprintf(b, "  cost: %s at $%.2f per TB billed\n", FormatDollars(e.Cost(pricePerTB)), pricePerTB)
	b.WriteString("  (billed: each query's scan rounded up to a whole MB, at least 10 MB. scanned is an upper\n" +
		"  bound: whole objects, though Athena reads only the Parquet columns a query uses, and every\n" +
		"  source of a KPI over its window; the upstream KPI tables a KPI reads are not counted)\n")
	for _, t := range e.Tables {
		if len(t.Missing) == 0 {
			continue
		}
		var days []string
		for _, d := range t.Missing[:min(len(t.Missing), maxMissingDays)] {
			days = append(days, d.String())
		}
		if len(t.Missing) > maxMissingDays {
			days = append(days, "...")
		}
		fmt.Fprintf(b, "  no raw data: %s on %d of %s (%s)\n", t.Table, len(t.Missing), plural(p.DayCount(), "day", "days"),
			strings.Join(days, ", "))
	}
}

// FormatBytes writes n in decimal units (kB, MB, GB, TB, PB), as Athena bills.
func FormatBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 999.95 {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	return fmt.Sprintf("%.1f PB", v/1000)
}

// FormatDollars writes a cost in dollars and cents; a cost under half a cent is "< $0.01".
func FormatDollars(d float64) string {
	if d > 0 && d < 0.005 {
		return "< $0.01"
	}
	return fmt.Sprintf("$%.2f", d)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
