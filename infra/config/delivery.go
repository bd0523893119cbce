package config

import "regexp"

// Delivery configures how GitHub Actions deploys the environments (infra/delivery): the repository
// whose workflows may deploy, through OpenID Connect, with no long-lived keys.
type Delivery struct {
	// GitHubRepository is "owner/name"; only its workflows, running in the GitHub environment of
	// the same name as a kpilake environment, may assume that environment's deploy role. Required.
	GitHubRepository string
	// ExistingOIDCProvider says the accounts already trust GitHub's OIDC issuer (an account holds
	// one provider per issuer), so no bootstrap stack creates it. Default: false, and the first
	// environment (by name) of each account creates it.
	ExistingOIDCProvider bool
	// CDKQualifier is the qualifier of the accounts' CDK bootstrap roles, which the deploy role may
	// assume. Default: "hnb659fds", the CDK's.
	CDKQualifier string
}

var (
	githubRepoRE   = regexp.MustCompile(`^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$`)
	cdkQualifierRE = regexp.MustCompile(`^[a-z0-9]{1,10}$`)
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
	o.done()
	return d
}
