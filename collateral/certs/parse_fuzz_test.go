package certs

import (
	"bytes"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// maxErrorLen bounds the message of a rejection: attacker-chosen text
// (PEM types, OIDs) is cut before it is quoted.
const maxErrorLen = 512

// rejected fails t when exactly one of got and err is not set, or when
// err's message is unbounded; it reports whether err is set.
func rejected(t *testing.T, got bool, err error) bool {
	t.Helper()
	if got == (err != nil) {
		t.Fatalf("result %v with error %v", got, err)
	}
	if err != nil && len(err.Error()) > maxErrorLen {
		t.Fatalf("error of %d bytes", len(err.Error()))
	}
	return err != nil
}

// pemCerts encodes ders as CERTIFICATE blocks.
func pemCerts(ders ...[]byte) []byte {
	var b bytes.Buffer
	for _, d := range ders {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return b.Bytes()
}

// FuzzParsePEM: ParsePEM never panics, returns certificates or an error
// (bounded), accepts only CERTIFICATE blocks (at most MaxCertificates) with
// nothing but whitespace around them, and round-trips: the certificates
// written back as PEM parse to the same DER.
func FuzzParsePEM(f *testing.F) {
	for _, file := range testutil.AMDCertFiles() {
		f.Add(testutil.ReadFile(f, file))
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte(" \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParsePEM(data)
		if rejected(t, cs != nil, err) {
			return
		}
		if len(cs) == 0 || len(cs) > MaxCertificates {
			t.Fatalf("%d certificates accepted", len(cs))
		}
		ders := make([][]byte, len(cs))
		for i, c := range cs {
			ders[i] = c.Raw
		}
		again, err := ParsePEM(pemCerts(ders...))
		if err != nil || len(again) != len(cs) {
			t.Fatalf("written back: %d certificates, %v", len(again), err)
		}
		for i := range cs {
			if !again[i].Equal(cs[i]) {
				t.Fatalf("certificate %d differs when written back", i)
			}
		}
	})
}

// FuzzDER: DER never panics; input that is not PEM is returned as is, and
// PEM is accepted only as one block of the asked type, whose bytes are
// returned (pem.Encode of a block gives them back). The type is one of the
// callers' constants, not input.
func FuzzDER(f *testing.F) {
	types := []string{"X509 CRL", "CERTIFICATE"}
	crl := testutil.ReadFile(f, "enarx-steward/milan-vcek-crl-2022.der")
	f.Add(crl, uint8(0))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}), uint8(0))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: crl}), uint8(0))
	f.Add([]byte("-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n-----BEGIN X509 CRL-----\n"), uint8(0))
	f.Add([]byte("-----BEGIN "), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		typ := types[int(which)%len(types)]
		der, err := DER(data, typ)
		if err != nil {
			if der != nil || len(err.Error()) > maxErrorLen {
				t.Fatalf("%d bytes with error %v", len(der), err)
			}
			return
		}
		if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
			if !bytes.Equal(der, data) {
				t.Fatal("non-PEM input changed")
			}
			return
		}
		again, err := DER(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), typ)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("the block written back: %v", err)
		}
	})
}

// FuzzParseCRL: ParseCRL never panics, returns a list or a bounded error,
// refuses too many entries with a *FormatError (format.ErrTooLarge), and
// accepts no CRL that CheckCRLExtensions refuses (delta, issuing
// distribution point, critical extensions).
func FuzzParseCRL(f *testing.F) {
	for _, file := range []string{"enarx-steward/milan-vcek-crl-2022.der", "enarx-steward/genoa-vcek-crl-2022.der",
		"intel-collateral/pcs-00806f050000/pckcrl-platform.der", "intel-collateral/pcs-00806f050000/rootcacrl.der"} {
		f.Add(testutil.ReadFile(f, file))
	}
	rows, err := fakepki.EditedCRLs("CRL fuzz CA", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range rows {
		f.Add(r.DER)
	}
	f.Add(crlOf(f, 3))
	f.Fuzz(func(t *testing.T, der []byte) {
		l, err := ParseCRL(der)
		if rejected(t, l != nil, err) {
			if errors.Is(err, format.ErrTooLarge) {
				if _, ok := errors.AsType[*FormatError](err); !ok {
					t.Fatalf("too many entries, not a *FormatError: %v", err)
				}
			}
			return
		}
		if len(l.RevokedCertificateEntries) > MaxCRLEntries || CheckCRLExtensions(l) != nil {
			t.Fatal("accepted a CRL that the checks refuse")
		}
	})
}
