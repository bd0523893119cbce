package startup

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/tracing"
)

func TestAggregate(t *testing.T) {
	// LoadDefaultConfig reads these from the process; it makes no calls.
	t.Setenv("AWS_REGION", "ap-northeast-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	full := map[string]string{
		contract.EnvTimeZone:         "Asia/Tokyo",
		contract.EnvDatabase:         "kpilake_dev",
		contract.EnvWorkgroup:        "kpilake-dev-aggregation",
		contract.EnvAggregatedBucket: "example-aggregated",
		contract.EnvResultLocation:   "s3://example-results/aggregation/",
		contract.EnvResultKMSKey:     "arn:aws:kms:ap-northeast-1:111122223333:key/example",
		contract.EnvRawBucket:        "example-raw",
		contract.EnvStateKeys:        `{"social.posts":["id"]}`,
	}
	without := func(drop ...string) map[string]string {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		for _, k := range drop {
			delete(env, k)
		}
		return env
	}
	with := func(k, v string) map[string]string {
		env := without()
		env[k] = v
		return env
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings of the error; none: it starts
	}{
		{name: "complete", env: full},
		// time.LoadLocation("") is UTC, which would aggregate the wrong days without a word.
		{name: "no time zone", env: without(contract.EnvTimeZone),
			wantErr: []string{contract.EnvTimeZone, "IANA time zone", `is ""`}},
		{name: "unknown time zone", env: with(contract.EnvTimeZone, "Asia/Tokio"),
			wantErr: []string{contract.EnvTimeZone, `"Asia/Tokio"`}},
		{name: "runner settings missing", env: without(contract.EnvWorkgroup, contract.EnvResultKMSKey),
			wantErr: []string{contract.EnvWorkgroup, contract.EnvResultKMSKey, "not set"}},
		// The embedded catalog reads the state of social.posts.
		{name: "no raw bucket for the state nodes", env: without(contract.EnvRawBucket),
			wantErr: []string{"state nodes", "state_social_posts", contract.EnvRawBucket}},
		{name: "state keys that do not parse", env: with(contract.EnvStateKeys, `{"posts":["id"]}`),
			wantErr: []string{contract.EnvStateKeys, `"posts" is not <source>.<table>`}},
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Aggregate(context.Background(), func(k string) string { return c.env[k] }, log)
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if a.Handler == nil || a.KPIs == nil || a.AWS.Region != "ap-northeast-1" {
					t.Fatalf("incomplete wiring: %+v", a)
				}
				_, untraced := any(tracing.Backend{}).(tracing.None) // the kpilake_notrace build
				if !untraced && len(a.AWS.APIOptions) == 0 {
					t.Error("the AWS configuration is not instrumented for tracing")
				}
				return
			}
			if err == nil {
				t.Fatal("started with a bad environment")
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSweep(t *testing.T) {
	t.Setenv("AWS_REGION", "ap-northeast-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	env := map[string]string{
		contract.EnvDatabase:         "kpilake_dev",
		contract.EnvWorkgroup:        "kpilake-dev-aggregation",
		contract.EnvAggregatedBucket: "example-aggregated",
		contract.EnvResultLocation:   "s3://example-results/aggregation/",
		contract.EnvResultKMSKey:     "arn:aws:kms:ap-northeast-1:111122223333:key/example",
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, c := range []struct {
		name    string
		grace   string
		wantErr string
	}{
		{name: "default grace"},
		{name: "a grace shorter than a query", grace: "10m", wantErr: "SupersededGrace"},
		{name: "a grace that is no duration", grace: "6", wantErr: contract.EnvSupersededGrace},
	} {
		t.Run(c.name, func(t *testing.T) {
			env[contract.EnvSupersededGrace] = c.grace
			h, err := Sweep(context.Background(), func(k string) string { return env[k] }, log)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Sweep error = %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// An unknown KPI is refused before any AWS call.
			if _, err := h(context.Background(), SweepRequest{KPIs: []string{"no_such_kpi"}}); err == nil || !strings.Contains(err.Error(), "unknown KPI") {
				t.Errorf("handler error = %v, want an unknown KPI", err)
			}
		})
	}
}
