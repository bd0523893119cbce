//go:build !unit

package constructs

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/delivery"
)

func TestDelivery_CreatesProviderInTheFirstEnvironmentOfEachAccount(t *testing.T) {
	envs := func(accounts map[string]string) map[string]*config.Environment {
		out := map[string]*config.Environment{}
		for n, a := range accounts {
			out[n] = &config.Environment{Name: n, Account: a}
		}
		return out
	}
	repo := &config.Delivery{GitHubRepository: "a/b"}
	tests := []struct {
		name string
		cfg  *config.Config
		want map[string]bool
	}{
		{"one default account", &config.Config{Environments: envs(map[string]string{"dev": "", "prod": ""}), Delivery: repo},
			map[string]bool{"dev": true, "prod": false}},
		{"an account each", &config.Config{Environments: envs(map[string]string{"dev": "111111111111", "prod": "222222222222"}), Delivery: repo},
			map[string]bool{"dev": true, "prod": true}},
		{"two of three share", &config.Config{Environments: envs(map[string]string{"dev": "111111111111", "prod": "222222222222", "staging": "111111111111"}), Delivery: repo},
			map[string]bool{"dev": true, "prod": true, "staging": false}},
		{"the provider exists", &config.Config{Environments: envs(map[string]string{"dev": "", "prod": "222222222222"}),
			Delivery: &config.Delivery{GitHubRepository: "a/b", ExistingOIDCProvider: true}},
			map[string]bool{"dev": false, "prod": false}},
		{"no delivery", &config.Config{Environments: envs(map[string]string{"dev": ""})}, map[string]bool{"dev": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for env, want := range tc.want {
				if got := delivery.CreatesProvider(tc.cfg, env); got != want {
					t.Errorf("CreatesProvider(%s) = %v, want %v", env, got, want)
				}
			}
		})
	}
}

func TestDelivery_NewBootstrapFailsWithoutRepository(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(error).Error(), "kpilake.delivery.githubRepository") {
			t.Errorf("panic = %v; want one naming kpilake.delivery.githubRepository", r)
		}
	}()
	delivery.NewBootstrap(awscdk.NewApp(nil), &delivery.BootstrapProps{Env: &config.Environment{Name: "dev", Region: "ap-northeast-1"}, Delivery: &config.Delivery{}})
}

func TestDelivery_Subject(t *testing.T) {
	if got := delivery.Subject("o/r", "prod"); got != "repo:o/r:environment:prod" {
		t.Errorf("Subject = %q", got)
	}
}
