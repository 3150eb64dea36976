package collateral

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestCheckRevoked(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	vcekDER := pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{serial: 42})
	vcek, err := x509.ParseCertificate(vcekDER)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(24 * time.Hour)
	tests := []struct {
		name        string
		revoked     []*big.Int
		wantSerial  *big.Int // nil = not revoked
		wantSubject string
	}{
		{name: "nothing revoked", revoked: nil},
		{name: "other serials revoked", revoked: []*big.Int{big.NewInt(7), big.NewInt(0x10002)}},
		{name: "ASK revoked", revoked: []*big.Int{big.NewInt(3), pki.ask.SerialNumber}, wantSerial: pki.ask.SerialNumber, wantSubject: "SEV-Milan"},
		{name: "VCEK revoked", revoked: []*big.Int{big.NewInt(42)}, wantSerial: big.NewInt(42), wantSubject: "SEV-VCEK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, next, tc.revoked...))
			kds.setCRL(snp.SigningKeyVLEK, pki.crl(t, next.Add(time.Second)))
			c := kds.newClient(t.TempDir())
			err := c.CheckRevoked(ctxTimeout(t, 5*time.Second), ProductMilan, snp.SigningKeyVCEK, pki.ask, vcek)
			if tc.wantSerial == nil {
				if err != nil {
					t.Fatalf("CheckRevoked: %v", err)
				}
				return
			}
			var rerr *RevokedError
			if !errors.As(err, &rerr) || !errors.Is(err, ErrRevoked) {
				t.Fatalf("err = %v, want *RevokedError", err)
			}
			if rerr.Serial.Cmp(tc.wantSerial) != 0 || !bytesContains(rerr.Subject, tc.wantSubject) || rerr.RevokedAt.IsZero() {
				t.Errorf("RevokedError = %+v", rerr)
			}
		})
	}
}

func bytesContains(s, sub string) bool { return bytes.Contains([]byte(s), []byte(sub)) }

func TestCRLCaching(t *testing.T) {
	pki, kds := newMilanKDS(t)
	next := time.Now().Add(24 * time.Hour)
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, next, big.NewInt(99)))
	dir := t.TempDir()
	c := kds.newClient(dir)
	ctx := ctxTimeout(t, 5*time.Second)
	crl, err := c.CRL(ctx, "Milan")
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("entries = %d", len(crl.RevokedCertificateEntries))
	}
	if _, err := c.CRL(ctx, ProductMilan); err != nil {
		t.Fatal(err)
	}
	kds.wantRequests(t, 1, "requests", "1 (memory cache)")
	if got := kds.seen()[0]; got != "/vcek/v1/Milan/crl" {
		t.Errorf("URL = %q", got)
	}
	// A fresh client on the same dir (online or offline) reads the disk.
	for _, offline := range []bool{false, true} {
		c2 := kds.newClient(dir)
		c2.Offline = offline
		if _, err := c2.CRL(ctx, ProductMilan); err != nil {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		if st := c2.Stats(); st.DiskHits != 1 || st.Fetches != 0 {
			t.Errorf("stats = %+v", st)
		}
	}
	kds.wantRequests(t, 1, "requests", "1")
	// Past NextUpdate the cached CRL is not used: memory and disk are both stale.
	c.Now = func() time.Time { return next.Add(time.Minute) }
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, next.Add(48*time.Hour)))
	if _, err := c.CRL(ctx, ProductMilan); err != nil {
		t.Fatal(err)
	}
	kds.wantRequests(t, 2, "requests", "2 (refetch after NextUpdate)")
	c3 := kds.newClient(dir)
	c3.Offline = true
	c3.Now = c.Now
	crl, err = c3.CRL(ctx, ProductMilan)
	if err != nil || len(crl.RevokedCertificateEntries) != 0 {
		t.Errorf("disk cache not replaced by the new CRL: %v", err)
	}
}

