// Package plan decides which business days a workflow run aggregates, and which KPIs on each. A
// crawler's event aggregates the days that the data brought, never a day read off the event's
// clock: for the KPIs that read what that crawler catalogues (Triggers) and their dependents,
// every day within the lookback, before the event's business day, that has inputs and no
// publication that reflects them (DueDays). A manual request names its day and KPIs; an event
// that no crawler sent (the extraction's schedule) means the business day before it.
package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// Plan.Trigger values: a run that names its day, or one that an event started.
const (
	TriggerManual = "manual"
	TriggerEvent  = "event"
)

// CrawlerEventDetailType is the EventBridge detail-type of Glue's crawler events.
const CrawlerEventDetailType = "Glue Crawler State Change"

// Request is what the workflow passes in: either an EventBridge event (its "time" is set) or a
// manual run that names the day.
type Request struct {
	// Date is the business day to aggregate, YYYY-MM-DD. It wins over Time.
	Date string `json:"date,omitempty"`
	// Time is the EventBridge event time (RFC 3339). Its business day bounds the days that may be
	// due: never that day itself, whose data is still arriving, nor more than the lookback before.
	Time string `json:"time,omitempty"`
	// DetailType is the EventBridge detail-type; a crawler's event (CrawlerEventDetailType) must
	// name its crawler.
	DetailType string `json:"detail-type,omitempty"`
	// Detail is the part of a crawler event's detail that the plan reads.
	Detail Detail `json:"detail,omitzero"`
	// KPIs limits a manual run to these KPIs and everything downstream of them. Default: all.
	KPIs []string `json:"kpis,omitempty"`
}

// Detail is the detail of a Glue crawler event, as far as the plan reads it.
type Detail struct {
	// CrawlerName is the crawler whose state changed.
	CrawlerName string `json:"crawlerName,omitempty"`
}

// Plan is the days a run works on.
type Plan struct {
	// Date is the run's one day, YYYY-MM-DD, when it has one: a manual run's, or the business day
	// before an event that no crawler sent (the extraction's schedule, which extracts that day).
	// A crawler's event has none: its days are Days.
	Date string `json:"date,omitempty"`
	// Trigger says where the day came from: TriggerManual or TriggerEvent.
	Trigger string `json:"trigger"`
	// Crawler is the crawler whose success started the run, if one did.
	Crawler string `json:"crawler,omitempty"`
	// Crawled are the raw-zone prefixes that Crawler catalogues (null for other runs). The
	// aggregate handler checks that a KPI's other inputs have the day before it runs it, but not
	// the tables under these: the crawl has just brought whatever the day has of them.
	Crawled []string `json:"crawled"`
	// Days are the business days to aggregate, oldest first, so that a KPI that reads earlier
	// days of another (a window) reads them as aggregated by this run. A manual run has one; an
	// event's run has its due days, none when nothing is due. Never null.
	Days []DayPlan `json:"days"`
}

// DayPlan is one business day of a run and its KPIs.
type DayPlan struct {
	// Date is the business day, YYYY-MM-DD.
	Date string `json:"date"`
	// Waves are the KPIs to aggregate, in dependency order: every KPI of a wave depends only on
	// KPIs of earlier waves, so a wave's KPIs can run in parallel. Without a Planner, null.
	Waves [][]string `json:"waves"`
}

// planJSON is a Plan as the workflow receives it: each distinct set of waves once, in Sets, and
// each day the index of its set. The days of a catch-up mostly run the same KPIs, and 500 KPIs
// over 32 days written out per day would pass Step Functions' 256 KB payload; the workflow's day
// map picks a day's waves with States.ArrayGetItem (infra/aggregate).
type planJSON struct {
	Date    string    `json:"date,omitempty"`
	Trigger string    `json:"trigger"`
	Crawler string    `json:"crawler,omitempty"`
	Crawled []string  `json:"crawled"`
	Days    []dayJSON `json:"days"`
	// Sets are the distinct waves of the days, in the order of their first day.
	Sets [][][]string `json:"sets"`
}

type dayJSON struct {
	Date string `json:"date"`
	// Set is the index of the day's waves in Sets.
	Set int `json:"set"`
}

