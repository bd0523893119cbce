//go:build !unit

package test

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/stack"
)

// teardownResource is what the teardown checks read of a template's resource.
type teardownResource struct {
	Type                string
	Properties          map[string]any
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// TestTeardown_DestroyEnvironmentLeavesNothingBehind: `cdk destroy` of an environment whose
// removalPolicy is destroy deletes every resource, buckets emptied first, so that nothing stays
// behind, least of all data encrypted under the lake key, which is deleted with it. An
// environment that retains keeps every bucket and key, and never empties a bucket.
func TestTeardown_DestroyEnvironmentLeavesNothingBehind(t *testing.T) {
	ctx := cdkContext(t)
	cfg, err := config.Parse(ctx[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	a := synthAll(t)
	for _, e := range mustSelect(t, cfg) {
		name := stack.Name(e.Name)
		t.Run(name, func(t *testing.T) {
			var tmpl struct{ Resources map[string]teardownResource }
			if err := json.Unmarshal(a.template(t, name), &tmpl); err != nil {
				t.Fatal(err)
			}
			emptied := map[string]bool{}
			for _, r := range tmpl.Resources {
				if r.Type == "Custom::S3AutoDeleteObjects" {
					if ref, ok := r.Properties["BucketName"].(map[string]any)["Ref"].(string); ok {
						emptied[ref] = true
					}
				}
			}
			ids := make([]string, 0, len(tmpl.Resources))
			for id := range tmpl.Resources {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			destroy := e.RemovalPolicy == config.Destroy
			for _, id := range ids {
				r := tmpl.Resources[id]
				retained := r.DeletionPolicy == "Retain" || r.DeletionPolicy == "RetainExceptOnCreate" || r.UpdateReplacePolicy == "Retain"
				switch {
				case destroy && retained:
					t.Errorf("%s (%s) is retained (DeletionPolicy %q, UpdateReplacePolicy %q) in an environment whose removalPolicy is destroy",
						id, r.Type, r.DeletionPolicy, r.UpdateReplacePolicy)
				case destroy && r.Type == "AWS::S3::Bucket" && !emptied[id]:
					t.Errorf("bucket %s is not emptied before it is deleted (no Custom::S3AutoDeleteObjects): CloudFormation cannot delete a bucket that holds objects", id)
				case !destroy && (r.Type == "AWS::S3::Bucket" || r.Type == "AWS::KMS::Key") && r.DeletionPolicy != "Retain":
					t.Errorf("%s (%s) has DeletionPolicy %q in an environment that retains its data", id, r.Type, r.DeletionPolicy)
				case !destroy && emptied[id]:
					t.Errorf("bucket %s is emptied on delete in an environment that retains its data", id)
				}
			}
		})
	}
}

func mustSelect(t *testing.T, cfg *config.Config) []*config.Environment {
	t.Helper()
	envs, err := cfg.Select("")
	if err != nil {
		t.Fatal(err)
	}
	return envs
}
