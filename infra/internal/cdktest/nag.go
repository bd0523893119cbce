package cdktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AwsSolutionsFindings synthesizes the app of stack with cdk-nag's AwsSolutions pack and returns
// the errors and warnings left unsuppressed on resources whose construct path contains under
// (such as "/Source-sales/"): what a construct alone leaves for its user to suppress.
func AwsSolutionsFindings(t testing.TB, stack awscdk.Stack, under string) []string {
	t.Helper()
	Setup(t, func() {
		awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	})
	// A finding fails synth after the assembly is written; the findings are the answer.
	stage := awscdk.Stage_Of(stack)
	_ = Recover(func() { stage.Synth(nil) })
	data, err := os.ReadFile(filepath.Join(*stage.Outdir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Artifacts map[string]struct {
			Metadata map[string][]struct {
				Type string `json:"type"`
				Data any    `json:"data"`
			} `json:"metadata"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Artifacts) == 0 {
		t.Fatal("the assembly has no artifacts")
	}
	var findings []string
	for _, art := range manifest.Artifacts {
		for path, entries := range art.Metadata {
			if !strings.Contains(path, under) {
				continue
			}
			for _, e := range entries {
				if e.Type == "aws:cdk:error" || e.Type == "aws:cdk:warning" {
					findings = append(findings, fmt.Sprintf("%s %s: %v", e.Type, path, e.Data))
				}
			}
		}
	}
	// With the app's annotationsInValidationReport flag, the errors go to the validation report
	// (and fail synth) instead of the manifest.
	report, err := os.ReadFile(filepath.Join(*stage.Outdir(), "validation-report.json"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err == nil {
		var r struct {
			PluginReports []struct {
				Violations []struct {
					Description         string `json:"description"`
					ViolatingConstructs []struct {
						ConstructPath string `json:"constructPath"`
					} `json:"violatingConstructs"`
				} `json:"violations"`
			} `json:"pluginReports"`
		}
		if err := json.Unmarshal(report, &r); err != nil {
			t.Fatal(err)
		}
		for _, p := range r.PluginReports {
			for _, v := range p.Violations {
				for _, c := range v.ViolatingConstructs {
					if strings.Contains(c.ConstructPath, under) {
						findings = append(findings, fmt.Sprintf("%s: %s", c.ConstructPath, strings.TrimSpace(v.Description)))
					}
				}
			}
		}
	}
	return findings
}
