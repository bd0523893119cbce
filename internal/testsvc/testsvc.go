// Package testsvc starts the real services that tests talk to — MariaDB, PostgreSQL (through
// local/dbsvc, which a local run shares) and moto's AWS server — on loopback ports, once per test
// binary, and stops them by process when the binary ends. A test that needs a service that cannot exist on this machine is skipped with the reason;
// under CI (CI set) it fails instead, because CI installs every service.
//
// Use it from a package's TestMain:
//
//	func TestMain(m *testing.M) { testsvc.Main(m) }
package testsvc

import (
	"errors"
	"flag"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/kpilake/kpilake/local/dbsvc"
)

// Main runs the tests, then stops every service they started.
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// SetParallel raises -test.parallel to at least n unless the command line gives it. Call it from
// TestMain (it parses the flags) in a package whose tests wait on services (moto's answers, a
// visibility timeout, a database) far more than they compute: the default, GOMAXPROCS, runs two
// at a time on a 2-core machine and leaves the CPU idle while they wait.
func SetParallel(n int) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	p := flag.Lookup("test.parallel")
	if given || p == nil {
		return
	}
	if cur, ok := p.Value.(flag.Getter).Get().(int); ok && cur >= n {
		return
	}
	if err := p.Value.Set(strconv.Itoa(n)); err != nil {
		panic(err)
	}
}

// StopAll stops every service started by this process and removes their directories.
func StopAll() { dbsvc.StopAll() }

// once starts a service at most once per process and remembers the outcome.
type once[T any] struct {
	sync.Once
	v   T
	err error
}

func (o *once[T]) get(t testing.TB, what string, startFn func() (T, error)) T {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short (make test-unit) starts no service; make test runs this test with %s", what)
	}
	o.Do(func() { o.v, o.err = startFn() })
	if o.err != nil {
		if errors.Is(o.err, dbsvc.ErrMissing) && os.Getenv("CI") == "" {
			t.Skipf("%s is not available on this machine (%v); `.ci/run` installs it", what, o.err)
		}
		t.Fatalf("%s: %v", what, o.err)
	}
	return o.v
}

func itoa(i int) string { return strconv.Itoa(i) }
