package tdx_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	tdxpcs "github.com/google/go-tdx-guest/pcs"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// diffSeed is a signed quote with the root both sides trust, the time at
// which they verify it and, if there is some, collateral for it.
type diffSeed struct {
	name string
	q    *tdx.Quote
	// signer re-signs mutated quotes (nil: a quote as found, which
	// mutations leave unsigned).
	signer *tdxtest.FakeIntel
	root   *x509.Certificate
	now    time.Time
	coll   *collSet
}

// collSet is collateral both sides are given: ours parsed, and the files
// go-tdx-guest's Getter serves at Intel's URLs.
type collSet struct {
	ours  *pcs.Collateral
	files map[string][]byte // by tdx/pcs.LoadDir's names
	// pckCRLChain is the PCK CRL's issuer chain (CA, root) as PEM.
	pckCRLChain []byte
}

// intelRootCRLURL is where Intel's root names its CRL.
const intelRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

// Get answers go-tdx-guest's requests (its trust.HTTPSGetter) from c, with
// Intel PCS's issuer-chain headers.
func (c *collSet) Get(u string) (map[string][]string, []byte, error) {
	signing := []string{url.QueryEscape(string(c.files[pcs.SigningChainFile]))}
	for name, b := range c.files {
		fmspc, ok := bytes.CutPrefix([]byte(name), []byte(pcs.TCBInfoPrefix))
		if ok && u == tdxpcs.TcbInfoURL(string(bytes.TrimSuffix(fmspc, []byte(".json")))) {
			return map[string][]string{tdxpcs.TcbInfoIssuerChainPhrase: signing}, b, nil
		}
	}
	for _, ca := range []string{"platform", "processor"} {
		if b, ok := c.files[pcs.PCKCRLPrefix+ca+".der"]; ok && u == tdxpcs.PckCrlURL(ca) {
			return map[string][]string{tdxpcs.SgxPckCrlIssuerChainPhrase: {url.QueryEscape(string(c.pckCRLChain))}}, b, nil
		}
	}
	switch u {
	case tdxpcs.QeIdentityURL():
		return map[string][]string{tdxpcs.SgxQeIdentityIssuerChainPhrase: signing}, c.files[pcs.QEIdentityFile], nil
	case intelRootCRLURL, tdxtest.RootCRLURL:
		return nil, c.files[pcs.RootCRLFile], nil
	}
	return nil, nil, fmt.Errorf("no such collateral: %s", u)
}

// newCollSet parses files as LoadDir does; the PCK CRL issuer chain is
// the CA and root of chain (a quote's PEM PCK chain).
func newCollSet(t testing.TB, files map[string][]byte, chain []byte) *collSet {
	t.Helper()
	fsys := fstest.MapFS{}
	for n, b := range files {
		fsys[n] = &fstest.MapFile{Data: b}
	}
	c, err := pcs.LoadDir(fsys)
	if err != nil {
		t.Fatal(err)
	}
	q := &tdx.Quote{PCKChain: chain}
	certs, err := q.PCKCertificates()
	if err != nil || len(certs) != 3 {
		t.Fatalf("chain: %v", err)
	}
	issuer := append(pemCert(certs[1].Raw), pemCert(certs[2].Raw)...)
	return &collSet{ours: c, files: files, pckCRLChain: issuer}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// readDir reads the regular files of a testdata folder by name.
func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	return testutil.RegularFiles(t, os.DirFS(filepath.Join(testutil.Dir(), dir)))
}

// feb2026 is when the 90c06f000000 collateral (and the dcap-qvl quote's
// PCK) is valid.
var feb2026 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// realDiffQuotes are the real TD quotes of testdata/, with the time at
// which their chains are valid and Intel's collateral for their FMSPC.
var realDiffQuotes = []struct {
	file string
	at   time.Time
	coll string
}{
	{"trustee-az-vtpm/az-tdx-vtpm/td-quote.bin", testutil.TDXFixtureTime(), "intel-collateral/pcs-00806f050000"},
	{"intel-collateral/azure-tdx-quote-teekit.bin", testutil.TDXFixtureTime(), "intel-collateral/pcs-00806f050000"},
	{"azure-cvm-attestation-tools/td-quote-v4.bin", feb2026, "intel-collateral/pcs-90c06f000000"},
	{"azure-cvm-attestation-tools/td-quote-v5.bin", feb2026, "intel-collateral/pcs-90c06f000000"},
	{"intel-collateral/azure-tdx-quote-v5-dcapqvl.bin", feb2026, "intel-collateral/pcs-90c06f000000"},
	{"oak/tdx-quote.bin", testutil.TDXFixtureTime(), ""},
}

