//go:build !unit

package test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/stack"
)

// Athena fails a CTAS that sets external_location in a workgroup that enforces its query-results
// location, and moto does not, so the synthesized stacks are the guard: every function that runs
// the CTAS runner names (KPILAKE_WORKGROUP) a workgroup that does not enforce its settings but
// holds the cutoff, metrics and encrypted results as defaults; the analysts' workgroup enforces.
func TestWorkgroups_CTASFunctionsRunWhereExternalLocationIsAllowed(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			raw := a.template(t, name)
			var tmpl struct {
				Resources map[string]struct {
					Type       string
					Properties map[string]any
				}
				Outputs map[string]struct{ Value any }
			}
			if err := json.Unmarshal(raw, &tmpl); err != nil {
				t.Fatal(err)
			}
			workgroups := map[any]map[string]any{}
			var functions []map[string]any
			for _, r := range tmpl.Resources {
				switch r.Type {
				case "AWS::Athena::WorkGroup":
					conf, _ := r.Properties["WorkGroupConfiguration"].(map[string]any)
					workgroups[r.Properties["Name"]] = conf
				case "AWS::Lambda::Function":
					env, _ := r.Properties["Environment"].(map[string]any)
					if vars, _ := env["Variables"].(map[string]any); vars[contract.EnvWorkgroup] != nil {
						functions = append(functions, vars)
					}
				}
			}
			if len(functions) == 0 {
				t.Fatalf("no function sets %s", contract.EnvWorkgroup)
			}
			cutoff := func(conf map[string]any) any { return conf["BytesScannedCutoffPerQuery"] }
			analysts, ok := workgroups[tmpl.Outputs["WorkgroupName"].Value]
			if !ok || analysts["EnforceWorkGroupConfiguration"] != true {
				t.Errorf("output WorkgroupName %v: want a workgroup that enforces its settings, got %v", tmpl.Outputs["WorkgroupName"].Value, analysts)
			}
			for _, vars := range functions {
				wg := vars[contract.EnvWorkgroup]
				if out := tmpl.Outputs[stack.OutputAggregationWorkgroupName].Value; wg != out {
					t.Errorf("a function runs in workgroup %v, output %s is %v", wg, stack.OutputAggregationWorkgroupName, out)
				}
				conf, ok := workgroups[wg]
				if !ok {
					t.Errorf("%s is %v, not a workgroup of the stack", contract.EnvWorkgroup, wg)
					continue
				}
				results, _ := conf["ResultConfiguration"].(map[string]any)
				engine, _ := conf["EngineVersion"].(map[string]any)
				if conf["EnforceWorkGroupConfiguration"] != false || conf["PublishCloudWatchMetricsEnabled"] != true ||
					cutoff(conf) == nil || !cmp.Equal(cutoff(conf), cutoff(analysts)) ||
					engine["SelectedEngineVersion"] != "Athena engine version 3" ||
					!cmp.Equal(results["EncryptionConfiguration"], map[string]any{"EncryptionOption": "SSE_KMS", "KmsKey": vars[contract.EnvResultKMSKey]}) ||
					!cmp.Equal(results["OutputLocation"], vars[contract.EnvResultLocation]) {
					t.Errorf("workgroup %v: want engine v3, settings not enforced, metrics, the analysts' cutoff and the "+
						"function's result location and SSE_KMS key as defaults; got %v", wg, conf)
				}
			}
		})
	}
}
