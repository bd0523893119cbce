package dbsvc

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A data directory comes from one initialization for the same program and arguments, made again
// for other arguments, an upgraded program or a template past its age, and a process that finds
// none at the same time as another still gets one.
func TestInitDataDir_InitializesOncePerProgramAndArguments(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // templates of this test's own
	program := filepath.Join(t.TempDir(), "initdb")
	if err := os.WriteFile(program, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	var inits atomic.Int32
	init := func(dir string) error {
		inits.Add(1)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "catalog"), []byte("initialized"), 0o600)
	}
	noChown := func(string) error { return nil }
	out := t.TempDir()
	n := 0
	start := func(args ...string) {
		t.Helper()
		n++
		data := filepath.Join(out, "data", string(rune('a'+n)))
		if err := os.MkdirAll(filepath.Dir(data), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := initDataDir("test", program, args, data, noChown, init); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(data, "catalog"))
		if err != nil || string(got) != "initialized" {
			t.Fatalf("data directory %s holds %q (%v), want the initialized catalog", data, got, err)
		}
		st, err := os.Stat(data)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("data directory mode %v (%v), want 0700 as initialized", st.Mode().Perm(), err)
		}
	}
	steps := []struct {
		name      string
		before    func()
		args      []string
		wantInits int32
	}{
		{"the first start initializes", nil, []string{"-E", "UTF8"}, 1},
		{"the next copies", nil, []string{"-E", "UTF8"}, 1},
		{"other arguments initialize", nil, []string{"-E", "SQL_ASCII"}, 2},
		{"an upgraded program initializes", func() {
			if err := os.WriteFile(program, []byte("v2, longer"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"-E", "UTF8"}, 3},
		{"a template past its age is made again", func() {
			marks, _ := filepath.Glob(filepath.Join(os.TempDir(), "kpilake-test-template-*", completeMark))
			for _, m := range marks {
				old := time.Now().Add(-templateMaxAge - time.Minute)
				if err := os.Chtimes(m, old, old); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"-E", "UTF8"}, 4},
		{"and then copied", nil, []string{"-E", "UTF8"}, 4},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		start(s.args...)
		if got := inits.Load(); got != s.wantInits {
			t.Fatalf("%s: %d initializations so far, want %d", s.name, got, s.wantInits)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "kpilake-test-staging-*")); len(left) > 0 {
		t.Errorf("staging directories left behind: %v", left)
	}

	// Starts at once with no template: each gets a data directory, and one template remains.
	args := []string{"--at-once"}
	if err := os.MkdirAll(filepath.Join(out, "once"), 0o700); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			errs <- initDataDir("test", program, args, filepath.Join(out, "once", string(rune('a'+i))), noChown, init)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range 4 {
		if _, err := os.Stat(filepath.Join(out, "once", string(rune('a'+i)), "catalog")); err != nil {
			t.Errorf("start %d at once: %v", i, err)
		}
	}
}

// Making a template removes what a killed process left behind (a staging directory, a template
// moved aside) and old templates of other programs once they are past the template age, and
// nothing that may be in use: a newer staging directory, a server's own directory.
func TestInitDataDir_SweepsWhatAKilledProcessLeftBehind(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-templateMaxAge - time.Hour)
	plant := func(name string, at time.Time) string {
		t.Helper()
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, at, at); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	gone := []string{
		plant("kpilake-test-staging-111", old),
		plant("kpilake-test-template-0123456789abcdef.old-kpilake-test-staging-222", old),
		plant("kpilake-test-template-fedcba9876543210", old), // another program's, never finished
	}
	kept := []string{
		plant("kpilake-test-staging-333", time.Now()), // another process is making one
		plant("kpilake-test-444", old),                // a server's directory (dbsvc's, not a template's)
	}
	program := filepath.Join(t.TempDir(), "initdb")
	if err := os.WriteFile(program, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	init := func(dir string) error { return os.Mkdir(dir, 0o700) }
	data := filepath.Join(t.TempDir(), "data")
	if err := initDataDir("test", program, nil, data, func(string) error { return nil }, init); err != nil {
		t.Fatal(err)
	}
	for _, d := range gone {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v), want it swept", filepath.Base(d), err)
		}
	}
	for _, d := range kept {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(d), err)
		}
	}
}
