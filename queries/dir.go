package queries

import (
	"os"
	"path/filepath"
	"strings"
)

// LoadDir parses and validates the KPI files *.sql of the directory dir, as Load does for the
// embedded ones, so that files being edited are used without a rebuild. Messages name each file
// as dir/<name>.sql.
func LoadDir(dir string) (*Catalog, error) {
	prefix := filepath.ToSlash(filepath.Clean(dir))
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return parse(os.DirFS(dir), prefix)
}
