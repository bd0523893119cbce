package review

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kpilake/kpilake/infra/app"
)

// Synthesize builds the real app for one environment of cdk.json (root is the module's root) the
// way the snapshot tests do, for the placeholder Account, and returns its templates normalized,
// by file name (KpiLake-prod.template.json, and any nested stack's).
func Synthesize(root, env string) (map[string][]byte, error) {
	templates, err := app.SynthEnvironment(root, env, Account, nil)
	if err != nil {
		return nil, err
	}
	for name, data := range templates {
		if templates[name], err = Normalize(data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return templates, nil
}

// StackName is the stack a template file holds: KpiLake-prod.template.json -> KpiLake-prod, and
// a nested stack's KpiLakeprodSourcesocial78B5D8ED.nested.template.json ->
// KpiLakeprodSourcesocial78B5D8ED.
func StackName(file string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".json"), ".template"), ".nested")
}