func TestCRLRejected(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	other := newForeignPKI(t, "Milan")
	next := time.Now().Add(24 * time.Hour)
	good := pki.crl(t, next)
	many := make([]*big.Int, certs.MaxCRLEntries+1)
	for i := range many {
		many[i] = big.NewInt(int64(i + 1))
	}
	tests := []struct {
		name string
		body []byte
	}{
		{"too many revoked entries", pki.crl(t, next, many...)},
		{"signed by another ARK", other.crl(t, next)},
		{"expired", pki.crl(t, time.Now().Add(-time.Minute))},
		{"garbage", []byte("not a CRL")},
		{"truncated", good[:len(good)-10]},
		{"empty", nil},
		{"a certificate", pki.ask.Raw},
		{"signed by the pinned ARK's key, another issuer name", renamedIssuerCRL(t, pki, next)},
	}
	// Signed by the pinned ARK but not a complete CRL (a delta CRL, an
	// issuing distribution point) or with a critical extension.
	for _, e := range fakepki.IncompleteCRLEdits() {
		der, err := fakepki.EditedCRL(pki.ark, pki.arkKey, []*big.Int{big.NewInt(99)}, time.Now().Add(-time.Hour), next, e.Edit)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name string
			body []byte
		}{e.Name, der})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			kds.setCRL(snp.SigningKeyVCEK, tc.body)
			kds.answer(tc.body) // also for "empty"
			dir := t.TempDir()
			c := kds.newClient(dir)
			_, err := c.CRL(ctxTimeout(t, 5*time.Second), ProductMilan)
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("err = %v, want ErrInvalidCertificate", err)
			}
			if err := c.CheckRevoked(context.Background(), ProductMilan, snp.SigningKeyVCEK, pki.ask); errors.Is(err, ErrRevoked) || err == nil {
				t.Errorf("CheckRevoked with a bad CRL = %v, want a non-revoked error", err)
			}
			if files := cacheFiles(t, dir); len(files) != 0 {
				t.Errorf("bad CRL cached: %v", files)
			}
		})
	}
}

// renamedIssuerCRL is a CRL signed by pki's ARK key under an issuer name
// that is not the ARK's (its CN differs).
func renamedIssuerCRL(t *testing.T, pki *testPKI, next time.Time) []byte {
	t.Helper()
	name := pki.ark.Subject
	name.CommonName = "ARK-Genoa"
	tmpl := fakepki.CATemplate(9, name, pki.ark.NotBefore, pki.ark.NotAfter)
	renamed := mustCert(t, tmpl, tmpl, &pki.arkKey.PublicKey, pki.arkKey)
	der, err := fakepki.CRL(renamed, pki.arkKey, nil, time.Now().Add(-time.Hour), next)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCRLPEMAccepted(t *testing.T) {
	pki, kds := newMilanKDS(t)
	kds.setCRL(snp.SigningKeyVCEK, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: pki.crl(t, time.Now().Add(time.Hour), big.NewInt(5))}))
	crl, err := kds.newClient("").CRL(ctxTimeout(t, 5*time.Second), ProductMilan)
	if err != nil || len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("CRL: %v", err)
	}
}

func TestCRLCorruptCacheReplaced(t *testing.T) {
	pki, kds := newMilanKDS(t)
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, time.Now().Add(time.Hour)))
	dir := t.TempDir()
	c := kds.newClient(dir)
	c.build()
	path := c.Disk.Path(KindCRL, &Key{Product: ProductMilan})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, newForeignPKI(t, "Milan").crl(t, time.Now().Add(time.Hour)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CRL(ctxTimeout(t, 5*time.Second), ProductMilan); err != nil {
		t.Fatal(err)
	}
	kds.wantRequests(t, 1, "requests", "1")
	onDisk, _ := os.ReadFile(path)
	if _, _, err := c.parseCRL(onDisk, pki.ark); err != nil {
		t.Errorf("cache file not replaced: %v", err)
	}
}

func TestCheckRevokedArgs(t *testing.T) {
	pki, kds := newMilanKDS(t)
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, time.Now().Add(time.Hour)))
	kds.setCRL(snp.SigningKeyVLEK, pki.crl(t, time.Now().Add(2*time.Hour)))
	c := kds.newClient("")
	if err := c.CheckRevoked(context.Background(), ProductMilan, snp.SigningKeyVCEK, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("nil cert: %v", err)
	}
	if err := c.CheckRevoked(context.Background(), "Rome", snp.SigningKeyVCEK, pki.ask); !errors.Is(err, ErrUnsupportedProduct) {
		t.Errorf("bad product: %v", err)
	}
	if err := c.CheckRevoked(context.Background(), ProductMilan, snp.SigningKeyVCEK); err != nil {
		t.Errorf("no certs: %v", err)
	}
}

// realChain returns the first two PEM blocks (ASK, ARK) of a real AMD bundle.
func realChain(t *testing.T, product string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/trustee-az-vtpm/amd-vendor-certs", map[string]string{
		ProductMilan: "milan", ProductGenoa: "genoa", ProductTurin: "turin",
	}[product]+"_ask_ark_asvk.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	rest := b
	for range 2 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			t.Fatal("short bundle")
		}
		out = append(out, pem.EncodeToMemory(block)...)
	}
	return out
}

