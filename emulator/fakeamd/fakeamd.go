// Package fakeamd is the fake AMD certificate chain of the emulated Azure
// CVM (package emulator): a fake ARK (RSA-4096, self-signed, "ARK-Milan"),
// ASK (RSA-4096, "SEV-Milan", RSASSA-PSS SHA-384 signed by the ARK like the
// real one) and VCEK (ECDSA P-384, "SEV-VCEK", serial 0, with AMD's VCEK
// extensions naming the fake chip id and TCB), valid 2025-01-01 to
// 2045-01-01. It also builds and signs realistic SNP attestation reports.
//
// The fake ARK also issues the chain's two CRLs, shaped like AMD's: the
// VCEK CRL (VCEKCRLDER), which lists one revoked fake VCEK (RevokedVCEKDER:
// the fake VCEK's key and extensions, serial RevokedVCEKSerial), and the
// VLEK CRL (VLEKCRLDER), empty. Their issuer is the fake ARK's subject,
// which says Marker; a CRL has no other place for it. They are what the
// emulated KDS (collateral.EmulatedKDS) serves, valid 2025 to 2045 like the
// certificates.
//
// The chain and CRLs were generated once (internal/gen; the CRLs and the
// revoked VCEK can be issued again with the committed keys, gen -crls) and
// are embedded, so they are the same in every build, run and process. A verifier that should accept the
// emulated CVM trusts ARK (and ASK) from here instead of AMD's roots; a
// verifier must never do so by default.
//
// Every certificate's subject carries the description attribute
// "snp-vtpm EMULATED (not AMD)", and the ARK's Organization says so too. The
// ASK and VCEK keep Organization "Advanced Micro Devices" because
// go-sev-guest's verifier requires exactly that in the VCEK's subject and
// issuer.
//
// The package is cgo-free and contains no private keys: those live in the
// separate package fakekeys, so verifier builds do not link them.
package fakeamd

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/internal/params"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Facts about the emulated chip.
const (
	// Product is the emulated product line.
	Product = params.ProductLine
	// ProductName is the VCEK's productName extension value.
	ProductName = params.ProductName
	// Marker is the text that marks every fake certificate as emulated.
	Marker = params.Marker
	// BlSPL is the emulated bootloader security patch level.
	BlSPL = params.BlSPL
	// TeeSPL is the emulated PSP OS (TEE) security patch level.
	TeeSPL = params.TeeSPL
	// SnpSPL is the emulated SNP firmware security patch level.
	SnpSPL = params.SnpSPL
	// UcodeSPL is the emulated microcode security patch level.
	UcodeSPL = params.UcodeSPL
	// RevokedVCEKSerial is the serial number of the revoked fake VCEK
	// (RevokedVCEKDER), which the fake VCEK CRL lists.
	RevokedVCEKSerial = params.RevokedVCEKSerial
)

var (
	//go:embed ark.pem
	arkPEM []byte
	//go:embed ask.pem
	askPEM []byte
	//go:embed vcek.pem
	vcekPEM []byte
	//go:embed vcek_revoked.pem
	revokedVCEKPEM []byte
	//go:embed vcek_crl.pem
	vcekCRLPEM []byte
	//go:embed vlek_crl.pem
	vlekCRLPEM []byte
)

// ErrBadCertificate means an embedded certificate could not be decoded (a
// broken build; this package's tests rule it out).
var ErrBadCertificate = errors.New("fakeamd: embedded certificate is unusable")

// der returns the DER bytes of an embedded single-certificate PEM file.
func der(name string, b []byte) ([]byte, error) { return derOf(name, "CERTIFICATE", b) }

// derOf returns the DER bytes of an embedded PEM file of one block of
// type typ.
func derOf(name, typ string, b []byte) ([]byte, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("%w: %s", ErrBadCertificate, name)
	}
	return block.Bytes, nil
}

func cert(name string, b []byte) *x509.Certificate {
	d, err := der(name, b)
	if err != nil {
		return nil
	}
	c, err := x509.ParseCertificate(d)
	if err != nil {
		return nil
	}
	return c
}

func pemOf(name string, b []byte) []byte {
	d, err := der(name, b)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})
}

// ChipID returns the emulated chip's 64-byte CHIP_ID, which is also the
// fake VCEK's hwID.
func ChipID() [64]byte { return params.ChipID() }

// ReportedTCB returns the emulated chip's TCB (bootloader 4, TEE 0, SNP 24,
// microcode 219, like a real Milan) in the SNP report encoding: it is the
// report's reported_tcb, committed_tcb and launch_tcb and the fake VCEK's
// TCB.
func ReportedTCB() uint64 { return params.TCB(BlSPL, TeeSPL, SnpSPL, UcodeSPL) }

// CurrentTCB returns the default current_tcb of reports from NewReport: the
// reported TCB with a newer provisional microcode (220), as real Azure hosts
// show.
func CurrentTCB() uint64 { return params.TCB(BlSPL, TeeSPL, SnpSPL, UcodeSPL+1) }

// TCBM returns ReportedTCB as upper-case hex, the "tcbm" value of Azure's
// THIM endpoint.
func TCBM() string { return fmt.Sprintf("%016X", ReportedTCB()) }

// ARK returns a fresh copy of the fake ARK certificate (nil only if the
// embedded certificate is broken).
func ARK() *x509.Certificate { return cert("ARK", arkPEM) }

// ASK returns a fresh copy of the fake ASK certificate (nil only if the
// embedded certificate is broken).
func ASK() *x509.Certificate { return cert("ASK", askPEM) }

