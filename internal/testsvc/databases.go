package testsvc

import (
	"testing"

	"github.com/kpilake/kpilake/local/dbsvc"
)

// Database is a running database server with TLS, reachable as its superuser (local/dbsvc).
type Database = dbsvc.Database

// TLSFiles are the throwaway CA and server certificate of a Database.
type TLSFiles = dbsvc.TLSFiles

var mariaOnce, pgOnce once[*Database]

// MariaDB returns the MariaDB server of this test binary (MySQL protocol), starting it on first use.
func MariaDB(t testing.TB) *Database {
	t.Helper()
	return mariaOnce.get(t, "MariaDB", dbsvc.StartMariaDB)
}

// PostgreSQL returns the PostgreSQL server of this test binary, starting it on first use.
func PostgreSQL(t testing.TB) *Database {
	t.Helper()
	return pgOnce.get(t, "PostgreSQL", dbsvc.StartPostgreSQL)
}

// StartMariaDB starts a MariaDB server of its own (dbsvc.StartMariaDB); StopAll stops it.
func StartMariaDB() (*Database, error) { return dbsvc.StartMariaDB() }

// StartPostgreSQL starts a PostgreSQL server of its own (dbsvc.StartPostgreSQL); StopAll stops it.
func StartPostgreSQL() (*Database, error) { return dbsvc.StartPostgreSQL() }