func TestCertChainRealAMD(t *testing.T) {
	for _, product := range []string{ProductMilan, ProductGenoa, ProductTurin} {
		t.Run(product, func(t *testing.T) {
			body := realChain(t, product)
			kds := newFakeKDS(t, newTestPKI(t, product))
			kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
				if r.URL.Path != "/vcek/v1/"+product+"/cert_chain" {
					http.NotFound(w, r)
					return true
				}
				_, _ = w.Write(body)
				return true
			})
			dir := t.TempDir()
			c := kds.newClient(dir)
			c.ARK = nil // the pinned AMD roots
			ch, err := c.CertChain(ctxTimeout(t, 5*time.Second), product)
			if err != nil {
				t.Fatalf("CertChain: %v", err)
			}
			if ch.ASK.Subject.CommonName != "SEV-"+product || ch.ARK.Subject.CommonName != "ARK-"+product {
				t.Errorf("chain = %q, %q", ch.ASK.Subject.CommonName, ch.ARK.Subject.CommonName)
			}
			if _, err := c.CertChain(ctxTimeout(t, 5*time.Second), product); err != nil {
				t.Fatal(err)
			}
			c2 := kds.newClient(dir)
			c2.ARK = nil
			c2.Offline = true
			if _, err := c2.CertChain(ctxTimeout(t, 5*time.Second), product); err != nil {
				t.Fatalf("from disk: %v", err)
			}
			kds.wantRequests(t, 1, "requests", "1")
		})
	}
}

func TestCertChainRejected(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	other := newForeignPKI(t, "Milan")
	pemOf := func(certs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range certs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return b
	}
	// An ASK signed by the pinned ARK but carrying an unknown critical
	// extension, and one that is not a CA: CheckSignatureFrom accepts both.
	askWith := func(mod func(*x509.Certificate)) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(0x10002),
			Subject:               pki.ask.Subject,
			NotBefore:             pki.ask.NotBefore,
			NotAfter:              pki.ask.NotAfter,
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		mod(tmpl)
		return mustCert(t, tmpl, pki.ark, &pki.askKey.PublicKey, pki.arkKey)
	}
	criticalASK := askWith(func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5}, Critical: true, Value: []byte{5, 0}}}
	})
	notCA := askWith(func(c *x509.Certificate) { c.IsCA = false; c.KeyUsage = x509.KeyUsageDigitalSignature })
	tests := []struct {
		name string
		body []byte
	}{
		{"ASK with an unknown critical extension", pemOf(criticalASK, pki.ark)},
		{"ASK that is not a CA", pemOf(notCA, pki.ark)},
		{"foreign ARK and ASK", other.chainPEM()},
		{"pinned ARK, foreign ASK", pemOf(other.ask, pki.ark)},
		{"ARK first", pemOf(pki.ark, pki.ask)},
		{"ASK only", pemOf(pki.ask)},
		{"three certs", pemOf(pki.ask, pki.ark, pki.ark)},
		{"real AMD Milan chain, test pin", realChain(t, ProductMilan)},
		{"garbage", []byte("garbage")},
		{"truncated PEM", pki.chainPEM()[:300]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			kds.answer(tc.body)
			dir := t.TempDir()
			_, err := kds.newClient(dir).CertChain(ctxTimeout(t, 5*time.Second), ProductMilan)
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("err = %v, want ErrInvalidCertificate", err)
			}
			if files := cacheFiles(t, dir); len(files) != 0 {
				t.Errorf("cached: %v", files)
			}
		})
	}
	// The test PKI's own chain is accepted with its ARK pinned.
	kds := newFakeKDS(t, pki)
	if _, err := kds.newClient("").CertChain(ctxTimeout(t, 5*time.Second), ProductMilan); err != nil {
		t.Fatal(err)
	}
}

