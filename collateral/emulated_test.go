package collateral

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestEmulatedRevocation (emu30b): the emulated CVM's evidence, verified
// with the emulated chain trusted and revocation checked, goes through
// the real revocation code (Chain.CheckRevoked on EmulatedChain's fake
// CRLs, validated under the fake ARK): the fake VCEK verifies, the
// revoked fake VCEK is rejected (revocation, *RevokedError from the fake
// VCEK CRL, saying emulated), and AMD's checker (a Chain on a KDS that
// counts requests) is asked nothing. Before, the emulated chain was not
// checked at all.
func TestEmulatedRevocation(t *testing.T) {
	ctx := context.Background()
	var amd atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		amd.Add(1)
		http.Error(w, "AMD's KDS asked about the emulated chain", http.StatusTeapot)
	}))
	defer srv.Close()
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{
		Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Roots: snp.DefaultRoots().Add(fake),
		Revocation:         &Chain{Sources: []Source{&KDS{Client: &kds.Client{BaseURL: srv.URL, MaxRetries: -1}}}},
		EmulatedRevocation: EmulatedChain(nil),
	}
	ev := testev.Emulated(testev.Builder{}).MustBuild()
	c, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg)
	if err != nil || !c.Emulated {
		t.Fatalf("the fake VCEK: %v", err)
	}
	b := testev.Emulated(testev.Builder{})
	b.VCEKDER = fakeamd.RevokedVCEKDER()
	revoked := b.MustBuild()
	_, err = verify.Evidence(ctx, revoked.JSON, revoked.Nonce, cfg)
	verr, ok := errors.AsType[*verify.Error](err)
	rerr, rok := errors.AsType[*RevokedError](err)
	if !ok || verr.Check != verify.CheckRevocation || !rok || rerr.CRL != "VCEK CRL" || !rerr.Emulated ||
		rerr.Serial.Int64() != fakeamd.RevokedVCEKSerial || !strings.Contains(err.Error(), "EMULATED chain's fake VCEK CRL") {
		t.Fatalf("the revoked fake VCEK: %v, want a revocation rejection by the emulated chain's VCEK CRL", err)
	}
	if n := amd.Load(); n != 0 {
		t.Errorf("%d requests to AMD's KDS", n)
	}
}

// TestEmulatedChainCheckRevoked (emu30b): EmulatedChain reads both fake
// CRLs for either signing key and lists only the revoked fake VCEK; it
// knows no other product line and serves no VCEK.
func TestEmulatedChainCheckRevoked(t *testing.T) {
	ctx := context.Background()
	ec := EmulatedChain(nil)
	ask, vcek := fakeamd.ASK(), fakeamd.VCEK()
	revoked := fakeamd.RevokedVCEK()
	for _, key := range []uint32{snp.SigningKeyVCEK, snp.SigningKeyVLEK} {
		if err := ec.CheckRevoked(ctx, "Milan", key, ask, vcek); err != nil {
			t.Errorf("%s: the fake ASK and VCEK: %v", snp.SigningKeyName(key), err)
		}
		if err := ec.CheckRevoked(ctx, "Milan", key, ask, revoked); !errors.Is(err, ErrRevoked) {
			t.Errorf("%s: the revoked fake VCEK: %v", snp.SigningKeyName(key), err)
		}
	}
	if err := ec.CheckRevoked(ctx, "Genoa", snp.SigningKeyVCEK, ask, vcek); !errors.Is(err, kds.ErrUnsupportedProduct) {
		t.Errorf("Genoa: %v, want ErrUnsupportedProduct", err)
	}
	if _, err := (EmulatedKDS{}).Get(ctx, KindVCEK, &Query{Key: &Key{Product: "Milan"}}); !errors.Is(err, ErrMiss) {
		t.Errorf("a VCEK from the emulated KDS: %v", err)
	}
}

// TestFakeCRLsNeverAMDs (emu30b): the fake CRLs are refused by a Chain of
// AMD's roots wherever they come from, the emulated KDS or AMD's disk
// cache slots (crl/Milan, vlek_crl/Milan): the fake ARK signed them.
func TestFakeCRLsNeverAMDs(t *testing.T) {
	ctx := context.Background()
	fromKDS := &Chain{Sources: []Source{EmulatedKDS{}}, Offline: true}
	dir := t.TempDir()
	disk := &Disk{Dir: dir}
	for kind, der := range map[Kind][]byte{KindCRL: fakeamd.VCEKCRLDER(), KindVLEKCRL: fakeamd.VLEKCRLDER()} {
		path := disk.Path(kind, &Key{Product: "Milan"})
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, der, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fromDisk := &Chain{Sources: []Source{disk}, Offline: true}
	for name, c := range map[string]*Chain{"emulated KDS": fromKDS, "disk": fromDisk} {
		for kind, get := range map[string]func(context.Context, string) (*x509.RevocationList, error){"VCEK CRL": c.CRL, "VLEK CRL": c.VLEKCRL} {
			if l, err := get(ctx, "Milan"); err == nil || !errors.Is(err, ErrOffline) {
				t.Errorf("%s, %s under AMD's ARK: %v, %v; want refused", name, kind, l, err)
			}
		}
		if err := c.CheckRevoked(ctx, "Milan", snp.SigningKeyVCEK, fakeamd.ASK(), fakeamd.VCEK()); err == nil {
			t.Errorf("%s: AMD's revocation check passed on the fake CRLs", name)
		}
	}
}
