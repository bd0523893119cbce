package tracing_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/lambdas/tracing"
)

// TestBackend_NotraceBuildLinksNoXRay checks what the cold-start benchmark compares: the
// functions link the X-Ray SDK by default, and not at all with the tag kpilake_notrace.
func TestBackend_NotraceBuildLinksNoXRay(t *testing.T) {
	for _, c := range []struct {
		tags      string
		wantXRay  bool
		functions []string
	}{
		{"lambda.norpc", true, []string{"../cmd/aggregate", "../cmd/backfill", "../cmd/extract"}},
		{"lambda.norpc,kpilake_notrace", false, []string{"../cmd/aggregate", "../cmd/backfill", "../cmd/extract"}},
	} {
		for _, fn := range c.functions {
			out, err := exec.Command("go", "list", "-tags", c.tags, "-deps", fn).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -tags %s -deps %s: %v\n%s", c.tags, fn, err, out)
			}
			if got := strings.Contains(string(out), "github.com/aws/aws-xray-sdk-go/xray\n"); got != c.wantXRay {
				t.Errorf("%s built with -tags %s links the X-Ray SDK: %t, want %t", fn, c.tags, got, c.wantXRay)
			}
		}
	}
}

type ctxKey struct{}

func TestNone_RecordsNothing(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "kept")
	got, end := tracing.None{}.Start(ctx, "ctas", map[string]string{"kpi": "engagement_score"})
	if got != ctx {
		t.Errorf("None.Start changed the context")
	}
	end(nil, map[string]any{"bytes_scanned": 1}, nil) // must not panic
}
