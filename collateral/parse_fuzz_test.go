package collateral

import (
	"bytes"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// FuzzParseKDSAnswers: the readers of KDS's cert_chain and CRL answers
// (parseChain, parseCRL) never panic; every refusal returns nothing and
// wraps ErrInvalidCertificate; an accepted chain is an ASK that the pinned
// ARK signed, and an accepted CRL is the pinned ARK's, fresh, with the DER
// to cache being the CRL itself.
func FuzzParseKDSAnswers(f *testing.F) {
	pki := newTestPKI(f, "Milan")
	crl := pki.crl(f, time.Now().Add(24*time.Hour))
	f.Add(false, pki.chainPEM())
	f.Add(true, crl)
	f.Add(true, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}))
	f.Add(true, pki.crl(f, time.Now().Add(-time.Minute)))
	f.Add(false, testutil.ReadFile(f, "trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem"))
	f.Add(true, testutil.ReadFile(f, "enarx-steward/milan-vcek-crl-2022.der"))
	c := &Chain{}
	f.Fuzz(func(t *testing.T, isCRL bool, b []byte) {
		if !isCRL {
			ch, err := c.parseChain(b, pki.ark)
			if err != nil {
				if ch != nil || !errors.Is(err, ErrInvalidCertificate) {
					t.Fatalf("chain %v, error %v", ch != nil, err)
				}
				return
			}
			if !ch.ARK.Equal(pki.ark) || ch.ASK.CheckSignatureFrom(pki.ark) != nil {
				t.Fatal("accepted a chain the pinned ARK did not sign")
			}
			return
		}
		l, der, err := c.parseCRL(b, pki.ark)
		if err != nil {
			if l != nil || der != nil || !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("CRL %v, DER %d bytes, error %v", l != nil, len(der), err)
			}
			return
		}
		if !bytes.Equal(der, l.Raw) || !bytes.Equal(l.RawIssuer, pki.ark.RawSubject) || l.CheckSignatureFrom(pki.ark) != nil ||
			!time.Now().Before(l.NextUpdate) {
			t.Fatal("accepted a CRL that is not the pinned ARK's, or stale")
		}
	})
}