// MarshalJSON writes the plan with each distinct set of waves once (planJSON).
func (p Plan) MarshalJSON() ([]byte, error) {
	out := planJSON{Date: p.Date, Trigger: p.Trigger, Crawler: p.Crawler, Crawled: p.Crawled, Sets: [][][]string{}}
	if p.Days != nil {
		out.Days = make([]dayJSON, 0, len(p.Days))
	}
	index := map[string]int{}
	for _, d := range p.Days {
		key, err := json.Marshal(d.Waves)
		if err != nil {
			return nil, err
		}
		i, ok := index[string(key)]
		if !ok {
			i = len(out.Sets)
			index[string(key)] = i
			out.Sets = append(out.Sets, d.Waves)
		}
		out.Days = append(out.Days, dayJSON{Date: d.Date, Set: i})
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes, giving each day its waves.
func (p *Plan) UnmarshalJSON(data []byte) error {
	var in planJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*p = Plan{Date: in.Date, Trigger: in.Trigger, Crawler: in.Crawler, Crawled: in.Crawled}
	if in.Days != nil {
		p.Days = make([]DayPlan, 0, len(in.Days))
	}
	for _, d := range in.Days {
		if d.Set < 0 || d.Set >= len(in.Sets) {
			return fmt.Errorf("plan: day %s names set %d of %d", d.Date, d.Set, len(in.Sets))
		}
		p.Days = append(p.Days, DayPlan{Date: d.Date, Waves: in.Sets[d.Set]})
	}
	return nil
}

// Planner orders KPIs into dependency waves (queries.Catalog does).
type Planner interface {
	Waves(kpis []string) ([][]string, error)
}

// Handler resolves requests against one business time zone.
type Handler struct {
	loc      *time.Location
	log      *slog.Logger
	planner  Planner
	triggers Triggers
	lake     *Lake
	catalog  Catalog
	metrics  *metrics.EMF
	now      func() time.Time
}

// NewHandler returns a Handler for the business time zone loc. With a planner, plans carry the
// KPI waves; without one (nil), only the day. triggers says which KPIs each crawler's event
// aggregates (NewTriggers); an event of a crawler it does not name is refused.
func NewHandler(loc *time.Location, log *slog.Logger, planner Planner, triggers Triggers) *Handler {
	return &Handler{loc: loc, log: log, planner: planner, triggers: triggers, now: time.Now}
}

// WithLake lets the handler plan events: it reads the lake to find the due days of catalog's KPIs
// (DueDays), and records each considered KPI's unpublished days to m (UnpublishedDays,
// UnpublishedDayAge). Without it, an event is refused. now dates the gaps; nil is time.Now.
func (h *Handler) WithLake(lake *Lake, catalog Catalog, m *metrics.EMF, now func() time.Time) *Handler {
	h.lake, h.catalog, h.planner, h.metrics = lake, catalog, catalog, m
	if now != nil {
		h.now = now
	}
	return h
}

// ErrBadRequest marks requests that no retry can fix.
var ErrBadRequest = contract.ErrBadRequest

// InputError is a request that no retry can fix (contract.InputError); Lambda reports it as
// contract.InputErrorName, so a workflow fails at once instead of retrying.
// errors.Is(err, ErrBadRequest) holds for it.
type InputError = contract.InputError

// Handle returns the plan for one request.
func (h *Handler) Handle(ctx context.Context, req Request) (Plan, error) {
	p, err := h.resolve(ctx, req)
	if err != nil {
		raw, _ := json.Marshal(req)
		h.log.ErrorContext(ctx, "plan rejected", "err", err, "request", string(raw))
		return Plan{}, err
	}
	kpis := 0
	dates := make([]string, len(p.Days))
	for i, d := range p.Days {
		dates[i] = d.Date
		for _, w := range d.Waves {
			kpis += len(w)
		}
	}
	h.log.InfoContext(ctx, "plan", "dates", dates, "trigger", p.Trigger, "detail_type", req.DetailType,
		"crawler", p.Crawler, "kpi_runs", kpis)
	return p, nil
}

func (h *Handler) resolve(ctx context.Context, req Request) (Plan, error) {
	if req.Date != "" {
		d, err := layout.ParseDay(req.Date)
		if err != nil {
			return Plan{}, &InputError{Err: fmt.Errorf("field \"date\": %w", err)}
		}
		day := DayPlan{Date: d.String()}
		if h.planner != nil {
			if day.Waves, err = h.planner.Waves(req.KPIs); err != nil {
				return Plan{}, &InputError{Err: fmt.Errorf("field \"kpis\": %w", err)}
			}
		}
		return Plan{Date: day.Date, Trigger: TriggerManual, Days: []DayPlan{day}}, nil
	}
	if req.Time == "" {
		return Plan{}, &InputError{Err: errors.New(`give "date" (YYYY-MM-DD) for a manual run, or pass the EventBridge event (with its "time")`)}
	}
	at, err := time.Parse(time.RFC3339, req.Time)
	if err != nil {
		return Plan{}, &InputError{Err: fmt.Errorf("field \"time\": %q is not an RFC 3339 time such as \"2026-11-25T01:30:00Z\"", req.Time)}
	}
	today := layout.DayOf(at, h.loc)
	if req.DetailType != CrawlerEventDetailType && req.Detail.CrawlerName == "" {
		// The extraction's schedule: it extracts the day that has just ended.
		day := DayPlan{Date: today.AddDays(-1).String()}
		if h.planner != nil {
			if day.Waves, err = h.planner.Waves(nil); err != nil {
				return Plan{}, fmt.Errorf("plan every KPI: %w", err)
			}
		}
		return Plan{Date: day.Date, Trigger: TriggerEvent, Days: []DayPlan{day}}, nil
	}
	// A crawler's event: only what this crawler brought up to date, and what reads that.
	p := Plan{Trigger: TriggerEvent, Days: []DayPlan{}}
	triggered, err := h.crawled(req.Detail.CrawlerName)
	if err != nil {
		return Plan{}, err
	}
	p.Crawler = req.Detail.CrawlerName
	p.Crawled = h.triggers.Crawlers[p.Crawler]
	if len(triggered) == 0 {
		return p, nil
	}
	if h.lake == nil {
		return Plan{}, &InputError{Err: fmt.Errorf("the plan function cannot plan an event: it has no lake to read (%s, %s); "+
			"deploy the stack again, or run the day by hand with {\"date\": \"YYYY-MM-DD\"}", contract.EnvRawBucket, contract.EnvDatabase)}
	}
	waves, err := h.catalog.Waves(triggered)
	if err != nil {
		return Plan{}, fmt.Errorf("plan the KPIs of crawler %q: %w", p.Crawler, err)
	}
	kpis := slices.Concat(waves...)
	within := Span{From: today.AddDays(-h.lake.lookback), To: today.AddDays(-1)}
	snap, err := h.lake.Read(ctx, h.catalog, kpis, within)
	if err != nil {
		return Plan{}, fmt.Errorf("read what arrived and what was published from %s to %s: %w", within.From, within.To, err)
	}
	snap.At, snap.Location = at, h.loc
	due := DueDays(h.catalog, kpis, snap, within, h.now())
	h.recordGaps(ctx, due.Gaps)
	days := slices.SortedFunc(maps.Keys(due.Days), func(a, b layout.Day) int { return strings.Compare(a.String(), b.String()) })
	for _, d := range days {
		w, err := h.catalog.Waves(due.Days[d])
		if err != nil {
			return Plan{}, fmt.Errorf("plan the KPIs due on %s: %w", d, err)
		}
		p.Days = append(p.Days, DayPlan{Date: d.String(), Waves: w})
	}
	var merged bool
	if p.Days, merged = FitPayload(p, waves, MaxPlanBytes); merged {
		h.log.InfoContext(ctx, "plan merged: every due day runs every KPI of the crawl, so that the plan fits the workflow's payload",
			"days", len(p.Days), "kpis", len(kpis), "limit_bytes", MaxPlanBytes)
	}
	return p, nil
}

// MaxPlanBytes is the most a plan may take of the aggregation workflow's state, which Step
// Functions limits to 256 KB; the rest is the trigger's event and the days' outputs.
const MaxPlanBytes = 192 * 1024

// FitPayload returns p's days as they fit limit bytes of JSON: as they are, or, when the days'
// distinct sets of waves are too many (a catch-up in which each day has other KPIs due), every
// day with all, the waves of every KPI the days draw from. Running a KPI that was not due
// republishes its day from the same inputs: it costs a query, never a wrong number. merged says
// which.
func FitPayload(p Plan, all [][]string, limit int) (days []DayPlan, merged bool) {
	if raw, err := json.Marshal(p); err == nil && len(raw) <= limit {
		return p.Days, false
	}
	days = make([]DayPlan, len(p.Days))
	for i, d := range p.Days {
		days[i] = DayPlan{Date: d.Date, Waves: all}
	}
	return days, true
}

// recordGaps records each KPI's unpublished days and logs those that have any.
func (h *Handler) recordGaps(ctx context.Context, gaps []Gap) {
	for _, g := range gaps {
		if len(g.Days) > 0 {
			days := make([]string, len(g.Days))
			for i, d := range g.Days {
				days[i] = d.String()
			}
			h.log.InfoContext(ctx, "unpublished days", "kpi", g.KPI, "dates", days, "newest_input_age_hours", int(g.Age.Hours()))
		}
		err := h.metrics.Record(map[string]string{metrics.DimKPI: g.KPI}, nil,
			metrics.Value{Name: metrics.UnpublishedDays, Unit: metrics.Count, Value: float64(len(g.Days))},
			metrics.Value{Name: metrics.UnpublishedDayAge, Unit: metrics.Seconds, Value: max(g.Age, 0).Seconds()})
		if err != nil {
			h.log.WarnContext(ctx, "metrics", "err", err)
		}
	}
}

// crawled returns the KPIs that read directly what crawler catalogues.
func (h *Handler) crawled(crawler string) ([]string, error) {
	if crawler == "" {
		return nil, &InputError{Err: fmt.Errorf("field \"detail.crawlerName\" is missing from the %q event; the plan needs it to choose the KPIs", CrawlerEventDetailType)}
	}
	kpis, ok := h.triggers.KPIs[crawler]
	if !ok {
		known := "it knows none: " + contract.EnvCrawlers + " is not set"
		if len(h.triggers.KPIs) > 0 {
			names := make([]string, 0, len(h.triggers.KPIs))
			for n := range h.triggers.KPIs {
				names = append(names, n)
			}
			sort.Strings(names)
			known = "it knows " + strings.Join(names, ", ") + " from " + contract.EnvCrawlers
		}
		return nil, &InputError{Err: fmt.Errorf("field \"detail.crawlerName\": crawler %q is not one the plan knows (%s); "+
			"the aggregation rule and the plan function disagree: deploy the stack again, or run the day by hand with {\"date\": \"YYYY-MM-DD\"}",
			crawler, known)}
	}
	// Possibly none: a crawler whose tables no KPI reads leaves nothing to aggregate.
	return kpis, nil
}
