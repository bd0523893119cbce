//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/delivery"
)

// deliveryRepository is the repository the delivery tests configure (cdk.json ships without one,
// so that no fork trusts a repository it does not own).
const deliveryRepository = "kpilake-example/kpilake"

// withDelivery is cdk.json's context ctx with "delivery" configured: each environment gets its
// GitHub deploy role's stack.
func withDelivery(ctx map[string]any) map[string]any {
	ctx[config.ContextKey].(map[string]any)["delivery"] = map[string]any{"githubRepository": deliveryRepository}
	return ctx
}

func deliveryStacks(t *testing.T) []string {
	t.Helper()
	cfg, err := config.Parse(cdkContext(t)[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range cfg.Names() {
		names = append(names, delivery.StackName(n))
	}
	return names
}

// The bootstrap stacks pass the same gates as the environments' stacks: a snapshot (named so that
// `go test ./test -run TestSnapshot -update` rewrites it too), cdk-nag's packs with nothing
// unsuppressed, and cfn-lint in their region.
func TestSnapshot_Delivery(t *testing.T) {
	dir := synthAll(t).dir
	names := deliveryStacks(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name+".template.json"))
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, name+".template.json", raw)
		})
	}
}

func TestDelivery_NagAndCfnLint(t *testing.T) {
	t.Parallel()
	dir := synthAll(t).dir
	names := deliveryStacks(t)
	if len(names) == 0 {
		t.Fatal("no environments")
	}
	errs, warnings := manifestMessages(t, dir)
	for _, m := range append(errs, warnings...) {
		if strings.Contains(m, "-delivery/") {
			t.Errorf("cdk-nag: %s", m)
		}
	}
	lint := needTool(t, "cfn-lint", "it lints every synthesized template")
	cfnLint(t, lint, templatesByRegion(t, dir, names))
}

// The deploy role trusts only the configured repository's jobs in the GitHub environment of the
// same name, through the account's one GitHub provider (created by the first environment's
// stack), and may only assume the CDK bootstrap roles of its own account and region.
func TestDelivery_DeployRoleTrustsOneRepositoryEnvironment(t *testing.T) {
	dir := synthAll(t).dir
	providers := 0
	for _, env := range []string{"dev", "prod"} {
		raw, err := os.ReadFile(filepath.Join(dir, delivery.StackName(env)+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			t.Fatal(err)
		}
		var trust, policy string
		for _, r := range tmpl.Resources {
			switch r.Type {
			case "AWS::IAM::OIDCProvider":
				providers++
				if url := r.Properties["Url"]; url != "https://"+delivery.Issuer {
					t.Errorf("%s: provider URL %v", env, url)
				}
			case "AWS::IAM::Role":
				b, _ := json.Marshal(r.Properties["AssumeRolePolicyDocument"])
				trust = string(b)
			case "AWS::IAM::Policy":
				b, _ := json.Marshal(r.Properties["PolicyDocument"])
				policy = string(b)
			}
		}
		for _, want := range []string{
			`"Action":"sts:AssumeRoleWithWebIdentity"`,
			`"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`,
			`"token.actions.githubusercontent.com:sub":"repo:` + deliveryRepository + `:environment:` + env + `"`,
		} {
			if !strings.Contains(trust, want) {
				t.Errorf("%s: trust policy lacks %s:\n%s", env, want, trust)
			}
		}
		if strings.Contains(trust, "StringLike") || strings.Contains(trust, "*") {
			t.Errorf("%s: trust policy has a wildcard:\n%s", env, trust)
		}
		var doc struct{ Statement []map[string]any }
		if err := json.Unmarshal([]byte(policy), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Statement) != 1 {
			t.Fatalf("%s: %d statements, want 1: %s", env, len(doc.Statement), policy)
		}
		if a, _ := json.Marshal(doc.Statement[0]["Action"]); string(a) != `["sts:AssumeRole","sts:TagSession"]` {
			t.Errorf("%s: actions %s, want only sts:AssumeRole and sts:TagSession", env, a)
		}
		res, _ := json.Marshal(doc.Statement[0]["Resource"])
		for _, role := range []string{"deploy", "file-publishing", "image-publishing", "lookup"} {
			want := fmt.Sprintf(":role/cdk-hnb659fds-%s-role-%s-ap-northeast-1", role, snapshotAccount)
			if !strings.Contains(string(res), want) {
				t.Errorf("%s: resources lack %s: %s", env, want, res)
			}
		}
		if strings.Contains(string(res), "*") {
			t.Errorf("%s: resources have a wildcard: %s", env, res)
		}
	}
	if providers != 1 {
		t.Errorf("%d stacks create the GitHub OIDC provider; dev and prod share the account, which holds one", providers)
	}
}
