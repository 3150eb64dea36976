package fakekeys

import (
	"bytes"
	"crypto/elliptic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
)

// TestKeyFiles checks that the embedded keys are P-256 keys and their files
// exactly what the gen program writes for them (fakepki.KeyFile).
func TestKeyFiles(t *testing.T) {
	for name, file := range map[string][]byte{"PCK": pckKeyPEM, "attestation key": akPEM} {
		k, err := fakepki.ECDSAKey(name, file, elliptic.P256())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := fakepki.KeyFile("Intel", k)
		if err != nil || !bytes.Equal(b, file) {
			t.Errorf("%s: KeyFile differs from the committed file (%v)", name, err)
		}
	}
	if _, err := fakepki.ECDSAKey("PCK", pckKeyPEM, elliptic.P384()); err == nil {
		t.Error("the P-256 PCK key passed as P-384")
	}
}
