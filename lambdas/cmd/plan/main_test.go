package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/lambdas/plan"
)

func TestNewHandler_ValidatesTheConfigurationAtStartUp(t *testing.T) {
	const both = `{"c-social": ["social/"], "c-logs": ["app_logs/"]}`
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for success
	}{
		{"time zone and the crawlers of every source", map[string]string{plan.EnvTimeZone: "Asia/Tokyo", plan.EnvCrawlers: both}, ""},
		{"no crawlers (a stack without aggregation)", map[string]string{plan.EnvTimeZone: "Asia/Tokyo"}, ""},
		{"no time zone", map[string]string{plan.EnvCrawlers: both}, plan.EnvTimeZone + " must be an IANA time zone"},
		{"time zone that is not IANA", map[string]string{plan.EnvTimeZone: "JST", plan.EnvCrawlers: both}, `is "JST"`},
		{"crawlers that are not JSON", map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: "social/"}, plan.EnvCrawlers + " is not a JSON object"},
		{"crawlers set but empty", map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: ""}, plan.EnvCrawlers},
		{"no crawler of the log streams", map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: `{"c-social": ["social/"]}`},
			`reads app_logs.web_access (raw folder app_logs/web_access/), which no crawler of ` + plan.EnvCrawlers + ` catalogues`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := newHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)), func(k string) (string, bool) {
				v, ok := tt.env[k]
				return v, ok
			})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("newHandler: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("newHandler = %v, want a config error containing %q", err, tt.want)
			}
			if h != nil {
				t.Errorf("newHandler returned a handler along with the error")
			}
		})
	}
}

// The handler built from the environment plans a crawler's event from the crawler names given.
func TestNewHandler_PlansTheEventsOfTheConfiguredCrawlers(t *testing.T) {
	h, err := newHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)), func(k string) (string, bool) {
		return map[string]string{plan.EnvTimeZone: "Asia/Tokyo", plan.EnvCrawlers: `{"c-social": ["social/"], "c-logs": ["app_logs/"]}`}[k], true
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, crawler := range []string{"c-social", "c-logs"} {
		p, err := h.Handle(context.Background(), plan.Request{Time: "2026-11-24T15:40:00Z", DetailType: plan.CrawlerEventDetailType,
			Detail: plan.Detail{CrawlerName: crawler}})
		if err != nil || p.Crawler != crawler || len(p.Waves) == 0 {
			t.Errorf("crawler %s: plan %+v, %v; want its KPIs", crawler, p, err)
		}
	}
}
