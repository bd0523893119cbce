package dbsvc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStartMariaDB_RetriesWhenAnotherServerHoldsItsPort offers startMariaDB, first, a port that
// another server holds, as when another test binary's MariaDB binds the free port first:
// startMariaDB must not return that server, but its own on a port of a later attempt.
func TestStartMariaDB_RetriesWhenAnotherServerHoldsItsPort(t *testing.T) {
	t.Parallel()
	testStartRetriesWhenAnotherServerHoldsItsPort(t, StartMariaDB, startMariaDB, mariaDBDataDir)
}

// TestStartPostgreSQL_RetriesWhenAnotherServerHoldsItsPort is the same for PostgreSQL.
func TestStartPostgreSQL_RetriesWhenAnotherServerHoldsItsPort(t *testing.T) {
	t.Parallel()
	testStartRetriesWhenAnotherServerHoldsItsPort(t, StartPostgreSQL, startPostgreSQL, postgreSQLDataDir)
}

// testStartRetriesWhenAnotherServerHoldsItsPort runs the tests above: shared returns the test
// binary's server, startDB is the start under test and dataDir its identity query.
func testStartRetriesWhenAnotherServerHoldsItsPort(t *testing.T, other func() (*Database, error),
	startDB func(pick func() (int, error)) (*Database, error), dataDir func(context.Context, int) (string, error)) {
	if testing.Short() {
		t.Skip("-short (make test-unit) starts no database server; make test runs this test")
	}
	for name, hold := range map[string]func(t *testing.T) (port int, asked func() bool){
		// Another test binary's server of the same kind: a real one, which answers the identity
		// query with its own data directory. The server starts at once, long before the one
		// under test could fail to bind.
		"another server": func(t *testing.T) (int, func() bool) {
			db, err := other()
			if errors.Is(err, ErrMissing) && os.Getenv("CI") == "" {
				t.Skipf("the database is not available on this machine (%v)", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Stop)
			return db.Port, nil
		},
		// Something that accepts connections but does not speak the protocol.
		"not the protocol": mute,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			taken, asked := hold(t)
			pick, offered := takenFirst(taken)
			db, err := startDB(pick)
			if errors.Is(err, ErrMissing) && os.Getenv("CI") == "" {
				t.Skipf("the database is not available on this machine (%v)", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Stop() })
			checkOffers(t, offered(), taken, db.Port)
			if asked != nil && !asked() {
				t.Errorf("the start never connected to port %d", taken)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := dataDir(ctx, db.Port)
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(db.proc.Dir(), "data")
			if !sameFile(got, want) {
				t.Errorf("the server on the returned port %d has data directory %s, want the start's own %s", db.Port, got, want)
			}
		})
	}
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
