package collateral

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestCheckRevokedVLEK: for a VLEK-signed report CheckRevoked reads the
// VLEK CRL (/vlek/v1/{product}/crl, never the VCEK CRL): a revoked ASVK is
// a *RevokedError, other serials pass; a VLEK CRL that is not the pinned
// ARK's, or that KDS does not have, is an error that is not ErrRevoked
// ("could not check"), and nothing is cached; a signing key that is
// neither VCEK nor VLEK asks nothing.
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
	tests := []struct {
		name     string
		vlekCRL  []byte // nil: KDS answers 404
		key      uint32
		revoked  *big.Int // the serial a *RevokedError names
		wantErr  error    // another error (not ErrRevoked)
		wantURLs []string
	}{
		{name: "nothing revoked", vlekCRL: pki.crl(t, next), key: snp.SigningKeyVLEK, wantURLs: []string{"/vlek/v1/Milan/crl"}},
		{name: "other ASVKs revoked", vlekCRL: pki.crl(t, next, big.NewInt(7), pki.ask.SerialNumber), key: snp.SigningKeyVLEK, wantURLs: []string{"/vlek/v1/Milan/crl"}},
		{name: "ASVK revoked", vlekCRL: pki.crl(t, next, big.NewInt(7), pki.asvk.SerialNumber), key: snp.SigningKeyVLEK, revoked: pki.asvk.SerialNumber, wantURLs: []string{"/vlek/v1/Milan/crl"}},
		{name: "signed by another ARK", vlekCRL: other.crl(t, next, big.NewInt(99)), key: snp.SigningKeyVLEK, wantErr: ErrInvalidCertificate, wantURLs: []string{"/vlek/v1/Milan/crl"}},
		{name: "expired", vlekCRL: pki.crl(t, time.Now().Add(-time.Minute)), key: snp.SigningKeyVLEK, wantErr: ErrInvalidCertificate, wantURLs: []string{"/vlek/v1/Milan/crl"}},
		{name: "KDS has none", key: snp.SigningKeyVLEK, wantErr: ErrNotFound, wantURLs: []string{"/vlek/v1/Milan/crl"}},
		{name: "signing key none", vlekCRL: pki.crl(t, next), key: snp.SigningKeyNone, wantErr: ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			// The VCEK CRL lists the ASVK: a VLEK check that read it
			// would find the ASVK revoked whatever the VLEK CRL says.
			kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, next, pki.asvk.SerialNumber))
			kds.setCRL(snp.SigningKeyVLEK, tc.vlekCRL)
			dir := t.TempDir()
			c := kds.newClient(dir)
			err := c.CheckRevoked(ctxTimeout(t, 5*time.Second), ProductMilan, tc.key, pki.asvk, vlekCert)
			switch {
			case tc.revoked != nil:
				rerr, ok := errors.AsType[*RevokedError](err)
				if !ok || !errors.Is(err, ErrRevoked) || rerr.Serial.Cmp(tc.revoked) != 0 || !bytesContains(rerr.Subject, "SEV-VLEK-Milan") {
					t.Fatalf("err = %v, want the ASVK revoked", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || errors.Is(err, ErrRevoked) {
					t.Fatalf("err = %v, want %v and not ErrRevoked", err, tc.wantErr)
				}
				if files := cacheFiles(t, dir); len(files) != 0 {
					t.Errorf("cached: %v", files)
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
// RevocationChecker checks a VLEK-signed report's ASVK against the VLEK
// CRL end to end: a revoked ASVK rejects it (revocation, ErrRevoked), an
// unrevoked one verifies, and a VLEK CRL that is not the pinned ARK's or
// cannot be obtained rejects it as "could not check" (revocation, not
// ErrRevoked). A VCEK-signed report is still judged by the VCEK CRL.
func TestVLEKRevocationVerify(t *testing.T) {
	chain := testev.PrivateChain(snp.Milan)
	next := time.Now().Add(24 * time.Hour)
	// crl is a CRL issued by the private Milan ARK (its name), signed by
	// its key or, foreign, by another.
	crl := func(foreign bool, serials ...*big.Int) []byte {
		signer := fakekeys.ARKKey()
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
		{name: "VCEK report, ASK revoked", ev: vcekEv, vcekCRL: crl(false, chain.ASK.SerialNumber), vlekCRL: crl(false), wantRejection: true, wantRevoked: true},
		{name: "VCEK report, ASK not revoked", ev: vcekEv, vcekCRL: crl(false), vlekCRL: crl(false, chain.ASK.SerialNumber)},
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
