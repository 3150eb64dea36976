package collateral

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// pkixExt shortens test tables.
type pkixExt = pkix.Extension

// testPKI is a fake AMD hierarchy, ARK -> ASK -> VCEKs and ARK -> ASVK
// (the ASK's key, another certificate) -> VLEKs, issued by internal/amdcert
// (the one fake AMD chain builder), with the ARK's key to sign CRLs.
type testPKI struct {
	chain          *amdcert.Chain
	ark, ask, asvk *x509.Certificate
	arkKey, askKey *rsa.PrivateKey
	vcekKey        *ecdsa.PrivateKey
}

// newTestPKI returns a hierarchy for product under the RSA-4096 keys of
// testev's private chains (testev.ARKKey, ASKKey): no RSA key is
// generated. Each
// call issues new certificates, but all share those keys; a hierarchy that
// must not verify under this one is newForeignPKI's.
func newTestPKI(t testing.TB, product string) *testPKI {
	t.Helper()
	return newPKI(t, product, testev.ARKKey(), testev.ASKKey())
}

// newForeignPKI returns a hierarchy for product whose ARK and ASK share
// testev's OtherRSAKey, an RSA-2048 key no newTestPKI hierarchy has:
// nothing it issues verifies under those.
func newForeignPKI(t testing.TB, product string) *testPKI {
	t.Helper()
	return newPKI(t, product, testev.OtherRSAKey(), testev.OtherRSAKey())
}

