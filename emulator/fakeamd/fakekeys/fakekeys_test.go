package fakekeys

import (
	"bytes"
	"crypto"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
)

func TestKeys(t *testing.T) {
	if k := VCEKKey(); k == nil || k.Curve.Params().Name != "P-384" {
		t.Error("VCEK key missing or not P-384")
	}
	for name, k := range map[string]interface{ Size() int }{"ARK": ARKKey(), "ASK": ASKKey()} {
		if k == nil || k.Size() != 512 {
			t.Errorf("%s key missing or not RSA-4096", name)
		}
	}
	// Each call returns a fresh key.
	a, b := VCEKKey(), VCEKKey()
	if a == b || !a.Equal(b) {
		t.Error("VCEKKey does not return equal, distinct copies")
	}
	for _, pemBytes := range [][]byte{arkKeyPEM, askKeyPEM, vcekKeyPEM} {
		if !bytes.HasPrefix(pemBytes, []byte("PUBLIC TEST KEY")) {
			t.Error("an embedded key file lacks the public-test-key banner")
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string][]byte{
		"empty":      nil,
		"wrong type": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"bad der":    []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := fakepki.ParseKey(name, b); !errors.Is(err, fakepki.ErrKey) {
				t.Errorf("ParseKey: %v, want ErrKey", err)
			}
			if rsaKey(name, b) != nil {
				t.Error("rsaKey returned a key")
			}
		})
	}
	if rsaKey("VCEK", vcekKeyPEM) != nil {
		t.Error("the P-384 key passed as RSA-4096")
	}
}

// TestKeyFiles checks that the embedded key files are exactly what the gen
// program writes for their keys (fakepki.KeyFile).
func TestKeyFiles(t *testing.T) {
	for name, f := range map[string]struct {
		key  crypto.Signer
		file []byte
	}{"ARK": {ARKKey(), arkKeyPEM}, "ASK": {ASKKey(), askKeyPEM}, "VCEK": {VCEKKey(), vcekKeyPEM}} {
		b, err := fakepki.KeyFile("AMD", f.key)
		if err != nil || !bytes.Equal(b, f.file) {
			t.Errorf("%s: KeyFile differs from the committed file (%v)", name, err)
		}
	}
}
