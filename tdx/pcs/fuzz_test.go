package pcs

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

func seed(f *testing.F, name string) {
	f.Add(testutil.ReadFile(f, testutil.IntelCollateralDir+name))
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
	qe, err := ParseQEIdentity(testutil.ReadFile(f, testutil.IntelCollateralDir+"qeidentity-tdx.json"))
	if err != nil {
		f.Fatal(err)
	}
	q, v := VerifiedQuote(f, "intel-collateral/azure-tdx-quote-teekit.bin")
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

// fuzzParser runs parse on every input: it never panics, its errors stay
// bounded, and ok holds for what it accepts.
func fuzzParser[T any](f *testing.F, parse func([]byte) (T, error), ok func(T) bool, seeds ...string) {
	for _, s := range seeds {
		seed(f, s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parse(b)
		boundedError(t, err)
		if err == nil && !ok(v) {
			t.Fatalf("accepted %+v", v)
		}
	})
}

// FuzzParseQEIdentity: accepted identities have levels and ISVPRODID.
func FuzzParseQEIdentity(f *testing.F) {
	fuzzParser(f, ParseQEIdentity, func(q *QEIdentity) bool { return len(q.TCBLevels) > 0 && q.ISVProdID != nil }, "qeidentity-tdx.json")
}

// FuzzParseCRL: accepted CRLs have a nextUpdate.
func FuzzParseCRL(f *testing.F) {
	parse := func(b []byte) (*x509.RevocationList, error) { return ParseCRL(b, "crl") }
	fuzzParser(f, parse, func(l *x509.RevocationList) bool { return !l.NextUpdate.IsZero() }, "pckcrl-platform.der", "rootcacrl.der")
}

// FuzzParseSigningChain: accepted chains hold 1 or 2 certificates.
func FuzzParseSigningChain(f *testing.F) {
	fuzzParser(f, ParseSigningChain, func(c []*x509.Certificate) bool { return len(c) == 1 || len(c) == 2 }, "tcb-signing-chain.pem")
}

// FuzzDecodeCRL: DER, PEM and hex decode; whatever is accepted is no
// larger than the input and CheckPCKCRL never panics on it.
func FuzzDecodeCRL(f *testing.F) {
	seed(f, "pckcrl-platform.der")
	f.Add([]byte("30820101"))
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	chain := testutil.ReadFile(f, testutil.IntelCollateralDir+"pckcrl-issuer-chain.pem")
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := DecodeCRL(b)
		boundedError(t, err)
		if err == nil && len(der) > len(b) {
			t.Fatalf("decoded %d bytes from %d", len(der), len(b))
		}
		_, err = CheckPCKCRL(b, chain, CAPlatform, Options{Now: testutil.TDXFixtureTime()})
		boundedError(t, err)
	})
}

// FuzzCheckFetched: the checks of fetched collateral (CheckRootCRL,
// CheckPCKCRL, CheckTCBInfo, CheckQEIdentity: a PCS answer and its issuer
// chain header) never panic, return a document exactly when they return
// no error, and keep their errors bounded whatever names the answer's
// certificates and CRLs carry. Seeded with the real collateral and with
// look-alikes whose issuer names are 3000 bytes long.
func FuzzCheckFetched(f *testing.F) {
	read := func(name string) []byte { return testutil.ReadFile(f, testutil.IntelCollateralDir+name) }
	rootCRL, pckCRL := read("rootcacrl.der"), read("pckcrl-platform.der")
	pckChain, tcbChain := read("pckcrl-issuer-chain.pem"), read("tcb-signing-chain.pem")
	tcbInfo, qeID := read("tcbinfo-tdx-00806f050000.json"), read("qeidentity-tdx.json")
	at := testutil.TDXFixtureTime()
	long := strings.Repeat("A", 3000)
	longCRL, err := fakepki.SelfIssuedCRL(long, 1, at)
	if err != nil {
		f.Fatal(err)
	}
	longCA, _, err := fakepki.SelfSignedCA(long, at)
	if err != nil {
		f.Fatal(err)
	}
	longChain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: longCA.Raw})
	for i, body := range [][]byte{rootCRL, pckCRL, tcbInfo, qeID} {
		chain := tcbChain
		if i == 1 {
			chain = pckChain
		}
		f.Add(uint8(i), body, chain)
		f.Add(uint8(i), body, longChain)
		f.Add(uint8(i), longCRL, chain)
	}
	fmspc := [6]byte{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00}
	opts := Options{Now: at}
	f.Fuzz(func(t *testing.T, which uint8, body, chain []byte) {
		var got bool
		var err error
		switch which % 4 {
		case 0:
			l, e := CheckRootCRL(body, opts)
			got, err = l != nil, e
		case 1:
			l, e := CheckPCKCRL(body, chain, CAPlatform, opts)
			got, err = l != nil, e
		case 2:
			ti, _, e := CheckTCBInfo(body, chain, fmspc, opts)
			got, err = ti != nil, e
		case 3:
			qe, _, e := CheckQEIdentity(body, chain, opts)
			got, err = qe != nil, e
		}
		boundedError(t, err)
		if got == (err != nil) {
			t.Fatalf("check %d: a document %v with error %v", which%4, got, err)
		}
	})
}

// FuzzLoadDir: reading a collateral directory in which one file is
// replaced by the input (or the input is added under another name) never
// panics, returns a collateral exactly when it returns no error, keeps the
// error bounded, and an accepted collateral has every part LoadDir
// requires, each TCB info under its own FMSPC.
func FuzzLoadDir(f *testing.F) {
	files := testutil.RegularFiles(f, testutil.IntelCollateral())
	names := slices.Sorted(maps.Keys(files))
	names = append(names, TCBInfoPrefix+"00906ed50000.json", "README")
	for i, n := range names {
		f.Add(uint8(i), files[n])
	}
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		fsys := fstest.MapFS{}
		for n, b := range files {
			fsys[n] = &fstest.MapFile{Data: b}
		}
		fsys[names[int(which)%len(names)]] = &fstest.MapFile{Data: data}
		c, err := LoadDir(fsys)
		boundedError(t, err)
		if (c == nil) == (err == nil) {
			t.Fatalf("collateral %v with error %v", c != nil, err)
		}
		if err != nil {
			return
		}
		if c.QEIdentity == nil || c.SigningChain == nil || c.RootCRL == nil || len(c.TCBInfos) == 0 || len(c.PCKCRLs) == 0 {
			t.Fatal("accepted a directory without a required part")
		}
		for k, ti := range c.TCBInfos {
			if hex.EncodeToString(ti.FMSPC[:]) != k {
				t.Fatalf("TCB info for %x under %s", ti.FMSPC, k)
			}
		}
	})
}