// TestCheckRevokedVLEK: for a VLEK-signed report CheckRevoked reads the
// VLEK CRL (/vlek/v1/{product}/crl) first, then the VCEK CRL: a serial on
// either is a *RevokedError naming the CRL (an ASVK that only the VCEK CRL
// lists too: both are the ARK's complete CRLs); other serials pass. A VLEK
// CRL that is not the pinned ARK's, or that KDS does not have, is an error
// that is not ErrRevoked ("could not check"), nothing is cached and the
// VCEK CRL is not asked; a missing VCEK CRL likewise fails the check; a
// signing key that is neither VCEK nor VLEK asks nothing.
func TestCheckRevokedVLEK(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	other := newForeignPKI(t, "Milan")
	next := time.Now().Add(24 * time.Hour)
	vlek, err := pki.chain.Issue(amdcertVLEK(pki, 42))
	if err != nil {
		t.Fatal(err)
	}
	vlekCert, err := x509.ParseCertificate(vlek)
	if err != nil {
		t.Fatal(err)
	}
	vcekCRL := pki.crl(t, next.Add(time.Second), big.NewInt(5))
	both := []string{"/vlek/v1/Milan/crl", "/vcek/v1/Milan/crl"}
	tests := []struct {
		name     string
		vlekCRL  []byte // nil: KDS answers 404
		vcekCRL  []byte // nil: 404; default vcekCRL
		noVCEK   bool   // the VCEK CRL answers 404
		key      uint32
		revoked  *big.Int // the serial a *RevokedError names
		wantCRL  string   // and the CRL it names
		wantErr  error    // another error (not ErrRevoked)
		cached   int      // cache files after an error
		wantURLs []string
	}{
		{name: "nothing revoked", vlekCRL: pki.crl(t, next), key: snp.SigningKeyVLEK, wantURLs: both},
		{name: "other ASVKs revoked", vlekCRL: pki.crl(t, next, big.NewInt(7), pki.ask.SerialNumber), key: snp.SigningKeyVLEK, wantURLs: both},
		{name: "ASVK revoked", vlekCRL: pki.crl(t, next, big.NewInt(7), pki.asvk.SerialNumber), key: snp.SigningKeyVLEK, revoked: pki.asvk.SerialNumber, wantCRL: "VLEK CRL", wantURLs: both},
		{name: "ASVK on the VCEK CRL only", vlekCRL: pki.crl(t, next), vcekCRL: pki.crl(t, next, pki.asvk.SerialNumber), key: snp.SigningKeyVLEK, revoked: pki.asvk.SerialNumber, wantCRL: "VCEK CRL", wantURLs: both},
		{name: "VLEK on the VCEK CRL only", vlekCRL: pki.crl(t, next), vcekCRL: pki.crl(t, next, big.NewInt(42)), key: snp.SigningKeyVLEK, revoked: big.NewInt(42), wantCRL: "VCEK CRL", wantURLs: both},
		{name: "signed by another ARK", vlekCRL: other.crl(t, next, big.NewInt(99)), key: snp.SigningKeyVLEK, wantErr: ErrInvalidCertificate, wantURLs: both[:1]},
		{name: "expired", vlekCRL: pki.crl(t, time.Now().Add(-time.Minute)), key: snp.SigningKeyVLEK, wantErr: ErrInvalidCertificate, wantURLs: both[:1]},
		{name: "KDS has none", key: snp.SigningKeyVLEK, wantErr: ErrNotFound, wantURLs: both[:1]},
		{name: "KDS has no VCEK CRL", vlekCRL: pki.crl(t, next), noVCEK: true, key: snp.SigningKeyVLEK, wantErr: ErrNotFound, cached: 1, wantURLs: both},
		{name: "signing key none", vlekCRL: pki.crl(t, next), key: snp.SigningKeyNone, wantErr: ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			switch {
			case tc.noVCEK:
			case tc.vcekCRL != nil:
				kds.setCRL(snp.SigningKeyVCEK, tc.vcekCRL)
			default:
				kds.setCRL(snp.SigningKeyVCEK, vcekCRL)
			}
			kds.setCRL(snp.SigningKeyVLEK, tc.vlekCRL)
			dir := t.TempDir()
			c := kds.newClient(dir)
			err := c.CheckRevoked(ctxTimeout(t, 5*time.Second), ProductMilan, tc.key, pki.asvk, vlekCert)
			switch {
			case tc.revoked != nil:
				rerr, ok := errors.AsType[*RevokedError](err)
				if !ok || !errors.Is(err, ErrRevoked) || rerr.Serial.Cmp(tc.revoked) != 0 || rerr.CRL != tc.wantCRL {
					t.Fatalf("err = %v, want serial %v revoked on the %s", err, tc.revoked, tc.wantCRL)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || errors.Is(err, ErrRevoked) {
					t.Fatalf("err = %v, want %v and not ErrRevoked", err, tc.wantErr)
				}
				if files := cacheFiles(t, dir); len(files) != tc.cached {
					t.Errorf("cached: %v, want %d files", files, tc.cached)
				}
			case err != nil:
				t.Fatalf("CheckRevoked: %v", err)
			}
			if got := kds.seen(); !slices.Equal(got, tc.wantURLs) {
				t.Errorf("KDS asked %q, want %q", got, tc.wantURLs)
			}
		})
	}
}

// amdcertVLEK describes a VLEK of pki's ASVK with the given serial.
func amdcertVLEK(pki *testPKI, serial int64) amdcert.KeyTemplate {
	return amdcert.KeyTemplate{Key: &pki.vcekKey.PublicKey, VLEK: true, ProductName: "Milan", TCB: milanTCB(),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour), Serial: serial}
}

