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
	lake := func(env map[string]string) map[string]string {
		env[plan.EnvRawBucket], env[plan.EnvDatabase] = "raw-bucket", "kpilake_dev"
		if _, ok := env[plan.EnvLogLateness]; !ok {
			env[plan.EnvLogLateness] = "30m"
		}
		return env
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for success
	}{
		{"time zone and the crawlers of every source", lake(map[string]string{plan.EnvTimeZone: "Asia/Tokyo", plan.EnvCrawlers: both}), ""},
		{"a lookback", lake(map[string]string{plan.EnvTimeZone: "Asia/Tokyo", plan.EnvCrawlers: both, plan.EnvLookbackDays: "7"}), ""},
		{"crawlers without the lake to read", map[string]string{plan.EnvTimeZone: "Asia/Tokyo", plan.EnvCrawlers: both},
			plan.EnvRawBucket + " is not set"},
		{"a lookback that is not a number", lake(map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: both, plan.EnvLookbackDays: "a month"}),
			plan.EnvLookbackDays + ` is "a month"`},
		{"a lookback beyond the bound", lake(map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: both, plan.EnvLookbackDays: "400"}),
			plan.EnvLookbackDays + " is 400; give 1 to 92 days"},
		{"an empty log lateness", lake(map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: both, plan.EnvLogLateness: ""}),
			plan.EnvLogLateness + ` is ""`},
		{"no log lateness, with KPIs that read the logs by event time", map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: both,
			plan.EnvRawBucket: "raw-bucket", plan.EnvDatabase: "kpilake_dev"}, plan.EnvLogLateness + " is not set, and KPIs read log streams by event time"},
		{"a log lateness of a day", lake(map[string]string{plan.EnvTimeZone: "UTC", plan.EnvCrawlers: both, plan.EnvLogLateness: "24h"}),
			plan.EnvLogLateness + ` is "24h"; give a duration under a day`},
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
			h, err := newHandler(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)), func(k string) (string, bool) {
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

// The handler built from the environment plans a manual run of every KPI.
func TestNewHandler_PlansAManualRunOfEveryKPI(t *testing.T) {
	h, err := newHandler(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)), func(k string) (string, bool) {
		v, ok := map[string]string{plan.EnvTimeZone: "Asia/Tokyo", plan.EnvCrawlers: `{"c-social": ["social/"], "c-logs": ["app_logs/"]}`,
			plan.EnvRawBucket: "raw-bucket", plan.EnvDatabase: "kpilake_dev", plan.EnvLogLateness: "30m"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Handle(context.Background(), plan.Request{Date: "2026-11-24"})
	if err != nil || len(p.Days) != 1 || len(p.Days[0].Waves) == 0 {
		t.Errorf("plan %+v, %v; want the day with every KPI", p, err)
	}
}
