package ctas

import (
	"strings"
	"testing"
	"time"
)

func TestNew_ListsEveryConfigProblem(t *testing.T) {
	_, err := New(&faultyAthena{}, &faultyGlue{}, nil, Config{Database: "Bad-DB", AggregatedBucket: "s3://b", StopMargin: -1})
	if err == nil {
		t.Fatal("New accepted an invalid config")
	}
	for _, want := range []string{"Database", "Workgroup", "AggregatedBucket", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestNew_AcceptsResultSettingsOnlyInPairs(t *testing.T) {
	const (
		loc = "s3://query-results-1/athena/"
		key = "arn:aws:kms:ap-northeast-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000000"
	)
	for _, tc := range []struct {
		name          string
		location, key string
		want          string // "" if valid
	}{
		{name: "neither"},
		{name: "both", location: loc, key: key},
		{name: "location without key", location: loc, want: "ResultKMSKey"},
		{name: "key without location", key: key, want: "ResultLocation"},
		{name: "location without trailing slash", location: "s3://query-results-1/athena", key: key, want: "ResultLocation"},
		{name: "bucket name, not a location", location: "query-results-1", key: key, want: "ResultLocation"},
		{name: "key id, not an ARN", location: loc, key: "0a1b2c3d-0000-4000-8000-000000000000", want: "ResultKMSKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&faultyAthena{}, &faultyGlue{}, &nopS3{}, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket",
				ResultLocation: tc.location, ResultKMSKey: tc.key})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestNew_RefusesAStaleTempAgeARunCanReach(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{0, true}, {MinStaleTempAfter, true}, {2 * time.Hour, true}, {15 * time.Minute, false}, {-time.Hour, false}} {
		_, err := New(&faultyAthena{}, &faultyGlue{}, &nopS3{}, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket",
			StaleTempAfter: tc.after})
		if tc.ok != (err == nil) {
			t.Errorf("StaleTempAfter %v: New error = %v, want ok %t", tc.after, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "StaleTempAfter") {
			t.Errorf("StaleTempAfter %v: error %q does not name StaleTempAfter", tc.after, err)
		}
	}
}

func TestNew_RefusesAGraceShorterThanAQueryOrTheStaleTempAge(t *testing.T) {
	for _, tc := range []struct {
		grace, stale time.Duration
		ok           bool
	}{
		{0, 0, true}, {MinSupersededGrace, 0, true}, {MinSupersededGrace - time.Minute, 0, false},
		{2 * time.Hour, 3 * time.Hour, false}, {3 * time.Hour, 3 * time.Hour, true}, {-time.Hour, 0, false},
	} {
		_, err := New(&faultyAthena{}, &faultyGlue{}, &nopS3{}, Config{Database: "db", Workgroup: "wg", AggregatedBucket: "bucket",
			SupersededGrace: tc.grace, StaleTempAfter: tc.stale})
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "SupersededGrace")) {
			t.Errorf("SupersededGrace %v, StaleTempAfter %v: New error = %v, want ok %t and an error naming SupersededGrace", tc.grace, tc.stale, err, tc.ok)
		}
	}
}
