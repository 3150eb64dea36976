package tdx_test

import (
	"bytes"
	"encoding/pem"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// TestSplitPEM: the block count, the block type and what comes before,
// between and after the blocks are each held to the PEMChain (no text,
// no malformed block that encoding/pem would skip, no headers); failures
// name the chain's field.
func TestSplitPEM(t *testing.T) {
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 1}})
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 2}})
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	c := tdx.PEMChain{Format: "test", Field: "chain", Min: 2, Max: 3, Padding: "\n\x00"}
	for _, tc := range []struct {
		name  string
		chain []byte
		n     int
		kind  error
	}{
		{"two", cat(cert, cert), 2, nil},
		{"three, padded", cat(cert, cert, cert, []byte("\n\x00\x00")), 3, nil},
		{"empty", nil, 0, format.ErrEmpty},
		{"one", cert, 0, format.ErrTruncated},
		{"four", cat(cert, cert, cert, cert), 0, format.ErrUnexpectedValue},
		{"a key", cat(cert, key), 0, format.ErrUnexpectedValue},
		{"DER", []byte{0x30, 0x82, 1, 0}, 0, format.ErrBadEncoding},
		{"not padding", cat(cert, cert, []byte(" ")), 0, format.ErrTrailingData},
		{"padding first", cat([]byte("\n\x00"), cert, []byte("\n"), cert), 2, nil},
		{"text before the first block", cat([]byte("smuggled\n"), cert, cert), 0, format.ErrBadEncoding},
		{"text between blocks", cat(cert, []byte("smuggled\n"), cert), 0, format.ErrTrailingData},
		{"malformed block first (pem.Decode skips it)", cat([]byte("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"), cert, cert), 0, format.ErrBadEncoding},
		{"malformed block between", cat(cert, []byte("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"), cert), 0, format.ErrBadEncoding},
		{"block with headers", cat(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"X": "smuggled"}, Bytes: []byte{0x30, 1}}), cert), 0, format.ErrBadEncoding},
	} {
		ders, err := c.SplitPEM(tc.chain)
		if tc.kind == nil {
			if err != nil || len(ders) != tc.n || string(ders[0]) != "\x30\x01" {
				t.Errorf("%s: %d blocks, %v; want %d", tc.name, len(ders), err, tc.n)
			}
			continue
		}
		if !testutil.IsFormatError(err, "test", "chain", tc.kind) || ders != nil {
			t.Errorf("%s: %v, want a test: chain: %v error", tc.name, err, tc.kind)
		}
	}
}

// FuzzSplitPEM: SplitPEM never panics, and a chain it accepts holds Min to
// Max blocks, one per "-----BEGIN " in the input (no block skipped, as
// encoding/pem skips malformed ones), with only padding before the first.
func FuzzSplitPEM(f *testing.F) {
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 1}})
	f.Add(append(append([]byte{}, cert...), cert...))
	f.Add(append(append([]byte("\n\x00"), cert...), []byte("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAE=\n-----END CERTIFICATE----- x\n"))
	c := tdx.PEMChain{Format: "test", Field: "chain", Min: 2, Max: 3, Padding: "\n\x00"}
	f.Fuzz(func(t *testing.T, chain []byte) {
		ders, err := c.SplitPEM(chain)
		if err != nil {
			if ders != nil || !testutil.IsFormatError(err, "test", "chain", format.ErrMalformed) {
				t.Fatalf("error %v with %d blocks, or not the chain's format error", err, len(ders))
			}
			return
		}
		if len(ders) < c.Min || len(ders) > c.Max || bytes.Count(chain, []byte("-----BEGIN ")) != len(ders) {
			t.Fatalf("%d blocks from %d BEGIN lines", len(ders), bytes.Count(chain, []byte("-----BEGIN ")))
		}
		if i := bytes.Index(chain, []byte("-----BEGIN ")); len(bytes.Trim(chain[:i], c.Padding)) != 0 {
			t.Fatalf("%q before the first block", chain[:i])
		}
	})
}
