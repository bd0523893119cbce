package config_test

import (
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/config"
)

// sourceWithSchedule is a minimal valid source whose schedule is expr.
func sourceWithSchedule(expr string) string {
	return dev(region + `, "sources": [{"name": "social", "engine": "mysql",
		"secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf",
		"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"],
		"schedule": "` + expr + `", "tables": [{"name": "users"}]}]`)
}

func TestParse_AcceptsEveryEventBridgeCronForm(t *testing.T) {
	for _, expr := range []string{
		"cron(0 2 * * ? *)",
		"cron(30 1 * * ? *)",
		"cron(59 23 31 12 ? 2199)",
		"cron(0/15 * * * ? *)",
		"cron(0,30 8-18 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)",
		"cron(0 9 ? * 6L *)",
		"cron(0 9 L * ? *)",
		"cron(0 9 15W * ? *)",
		"cron(0 9 LW * ? *)",
		"cron(0 9 1 jan,jul ? 2026-2030)",
		"cron(0 9 ? * SUN *)",
	} {
		t.Run(expr, func(t *testing.T) {
			cfg := mustParse(t, sourceWithSchedule(expr))
			if got := cfg.Environments["dev"].Sources[0].Schedule; got != expr {
				t.Errorf("schedule = %q, want %q", got, expr)
			}
		})
	}
}

// TestParse_FailsOnCronThatSchedulerRejects: each expression here passed a six-field check and
// would have failed only at deploy time.
func TestParse_FailsOnCronThatSchedulerRejects(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"cron(99 99 * * ? *)", `minutes field "99": 99 is out of range 0-59`},
		{"cron(0 24 * * ? *)", `hours field "24": 24 is out of range 0-23`},
		{"cron(0 2 0 * ? *)", `day-of-month field "0": 0 is out of range 1-31`},
		{"cron(0 2 32 * ? *)", `day-of-month field "32"`},
		{"cron(0 2 * 13 ? *)", `month field "13": 13 is out of range 1-12`},
		{"cron(0 2 ? * 8 *)", `day-of-week field "8": 8 is out of range 1-7`},
		{"cron(0 2 ? * FRX *)", `day-of-week field "FRX"`},
		{"cron(0 2 * * ? 1969)", `year field "1969": 1969 is out of range 1970-2199`},
		{"cron(0 2 * * * *)", "exactly one of day-of-month"},
		{"cron(0 2 ? * ? *)", "exactly one of day-of-month"},
		{"cron(0 2 1 * MON *)", "exactly one of day-of-month"},
		{"cron(? 2 * * ? *)", `minutes field "?": '?' is allowed only in day-of-month and day-of-week`},
		{"cron(0/0 2 * * ? *)", `minutes field "0/0": step "0"`},
		{"cron(0 2 * * ? 2026,)", `year field "2026,": has an empty list item`},
		{"cron(0 2 ? * 1#6 *)", `the n of day#n must be 1 to 5`},
		{"cron(0 2 L * L *)", "exactly one of day-of-month"},
		{"cron(0 2 * * ?)", "is not cron(minutes hours day-of-month month day-of-week year)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got := problems(t, sourceWithSchedule(tt.expr))
			if len(got) != 1 {
				t.Fatalf("got %d problems, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			const key = "kpilake.environments.dev.sources[0].schedule: "
			if !strings.HasPrefix(got[0], key) || !strings.Contains(got[0], tt.want) || !strings.Contains(got[0], config.DefaultSchedule) {
				t.Errorf("problem %q, want it to start with %q, contain %q and the example %s", got[0], key, tt.want, config.DefaultSchedule)
			}
		})
	}
}
