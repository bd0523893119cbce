package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/config"
)

// withDelivery is a valid one-environment configuration with a "delivery" object.
func withDelivery(body string) string {
	return `{"environments": {"dev": {` + region + `}}, "delivery": {` + body + `}}`
}

func TestParse_ReadsDelivery(t *testing.T) {
	tests := []struct {
		name string
		text string
		want *config.Delivery
	}{
		{"absent", dev(region), nil},
		{"defaults", withDelivery(`"githubRepository": "example-org/kpilake"`),
			&config.Delivery{GitHubRepository: "example-org/kpilake", CDKQualifier: "hnb659fds"}},
		{"every key", withDelivery(`"githubRepository": "a/b.c", "existingOidcProvider": true, "cdkQualifier": "kpi1"`),
			&config.Delivery{GitHubRepository: "a/b.c", ExistingOIDCProvider: true, CDKQualifier: "kpi1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, mustParse(t, tc.text).Delivery); diff != "" {
				t.Errorf("Delivery (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParse_FailsOnInvalidDelivery(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no repository", withDelivery(``), `kpilake.delivery.githubRepository: is required; give the repository whose workflows deploy, as "owner/name"`},
		{"a URL", withDelivery(`"githubRepository": "https://github.com/a/b"`), `kpilake.delivery.githubRepository: "https://github.com/a/b" is not a GitHub repository; write it as "owner/name"`},
		{"a bad qualifier", withDelivery(`"githubRepository": "a/b", "cdkQualifier": "Not-One"`), `kpilake.delivery.cdkQualifier: "Not-One" is not a CDK bootstrap qualifier`},
		{"a misspelt key", withDelivery(`"githubRepository": "a/b", "existingOidcProvder": true`), `kpilake.delivery.existingOidcProvder: unknown key; remove it or use one of: cdkQualifier, existingOidcProvider, githubRepository`},
		{"not an object", `{"environments": {"dev": {` + region + `}}, "delivery": "a/b"}`, `kpilake.delivery: must be a JSON object`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.text)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("problems = %q, want one starting %q", got, tc.want)
			}
		})
	}
}

// pipelineConfig is dev and prod (production) with a pipeline body.
func pipelineConfig(body string) string {
	return `{"environments": {"dev": {` + region + `}, "prod": {` + region + `, "production": true, "account": "210987654321"}},
		"delivery": {"githubRepository": "a/b", "pipeline": {` + body + `}}}`
}

const connection = `"connectionArn": "arn:aws:codeconnections:ap-northeast-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"`

func TestParse_ReadsPipeline(t *testing.T) {
	arn := "arn:aws:codeconnections:ap-northeast-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	tests := []struct {
		name string
		text string
		want *config.Pipeline
	}{
		{"defaults: non-production first, the first environment's region", pipelineConfig(connection),
			&config.Pipeline{ConnectionArn: arn, Branch: "main", Region: "ap-northeast-1", Environments: []string{"dev", "prod"}}},
		{"an order, so the first environment's account", pipelineConfig(connection + `, "environments": ["prod"], "branch": "release/v1"`),
			&config.Pipeline{ConnectionArn: arn, Branch: "release/v1", Account: "210987654321", Region: "ap-northeast-1", Environments: []string{"prod"}}},
		{"a home of its own", pipelineConfig(connection + `, "account": "111111111111", "region": "us-east-1"`),
			&config.Pipeline{ConnectionArn: arn, Branch: "main", Account: "111111111111", Region: "us-east-1", Environments: []string{"dev", "prod"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, mustParse(t, tc.text).Delivery.Pipeline); diff != "" {
				t.Errorf("Pipeline (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParse_FailsOnInvalidPipeline(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no connection", pipelineConfig(``), `kpilake.delivery.pipeline.connectionArn: is required; create a connection to the repository`},
		{"a repository URL for a connection", pipelineConfig(`"connectionArn": "https://github.com/a/b"`),
			`kpilake.delivery.pipeline.connectionArn: "https://github.com/a/b" is not a CodeConnections connection ARN`},
		{"an unknown environment", pipelineConfig(connection + `, "environments": ["dev", "staging"]`),
			`kpilake.delivery.pipeline.environments[1]: "staging" is not a configured environment; use one of dev, prod`},
		{"an environment twice", pipelineConfig(connection + `, "environments": ["dev", "prod", "dev"]`),
			`kpilake.delivery.pipeline.environments[2]: "dev" is listed twice`},
		{"no environment", pipelineConfig(connection + `, "environments": []`),
			`kpilake.delivery.pipeline.environments: must name at least one environment`},
		{"a bad branch", pipelineConfig(connection + `, "branch": "a b"`), `kpilake.delivery.pipeline.branch: "a b" is not a branch name`},
		{"a bad account", pipelineConfig(connection + `, "account": "12345"`), `kpilake.delivery.pipeline.account: "12345" is not a 12-digit AWS account ID`},
		{"a misspelt key", pipelineConfig(connection + `, "brnach": "main"`), `kpilake.delivery.pipeline.brnach: unknown key`},
		{"an environment named as the pipeline's stack", `{"environments": {"pipeline": {` + region + `}}, "delivery": {"githubRepository": "a/b", "pipeline": {` + connection + `}}}`,
			`kpilake.environments.pipeline: the pipeline's own stack is KpiLake-pipeline; rename this environment`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.text)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("problems = %q, want one starting %q", got, tc.want)
			}
		})
	}
}
