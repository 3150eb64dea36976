package tdxtest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"
	"testing/fstest"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Collateral is Intel-like collateral under f's root, as the files of a
// collateral directory (tdx/pcs.LoadDir): it signs the TCB info and QE
// identity objects it is given with a fresh "Intel SGX TCB Signing"
// certificate, and issues the root CA CRL and the PCK CRL (platform),
// valid from ThisUpdate to NextUpdate, revoking the serials given.
type Collateral struct {
	// TCBInfo and QEIdentity are the inner JSON objects to sign; FMSPC
	// names the TCB info file.
	TCBInfo, QEIdentity []byte
	FMSPC               string
	// ThisUpdate and NextUpdate bound both CRLs; zero means an hour
	// either side of 2025-10-01 (testutil.TDXFixtureTime).
	ThisUpdate, NextUpdate time.Time
	// RevokePCK and RevokeCA put f's PCK on the PCK CRL and its CA on the
	// root CA CRL, after a serial of nobody's; RevokeSigner puts the TCB
	// signing certificate on the root CA CRL.
	RevokePCK, RevokeCA, RevokeSigner bool
}

// Files signs c under f and returns the directory's files by name.
func (f *FakeIntel) Files(t testing.TB, c Collateral) map[string][]byte {
	t.Helper()
	if c.ThisUpdate.IsZero() {
		at := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
		c.ThisUpdate, c.NextUpdate = at.Add(-time.Hour), at.Add(time.Hour)
	}
	pckSerials, caSerials := []*big.Int{big.NewInt(99)}, []*big.Int{big.NewInt(98)}
	if c.RevokePCK {
		pckSerials = append(pckSerials, f.PCK.SerialNumber)
	}
	if c.RevokeCA {
		caSerials = append(caSerials, f.CA.SerialNumber)
	}
	key := newKey(t)
	signer, err := f.chain.TCBSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	if c.RevokeSigner {
		caSerials = append(caSerials, signer.SerialNumber)
	}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sign := func(name string, inner []byte) []byte { return must(intelcert.SignDocument(key, name, inner)) }
	crl := func(issuer *x509.Certificate, serials []*big.Int, k *ecdsa.PrivateKey) []byte {
		return must(intelcert.CRL(issuer, k, serials, c.ThisUpdate, c.NextUpdate))
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Root.Raw})...)
	return map[string][]byte{
		"tcbinfo-tdx-" + c.FMSPC + ".json": sign("tcbInfo", c.TCBInfo),
		"qeidentity-tdx.json":              sign("enclaveIdentity", c.QEIdentity),
		"tcb-signing-chain.pem":            chain,
		"rootcacrl.der":                    crl(f.Root, caSerials, f.RootKey),
		"pckcrl-" + caFile(f.CA) + ".der":  crl(f.CA, pckSerials, f.CAKey),
	}
}

// FS is Files as a file system, for tdx/pcs.LoadDir.
func (f *FakeIntel) FS(t testing.TB, c Collateral) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, b := range f.Files(t, c) {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// caFile names the PCK CRL of ca in a collateral directory: "processor"
// for a Processor CA, else "platform".
func caFile(ca *x509.Certificate) string {
	if ca.Subject.CommonName == tdx.ProcessorCACN {
		return "processor"
	}
	return "platform"
}
