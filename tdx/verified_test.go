package tdx_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// TestValidAt (mutation29b): a chain verified earlier is trusted again
// only inside every certificate's window: a time outside the PCK's, the
// CA's or the root's (before NotBefore or after NotAfter) is ErrPCKChain,
// whichever of the three it is; the bounds themselves are inside.
func TestValidAt(t *testing.T) {
	at := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	wide := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: at.AddDate(-1, 0, 0), NotAfter: at.AddDate(1, 0, 0)}
	}
	for _, which := range []string{"pck", "ca", "root"} {
		for _, tc := range []struct {
			name       string
			notBefore  time.Time
			notAfter   time.Time
			wantReject bool
		}{
			{"inside", at.Add(-time.Hour), at.Add(time.Hour), false},
			{"at NotBefore", at, at.Add(time.Hour), false},
			{"at NotAfter", at.Add(-time.Hour), at, false},
			{"before NotBefore", at.Add(time.Second), at.Add(time.Hour), true},
			{"after NotAfter", at.Add(-time.Hour), at.Add(-time.Second), true},
		} {
			t.Run(which+"/"+tc.name, func(t *testing.T) {
				v := &tdx.Verified{PCK: wide(tdx.PCKCertCN), Intermediate: wide(tdx.PlatformCACN), Root: wide(tdx.RootCACN)}
				c := map[string]*x509.Certificate{"pck": v.PCK, "ca": v.Intermediate, "root": v.Root}[which]
				c.NotBefore, c.NotAfter = tc.notBefore, tc.notAfter
				err := v.ValidAt(at)
				if got := err != nil; got != tc.wantReject || (got && !errors.Is(err, tdx.ErrPCKChain)) {
					t.Fatalf("ValidAt: %v, want rejected %v (ErrPCKChain)", err, tc.wantReject)
				}
			})
		}
	}
}

// TestVerifySignedPCKKey (mutation29b): VerifySigned, given a chain whose
// PCK key is not ECDSA P-256 (as a caller holding a Verified of its own
// could pass), refuses it as ErrPCKChain before any signature.
func TestVerifySignedPCKKey(t *testing.T) {
	f := tdxtest.New(t)
	q := checkResigned(t, f, realQuotes[0].file, func(*tdx.Quote) {}, nil)
	v, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime, Root: f.Root})
	if err != nil {
		t.Fatal(err)
	}
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P384(), elliptic.P521()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			k, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			other := *v
			pck := *v.PCK
			pck.PublicKey = &k.PublicKey
			other.PCK = &pck
			if err := q.VerifySigned(&other); !errors.Is(err, tdx.ErrPCKChain) {
				t.Fatalf("a %s PCK key: %v, want ErrPCKChain", curve.Params().Name, err)
			}
		})
	}
}