// TestVLEKCRLCaching: the VLEK CRL is fetched once, kept in memory and on
// disk in its own file (vlek_crl/{line}/{line}.crl), read from there by
// another client, online or offline; a cached VCEK CRL never answers for
// it (offline with only the VCEK CRL cached: ErrOffline), nor the VLEK CRL
// for the VCEK CRL.
func TestVLEKCRLCaching(t *testing.T) {
	pki, kds := newMilanKDS(t)
	next := time.Now().Add(24 * time.Hour)
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, next, big.NewInt(1)))
	kds.setCRL(snp.SigningKeyVLEK, pki.crl(t, next, big.NewInt(2), big.NewInt(3)))
	ctx := ctxTimeout(t, 5*time.Second)

	vcekOnly := t.TempDir()
	c := kds.newClient(vcekOnly)
	if _, err := c.CRL(ctx, ProductMilan); err != nil {
		t.Fatal(err)
	}
	off := kds.newClient(vcekOnly)
	off.Offline = true
	if _, err := off.VLEKCRL(ctx, ProductMilan); !errors.Is(err, ErrOffline) {
		t.Fatalf("offline VLEK CRL with only the VCEK CRL cached: %v, want ErrOffline", err)
	}

	dir := t.TempDir()
	c = kds.newClient(dir)
	for range 2 {
		crl, err := c.VLEKCRL(ctx, ProductMilan)
		if err != nil || len(crl.RevokedCertificateEntries) != 2 {
			t.Fatalf("VLEKCRL: %v", err)
		}
	}
	if got, want := kds.seen()[1:], []string{"/vlek/v1/Milan/crl"}; !slices.Equal(got, want) {
		t.Errorf("KDS asked %q, want %q (once: then memory)", got, want)
	}
	c.build()
	path := c.Disk.Path(KindVLEKCRL, &Key{Product: ProductMilan})
	if path != filepath.Join(dir, "vlek_crl", "Milan", "Milan.crl") || path == c.Disk.Path(KindCRL, &Key{Product: ProductMilan}) {
		t.Errorf("VLEK CRL cache file %s", path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("VLEK CRL not cached on disk: %v", err)
	}
	for _, offline := range []bool{true, false} { // offline first: nothing else cached yet
		c2 := kds.newClient(dir)
		c2.Offline = offline
		crl, err := c2.VLEKCRL(ctx, ProductMilan)
		if err != nil || len(crl.RevokedCertificateEntries) != 2 {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		if st := c2.Stats(); st.DiskHits != 1 || st.Fetches != 0 {
			t.Errorf("stats = %+v", st)
		}
		if _, err := c2.CRL(ctx, ProductMilan); offline && !errors.Is(err, ErrOffline) {
			t.Errorf("offline VCEK CRL with only the VLEK CRL cached: %v, want ErrOffline", err)
		}
	}
}

// TestVLEKRevocationVerify: a verifier with a Chain as its
// RevocationChecker checks a VLEK-signed report's ASVK against AMD's CRLs
// end to end: a revoked ASVK rejects it (revocation, ErrRevoked), on the
// VLEK CRL or on the VCEK CRL, an unrevoked one verifies, and a VLEK CRL
// that is not the pinned ARK's or cannot be obtained rejects it as "could
// not check" (revocation, not ErrRevoked). A VCEK-signed report's ASK is
// looked up in both CRLs the same way, and needs both.
func TestVLEKRevocationVerify(t *testing.T) {
	chain := testev.PrivateChain(snp.Milan)
	next := time.Now().Add(24 * time.Hour)
	// crl is a CRL issued by the private Milan ARK (its name), signed by
	// its key or, foreign, by another.
	crl := func(foreign bool, serials ...*big.Int) []byte {
		signer := testev.ARKKey()
		if foreign {
			signer = testev.OtherRSAKey()
		}
		der, err := fakepki.CRL(chain.ARK, signer, serials, time.Now().Add(-time.Hour), next)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	vlekEv := (&testev.Builder{VCEK: testev.VCEKTemplate{VLEK: true}}).MustBuild()
	vcekEv := (&testev.Builder{}).MustBuild()
	tests := []struct {
		name          string
		ev            *testev.Evidence
		vcekCRL       []byte
		vlekCRL       []byte // nil: 404
		wantRejection bool
		wantRevoked   bool
	}{
		{name: "ASVK not revoked", ev: vlekEv, vcekCRL: crl(false), vlekCRL: crl(false, big.NewInt(77))},
		{name: "ASVK revoked", ev: vlekEv, vcekCRL: crl(false), vlekCRL: crl(false, chain.ASVK.SerialNumber), wantRejection: true, wantRevoked: true},
		{name: "VLEK CRL signed by another key", ev: vlekEv, vcekCRL: crl(false), vlekCRL: crl(true), wantRejection: true},
		{name: "VLEK CRL unavailable", ev: vlekEv, vcekCRL: crl(false), wantRejection: true},
		{name: "ASVK on the VCEK CRL", ev: vlekEv, vcekCRL: crl(false, chain.ASVK.SerialNumber), vlekCRL: crl(false, big.NewInt(77)), wantRejection: true, wantRevoked: true},
		{name: "VCEK report, ASK revoked", ev: vcekEv, vcekCRL: crl(false, chain.ASK.SerialNumber), vlekCRL: crl(false), wantRejection: true, wantRevoked: true},
		{name: "VCEK report, ASK on the VLEK CRL", ev: vcekEv, vcekCRL: crl(false), vlekCRL: crl(false, chain.ASK.SerialNumber), wantRejection: true, wantRevoked: true},
		{name: "VCEK report, ASK not revoked", ev: vcekEv, vcekCRL: crl(false, big.NewInt(78)), vlekCRL: crl(false, chain.ASVK.SerialNumber)},
		{name: "VCEK report, VLEK CRL unavailable", ev: vcekEv, vcekCRL: crl(false), wantRejection: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/vcek/v1/Milan/crl" && tc.vcekCRL != nil:
					_, _ = w.Write(tc.vcekCRL)
				case r.URL.Path == "/vlek/v1/Milan/crl" && tc.vlekCRL != nil:
					_, _ = w.Write(tc.vlekCRL)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			c := &Chain{
				Sources: []Source{&Memory{}, &KDS{Client: &kds.Client{BaseURL: srv.URL, MaxRetries: -1}}},
				ARK:     func(string) *x509.Certificate { return chain.ARK },
			}
			claims, err := verify.Evidence(context.Background(), tc.ev.JSON, tc.ev.Nonce, verify.Config{Roots: testev.Roots(), Revocation: c})
			if !tc.wantRejection {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			verr, ok := errors.AsType[*verify.Error](err)
			if !ok || verr.Check != verify.CheckRevocation || claims != nil {
				t.Fatalf("err = %v, want a revocation rejection", err)
			}
			if errors.Is(err, ErrRevoked) != tc.wantRevoked {
				t.Errorf("err = %v: revoked %v, want %v", err, errors.Is(err, ErrRevoked), tc.wantRevoked)
			}
		})
	}
}

// TestCRLNegativeCache: a CRL fetch that failed (404, a CRL that does not
// verify) is remembered like a VCEK's, per kind and product line: within
// NegativeTTL the same CRL is not asked again (a *WaitError of
// ErrRecentFailure that still matches the first failure and is not
// ErrRevoked), the other kind still is; after it, KDS is asked again.
func TestCRLNegativeCache(t *testing.T) {
	pki, kds := newMilanKDS(t)
	next := time.Now().Add(24 * time.Hour)
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, next))
	kds.setCRL(snp.SigningKeyVLEK, newForeignPKI(t, "Milan").crl(t, next)) // not the pinned ARK's
	now := time.Now()
	c := kds.newClient("")
	c.Now = func() time.Time { return now }
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := c.VLEKCRL(ctx, ProductMilan); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("first: %v", err)
	}
	err := c.CheckRevoked(ctx, ProductMilan, snp.SigningKeyVLEK, pki.asvk)
	if !errors.Is(err, ErrRecentFailure) || !errors.Is(err, ErrInvalidCertificate) || errors.Is(err, ErrRevoked) {
		t.Fatalf("within the back-off: %v, want a remembered ErrInvalidCertificate", err)
	}
	if _, err := c.CRL(ctx, ProductMilan); err != nil {
		t.Fatalf("the VCEK CRL is not the failed one: %v", err)
	}
	want := []string{"/vlek/v1/Milan/crl", "/vcek/v1/Milan/crl"}
	if got := kds.seen(); !slices.Equal(got, want) {
		t.Errorf("KDS asked %q, want %q", got, want)
	}
	if st := c.Stats(); st.NegativeHits != 1 {
		t.Errorf("negative hits %d, want 1", st.NegativeHits)
	}
	kds.setCRL(snp.SigningKeyVLEK, pki.crl(t, next))
	now = now.Add(DefaultNegativeTTL + time.Second)
	if _, err := c.VLEKCRL(ctx, ProductMilan); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}
	if got := kds.seen(); len(got) != 3 || got[2] != "/vlek/v1/Milan/crl" {
		t.Errorf("KDS asked %q, want the VLEK CRL again", got)
	}
}

