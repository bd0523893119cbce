package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Delivery configures how the environments are deployed (infra/delivery): by GitHub Actions, whose
// workflows in the repository assume a deploy role through OpenID Connect, with no long-lived
// keys; or, with Pipeline, by a CDK Pipelines CodePipeline in AWS that pulls the repository.
type Delivery struct {
	// GitHubRepository is "owner/name"; only its workflows, running in the GitHub environment of
	// the same name as a kpilake environment, may assume that environment's deploy role; with
	// Pipeline, the repository the pipeline pulls. Required.
	GitHubRepository string
	// ExistingOIDCProvider says the accounts already trust GitHub's OIDC issuer (an account holds
	// one provider per issuer), so no bootstrap stack creates it. Default: false, and the first
	// environment (by name) of each account creates it.
	ExistingOIDCProvider bool
	// CDKQualifier is the qualifier of the accounts' CDK bootstrap roles, which the deploy role may
	// assume. Default: "hnb659fds", the CDK's.
	CDKQualifier string
	// Pipeline, when set, deploys the environments from a CDK Pipelines CodePipeline in AWS
	// instead of from GitHub Actions (infra/delivery.NewPipeline); nil: GitHub Actions.
	Pipeline *Pipeline
}

// Pipeline configures the self-mutating CodePipeline that deploys the environments from inside
// AWS: the repository's branch through a CodeConnections connection, the environments in order.
type Pipeline struct {
	// ConnectionArn is the CodeConnections (formerly CodeStar Connections) connection to the
	// repository, made once in the console. Required.
	ConnectionArn string
	// Branch is the branch whose pushes run the pipeline. Default: "main".
	Branch string
	// Account and Region are where the pipeline lives. Default: the first environment's.
	Account, Region string
	// Environments are deployed in this order, each after the one before succeeds. Default: the
	// non-production environments, then the production ones, each group by name.
	Environments []string
}

var (
	githubRepoRE   = regexp.MustCompile(`^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$`)
	cdkQualifierRE = regexp.MustCompile(`^[a-z0-9]{1,10}$`)
	connectionRE   = regexp.MustCompile(`^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$`)
	branchRE       = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,255}$`)
)

// parseDelivery reads the optional "delivery" object; absent means no delivery stacks.
func parseDelivery(root *object) *Delivery {
	if _, ok := root.m["delivery"]; !ok {
		root.seen["delivery"] = true
		return nil
	}
	o := root.child("delivery")
	d := &Delivery{
		GitHubRepository:     o.requiredStr("githubRepository", `give the repository whose workflows deploy, as "owner/name"`),
		ExistingOIDCProvider: o.boolean("existingOidcProvider", false),
		CDKQualifier:         o.str("cdkQualifier", "hnb659fds"),
	}
	if d.GitHubRepository != "" && !githubRepoRE.MatchString(d.GitHubRepository) {
		o.errs.add(o.key("githubRepository"), `%q is not a GitHub repository; write it as "owner/name"`, d.GitHubRepository)
	}
	if !cdkQualifierRE.MatchString(d.CDKQualifier) {
		o.errs.add(o.key("cdkQualifier"), "%q is not a CDK bootstrap qualifier (lowercase letters and digits, at most 10); use the one given to cdk bootstrap --qualifier, or remove the key", d.CDKQualifier)
	}
	d.Pipeline = parsePipeline(o)
	o.done()
	return d
}

// parsePipeline reads the optional "pipeline" object of "delivery".
func parsePipeline(d *object) *Pipeline {
	if _, ok := d.m["pipeline"]; !ok {
		d.seen["pipeline"] = true
		return nil
	}
	o := d.child("pipeline")
	p := &Pipeline{
		ConnectionArn: o.requiredStr("connectionArn", "create a connection to the repository (Developer Tools, Settings, Connections) and give its ARN"),
		Branch:        o.str("branch", "main"),
		Account:       o.str("account", ""),
		Region:        o.str("region", ""),
		Environments:  o.strings("environments"),
	}
	if p.ConnectionArn != "" && !connectionRE.MatchString(p.ConnectionArn) {
		o.errs.add(o.key("connectionArn"), "%q is not a CodeConnections connection ARN; copy it from the connection's page (arn:aws:codeconnections:<region>:<account>:connection/<id>)", p.ConnectionArn)
	}
	if !branchRE.MatchString(p.Branch) {
		o.errs.add(o.key("branch"), "%q is not a branch name; give the branch whose pushes deploy, such as \"main\"", p.Branch)
	}
	if p.Account != "" && !accountRE.MatchString(p.Account) {
		o.errs.add(o.key("account"), "%q is not a 12-digit AWS account ID; fix it or remove the key to use the first environment's account", p.Account)
	}
	if p.Region != "" && !regionRE.MatchString(p.Region) {
		o.errs.add(o.key("region"), "%q is not an AWS region; use a code such as \"ap-northeast-1\", or remove the key to use the first environment's region", p.Region)
	}
	o.done()
	return p
}

// checkPipeline checks the pipeline's environments against the configured ones and fills in the
// defaults that depend on them: the order, and the pipeline's account and region.
func (c *Config) checkPipeline(errs *problems) {
	if c.Delivery == nil || c.Delivery.Pipeline == nil {
		return
	}
	p := c.Delivery.Pipeline
	key := ContextKey + ".delivery.pipeline.environments"
	if p.Environments == nil {
		var prod []string
		for _, n := range c.Names() {
			if c.Environments[n].Production {
				prod = append(prod, n)
			} else {
				p.Environments = append(p.Environments, n)
			}
		}
		p.Environments = append(p.Environments, prod...)
	}
	if len(p.Environments) == 0 {
		errs.add(key, "must name at least one environment to deploy, such as [\"dev\", \"prod\"]")
		return
	}
	if c.Environments["pipeline"] != nil {
		errs.add(ContextKey+".environments.pipeline", "the pipeline's own stack is KpiLake-pipeline; rename this environment")
	}
	seen := map[string]bool{}
	for i, n := range p.Environments {
		switch {
		case c.Environments[n] == nil:
			errs.add(fmt.Sprintf("%s[%d]", key, i), "%q is not a configured environment; use one of %s", n, strings.Join(c.Names(), ", "))
		case seen[n]:
			errs.add(fmt.Sprintf("%s[%d]", key, i), "%q is listed twice; deploy each environment once", n)
		}
		seen[n] = true
	}
	if first := c.Environments[p.Environments[0]]; first != nil {
		if p.Region == "" {
			p.Region = first.Region
		}
		if p.Account == "" {
			p.Account = first.Account
		}
	}
}
