package collateral

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// pkixExt shortens test tables.
type pkixExt = pkix.Extension

// testPKI is a fake AMD hierarchy: ARK -> ASK -> VCEKs.
type testPKI struct {
	arkKey, askKey, vcekKey *ecdsa.PrivateKey
	ark, ask                *x509.Certificate
}

func newTestPKI(t testing.TB, product string) *testPKI {
	t.Helper()
	p := &testPKI{}
	var err error
	for _, k := range []**ecdsa.PrivateKey{&p.arkKey, &p.askKey, &p.vcekKey} {
		if *k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	arkTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ARK-" + product, Organization: []string{"Test AMD"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(25 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	p.ark = mustCert(t, arkTmpl, arkTmpl, &p.arkKey.PublicKey, p.arkKey)
	askTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x10001),
		Subject:               pkix.Name{CommonName: "SEV-" + product, Organization: []string{"Test AMD"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(25 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	p.ask = mustCert(t, askTmpl, p.ark, &p.askKey.PublicKey, p.arkKey)
	return p
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, priv any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
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
	omit        string // OID string of an extension to leave out
	serial      int64
}

func asn1Int(t testing.TB, v int) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vcekExtensions builds the AMD extensions like KDS (and go-sev-guest's fakes) do.
func vcekExtensions(t testing.TB, product string, hwid []byte, tcb TCB, o vcekOpts) []pkix.Extension {
	t.Helper()
	name := o.productName
	if name == "" {
		name = product + "-B0"
	}
	nameDER, err := asn1.MarshalWithParams(name, "ia5")
	if err != nil {
		t.Fatal(err)
	}
	hw := hwid
	if !o.rawHWID {
		if hw, err = asn1.Marshal(hwid); err != nil {
			t.Fatal(err)
		}
	}
	exts := []pkix.Extension{
		{Id: oidStructVersion, Value: asn1Int(t, 1)},
		{Id: oidProductName, Value: nameDER},
		{Id: oidBlSPL, Value: asn1Int(t, int(tcb.Bootloader))},
		{Id: oidTeeSPL, Value: asn1Int(t, int(tcb.TEE))},
		{Id: oidSnpSPL, Value: asn1Int(t, int(tcb.SNP))},
		{Id: oidUcodeSPL, Value: asn1Int(t, int(tcb.Microcode))},
		{Id: oidHWID, Value: hw},
	}
	if product != ProductTurin {
		// Reserved SPLs 4-7, present (as 0) in real Milan/Genoa VCEKs.
		for i := 4; i <= 7; i++ {
			exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, i}, Value: asn1Int(t, 0)})
		}
	}
	if product == ProductTurin && !o.noFMC {
		exts = append(exts, pkix.Extension{Id: oidFmcSPL, Value: asn1Int(t, int(tcb.FMC))})
	}
	out := exts[:0]
	for _, e := range exts {
		if e.Id.String() != o.omit {
			out = append(out, e)
		}
	}
	return append(out, o.extra...)
}

// vcek mints a VCEK (DER) for hwid at tcb, signed by the ASK.
func (p *testPKI) vcek(t testing.TB, product string, hwid []byte, tcb TCB, o vcekOpts) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(o.serial),
		Subject:         pkix.Name{CommonName: "SEV-VCEK", Organization: []string{"Test AMD"}},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(7 * 365 * 24 * time.Hour),
		ExtraExtensions: vcekExtensions(t, product, hwid, tcb, o),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ask, &p.vcekKey.PublicKey, p.askKey)
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
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                next,
		RevokedCertificateEntries: entries,
	}, p.ark, p.arkKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (p *testPKI) chainPEM() []byte {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: p.ask.Raw})
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: p.ark.Raw})
	return b.Bytes()
}

func chipID(seed byte) []byte {
	id := make([]byte, ChipIDSize)
	for i := range id {
		id[i] = seed + byte(i)
	}
	return id
}

// composeTCB is the inverse of DecomposeTCB.
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
	crlDER   []byte
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
	crl := f.crlDER
	f.mu.Unlock()
	if hook != nil && hook(w, r, n) {
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

func (c *testClient) CheckRevoked(ctx context.Context, product string, cs ...*x509.Certificate) error {
	c.build()
	return c.Chain.CheckRevoked(ctx, product, cs...)
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

var (
	MatchVCEK             = kds.MatchVCEK
	DecomposeTCB          = kds.DecomposeTCB
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

// AMD KDS certificate extension OIDs, for building test VCEKs: package
// snp owns them.
var (
	oidStructVersion = snp.OIDStructVersion()
	oidProductName   = snp.OIDProductName()
	oidBlSPL         = snp.OIDBlSPL()
	oidTeeSPL        = snp.OIDTeeSPL()
	oidSnpSPL        = snp.OIDSnpSPL()
	oidUcodeSPL      = snp.OIDUcodeSPL()
	oidFmcSPL        = snp.OIDFmcSPL()
	oidHWID          = snp.OIDHWID()
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }
