package review

import (
	"path/filepath"
	"strings"
)

// StackName is the stack a template file holds: KpiLake-prod.template.json -> KpiLake-prod, and
// a nested stack's KpiLakeprodSourcesocial78B5D8ED.nested.template.json ->
// KpiLakeprodSourcesocial78B5D8ED.
func StackName(file string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".json"), ".template"), ".nested")
}
