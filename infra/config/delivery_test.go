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
