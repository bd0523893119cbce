package embedded_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/sample"
)

// The Lambdas never link the local run: no package under lambdas/ depends on one under local/.
func TestLambdas_DoNotDependOnLocal(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kpilake/kpilake/lambdas/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/kpilake/kpilake/local/") {
			t.Errorf("a package under lambdas/ depends on %s", pkg)
		}
	}
}

func TestRows_WindowsOnUpdatedAtAndRefusesWhatTheSampleLacks(t *testing.T) {
	ds := sample.Generate(sample.Config{})
	at := embedded.ExtractionTime(ds, ds.Days()[2])
	src, err := embedded.At(ds, at)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := ds.AsOf(at)
	from := ds.Days()[2].Start(ds.Config.Location)
	want := 0
	for _, p := range st.Posts {
		if !p.UpdatedAt.Before(from) {
			want++
		}
	}
	got := 0
	q := extract.RowQuery{Table: sample.TablePosts, Columns: []extract.QueryColumn{{Name: "id"}, {Name: "updated_at"}},
		Since: &extract.Since{Column: "updated_at", Start: from.UTC()}}
	if err := src.Rows(context.Background(), q, func(row []any) error {
		updated, err := time.Parse("2006-01-02 15:04:05.000", string(row[1].([]byte)))
		if err != nil {
			return err
		}
		if updated.Before(from) || updated.After(at) {
			t.Errorf("post %v updated at %s is outside [%s, %s]", row[0], updated, from, at)
		}
		got++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != want || got == 0 {
		t.Errorf("%d posts in the window, want %d", got, want)
	}
	for _, bad := range []extract.RowQuery{
		{Table: "nope"},
		{Table: sample.TablePosts, Columns: []extract.QueryColumn{{Name: "nope"}}},
		{Table: sample.TablePosts, Since: &extract.Since{Column: "created_at", Start: from}},
	} {
		if err := src.Rows(context.Background(), bad, func([]any) error { return nil }); err == nil {
			t.Errorf("Rows(%+v) succeeded; want an error", bad)
		}
	}
	if cols, _ := src.Columns(context.Background(), "nope"); len(cols) != 0 {
		t.Errorf("an unknown table has columns %v; want none (no such table)", cols)
	}
}
