package certs

import (
	"crypto/x509"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// crlOf issues a CRL of n revoked entries.
func crlOf(t testing.TB, n int) []byte {
	t.Helper()
	der, err := fakepki.SelfIssuedCRL("CRL test CA", n, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestRealCRLsParse: Intel's real CRLs are far within the bound.
func TestRealCRLsParse(t *testing.T) {
	for file, want := range map[string]int{
		"intel-collateral/pcs-00806f050000/pckcrl-platform.der": 44,
		"intel-collateral/pcs-00806f050000/rootcacrl.der":       0,
	} {
		l, err := ParseCRL(testutil.ReadFile(t, file))
		if err != nil || len(l.RevokedCertificateEntries) != want {
			t.Errorf("%s: %v", file, err)
		}
	}
}

// TestCRLEntriesBounded: MaxCRLEntries entries parse; one more is refused
// (format.ErrTooLarge) before x509 parses anything.
func TestCRLEntriesBounded(t *testing.T) {
	ok := crlOf(t, MaxCRLEntries)
	if l, err := ParseCRL(ok); err != nil || len(l.RevokedCertificateEntries) != MaxCRLEntries {
		t.Fatalf("%d entries: %v", MaxCRLEntries, err)
	}
	big := crlOf(t, MaxCRLEntries+1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l, err := ParseCRL(big)
	runtime.ReadMemStats(&after)
	var fe *FormatError
	if l != nil || !errors.As(err, &fe) || fe.Field != "revokedCertificates" || !errors.Is(err, format.ErrTooLarge) {
		t.Fatalf("%d entries: %v", MaxCRLEntries+1, err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<10 {
		t.Errorf("refusing allocated %d bytes", grown)
	}
	runtime.ReadMemStats(&before)
	if _, err := x509.ParseRevocationList(big); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	t.Logf("a CRL of %d entries: %d bytes of DER, %d bytes allocated by x509.ParseRevocationList", MaxCRLEntries+1, len(big), after.TotalAlloc-before.TotalAlloc)
}

// FuzzCRLEntries: the count never panics and, on every CRL x509 parses,
// refuses exactly those with more entries than the limit.
func FuzzCRLEntries(f *testing.F) {
	for _, n := range []int{0, 1, 2, 3, 5} {
		f.Add(crlOf(f, n))
	}
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, der []byte) {
		const limit = 2
		err := checkCRLEntries(der, limit)
		if err != nil && !errors.Is(err, format.ErrTooLarge) {
			t.Fatalf("error of another kind: %v", err)
		}
		l, perr := x509.ParseRevocationList(der)
		if perr != nil {
			return
		}
		if (len(l.RevokedCertificateEntries) > limit) != (err != nil) {
			t.Fatalf("%d entries, limit %d: %v", len(l.RevokedCertificateEntries), limit, err)
		}
	})
}

// TestCRLExtensions: a CRL that is not the complete list of what its
// issuer revoked (a delta CRL, an issuing distribution point), or that
// carries a critical CRL or entry extension, is refused (a *FormatError
// wrapping format.ErrUnexpectedField); non-critical extensions and reason
// codes, and AMD's and Intel's real CRLs, are not.
func TestCRLExtensions(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rows, err := fakepki.EditedCRLs("CRL extension test CA", at)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"enarx-steward/milan-vcek-crl-2022.der", "enarx-steward/genoa-vcek-crl-2022.der",
		"intel-collateral/pcs-00806f050000/pckcrl-platform.der", "intel-collateral/pcs-00806f050000/rootcacrl.der"} {
		rows = append(rows, fakepki.EditedCRLCase{Name: "real " + file, DER: testutil.ReadFile(t, file)})
	}
	for _, tc := range rows {
		t.Run(tc.Name, func(t *testing.T) {
			l, err := ParseCRL(tc.DER)
			if !tc.Refuse {
				if err != nil || l == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *FormatError
			if l != nil || !errors.As(err, &fe) || !errors.Is(err, format.ErrUnexpectedField) {
				t.Fatalf("ParseCRL = %v, %v; want a *FormatError wrapping ErrUnexpectedField", l != nil, err)
			}
			parsed, perr := x509.ParseRevocationList(tc.DER)
			if perr != nil {
				t.Fatal(perr)
			}
			if err := CheckCRLExtensions(parsed); !errors.Is(err, format.ErrUnexpectedField) {
				t.Errorf("CheckCRLExtensions = %v", err)
			}
		})
	}
}
