package vtpm

import (
	"bytes"
	"crypto/x509"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestTrimDERPadding: the real AK certificate index of an Azure CVM
// (signal-svr2: 1008 bytes of DER, then zeros to 4096) comes back as the
// DER alone, which x509 parses; content that is not one DER element
// followed only by zeros comes back as stored.
func TestTrimDERPadding(t *testing.T) {
	nv := testutil.ReadFile(t, "signal-svr2/azure-akcert-nv.bin")
	der := trimDERPadding(nv)
	if _, err := x509.ParseCertificate(der); err != nil || len(der) != 1008 {
		t.Fatalf("real AK certificate index: %d bytes, %v", len(der), err)
	}
	junk := append(bytes.Clone(der), 0, 0, 1)
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"real index", nv, der},
		{"DER without padding", der, der},
		{"non-zero after the DER", junk, junk},
		{"not DER", []byte{0xFF, 0, 0}, []byte{0xFF, 0, 0}},
		{"all zeros", make([]byte, 8), make([]byte, 8)},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := trimDERPadding(tc.in); !bytes.Equal(got, tc.want) {
				t.Errorf("%d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}
