//go:build !unit

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is what these tests read of a GitHub Actions workflow.
type workflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Needs       any               `yaml:"needs"`
		Uses        string            `yaml:"uses"`
		With        map[string]any    `yaml:"with"`
		Environment string            `yaml:"environment"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]any    `yaml:"with"`
			Env  map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return w
}

// The deployment path: dev on a push to main, prod only after dev and in its own GitHub
// environment (whose reviewers approve), credentials from OIDC only, cdk diff before deploy, and
// deploy with --require-approval broadening unless a person dispatched it with approve-broadening.
func TestWorkflows_DeployDevThenProdWithOIDCAndNoWideningWithoutApproval(t *testing.T) {
	deploy := readWorkflow(t, "deploy.yml")
	push, _ := deploy.On["push"].(map[string]any)
	if branches, _ := push["branches"].([]any); len(branches) != 1 || branches[0] != "main" {
		t.Errorf("deploy runs on push to %v; want main only", push["branches"])
	}
	if deploy.Permissions["id-token"] != "write" {
		t.Error("deploy.yml does not grant id-token: write (OIDC)")
	}
	for env, needs := range map[string]any{"dev": nil, "prod": "dev"} {
		job, ok := deploy.Jobs[env]
		if !ok {
			t.Fatalf("deploy.yml has no job %s", env)
		}
		if job.Uses != "./.github/workflows/deploy-environment.yml" || job.With["environment"] != env {
			t.Errorf("job %s: uses %q with %v; want deploy-environment.yml with environment %s", env, job.Uses, job.With, env)
		}
		if job.Needs != needs {
			t.Errorf("job %s needs %v, want %v", env, job.Needs, needs)
		}
		if a, _ := job.With["approve-broadening"].(string); !strings.Contains(a, "github.event_name == 'workflow_dispatch'") {
			t.Errorf("job %s: approve-broadening %q can be set without a manual dispatch", env, a)
		}
	}

	one := readWorkflow(t, "deploy-environment.yml")
	job := one.Jobs["deploy"]
	if job.Environment != "${{ inputs.environment }}" {
		t.Errorf("the deploy job runs in environment %q; it must run in the GitHub environment of its kpilake environment", job.Environment)
	}
	if job.Permissions["id-token"] != "write" {
		t.Error("the deploy job does not grant id-token: write (OIDC)")
	}
	var order []string
	for _, s := range job.Steps {
		for k, v := range s.With {
			if strings.Contains(strings.ToLower(k), "access-key") || strings.Contains(strings.ToLower(k), "secret") {
				t.Errorf("step %q passes %s=%v: credentials must come from OIDC", s.Name, k, v)
			}
		}
		switch {
		case strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@"):
			order = append(order, "credentials")
			if s.With["role-to-assume"] != "${{ vars.KPILAKE_DEPLOY_ROLE_ARN }}" {
				t.Errorf("credentials from %v; want the environment's KPILAKE_DEPLOY_ROLE_ARN", s.With["role-to-assume"])
			}
		case strings.Contains(s.Run, "make diff"):
			order = append(order, "diff")
			if strings.Contains(s.Run, "BASE=") {
				t.Error("the deploy job diffs against a file; it must diff against the deployed stack")
			}
		case strings.Contains(s.Run, "make deploy"):
			order = append(order, "deploy")
			if a := s.Env["APPROVAL"]; a != "${{ inputs.approve-broadening && 'never' || 'broadening' }}" {
				t.Errorf("deploy approval %q; want broadening unless approve-broadening", a)
			}
		}
	}
	if strings.Join(order, ",") != "credentials,diff,deploy" {
		t.Errorf("steps in order %v; want credentials, diff, deploy", order)
	}

	// make deploy asks before widening by default: what the job relies on.
	cmd := exec.Command("make", "--no-print-directory", "-n", "deploy", "ENV=prod")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n deploy: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "deploy -c env=prod --require-approval broadening KpiLake-prod") {
		t.Errorf("make deploy runs:\n%s\nwant --require-approval broadening", out)
	}
}

// The pull-request workflow runs CI's own script and comments the normalized diff of the
// snapshots, computed by the tested Go command rather than by YAML.
func TestWorkflows_PullRequestRunsCIAndCommentsTheDiff(t *testing.T) {
	pr := readWorkflow(t, "pull-request.yml")
	if _, ok := pr.On["pull_request"]; !ok {
		t.Error("pull-request.yml does not run on pull_request")
	}
	var ci, diff bool
	for _, job := range pr.Jobs {
		for _, s := range job.Steps {
			ci = ci || strings.TrimSpace(s.Run) == "bash .ci/run"
			diff = diff || strings.Contains(s.Run, "go run ./infra/cmd/review -markdown")
		}
	}
	if !ci || !diff {
		t.Errorf("pull-request.yml runs .ci/run: %v, comments the review diff: %v; want both", ci, diff)
	}
	if pr.Jobs["infrastructure-diff"].Permissions["pull-requests"] != "write" || pr.Permissions["contents"] != "read" {
		t.Error("only the diff job may write to the pull request; the workflow reads contents")
	}
}
