package rdsca_test

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/kpilake/kpilake/lambdas/rdsca"
)

func TestBundle_HoldsCurrentRDSRootsForEveryRegionWeUse(t *testing.T) {
	data := rdsca.PEM()
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) < 50 {
		t.Fatalf("bundle holds %d certificates; expected the RDS roots of every region", len(certs))
	}
	soon := time.Now().AddDate(0, 6, 0)
	found := map[string]bool{}
	for _, c := range certs {
		if !c.IsCA {
			t.Errorf("%s is not a CA certificate", c.Subject)
		}
		if c.NotAfter.Before(soon) {
			t.Errorf("%s expires %s; refresh the bundle with scripts/update-rds-ca.sh", c.Subject, c.NotAfter.Format(time.DateOnly))
		}
		for _, region := range []string{"ap-northeast-1", "us-east-1", "eu-west-1"} {
			if strings.Contains(c.Subject.CommonName, "Amazon RDS "+region+" Root CA") {
				found[region] = true
			}
		}
	}
	for _, region := range []string{"ap-northeast-1", "us-east-1", "eu-west-1"} {
		if !found[region] {
			t.Errorf("no Amazon RDS root CA for %s", region)
		}
	}
	if rdsca.Pool() == nil {
		t.Error("Pool() is nil")
	}
}
