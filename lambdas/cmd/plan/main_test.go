package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/plan"
)

func TestNewHandler_ValidatesTheConfigurationAtStartUp(t *testing.T) {
	const both = `{"c-social": ["social/"], "c-logs": ["app_logs/"]}`
	lake := func(env map[string]string) map[string]string {
		env[contract.EnvRawBucket], env[contract.EnvDatabase] = "raw-bucket", "kpilake_dev"
		if _, ok := env[contract.EnvLogLateness]; !ok {
			env[contract.EnvLogLateness] = "30m"
		}
		return env
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for success
	}{
		{"time zone and the crawlers of every source", lake(map[string]string{contract.EnvTimeZone: "Asia/Tokyo", contract.EnvCrawlers: both}), ""},
		{"a lookback", lake(map[string]string{contract.EnvTimeZone: "Asia/Tokyo", contract.EnvCrawlers: both, contract.EnvLookbackDays: "7"}), ""},
		{"crawlers without the lake to read", map[string]string{contract.EnvTimeZone: "Asia/Tokyo", contract.EnvCrawlers: both},
			contract.EnvRawBucket + " is not set"},
		{"a lookback that is not a number", lake(map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: both, contract.EnvLookbackDays: "a month"}),
			contract.EnvLookbackDays + ` is "a month"`},
		{"a lookback beyond the bound", lake(map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: both, contract.EnvLookbackDays: "400"}),
			contract.EnvLookbackDays + " is 400; give 1 to 92 days"},
		{"an empty log lateness", lake(map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: both, contract.EnvLogLateness: ""}),
			contract.EnvLogLateness + ` is ""`},
		{"no log lateness, with KPIs that read the logs by event time", map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: both,
			contract.EnvRawBucket: "raw-bucket", contract.EnvDatabase: "kpilake_dev"}, contract.EnvLogLateness + " is not set, and KPIs read log streams by event time"},
		{"a log lateness of a day", lake(map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: both, contract.EnvLogLateness: "24h"}),
			contract.EnvLogLateness + ` is "24h"; give a duration under a day`},
		{"no crawlers (a stack without aggregation)", map[string]string{contract.EnvTimeZone: "Asia/Tokyo"}, ""},
		{"no time zone", map[string]string{contract.EnvCrawlers: both}, contract.EnvTimeZone + " must be an IANA time zone"},
		{"time zone that is not IANA", map[string]string{contract.EnvTimeZone: "JST", contract.EnvCrawlers: both}, `is "JST"`},
		{"crawlers that are not JSON", map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: "social/"}, contract.EnvCrawlers + " is not a JSON object"},
		{"crawlers set but empty", map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: ""}, contract.EnvCrawlers},
		{"no crawler of the log streams", map[string]string{contract.EnvTimeZone: "UTC", contract.EnvCrawlers: `{"c-social": ["social/"]}`},
			`reads app_logs.web_access (raw folder app_logs/web_access/), which no crawler of ` + contract.EnvCrawlers + ` catalogues`},
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
		v, ok := map[string]string{contract.EnvTimeZone: "Asia/Tokyo", contract.EnvCrawlers: `{"c-social": ["social/"], "c-logs": ["app_logs/"]}`,
			contract.EnvRawBucket: "raw-bucket", contract.EnvDatabase: "kpilake_dev", contract.EnvLogLateness: "30m"}[k]
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
