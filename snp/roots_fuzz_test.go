package snp_test

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// FuzzParseChainPEM: ParseChainPEM never panics, every rejection matches
// ErrRoots and returns no chain, and an accepted chain is an ARK that
// signs itself and the ASK (and the ASVK, when there is one) of one
// product line; written back as PEM (ASK, ARK, ASVK) it parses to the same
// certificates.
func FuzzParseChainPEM(f *testing.F) {
	for _, file := range []string{
		"trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem", "trustee-az-vtpm/amd-vendor-certs/genoa_ask_ark_asvk.pem",
		"trustee-az-vtpm/amd-vendor-certs/turin_ask_ark_asvk.pem", "virtee-sev/cert-chain-turin.pem", "azure-cvm-tooling/certs.pem",
	} {
		f.Add(testutil.ReadFile(f, file))
	}
	milan := testutil.ReadFile(f, "trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem")
	blocks := testutil.PEMBlocks(f, milan, "CERTIFICATE")
	f.Add(pemOf(blocks[1], blocks[0])) // ARK before ASK
	f.Add(pemOf(blocks[0]))            // ASK alone
	f.Add(append([]byte("-----BEGIN KEY-----\nAA==\n-----END KEY-----\n"), milan...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := snp.ParseChainPEM(data)
		if testutil.RejectedNil(t, c, err, snp.ErrRoots) {
			return
		}
		if c.ARK.CheckSignatureFrom(c.ARK) != nil || c.ASK.CheckSignatureFrom(c.ARK) != nil ||
			!strings.HasSuffix(c.ARK.Subject.CommonName, string(c.Product)) || c.Pinned || c.Emulated {
			t.Fatalf("accepted an inconsistent chain for %s", c.Product)
		}
		ders := [][]byte{c.ASK.Raw, c.ARK.Raw}
		if c.ASVK != nil {
			if c.ASVK.CheckSignatureFrom(c.ARK) != nil {
				t.Fatal("accepted an ASVK the ARK did not sign")
			}
			ders = append(ders, c.ASVK.Raw)
		}
		again, err := snp.ParseChainPEM(pemOf(ders...))
		if err != nil || !again.ASK.Equal(c.ASK) || !again.ARK.Equal(c.ARK) || (again.ASVK == nil) != (c.ASVK == nil) ||
			(c.ASVK != nil && !again.ASVK.Equal(c.ASVK)) {
			t.Fatalf("the chain written back parses differently: %v", err)
		}
	})
}

// pemOf encodes ders as CERTIFICATE blocks, in order.
func pemOf(ders ...[]byte) []byte {
	var b bytes.Buffer
	for _, d := range ders {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return b.Bytes()
}
