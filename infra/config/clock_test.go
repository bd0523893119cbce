package config_test

import (
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/config"
)

func TestParseTimeOfDay_RendersTheDailyCron(t *testing.T) {
	tests := []struct {
		in, cron string
	}{
		{"00:00", "cron(0 0 * * ? *)"},
		{"00:30", "cron(30 0 * * ? *)"},
		{"09:05", "cron(5 9 * * ? *)"},
		{"23:59", "cron(59 23 * * ? *)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := config.ParseTimeOfDay(tt.in)
			if err != nil {
				t.Fatalf("ParseTimeOfDay(%q): %v", tt.in, err)
			}
			if got.Cron() != tt.cron || got.String() != tt.in {
				t.Errorf("ParseTimeOfDay(%q) = %v, cron %q; want %s, cron %q", tt.in, got, got.Cron(), tt.in, tt.cron)
			}
		})
	}
}

func TestParseTimeOfDay_RejectsWhatIsNotHHMM(t *testing.T) {
	for _, in := range []string{"", "0:30", "00:3", "24:00", "12:60", "00:30:00", " 00:30", "12h30", "-1:00"} {
		t.Run(in, func(t *testing.T) {
			_, err := config.ParseTimeOfDay(in)
			if err == nil || !strings.Contains(err.Error(), "HH:MM") {
				t.Errorf("ParseTimeOfDay(%q) = %v, want an error saying HH:MM", in, err)
			}
		})
	}
}
