package tdxtest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
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
	// ThisUpdate and NextUpdate bound both CRLs.
	ThisUpdate, NextUpdate time.Time
	// RevokedPCK and RevokedCA are serials to put on the PCK CRL and the
	// root CA CRL.
	RevokedPCK, RevokedCA []*big.Int
}

// Files signs c under f and returns the directory's files by name.
func (f *FakeIntel) Files(t testing.TB, c Collateral) map[string][]byte {
	t.Helper()
	key := newKey(t)
	nb, na := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	signer := certify(t, &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "Intel SGX TCB Signing"},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature}, f.Root, &key.PublicKey, f.RootKey)
	sign := func(name string, inner []byte) []byte {
		sig := signRaw(t, key, inner)
		return []byte(`{"` + name + `":` + string(inner) + `,"signature":"` + hex.EncodeToString(sig[:]) + `"}`)
	}
	crl := func(issuer *x509.Certificate, serials []*big.Int, k *ecdsa.PrivateKey) []byte {
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: c.ThisUpdate, NextUpdate: c.NextUpdate}
		for _, s := range serials {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: c.ThisUpdate})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Root.Raw})...)
	return map[string][]byte{
		"tcbinfo-tdx-" + c.FMSPC + ".json": sign("tcbInfo", c.TCBInfo),
		"qeidentity-tdx.json":              sign("enclaveIdentity", c.QEIdentity),
		"tcb-signing-chain.pem":            chain,
		"rootcacrl.der":                    crl(f.Root, c.RevokedCA, f.RootKey),
		"pckcrl-platform.der":              crl(f.CA, c.RevokedPCK, f.CAKey),
	}
}
