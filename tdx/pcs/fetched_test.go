package pcs_test

import (
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

func realFile(t *testing.T, name string) []byte {
	t.Helper()
	return testutil.ReadFile(t, testutil.IntelCollateralDir+name)
}

// TestCheckFetched: each item as the PCS serves it verifies at
// 2025-10-01 with its issuer chain; another FMSPC, the wrong chain, a
// changed signature, a later time and the wrong CA fail with
// ErrCollateral or a format error.
func TestCheckFetched(t *testing.T) {
	opts := pcs.Options{Now: testutil.TDXFixtureTime()}
	tcb, qe, signing := realFile(t, "tcbinfo-tdx-00806f050000.json"), realFile(t, "qeidentity-tdx.json"), realFile(t, "tcb-signing-chain.pem")
	crl, crlChain, root := realFile(t, "pckcrl-platform.der"), realFile(t, "pckcrl-issuer-chain.pem"), realFile(t, "rootcacrl.der")
	fmspc := [6]byte{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00}
	if ti, chain, err := pcs.CheckTCBInfo(tcb, signing, fmspc, opts); err != nil || ti.TCBEvaluationDataNumber != 17 || len(chain) != 2 {
		t.Fatalf("TCB info: %v", err)
	}
	if _, _, err := pcs.CheckQEIdentity(qe, signing, opts); err != nil {
		t.Fatalf("QE identity: %v", err)
	}
	if l, err := pcs.CheckPCKCRL(crl, crlChain, pcs.CAPlatform, opts); err != nil || l.Issuer.CommonName != "Intel SGX PCK Platform CA" {
		t.Fatalf("PCK CRL: %v", err)
	}
	hexCRL := []byte(hex.EncodeToString(root) + "\n")
	pemCRL := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: root})
	for _, b := range [][]byte{root, hexCRL, pemCRL} {
		if _, err := pcs.CheckRootCRL(b, opts); err != nil {
			t.Fatalf("root CA CRL %.10q: %v", b, err)
		}
	}
	// mutation29b: a chain's second certificate must be the root, not
	// just any certificate (the leaf chaining to the root regardless).
	signingThenCA := append(firstPEM(t, signing), firstPEM(t, crlChain)...)
	caThenSigning := append(firstPEM(t, crlChain), firstPEM(t, signing)...)
	sig := strings.LastIndex(string(tcb), `"signature":"`) + len(`"signature":"`)
	badSig := []byte(string(tcb[:sig]) + flipHex(tcb[sig]) + string(tcb[sig+1:]))
	for _, tc := range []struct {
		name string
		err  error
		kind error
	}{
		{"other FMSPC", second(pcs.CheckTCBInfo(tcb, signing, [6]byte{1}, opts)), pcs.ErrCollateral},
		{"TCB info, CRL chain", second(pcs.CheckTCBInfo(tcb, crlChain, fmspc, opts)), pcs.ErrCollateral},
		{"TCB info, signature", second(pcs.CheckTCBInfo(badSig, signing, fmspc, opts)), pcs.ErrCollateral},
		{"TCB info, later", second(pcs.CheckTCBInfo(tcb, signing, fmspc, pcs.Options{Now: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)})), pcs.ErrCollateral},
		{"TCB info, signer then not the root", second(pcs.CheckTCBInfo(tcb, signingThenCA, fmspc, opts)), pcs.ErrCollateral},
		{"QE identity, signer then not the root", second(pcs.CheckQEIdentity(qe, signingThenCA, opts)), pcs.ErrCollateral},
		{"PCK CRL, CA then not the root", errOf(pcs.CheckPCKCRL(crl, caThenSigning, pcs.CAPlatform, opts)), pcs.ErrCollateral},
		{"QE identity, no chain", second(pcs.CheckQEIdentity(qe, nil, opts)), format.ErrEmpty},
		{"PCK CRL, processor", errOf(pcs.CheckPCKCRL(crl, crlChain, pcs.CAProcessor, opts)), pcs.ErrCollateral},
		{"PCK CRL, signing chain", errOf(pcs.CheckPCKCRL(crl, signing, pcs.CAPlatform, opts)), pcs.ErrCollateral},
		{"PCK CRL as root CRL", errOf(pcs.CheckRootCRL(crl, opts)), pcs.ErrCollateral},
		{"root CRL, garbage", errOf(pcs.CheckRootCRL([]byte("<html>"), opts)), format.ErrBadEncoding},
		{"root CRL, PEM and more", errOf(pcs.CheckRootCRL(append(pemCRL, "x"...), opts)), format.ErrBadEncoding},
	} {
		if !errors.Is(tc.err, tc.kind) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.kind)
		}
	}
	if _, err := pcs.CheckPCKCRL(crl, crlChain, "both", opts); err == nil {
		t.Error("PCK CRL of CA \"both\" accepted")
	}
}

// firstPEM returns the first PEM block of chain, encoded again.
func firstPEM(t *testing.T, chain []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(chain)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return pem.EncodeToMemory(b)
}

func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func second[A, B any](_ A, _ B, err error) error { return err }

func errOf[A any](_ A, err error) error { return err }
