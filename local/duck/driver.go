//go:build cgo

package duck

import _ "github.com/duckdb/duckdb-go/v2" // DuckDB links into the CLI only: never import this package from lambdas/
