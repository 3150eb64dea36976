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
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/snp"
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