// VCEK returns a fresh copy of the fake VCEK certificate (nil only if the
// embedded certificate is broken).
func VCEK() *x509.Certificate { return cert("VCEK", vcekPEM) }

// ARKDER returns the fake ARK certificate in DER.
func ARKDER() []byte { d, _ := der("ARK", arkPEM); return bytes.Clone(d) }

// ASKDER returns the fake ASK certificate in DER.
func ASKDER() []byte { d, _ := der("ASK", askPEM); return bytes.Clone(d) }

// VCEKDER returns the fake VCEK certificate in DER, as AMD's KDS serves it.
func VCEKDER() []byte { d, _ := der("VCEK", vcekPEM); return bytes.Clone(d) }

// RevokedVCEKDER returns, in DER, the revoked fake VCEK: the fake VCEK's
// key, subject, extensions and validity under another serial
// (RevokedVCEKSerial), signed by the fake ASK and listed on the fake VCEK
// CRL. Evidence that carries it verifies like the fake VCEK's until
// revocation is checked (collateral.EmulatedChain), which rejects it.
func RevokedVCEKDER() []byte { d, _ := der("revoked VCEK", revokedVCEKPEM); return bytes.Clone(d) }

// RevokedVCEK returns a fresh copy of the revoked fake VCEK certificate
// (RevokedVCEKDER; nil only if the embedded certificate is broken).
func RevokedVCEK() *x509.Certificate { return cert("revoked VCEK", revokedVCEKPEM) }

// RevokedVCEKPEM returns the revoked fake VCEK (RevokedVCEKDER) as a
// single PEM block.
func RevokedVCEKPEM() []byte { return pemOf("revoked VCEK", revokedVCEKPEM) }

// VCEKCRLDER returns, in DER as AMD's KDS serves it
// (/vcek/v1/Milan/crl), the fake ARK's VCEK CRL: RSASSA-PSS SHA-384, CRL
// number 1, valid 2025-01-01 to 2045-01-01, listing RevokedVCEKSerial
// only.
func VCEKCRLDER() []byte { d, _ := derOf("VCEK CRL", "X509 CRL", vcekCRLPEM); return bytes.Clone(d) }

// VLEKCRLDER returns, in DER as AMD's KDS serves it
// (/vlek/v1/Milan/crl), the fake ARK's VLEK CRL: like VCEKCRLDER's but
// empty (the emulated CVM has no VLEK).
func VLEKCRLDER() []byte { d, _ := derOf("VLEK CRL", "X509 CRL", vlekCRLPEM); return bytes.Clone(d) }

// ARKPEM returns the fake ARK certificate as a single PEM block.
func ARKPEM() []byte { return pemOf("ARK", arkPEM) }

// VCEKPEM returns the fake VCEK certificate as a single PEM block, as
// Azure's THIM endpoint serves it.
func VCEKPEM() []byte { return pemOf("VCEK", vcekPEM) }

// ChainPEM returns the fake ASK then the fake ARK as PEM, the format of
// AMD's KDS cert_chain endpoint and of THIM's "certificateChain".
func ChainPEM() []byte {
	return append(pemOf("ASK", askPEM), pemOf("ARK", arkPEM)...)
}

// ChainSource is the Source of the chain Chain returns, which claims
// (RootsSource) and chain errors show.
const ChainSource = "EMULATED CVM (not AMD)"

// Chain returns the fake ASK and ARK as a chain to trust, marked Emulated
// with Source ChainSource: what a verifier that accepts the emulated CVM
// adds to its roots (never by default). The error is snp.ParseChainPEM's.
func Chain() (*snp.Chain, error) {
	c, err := snp.ParseChainPEM(ChainPEM())
	if err != nil {
		return nil, err
	}
	c.Source, c.Emulated = ChainSource, true
	return c, nil
}

// fakeCAKeys are the public keys of the fake ARK and ASK, parsed once.
var fakeCAKeys = sync.OnceValue(func() []*rsa.PublicKey {
	var keys []*rsa.PublicKey
	for _, c := range []*x509.Certificate{ARK(), ASK()} {
		if c == nil {
			continue
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
			keys = append(keys, k)
		}
	}
	return keys
})

// IsFakeKey reports whether pub is the public key of the fake ARK or the
// fake ASK, whose private keys are committed (package fakekeys). Anyone
// can sign a certificate with them, so a certificate holding such a key
// is the emulated chain's whatever its name, serial or issuer says.
func IsFakeKey(pub any) bool {
	for _, k := range fakeCAKeys() {
		if k.Equal(pub) {
			return true
		}
	}
	return false
}

// FakeKeyIn names the certificate of c ("ARK", "ASK" or "ASVK") that holds
// the fake ARK's or ASK's public key (IsFakeKey), or returns "" when none
// does. A chain re-issued with the committed fake keys (another serial,
// subject or validity) is not byte-equal to Chain's, but it is the
// emulated chain all the same: a verifier must take it only as Chain
// (marked Emulated), never as a chain of AMD's.
func FakeKeyIn(c *snp.Chain) string {
	if c == nil {
		return ""
	}
	for _, cert := range []struct {
		name string
		c    *x509.Certificate
	}{{"ARK", c.ARK}, {"ASK", c.ASK}, {"ASVK", c.ASVK}} {
		if cert.c != nil && IsFakeKey(cert.c.PublicKey) {
			return cert.name
		}
	}
	return ""
}