// TestCRLSourceDown: a CRL that cannot be fetched because KDS is down
// (5xx) is marked verify.ErrCertificateUnavailable, so that a verifier
// ends without a verdict (serve: 503), while a CRL KDS does not have (404)
// or one that fails validation stays a verdict.
func TestCRLSourceDown(t *testing.T) {
	pki, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	c := kds.newClient("")
	ctx := ctxTimeout(t, 10*time.Second)
	for _, sk := range []uint32{snp.SigningKeyVCEK, snp.SigningKeyVLEK} {
		err := c.CheckRevoked(ctx, ProductMilan, sk, pki.asvk)
		if !errors.Is(err, verify.ErrCertificateUnavailable) || errors.Is(err, ErrRevoked) {
			t.Errorf("signing key %d, KDS down: %v, want ErrCertificateUnavailable", sk, err)
		}
	}
	_, kds404 := newMilanKDS(t)
	c = kds404.newClient("")
	if _, err := c.CRL(ctx, ProductMilan); err == nil || errors.Is(err, verify.ErrCertificateUnavailable) {
		t.Errorf("no CRL at KDS (404): %v, want a verdict, not unavailable", err)
	}
}

// TestRealAMDCRLs: AMD's real Milan and Genoa VCEK CRLs of 2022
// (testdata/enarx-steward) are accepted under the pinned ARK of their
// product line while current (at 2023-01-01), with their entries: none on
// Milan's, the first Genoa ASK (serial 0x020001) on Genoa's, never the
// pinned ASK or ASVK. Past their nextUpdate, under the other product's
// ARK, or with a byte of the signed part changed, they are refused.
func TestRealAMDCRLs(t *testing.T) {
	at := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		product, other, file string
		revoked              []int64
	}{
		{ProductMilan, ProductGenoa, "enarx-steward/milan-vcek-crl-2022.der", nil},
		{ProductGenoa, ProductMilan, "enarx-steward/genoa-vcek-crl-2022.der", []int64{0x020001}},
	} {
		t.Run(tc.product, func(t *testing.T) {
			der := testutil.ReadFile(t, tc.file)
			c := &Chain{Now: func() time.Time { return at }}
			ark, err := c.ark(tc.product)
			if err != nil {
				t.Fatal(err)
			}
			l, keep, err := c.parseCRL(der, ark)
			if err != nil || !bytes.Equal(keep, der) {
				t.Fatalf("real %s CRL refused: %v", tc.product, err)
			}
			var got []int64
			for _, e := range l.RevokedCertificateEntries {
				got = append(got, e.SerialNumber.Int64())
			}
			if !slices.Equal(got, tc.revoked) {
				t.Errorf("revoked %x, want %x", got, tc.revoked)
			}
			pinned := snp.DefaultRoots().Chains(snp.Product(tc.product))[0]
			for _, cert := range []*x509.Certificate{pinned.ASK, pinned.ASVK} {
				if slices.Contains(got, cert.SerialNumber.Int64()) {
					t.Errorf("the pinned %s is on the CRL", cert.Subject.CommonName)
				}
			}
			otherARK, _ := c.ark(tc.other)
			// The last digit of thisUpdate's seconds: still a valid time, so
			// only the signature can tell.
			tampered := bytes.Clone(der)
			sec := bytes.Index(der, []byte{0x17, 0x0d}) + 2 + 11
			tampered[sec] = map[bool]byte{true: '1', false: '0'}[der[sec] == '0']
			late := &Chain{Now: func() time.Time { return l.NextUpdate }}
			for name, err := range map[string]error{
				"after nextUpdate":   second(late.parseCRL(der, ark)),
				"other product ARK":  second(c.parseCRL(der, otherARK)),
				"signed part edited": second(c.parseCRL(tampered, ark)),
			} {
				if !errors.Is(err, ErrInvalidCertificate) {
					t.Errorf("%s: %v, want ErrInvalidCertificate", name, err)
				}
			}
		})
	}
}

