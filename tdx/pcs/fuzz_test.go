package pcs

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

const fuzzDir = "intel-collateral/pcs-00806f050000/"

func seed(f *testing.F, name string) {
	b, err := os.ReadFile(filepath.Join(testutil.Dir(), fuzzDir, name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// boundedError fails if a parse error is long or not valid UTF-8 (error
// messages escape attacker bytes and stay bounded).
func boundedError(t *testing.T, err error) {
	if err != nil && (len(err.Error()) > 1024 || !utf8.ValidString(err.Error())) {
		t.Fatalf("unbounded error: %.2000q", err.Error())
	}
}

// FuzzParseTCBInfo: never panics; an accepted TCB info has every field
// evaluation reads, and evaluating the real quotes under it does not panic.
func FuzzParseTCBInfo(f *testing.F) {
	seed(f, "tcbinfo-tdx-00806f050000.json")
	qe, err := ParseQEIdentity(must(f, filepath.Join(testutil.Dir(), fuzzDir, "qeidentity-tdx.json")))
	if err != nil {
		f.Fatal(err)
	}
	q, v := fuzzQuote(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ti, err := ParseTCBInfo(b)
		boundedError(t, err)
		if err != nil {
			return
		}
		if len(ti.TCBLevels) == 0 || ti.TDXModule == nil || len(ti.Signed.Raw) == 0 {
			t.Fatalf("accepted without levels or module: %+v", ti)
		}
		r, err := evaluate(ti, qe, q, v)
		if err == nil && r.Status == "" {
			t.Fatal("no status and no error")
		}
	})
}

// FuzzParseQEIdentity: never panics; accepted identities have levels.
func FuzzParseQEIdentity(f *testing.F) {
	seed(f, "qeidentity-tdx.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		qe, err := ParseQEIdentity(b)
		boundedError(t, err)
		if err == nil && (len(qe.TCBLevels) == 0 || qe.ISVProdID == nil) {
			t.Fatalf("accepted without levels or ISVPRODID")
		}
	})
}

// FuzzParseCRL: never panics; accepted CRLs have a nextUpdate.
func FuzzParseCRL(f *testing.F) {
	seed(f, "pckcrl-platform.der")
	seed(f, "rootcacrl.der")
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseCRL(b, "crl")
		boundedError(t, err)
		if err == nil && l.NextUpdate.IsZero() {
			t.Fatal("accepted without nextUpdate")
		}
	})
}

// FuzzParseSigningChain: never panics; accepted chains hold 1 or 2
// certificates.
func FuzzParseSigningChain(f *testing.F) {
	seed(f, "tcb-signing-chain.pem")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseSigningChain(b)
		boundedError(t, err)
		if err == nil && (len(c) == 0 || len(c) > 2) {
			t.Fatalf("%d certificates", len(c))
		}
	})
}

func must(f *testing.F, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func fuzzQuote(f *testing.F) (*tdx.Quote, *tdx.Verified) {
	q, err := tdx.ParseQuote(must(f, filepath.Join(testutil.Dir(), "intel-collateral/azure-tdx-quote-teekit.bin")))
	if err != nil {
		f.Fatal(err)
	}
	v, err := q.Verify(tdx.VerifyOptions{Now: testutil.TDXFixtureTime()})
	if err != nil {
		f.Fatal(err)
	}
	return q, v
}
