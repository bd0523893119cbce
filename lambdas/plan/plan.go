// Package plan decides which business day a workflow run aggregates, and which KPIs. A
// crawler-success event (or a schedule) means "yesterday" in the business time zone; an explicit
// request names the day. A crawler's event aggregates only the KPIs that read what that crawler
// catalogues (Triggers) and their dependents, in dependency waves; a manual run names its KPIs or
// takes them all.
package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// EnvTimeZone is the environment variable that carries the business time zone (IANA name).
const EnvTimeZone = "BUSINESS_TIME_ZONE"

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
	// Time is the EventBridge event time (RFC 3339); the day before it, in the business time
	// zone, is aggregated.
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

// Plan is the day a run works on.
type Plan struct {
	// Date is the business day, YYYY-MM-DD.
	Date string `json:"date"`
	// Trigger says where the day came from: TriggerManual or TriggerEvent.
	Trigger string `json:"trigger"`
	// Crawler is the crawler whose success started the run, if one did.
	Crawler string `json:"crawler,omitempty"`
	// Crawled are the raw-zone prefixes that Crawler catalogues (null for other runs). The
	// aggregate handler checks that a KPI's other inputs have the day before it runs it, but not
	// the tables under these: the crawl has just brought whatever the day has of them.
	Crawled []string `json:"crawled"`
	// Waves are the KPIs to aggregate, in dependency order: every KPI of a wave depends only on
	// KPIs of earlier waves, so a wave's KPIs can run in parallel. With a Planner it is never
	// null, and empty when a crawler catalogues nothing that a KPI reads; without one, null.
	Waves [][]string `json:"waves"`
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
}

// NewHandler returns a Handler for the business time zone loc. With a planner, plans carry the
// KPI waves; without one (nil), only the day. triggers says which KPIs each crawler's event
// aggregates (NewTriggers); an event of a crawler it does not name is refused.
func NewHandler(loc *time.Location, log *slog.Logger, planner Planner, triggers Triggers) *Handler {
	return &Handler{loc: loc, log: log, planner: planner, triggers: triggers}
}

// ErrBadRequest marks requests that no retry can fix.
var ErrBadRequest = errors.New("bad request")

// InputError is a request that no retry can fix; Lambda reports its type, "InputError", so a
// workflow fails at once instead of retrying. errors.Is(err, ErrBadRequest) holds for it.
type InputError struct{ Err error }

func (e *InputError) Error() string        { return e.Err.Error() }
func (e *InputError) Unwrap() error        { return e.Err }
func (e *InputError) Is(target error) bool { return target == ErrBadRequest }

// Handle returns the plan for one request.
func (h *Handler) Handle(ctx context.Context, req Request) (Plan, error) {
	p, err := h.resolve(req)
	if err != nil {
		raw, _ := json.Marshal(req)
		h.log.ErrorContext(ctx, "plan rejected", "err", err, "request", string(raw))
		return Plan{}, err
	}
	kpis := 0
	for _, w := range p.Waves {
		kpis += len(w)
	}
	h.log.InfoContext(ctx, "plan", "date", p.Date, "trigger", p.Trigger, "detail_type", req.DetailType,
		"crawler", p.Crawler, "kpis", kpis, "waves", len(p.Waves))
	return p, nil
}

func (h *Handler) resolve(req Request) (Plan, error) {
	p, err := h.day(req)
	if err != nil {
		return Plan{}, err
	}
	kpis := req.KPIs
	if p.Trigger == TriggerEvent && (req.DetailType == CrawlerEventDetailType || req.Detail.CrawlerName != "") {
		// Only what this crawler brought up to date, and what reads that.
		if kpis, err = h.crawled(req.Detail.CrawlerName); err != nil {
			return Plan{}, err
		}
		p.Crawler = req.Detail.CrawlerName
		p.Crawled = h.triggers.Crawlers[p.Crawler]
		if len(kpis) == 0 {
			if h.planner != nil {
				p.Waves = [][]string{}
			}
			return p, nil
		}
	}
	if h.planner == nil {
		return p, nil
	}
	if p.Waves, err = h.planner.Waves(kpis); err != nil {
		return Plan{}, &InputError{fmt.Errorf("field \"kpis\": %w", err)}
	}
	return p, nil
}

// crawled returns the KPIs that read directly what crawler catalogues.
func (h *Handler) crawled(crawler string) ([]string, error) {
	if crawler == "" {
		return nil, &InputError{fmt.Errorf("field \"detail.crawlerName\" is missing from the %q event; the plan needs it to choose the KPIs", CrawlerEventDetailType)}
	}
	kpis, ok := h.triggers.KPIs[crawler]
	if !ok {
		known := "it knows none: " + EnvCrawlers + " is not set"
		if len(h.triggers.KPIs) > 0 {
			names := make([]string, 0, len(h.triggers.KPIs))
			for n := range h.triggers.KPIs {
				names = append(names, n)
			}
			sort.Strings(names)
			known = "it knows " + strings.Join(names, ", ") + " from " + EnvCrawlers
		}
		return nil, &InputError{fmt.Errorf("field \"detail.crawlerName\": crawler %q is not one the plan knows (%s); "+
			"the aggregation rule and the plan function disagree: deploy the stack again, or run the day by hand with {\"date\": \"YYYY-MM-DD\"}",
			crawler, known)}
	}
	// Possibly none: a crawler whose tables no KPI reads leaves nothing to aggregate.
	return kpis, nil
}

func (h *Handler) day(req Request) (Plan, error) {
	switch {
	case req.Date != "":
		d, err := layout.ParseDay(req.Date)
		if err != nil {
			return Plan{}, &InputError{fmt.Errorf("field \"date\": %w", err)}
		}
		return Plan{Date: d.String(), Trigger: TriggerManual}, nil
	case req.Time != "":
		t, err := time.Parse(time.RFC3339, req.Time)
		if err != nil {
			return Plan{}, &InputError{fmt.Errorf("field \"time\": %q is not an RFC 3339 time such as \"2026-11-25T01:30:00Z\"", req.Time)}
		}
		return Plan{Date: layout.DayOf(t, h.loc).AddDays(-1).String(), Trigger: TriggerEvent}, nil
	default:
		return Plan{}, &InputError{errors.New(`give "date" (YYYY-MM-DD) for a manual run, or pass the EventBridge event (with its "time")`)}
	}
}
