package hcl_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
)

// TestPCR6 checks PCR6 against a real Azure PCR 6 (trustee's Milan
// evidence-v1.json) and the architecture form against the formula written
// out step by step.
func TestPCR6(t *testing.T) {
	got := hcl.PCR6("26F8BC30-774E-4290-8E7A-535F3B672AEE", "")
	if h := hex.EncodeToString(got[:]); h != "560c94915ec0d8a2e8144ac18b44ac6e6a6695e6144fe27355bd50fc4b5ed8f4" {
		t.Errorf("PCR6 = %s, want the real Azure PCR 6", h)
	}
	e := func(a, b []byte) []byte { s := sha256.Sum256(append(append([]byte{}, a...), b...)); return s[:] }
	h := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	for _, arch := range []string{hcl.ArchX64, hcl.ArchARM64} {
		want := e(e(e(make([]byte, 32), h([]byte("UUID: ABC"))), h([]byte(arch))), h([]byte{0, 0, 0, 0}))
		if got := hcl.PCR6("ABC", arch); hex.EncodeToString(got[:]) != hex.EncodeToString(want) {
			t.Errorf("PCR6(%s) = %x, want %x", arch, got, want)
		}
	}
	if a, b := hcl.PCR6("ABC", ""), hcl.PCR6("abc", ""); a == b {
		t.Error("the id's case is measured: upper and lower case must differ")
	}
}
