package backfill_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/queries"
)

func catalog(t *testing.T) *queries.Catalog {
	t.Helper()
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	return kpis
}

// The embedded catalog's waves: three independent KPIs and the state of social.posts, then
// engagement_score on top of two of the KPIs and reactions_given_received on top of the state.
var (
	allWaves = [][]string{
		{"active_users_by_department", "department_activity", "state_social_posts", "weekly_active_users_by_department"},
		{"engagement_score", "reactions_given_received"},
	}
	allKPIs = []string{"active_users_by_department", "department_activity", "state_social_posts",
		"weekly_active_users_by_department", "engagement_score", "reactions_given_received"}
)

func TestParseJob_AcceptsAJobAndPlansItsWaves(t *testing.T) {
	kpis := catalog(t)
	for _, tc := range []struct {
		name  string
		body  string
		want  backfill.Job
		waves [][]string
	}{
		{"whole catalog", `{"request_id": "bf-20261125.1", "date": "2026-11-24"}`,
			backfill.Job{RequestID: "bf-20261125.1", Date: "2026-11-24"}, allWaves},
		{"empty KPI list", `{"request_id": "r", "date": "2026-11-24", "kpis": []}`,
			backfill.Job{RequestID: "r", Date: "2026-11-24", KPIs: []string{}}, allWaves},
		{"one KPI and its dependents", `{"request_id": "r", "date": "2024-02-29", "kpis": ["department_activity"]}`,
			backfill.Job{RequestID: "r", Date: "2024-02-29", KPIs: []string{"department_activity"}},
			[][]string{{"department_activity"}, {"engagement_score"}}},
		{"a leaf KPI alone", "\n {\"request_id\": \"r\", \"date\": \"2026-11-24\", \"kpis\": [\"engagement_score\"]} \n",
			backfill.Job{RequestID: "r", Date: "2026-11-24", KPIs: []string{"engagement_score"}}, [][]string{{"engagement_score"}}},
		// The rest of a job, handed on: what it depends on outside the list is published already.
		{"a continuation", `{"request_id": "r", "date": "2026-11-24", "kpis": ["weekly_active_users_by_department", "engagement_score"], "continuation": 2}`,
			backfill.Job{RequestID: "r", Date: "2026-11-24", KPIs: []string{"weekly_active_users_by_department", "engagement_score"}, Continuation: 2},
			[][]string{{"engagement_score", "weekly_active_users_by_department"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, day, waves, err := backfill.ParseJob([]byte(tc.body), kpis)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, job); diff != "" {
				t.Errorf("job (-want +got):\n%s", diff)
			}
			if day.String() != tc.want.Date {
				t.Errorf("day %s, want %s", day, tc.want.Date)
			}
			if diff := cmp.Diff(tc.waves, waves); diff != "" {
				t.Errorf("waves (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseJob_NamesTheFieldOfAMalformedJob(t *testing.T) {
	kpis := catalog(t)
	for _, tc := range []struct {
		name string
		body string
		want []string // substrings of the error
	}{
		{"empty body", ``, []string{"body is not a job", `"request_id"`, `"date": "YYYY-MM-DD"`}},
		{"not JSON", `backfill 2026-11-24`, []string{"body is not a job", "invalid character"}},
		{"not an object", `["2026-11-24"]`, []string{"body is not a job"}},
		{"JSON null", `null`, []string{`field "request_id" is empty`}},
		{"unknown field", `{"request_id": "r", "date": "2026-11-24", "kpi": ["engagement_score"]}`, []string{"body is not a job", `unknown field "kpi"`}},
		{"kpis not a list", `{"request_id": "r", "date": "2026-11-24", "kpis": "engagement_score"}`, []string{"body is not a job", "kpis"}},
		{"two jobs", `{"request_id": "r", "date": "2026-11-24"} {"request_id": "r", "date": "2026-11-25"}`, []string{"more than one JSON value"}},
		{"trailing bracket", `{"request_id": "r", "date": "2026-11-24"}]`, []string{"more than one JSON value"}},
		{"trailing brace", `{"request_id": "r", "date": "2026-11-24"}}`, []string{"more than one JSON value"}},
		{"truncated", `{"request_id": "r", "date": "2026-11-24"`, []string{"body is not a job", "unexpected EOF"}},
		{"no request id", `{"date": "2026-11-24"}`, []string{`field "request_id" is empty`}},
		{"empty request id", `{"request_id": "", "date": "2026-11-24"}`, []string{`field "request_id" is empty`}},
		{"long request id", `{"request_id": "` + strings.Repeat("r", 129) + `", "date": "2026-11-24"}`, []string{`field "request_id" is 129 bytes long; use at most 128`}},
		{"request id with a space", `{"request_id": "my backfill", "date": "2026-11-24"}`, []string{`field "request_id" "my backfill" may hold only`}},
		{"request id with a quote", `{"request_id": "a\"b", "date": "2026-11-24"}`, []string{`field "request_id"`, "may hold only"}},
		{"no date", `{"request_id": "r"}`, []string{`field "date"`, "YYYY-MM-DD"}},
		{"impossible date", `{"request_id": "r", "date": "2026-02-30"}`, []string{`field "date"`, `"2026-02-30"`}},
		{"date with a time", `{"request_id": "r", "date": "2026-11-24T00:00:00Z"}`, []string{`field "date"`}},
		{"date as a number", `{"request_id": "r", "date": 20261124}`, []string{"body is not a job", "date"}},
		{"unknown KPI", `{"request_id": "r", "date": "2026-11-24", "kpis": ["engagement_score", "nope"]}`, []string{`field "kpis"`, `unknown KPI "nope"`, "active_users_by_department"}},
		{"KPI in the wrong case", `{"request_id": "r", "date": "2026-11-24", "kpis": ["Engagement_Score"]}`, []string{`field "kpis"`, `"Engagement_Score"`}},
		{"negative continuation", `{"request_id": "r", "date": "2026-11-24", "continuation": -1}`, []string{`field "continuation" is -1`}},
		// encoding/json takes the last of two equal keys and matches keys in any case: a job is
		// what it says once, in the CLI's spelling, or it is malformed.
		{"date given twice", `{"request_id": "r", "date": "2026-11-24", "date": "9999-12-31"}`, []string{`key "date" appears twice`}},
		{"key in another case", `{"request_id": "r", "Date": "2026-11-24"}`, []string{`key "Date"`, `"date"`}},
		{"request id in another case", `{"REQUEST_ID": "r", "date": "2026-11-24"}`, []string{`key "REQUEST_ID"`, `"request_id"`}},
		{"continuation not a number", `{"request_id": "r", "date": "2026-11-24", "continuation": "1"}`, []string{"body is not a job", "continuation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, waves, err := backfill.ParseJob([]byte(tc.body), kpis)
			var bad *backfill.MalformedError
			if !errors.As(err, &bad) {
				t.Fatalf("error = %v, want a *MalformedError", err)
			}
			if waves != nil {
				t.Errorf("waves %v planned for a malformed job", waves)
			}
			if !strings.HasPrefix(err.Error(), "malformed backfill job: ") {
				t.Errorf("error %q does not say the job is malformed", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestJobBody_RoundTripsThroughParseJob(t *testing.T) {
	kpis := catalog(t)
	for _, job := range []backfill.Job{
		{RequestID: "bf-1", Date: "2026-11-24"},
		{RequestID: "bf-1", Date: "2026-11-24", KPIs: []string{"department_activity", "engagement_score"}},
		{RequestID: "bf-1", Date: "2026-11-24", KPIs: []string{"engagement_score"}, Continuation: 3},
	} {
		body, err := job.Body()
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, err := backfill.ParseJob([]byte(body), kpis)
		if err != nil {
			t.Fatalf("ParseJob(%s): %v", body, err)
		}
		if diff := cmp.Diff(job, got); diff != "" {
			t.Errorf("job (-want +got):\n%s", diff)
		}
	}
	// A job the CLI sends is the format a worker of before continuations reads.
	if body, _ := (backfill.Job{RequestID: "r", Date: "2026-11-24"}).Body(); body != `{"request_id":"r","date":"2026-11-24"}` {
		t.Errorf("body %s; want only request_id and date for the whole catalog's first job", body)
	}
}