func second[A, B any](_ A, _ B, err error) error { return err }

// TestCRLSubstitution: AMD's two CRLs of a product line have the same
// issuer, key, algorithm and extensions, so a mirror or a cache can serve
// one for the other; CheckRevoked reads both. A revoked ASVK (on the VLEK
// CRL) or ASK (on the VCEK CRL) is found whichever slot its CRL arrives
// in (URLs swapped); one document in both slots is ErrCRLConflict (not a
// pass, not ErrRevoked) after KDS was asked for both again, which mends a
// poisoned disk cache when KDS is genuine. Two distinct genuine CRLs that
// do not list the certificate still pass: the limit SECURITY.md states.
func TestCRLSubstitution(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	next := time.Now().Add(24 * time.Hour)
	crl := func(i int, serials ...*big.Int) []byte {
		return pki.crl(t, next.Add(time.Duration(i)*time.Second), serials...)
	}
	vcekCRL := crl(0, big.NewInt(5))                     // the VCEK CRL: an old ASK
	vlekCRL := crl(1, pki.asvk.SerialNumber)             // the VLEK CRL: the ASVK revoked
	vcekCRLASK := crl(2, pki.ask.SerialNumber)           // the VCEK CRL: the ASK revoked
	emptyVLEKCRL := crl(3)                               // a VLEK CRL that revokes nothing
	otherVCEKCRL := crl(4, big.NewInt(5), big.NewInt(6)) // a second current VCEK CRL
	type slots struct{ vcek, vlek []byte }
	tests := []struct {
		name     string
		key      uint32
		kds      slots // what KDS serves at /vcek/v1/Milan/crl and /vlek/v1/Milan/crl
		disk     slots // what the disk cache holds beforehand (nil: nothing)
		offline  bool
		want     string // "revoked", "conflict" or "pass"
		requests int64
	}{
		{name: "genuine, ASVK revoked", key: snp.SigningKeyVLEK, kds: slots{vcekCRL, vlekCRL}, want: "revoked", requests: 2},
		{name: "genuine, ASK revoked", key: snp.SigningKeyVCEK, kds: slots{vcekCRLASK, emptyVLEKCRL}, want: "revoked", requests: 2},
		{name: "genuine, nothing of ours revoked", key: snp.SigningKeyVCEK, kds: slots{vcekCRL, vlekCRL}, want: "pass", requests: 2},
		{name: "URLs swapped, ASVK revoked", key: snp.SigningKeyVLEK, kds: slots{vlekCRL, vcekCRL}, want: "revoked", requests: 2},
		{name: "URLs swapped, ASK revoked", key: snp.SigningKeyVCEK, kds: slots{emptyVLEKCRL, vcekCRLASK}, want: "revoked", requests: 2},
		{name: "the VCEK CRL for both, hiding the ASVK", key: snp.SigningKeyVLEK, kds: slots{vcekCRL, vcekCRL}, want: "conflict", requests: 4},
		{name: "the VLEK CRL for both, hiding the ASK", key: snp.SigningKeyVCEK, kds: slots{emptyVLEKCRL, emptyVLEKCRL}, want: "conflict", requests: 4},
		{name: "disk holds the VCEK CRL for both, KDS genuine", key: snp.SigningKeyVLEK, kds: slots{vcekCRL, vlekCRL}, disk: slots{vcekCRL, vcekCRL}, want: "revoked", requests: 2},
		{name: "disk holds the VCEK CRL for both, offline", key: snp.SigningKeyVLEK, disk: slots{vcekCRL, vcekCRL}, offline: true, want: "conflict"},
		{name: "residual: two distinct VCEK CRLs", key: snp.SigningKeyVLEK, kds: slots{vcekCRL, otherVCEKCRL}, want: "pass", requests: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			kds.setCRL(snp.SigningKeyVCEK, tc.kds.vcek)
			kds.setCRL(snp.SigningKeyVLEK, tc.kds.vlek)
			dir := t.TempDir()
			c := kds.newClient(dir)
			c.Offline = tc.offline
			c.build()
			key := &Key{Product: ProductMilan}
			if tc.disk.vcek != nil {
				c.Disk.Store(context.Background(), KindCRL, key, tc.disk.vcek)
				c.Disk.Store(context.Background(), KindVLEKCRL, key, tc.disk.vlek)
			}
			cert := pki.asvk
			if tc.key == snp.SigningKeyVCEK {
				cert = pki.ask
			}
			err := c.CheckRevoked(ctxTimeout(t, 5*time.Second), ProductMilan, tc.key, cert)
			switch tc.want {
			case "revoked":
				if !errors.Is(err, ErrRevoked) {
					t.Fatalf("err = %v, want %s revoked", err, cert.Subject.CommonName)
				}
			case "conflict":
				if !errors.Is(err, ErrCRLConflict) || !errors.Is(err, ErrInvalidCertificate) || errors.Is(err, ErrRevoked) {
					t.Fatalf("err = %v, want ErrCRLConflict", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v, want a pass", err)
				}
			}
			if got := kds.requests.Load(); got != tc.requests {
				t.Errorf("KDS requests %d, want %d (%q)", got, tc.requests, kds.seen())
			}
			if tc.disk.vcek != nil && !tc.offline {
				if b, _ := os.ReadFile(c.Disk.Path(KindVLEKCRL, key)); !bytes.Equal(b, tc.kds.vlek) {
					t.Error("the poisoned VLEK CRL cache file was not replaced by KDS's")
				}
			}
		})
	}
}
