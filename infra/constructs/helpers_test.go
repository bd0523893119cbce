//go:build !unit

package constructs

import (
	"encoding/json"
	"slices"
	"testing"
)

// moduleRoot is the module's root relative to this package: where lambdas/ lives.
const moduleRoot = "../.."

// businessZone is the time zone of the workflows that the tests build.
const businessZone = "Asia/Tokyo"

// kpis are the KPIs of the workflows that the tests build.
var kpis = []string{"active_users", "posts_per_department", "engagement_score"}

// must returns what get returns, or fails the test with its error.
func must[T any](t *testing.T, get func() (T, error)) T {
	t.Helper()
	v, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sortedLines(lines []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(lines)))
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func ref(logicalID string) map[string]any { return map[string]any{"Ref": logicalID} }

func getAtt(logicalID, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID, attr}}
}