// loadDiffSeeds returns the real quotes as found; the real quotes re-signed
// under a FakeIntel; quotes built by fakeintel (version 4, version 5 with
// a TDX 1.0 and a TDX 1.5 body) signed by it; the teekit quote signed by a
// FakeIntel of a Processor CA and by one with a bare PCK; the emulated
// platform's quote (fakekeys) under the emulator's root. Every re-signed
// seed has Intel's documents re-signed under its FakeIntel as collateral.
func loadDiffSeeds(t testing.TB) []*diffSeed {
	t.Helper()
	var seeds []*diffSeed
	f := tdxtest.New(t)
	for _, rq := range realDiffQuotes {
		q := testutil.Must(tdx.ParseQuote(testutil.ReadFile(t, rq.file)))(t)
		s := &diffSeed{name: rq.file + " as found", q: q, root: testutil.Must(tdx.IntelRoot())(t), now: rq.at}
		if rq.coll != "" {
			s.coll = newCollSet(t, readDir(t, rq.coll), q.PCKChain)
		}
		seeds = append(seeds, s, resigned(t, rq.file+" re-signed", clone(q), f))
	}
	for _, b := range builtQuotes(t) {
		seeds = append(seeds, resigned(t, b.name, b.q, f))
	}
	teekit := testutil.Must(tdx.ParseQuote(testutil.ReadFile(t, realDiffQuotes[1].file)))(t)
	seeds = append(seeds, resigned(t, "teekit, Processor CA", clone(teekit), tdxtest.NewWith(t, tdxtest.Options{ProcessorCA: true})),
		resigned(t, "teekit, bare PCK", clone(teekit), tdxtest.NewWith(t, tdxtest.Options{BarePCK: true})))
	body := testutil.Must(fakeintel.DefaultBody([64]byte{1, 2, 3}))(t)
	emulated := testutil.Must(fakekeys.Quote(body))(t)
	return append(seeds, &diffSeed{name: "emulated (fakekeys)", q: emulated, root: fakeintel.Root(), now: testutil.TDXFixtureTime()})
}

// namedQuote is a quote and the name of its seed.
type namedQuote struct {
	name string
	q    *tdx.Quote
}

// builtQuotes are quotes of fakeintel's builders, unsigned.
func builtQuotes(t testing.TB) []namedQuote {
	body := testutil.Must(fakeintel.DefaultBody([64]byte{9, 8, 7}))(t)
	for i := range body.RTMR {
		body.RTMR[i][0] = byte(i + 1)
	}
	body.TEETCBSVN2, body.MRServiceTD = [16]byte{5, 1, 7}, [48]byte{0x55}
	v4 := testutil.Must(fakeintel.NewQuote(body))(t)
	v5 := testutil.Must(fakeintel.NewQuote(body))(t)
	v5.Header.Version, v5.BodyType = tdx.QuoteVersion5, tdx.BodyTypeTD10
	return []namedQuote{{"synthetic v4", v4}, {"synthetic v5 TD10", v5},
		{"synthetic v5 TD15", testutil.Must(fakeintel.NewQuoteV5(body))(t)}}
}

// resigned signs q under f, with Intel's documents (FMSPC 00806f050000)
// re-signed under f's root as collateral.
func resigned(t testing.TB, name string, q *tdx.Quote, f *tdxtest.FakeIntel) *diffSeed {
	t.Helper()
	f.Sign(t, q)
	files := f.Files(t, intelDocs(t))
	return &diffSeed{name: name, q: q, signer: f, root: f.Root, now: testutil.TDXFixtureTime(), coll: newCollSet(t, files, q.PCKChain)}
}

// clone is a deep copy of q.
func clone(q *tdx.Quote) *tdx.Quote {
	c := *q
	c.QEAuthData, c.PCKChain = bytes.Clone(q.QEAuthData), bytes.Clone(q.PCKChain)
	return &c
}

// intelDocs is Intel's TCB info (FMSPC 00806f050000) and QE identity, to
// be signed under a FakeIntel.
func intelDocs(t testing.TB) tdxtest.Collateral {
	dir := testutil.IntelCollateralDir
	return tdxtest.Collateral{FMSPC: "00806f050000",
		TCBInfo:    testutil.Must(pcs.ParseTCBInfo(testutil.ReadFile(t, dir+"tcbinfo-tdx-00806f050000.json")))(t).Signed.Raw,
		QEIdentity: testutil.Must(pcs.ParseQEIdentity(testutil.ReadFile(t, dir+"qeidentity-tdx.json")))(t).Signed.Raw}
}
