package snp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestRealTurinVCEK: a real Turin VCEK from AMD KDS (virtee/sev test data)
// chains to the pinned Turin roots, and the KDS cert_chain served with it
// is exactly the pinned Turin ASK and ARK; the same VCEK is not accepted as
// a Milan one.
func TestRealTurinVCEK(t *testing.T) {
	v, err := ParseVCEK(testutil.ReadFile(t, "virtee-sev/vcek-turin.der"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Product != Turin {
		t.Fatalf("product %s, want Turin", v.Product)
	}
	c, err := DefaultRoots().VerifyVCEK(v, testutil.FixtureTime())
	if err != nil || !c.Pinned || c.Product != Turin {
		t.Fatalf("VerifyVCEK = %+v, %v", c, err)
	}
	kds := testutil.PEMBlocks(t, testutil.ReadFile(t, "virtee-sev/cert-chain-turin.pem"), "CERTIFICATE")
	if len(kds) != 2 || !bytes.Equal(kds[0], c.ASK.Raw) || !bytes.Equal(kds[1], c.ARK.Raw) {
		t.Errorf("KDS cert_chain (%d certificates) is not the pinned Turin ASK, ARK", len(kds))
	}
	milan := &Roots{chains: map[Product][]*Chain{Turin: DefaultRoots().Chains(Milan)}}
	if _, err := milan.VerifyVCEK(v, testutil.FixtureTime()); err == nil || errors.Is(err, ErrValidity) {
		t.Errorf("Turin VCEK under Milan roots: %v, want a chain error", err)
	}
}

// TestRealReportsRoundTrip: every real bare SNP report from other projects
// (versions 2, 3 and 5; VCEK and VLEK signed; Azure, AWS, GCP and bare
// metal) parses and marshals back to the same bytes.
func TestRealReportsRoundTrip(t *testing.T) {
	for _, f := range []struct {
		file    string
		version uint32
	}{
		{"virtee-sev/report-milan.bin", 2},
		{"go-sev-guest/attestation-debug.bin", 2},
		{"constellation/aws-vlek-report.bin", 3},
		{"constellation/vlek-report-bad-signature.bin", 2},
		{"teekit-gcp-sev/report-v5-vmpl0.bin", 5},
		{"teekit-gcp-sev/report-v5-vmpl1.bin", 5},
		{"teekit-gcp-sev/report-v5-vmpl1-x25519.bin", 5},
		{"trustee-snp/test-report.bin", 2},
		{"trustee-snp/test-vlek-report.bin", 3},
		{"signal-svr2/milan-report.bin", 2},
		{"oak/turin-report.bin", 5},
		{"oak/genoa-report.bin", 5},
		{"oak/milan-oc-report.bin", 3},
		{"oak/milan-rk-report.bin", 3},
		{"yaxi-routex/genoa-v5-report.bin", 5},
		{"yaxi-routex/genoa-v3-report.bin", 3},
		{"constellation/aws-vlek-report-2023.bin", 2},
		{"constellation/aws-vlek-report-2024.bin", 2},
		{"constellation/azure-snp-report-wip-2023.bin", 2},
	} {
		b := testutil.ReadFile(t, f.file)
		r, err := ParseReport(b)
		if err != nil {
			t.Errorf("%s: %v", f.file, err)
			continue
		}
		if r.Version != f.version {
			t.Errorf("%s: version %d, want %d", f.file, r.Version, f.version)
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Errorf("%s: Marshal differs from the parsed bytes", f.file)
		}
	}
}

// TestRealVCEKEncodings: trustee's edited VCEKs carry hwID in both
// encodings (a bare 64-byte value and a DER OCTET STRING); both parse to
// the same chip id, and both fail the chain (the edit broke AMD's
// signature), never validity.
func TestRealVCEKEncodings(t *testing.T) {
	want := make([]byte, ChipIDSize)
	for i := range want {
		want[i] = byte(i)
	}
	for _, f := range []string{"trustee-snp/test-vcek-invalid-legacy.der", "trustee-snp/test-vcek-invalid-new.der"} {
		v, err := ParseVCEK(testutil.ReadFile(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(v.HWID, want) {
			t.Errorf("%s: hwID %x", f, v.HWID)
		}
		if _, err := DefaultRoots().VerifyVCEK(v, testutil.FixtureTime()); err == nil || errors.Is(err, ErrValidity) {
			t.Errorf("%s: VerifyVCEK = %v, want a signature error", f, err)
		}
	}
}