func newPKI(t testing.TB, product string, arkKey, askKey *rsa.PrivateKey) *testPKI {
	t.Helper()
	now := time.Now()
	c, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Product(product), ARKKey: arkKey, ASKKey: askKey, ASVKKey: askKey,
		Marker: "snp-vtpm collateral TEST CHAIN (not AMD)", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(25 * 365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{chain: c, ark: c.ARK, ask: c.ASK, asvk: c.ASVK, arkKey: arkKey, askKey: askKey, vcekKey: testev.NewVCEKKey()}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	cert, err := fakepki.Issue(tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// vcekOpts tweaks a test VCEK.
type vcekOpts struct {
	productName string // "" = product + "-B0"
	rawHWID     bool   // hwID as raw bytes (as AMD KDS does) instead of an OCTET STRING
	noFMC       bool   // omit fmcSPL on Turin
	extra       []pkix.Extension
	omit        asn1.ObjectIdentifier // an AMD extension to leave out
	serial      int64
}

// vcek mints a VCEK (DER) for hwid at tcb, signed by the ASK, with AMD's
// extensions (productName product-B0 unless o says otherwise).
func (p *testPKI) vcek(t testing.TB, product string, hwid []byte, tcb TCB, o vcekOpts) []byte {
	t.Helper()
	var omit []asn1.ObjectIdentifier
	if o.omit != nil {
		omit = append(omit, o.omit)
	}
	now := time.Now()
	der, err := p.chain.Issue(amdcert.KeyTemplate{
		Key: &p.vcekKey.PublicKey, ProductName: cmp.Or(o.productName, product+"-B0"), HWID: hwid, HWIDOctetString: !o.rawHWID,
		TCB: tcb, FMC: product == ProductTurin && !o.noFMC, Omit: omit, ExtraExtensions: o.extra,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 365 * 24 * time.Hour), Serial: o.serial,
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// validator returns a Validate function that checks the VCEK is signed by this PKI's ASK.
func (p *testPKI) validator() func([]byte) error {
	return func(der []byte) error {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		return cert.CheckSignatureFrom(p.ask)
	}
}

// crl builds a CRL signed by the ARK listing the given serials.
func (p *testPKI) crl(t testing.TB, next time.Time, serials ...*big.Int) []byte {
	t.Helper()
	der, err := fakepki.CRL(p.ark, p.arkKey, serials, time.Now().Add(-time.Hour), next)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// chainPEM is the ASK then the ARK, as KDS's cert_chain serves them.
func (p *testPKI) chainPEM() []byte {
	var b []byte
	for _, c := range []*x509.Certificate{p.ask, p.ark} {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

func chipID(seed byte) []byte {
	id := make([]byte, ChipIDSize)
	for i := range id {
		id[i] = seed + byte(i)
	}
	return id
}

// turinChipID is a Turin CHIP_ID: chipID(seed)'s first 8 bytes (the
// hwID), then zeros.
func turinChipID(seed byte) []byte {
	return append(chipID(seed)[:8], make([]byte, ChipIDSize-8)...)
}

// composeTCB is the inverse of kds.DecomposeTCB.
func composeTCB(product string, t TCB) uint64 {
	return uint64(snp.ComposeTCB(snp.Product(product), t))
}

// fakeKDS is an httptest server standing in for AMD KDS. By default it mints a
// valid VCEK for whatever hwID and TCB the URL asks for; hook overrides a response
// (return true when handled).
type fakeKDS struct {
	t        testing.TB
	pki      *testPKI
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	urls     []string
	hook     func(w http.ResponseWriter, r *http.Request, n int64) bool
	crlDER   []byte // the VCEK CRL; nil: 404
	vlekCRL  []byte // the VLEK CRL; nil: 404
}

func newFakeKDS(t testing.TB, pki *testPKI) *fakeKDS {
	f := &fakeKDS{t: t, pki: pki}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKDS) setHook(h func(w http.ResponseWriter, r *http.Request, n int64) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// newMilanKDS is a fake KDS serving a fresh Milan hierarchy.
func newMilanKDS(t testing.TB) (*testPKI, *fakeKDS) {
	t.Helper()
	pki := newTestPKI(t, "Milan")
	return pki, newFakeKDS(t, pki)
}

// wantRequests reports an error unless f has had want requests; what names
// the count and why the number is wanted.
func (f *fakeKDS) wantRequests(t testing.TB, want int64, what, why string) {
	t.Helper()
	if got := f.requests.Load(); got != want {
		t.Errorf("%s = %d, want %s", what, got, why)
	}
}

// answer makes every request of f get body, whatever it asks for.
func (f *fakeKDS) answer(body []byte) {
	f.setHook(func(w http.ResponseWriter, _ *http.Request, _ int64) bool {
		_, _ = w.Write(body)
		return true
	})
}

// notFound makes every request of f get a 404.
func (f *fakeKDS) notFound() {
	f.setHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		http.NotFound(w, r)
		return true
	})
}

// newNotFoundClient is a client (no disk cache) of a fresh fake KDS that
// answers every request with a 404.
func newNotFoundClient(t testing.TB) (*fakeKDS, *testClient) {
	t.Helper()
	_, f := newMilanKDS(t)
	f.notFound()
	return f, f.newClient("")
}

// newClientIMDS is newClient (a fresh disk cache) with an IMDS served by
// h; the counter counts the IMDS requests.
func (f *fakeKDS) newClientIMDS(h http.HandlerFunc) (*testClient, *atomic.Int64) {
	var reqs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		h(w, r)
	}))
	f.t.Cleanup(srv.Close)
	c := f.newClient(f.t.TempDir())
	c.IMDS = &imds.Client{URL: srv.URL}
	return c, &reqs
}

// setCRL makes f serve der as the CRL for the signing key (snp.SigningKeyVCEK:
// the VCEK CRL; snp.SigningKeyVLEK: the VLEK CRL); nil makes it answer 404.
func (f *fakeKDS) setCRL(signingKey uint32, der []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch signingKey {
	case snp.SigningKeyVCEK:
		f.crlDER = der
	case snp.SigningKeyVLEK:
		f.vlekCRL = der
	default:
		f.t.Fatalf("fake KDS: no CRL for signing key %d", signingKey)
	}
}

func (f *fakeKDS) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.urls...)
}

func (f *fakeKDS) serve(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	f.mu.Lock()
	f.urls = append(f.urls, r.URL.RequestURI())
	hook := f.hook
	crl, vlekCRL := f.crlDER, f.vlekCRL
	f.mu.Unlock()
	if hook != nil && hook(w, r, n) {
		return
	}
	if r.URL.Path == "/vlek/v1/"+string(f.pki.chain.Product)+"/crl" && vlekCRL != nil {
		_, _ = w.Write(vlekCRL)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/vcek/v1/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	product, leaf := parts[0], parts[1]
	switch leaf {
	case "cert_chain":
		_, _ = w.Write(f.pki.chainPEM())
		return
	case "crl":
		if crl == nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(crl)
		return
	}
	hwid, err := hex.DecodeString(leaf)
	if err != nil {
		http.Error(w, "bad hwid", http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	get := func(k string) uint8 {
		v, _ := strconv.Atoi(q.Get(k))
		return uint8(v)
	}
	tcb := TCB{FMC: get("fmcSPL"), Bootloader: get("blSPL"), TEE: get("teeSPL"), SNP: get("snpSPL"), Microcode: get("ucodeSPL")}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(f.pki.vcek(f.t, product, hwid, tcb, vcekOpts{}))
}

// testClient is a Chain over the fake KDS set up the way the old
// kds.Client was: memory, disk (with a directory), IMDS (when set), KDS.
// Its fields must be set before the first call.
type testClient struct {
	*Chain
	KDS             *kds.Client
	IMDS            *imds.Client
	CacheDir        string
	MemoryCacheSize int
	Mem             *Memory
	Disk            *Disk
	once            sync.Once
}

// newClient returns a Chain for the fake KDS with fast retries.
func (f *fakeKDS) newClient(dir string) *testClient {
	return &testClient{
		Chain: &Chain{
			ARK:    func(string) *x509.Certificate { return f.pki.ark },
			Logger: testutil.TestLogger(f.t),
		},
		KDS: &kds.Client{
			BaseURL:    f.srv.URL,
			MinBackoff: 5 * time.Millisecond,
			MaxBackoff: 20 * time.Millisecond,
		},
		CacheDir: dir,
	}
}

func (c *testClient) build() {
	c.once.Do(func() {
		c.Mem = &Memory{Size: c.MemoryCacheSize}
		c.Sources = []Source{c.Mem}
		if c.CacheDir != "" {
			c.Disk = &Disk{Dir: c.CacheDir, Logger: c.Logger}
			c.Sources = append(c.Sources, c.Disk)
		}
		if c.IMDS != nil {
			c.Sources = append(c.Sources, &IMDS{Client: c.IMDS})
		}
		c.KDS.Logger = c.Logger
		c.Sources = append(c.Sources, &KDS{Client: c.KDS})
	})
}

func (c *testClient) GetVCEK(ctx context.Context, req VCEKRequest) ([]byte, error) {
	c.build()
	return c.Chain.GetVCEK(ctx, req)
}

func (c *testClient) CertChain(ctx context.Context, product string) (*CertChain, error) {
	c.build()
	return c.Chain.CertChain(ctx, product)
}

func (c *testClient) CRL(ctx context.Context, product string) (*x509.RevocationList, error) {
	c.build()
	return c.Chain.CRL(ctx, product)
}

func (c *testClient) VLEKCRL(ctx context.Context, product string) (*x509.RevocationList, error) {
	c.build()
	return c.Chain.VLEKCRL(ctx, product)
}

func (c *testClient) CheckRevoked(ctx context.Context, product string, signingKey uint32, cs ...*x509.Certificate) error {
	c.build()
	return c.Chain.CheckRevoked(ctx, product, signingKey, cs...)
}

// vcekPath is the disk cache file of the VCEK of chip at tcb.
func (c *testClient) vcekPath(t testing.TB, product string, chip []byte, tcb uint64) string {
	t.Helper()
	c.build()
	k, err := NewKey(product, chip, tcb)
	if err != nil {
		t.Fatal(err)
	}
	return c.Disk.Path(KindVCEK, k)
}

// Names of package kds and verify, as the tests moved from kds use them.
type (
	TCB           = kds.TCB
	VCEKRequest   = verify.VCEKRequest
	HTTPError     = kds.HTTPError
	MismatchError = kds.MismatchError
)

const (
	ProductMilan = kds.ProductMilan
	ProductGenoa = kds.ProductGenoa
	ProductTurin = kds.ProductTurin
	ChipIDSize   = kds.ChipIDSize
)

// MatchVCEK is kds.MatchVCEK, declared rather than a variable, which a
// test could reassign.
func MatchVCEK(der []byte, product string, chipID []byte, tcb uint64) (*x509.Certificate, error) {
	return kds.MatchVCEK(der, product, chipID, tcb)
}

var (
	ErrNotFound           = kds.ErrNotFound
	ErrRateLimited        = kds.ErrRateLimited
	ErrUnsupportedProduct = kds.ErrUnsupportedProduct
	ErrInvalidRequest     = kds.ErrInvalidRequest
)

func hexKey(b []byte) string { return hex.EncodeToString(b) }

// milanTCB is the TCB of the real THIM fixture: bl3 tee0 snp8 ucode115.
func milanTCB() TCB { return TCB{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115} }

func milanReq(chip []byte, validate func([]byte) error) VCEKRequest {
	return VCEKRequest{Product: ProductMilan, ChipID: chip, ReportedTCB: composeTCB(ProductMilan, milanTCB()), Validate: validate}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
