// Package plan decides which business day a workflow run aggregates. A crawler-success event
// (or a schedule) means "yesterday" in the business time zone; an explicit request names the day.
// Later steps add the KPI dependency waves for that day.
package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// EnvTimeZone is the environment variable that carries the business time zone (IANA name).
const EnvTimeZone = "BUSINESS_TIME_ZONE"

// Request is what the workflow passes in: either an EventBridge event (its "time" is set) or a
// manual run that names the day.
type Request struct {
	// Date is the business day to aggregate, YYYY-MM-DD. It wins over Time.
	Date string `json:"date,omitempty"`
	// Time is the EventBridge event time (RFC 3339); the day before it, in the business time
	// zone, is aggregated.
	Time string `json:"time,omitempty"`
	// DetailType is the EventBridge detail-type, kept for the logs.
	DetailType string `json:"detail-type,omitempty"`
	// KPIs limits a manual run to these KPIs and everything downstream of them. Default: all.
	KPIs []string `json:"kpis,omitempty"`
}

// Plan is the day a run works on.
type Plan struct {
	// Date is the business day, YYYY-MM-DD.
	Date string `json:"date"`
	// Trigger says where the day came from: "manual" or "event".
	Trigger string `json:"trigger"`
	// Waves are the KPIs to aggregate, in dependency order: every KPI of a wave depends only on
	// KPIs of earlier waves, so a wave's KPIs can run in parallel. Empty without a Planner.
	Waves [][]string `json:"waves,omitempty"`
}

// Planner orders KPIs into dependency waves (queries.Catalog does).
type Planner interface {
	Waves(kpis []string) ([][]string, error)
}

// Handler resolves requests against one business time zone.
type Handler struct {
	loc     *time.Location
	log     *slog.Logger
	planner Planner
}

// NewHandler returns a Handler for the business time zone loc. With a planner, plans carry the
// KPI waves; without one (nil), only the day.
func NewHandler(loc *time.Location, log *slog.Logger, planner Planner) *Handler {
	return &Handler{loc: loc, log: log, planner: planner}
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
	h.log.InfoContext(ctx, "plan", "date", p.Date, "trigger", p.Trigger, "detail_type", req.DetailType)
	return p, nil
}

func (h *Handler) resolve(req Request) (Plan, error) {
	p, err := h.day(req)
	if err != nil || h.planner == nil {
		return p, err
	}
	if p.Waves, err = h.planner.Waves(req.KPIs); err != nil {
		return Plan{}, &InputError{fmt.Errorf("field \"kpis\": %w", err)}
	}
	return p, nil
}

func (h *Handler) day(req Request) (Plan, error) {
	switch {
	case req.Date != "":
		d, err := layout.ParseDay(req.Date)
		if err != nil {
			return Plan{}, &InputError{fmt.Errorf("field \"date\": %w", err)}
		}
		return Plan{Date: d.String(), Trigger: "manual"}, nil
	case req.Time != "":
		t, err := time.Parse(time.RFC3339, req.Time)
		if err != nil {
			return Plan{}, &InputError{fmt.Errorf("field \"time\": %q is not an RFC 3339 time such as \"2026-11-25T01:30:00Z\"", req.Time)}
		}
		return Plan{Date: layout.DayOf(t, h.loc).AddDays(-1).String(), Trigger: "event"}, nil
	default:
		return Plan{}, &InputError{errors.New(`give "date" (YYYY-MM-DD) for a manual run, or pass the EventBridge event (with its "time")`)}
	}
}
