package plan

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// testCatalog is a small fixed catalog (testdata/catalog), so plans do not change when the
// real KPIs do:
//
//	daily_users   app_logs.web_access
//	weekly_users  app_logs.web_access over 7 days
//	posts         social.posts, social.users
//	posts_per_user depends on daily_users and posts; social.departments
func testCatalog(t *testing.T) *queries.Catalog {
	t.Helper()
	cat, err := queries.Parse(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func day(t *testing.T, s string) layout.Day {
	t.Helper()
	d, err := layout.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNew_RejectsBadRequestsNamingTheFlag(t *testing.T) {
	cat := testCatalog(t)
	today := day(t, "2026-11-25")
	tests := []struct {
		name string
		req  Request
		want []string // substrings of the error, in order
	}{
		{
			name: "from is not a date",
			req:  Request{From: "2026-11-31", To: "2026-12-01"},
			want: []string{`--from: date "2026-11-31" is not a day in the form YYYY-MM-DD`},
		},
		{
			name: "to is not a date",
			req:  Request{From: "2026-11-01", To: "11/30/2026"},
			want: []string{`--to: date "11/30/2026" is not a day in the form YYYY-MM-DD`},
		},
		{
			name: "from after to",
			req:  Request{From: "2026-11-30", To: "2026-11-01"},
			want: []string{"--from 2026-11-30 is after --to 2026-11-01; swap them"},
		},
		{
			name: "more days than the environment allows",
			req:  Request{Env: "dev", From: "2026-01-01", To: "2026-11-01", MaxDays: 100},
			want: []string{"--from 2026-01-01 --to 2026-11-01 spans 305 days; environment dev allows at most 100 per request (backfill.maxDays in cdk.json): split the range"},
		},
		{
			name: "days after today",
			req:  Request{From: "2026-11-20", To: "2026-11-26", Today: today, TimeZone: "Asia/Tokyo"},
			want: []string{"--to 2026-11-26 is after today (2026-11-25 in Asia/Tokyo): its raw data does not exist yet"},
		},
		{
			name: "unknown KPIs, listing the catalog",
			req:  Request{From: "2026-11-01", To: "2026-11-02", KPIs: []string{"posts", "dau", "wau"}},
			want: []string{`--kpi: unknown KPI "dau", "wau"; the catalog has daily_users, posts, posts_per_user, weekly_users`},
		},
		{
			name: "every problem at once",
			req:  Request{From: "yesterday", To: "2026-11-02", KPIs: []string{"dau"}},
			want: []string{`--from: date "yesterday"`, `--kpi: unknown KPI "dau"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(cat, tt.req)
			if err == nil {
				t.Fatal("New accepted the request")
			}
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not say\n%s", err, w)
				}
				msg = msg[i+len(w):]
			}
		})
	}
}

func TestNew_AcceptsTheLongestRangeAndToday(t *testing.T) {
	p, err := New(testCatalog(t), Request{From: "2026-11-16", To: "2026-11-25", MaxDays: 10, Today: day(t, "2026-11-25")})
	if err != nil {
		t.Fatal(err)
	}
	if p.DayCount() != 10 {
		t.Errorf("DayCount = %d, want 10", p.DayCount())
	}
}

func TestNew_AddsDependentsInWaves(t *testing.T) {
	tests := []struct {
		kpis      []string
		wantKPIs  []string
		wantWaves [][]string
	}{
		{nil, nil, [][]string{{"daily_users", "posts", "weekly_users"}, {"posts_per_user"}}},
		{[]string{"posts", " posts", "daily_users"}, []string{"daily_users", "posts"}, [][]string{{"daily_users", "posts"}, {"posts_per_user"}}},
		{[]string{"weekly_users"}, []string{"weekly_users"}, [][]string{{"weekly_users"}}},
	}
	for _, tt := range tests {
		p, err := New(testCatalog(t), Request{From: "2026-11-01", To: "2026-11-01", KPIs: tt.kpis})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.wantKPIs, p.KPIs); diff != "" {
			t.Errorf("KPIs %q (-want +got):\n%s", tt.kpis, diff)
		}
		if diff := cmp.Diff(tt.wantWaves, p.Waves); diff != "" {
			t.Errorf("waves of %q (-want +got):\n%s", tt.kpis, diff)
		}
	}
}

func TestPlan_JobsAreOnePerDayAndParse(t *testing.T) {
	cat := testCatalog(t)
	p, err := New(cat, Request{From: "2026-02-27", To: "2026-03-02", KPIs: []string{"posts"}})
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, j := range p.Jobs("bf-1") {
		body, err := j.Body()
		if err != nil {
			t.Fatal(err)
		}
		got, _, waves, err := backfill.ParseJob([]byte(body), cat)
		if err != nil {
			t.Fatalf("the worker rejects %s: %v", body, err)
		}
		if got.RequestID != "bf-1" || !cmp.Equal(waves, p.Waves) {
			t.Errorf("job %s: request %q, waves %v; want bf-1, %v", body, got.RequestID, waves, p.Waves)
		}
		dates = append(dates, got.Date)
	}
	if diff := cmp.Diff([]string{"2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"}, dates); diff != "" {
		t.Errorf("job dates (-want +got):\n%s", diff)
	}
}

func TestDaysBetween(t *testing.T) {
	tests := []struct {
		from, to string
		want     int
	}{
		{"2026-11-01", "2026-11-01", 1},
		{"2026-11-01", "2026-11-30", 30},
		{"2024-01-01", "2026-12-31", 1096}, // the default maximum: three years with a leap day
		{"2026-03-28", "2026-03-30", 3},    // a DST change elsewhere does not matter: days are dates
		{"2026-11-02", "2026-11-01", 0},
	}
	for _, tt := range tests {
		if got := DaysBetween(day(t, tt.from), day(t, tt.to)); got != tt.want {
			t.Errorf("DaysBetween(%s, %s) = %d, want %d", tt.from, tt.to, got, tt.want)
		}
	}
}
