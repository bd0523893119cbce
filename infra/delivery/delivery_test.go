package delivery

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/kpilake/kpilake/infra/config"
)

func TestCreatesProvider_FirstEnvironmentOfEachAccount(t *testing.T) {
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
				if got := CreatesProvider(tc.cfg, env); got != want {
					t.Errorf("CreatesProvider(%s) = %v, want %v", env, got, want)
				}
			}
		})
	}
}

func TestNewBootstrap_FailsWithoutRepository(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(error).Error(), "kpilake.delivery.githubRepository") {
			t.Errorf("panic = %v; want one naming kpilake.delivery.githubRepository", r)
		}
	}()
	NewBootstrap(awscdk.NewApp(nil), &BootstrapProps{Env: &config.Environment{Name: "dev", Region: "ap-northeast-1"}, Delivery: &config.Delivery{}})
}

func TestSubject(t *testing.T) {
	if got := Subject("o/r", "prod"); got != "repo:o/r:environment:prod" {
		t.Errorf("Subject = %q", got)
	}
}

func TestJoinToSub(t *testing.T) {
	partition := map[string]any{"Ref": "AWS::Partition"}
	tests := []struct {
		name string
		in   any
		want string
		ok   bool
	}{
		{"a role ARN", map[string]any{"Fn::Join": []any{"", []any{"arn:", partition, ":iam::123456789012:role/cdk-x"}}},
			"arn:${AWS::Partition}:iam::123456789012:role/cdk-x", true},
		{"a string", "arn:aws:iam::123456789012:role/x", "", false},
		{"absent", nil, "", false},
		{"a delimiter", map[string]any{"Fn::Join": []any{":", []any{"a", "b"}}}, "", false},
		{"a GetAtt", map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Fn::GetAtt": []any{"R", "Arn"}}}}}, "", false},
		{"a literal ${", map[string]any{"Fn::Join": []any{"", []any{"${x}", partition}}}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := joinToSub(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("joinToSub = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
