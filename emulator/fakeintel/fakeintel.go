// Package fakeintel is the fake Intel chain of the emulated Azure TDX CVM
// (package emulator with Options.Platform PlatformTDX): a fake root (ECDSA
// P-256, self-signed, "snp-vtpm EMULATED Intel SGX Root CA (not Intel)"),
// an "Intel SGX PCK Platform CA" and a PCK certificate with SGX extensions
// (those of a real Azure PCK, FMSPC 00806f050000), valid 2025-01-01 to
// 2045-01-01; a TD quote template (a real Azure quote's TDX module, XFAM
// and quoting enclave, the emulated paravisor's MRTD) it builds quotes
// from; and Intel PCS collateral for it (Intel's real TCB info and QE
// identity re-signed by a fake TCB signing key, empty CRLs), so that the
// TCB status path runs end to end.
//
// All of it was generated once (internal/gen) and is embedded, so it is
// the same in every build, run and process. Every certificate's
// Organization is Marker. A verifier that should accept the emulated TDX
// CVM trusts Root from here besides Intel's pinned root
// (verify.Config.TrustEmulatedTDX, the CLI's --trust-emulated); a verifier
// must never do so by default. The pinned Intel root never chains to it.
//
// The package is cgo-free and contains no private keys: those live in
// package fakekeys, so verifier builds do not link them.
package fakeintel

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/internal/params"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Marker is the Organization of every fake Intel certificate.
const Marker = params.Marker

// ParavisorName is the short name verifiers give the emulated TDX
// paravisor, identified by MRTD.
const ParavisorName = "emulated-hcl"

var (
	//go:embed root.pem
	rootPEM []byte
	//go:embed ca.pem
	caPEM []byte
	//go:embed pck.pem
	pckPEM []byte
	//go:embed quote-template.bin
	quoteTemplate []byte
	//go:embed collateral
	collateralFS embed.FS
)

// ErrBadFixture means an embedded file is unusable (a broken build; this
// package's tests rule it out).
var ErrBadFixture = errors.New("fakeintel: embedded fixture is unusable")

func cert(name string, b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s", ErrBadFixture, name)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// Root returns a fresh copy of the fake root (nil only if the embedded
// certificate is broken).
func Root() *x509.Certificate {
	c, err := cert("root", rootPEM)
	if err != nil {
		return nil
	}
	return c
}

// ChainPEM returns the PCK certificate, the Platform CA and the root as
// PEM, the certification data of the emulated quotes.
func ChainPEM() []byte {
	return bytes.Join([][]byte{pckPEM, caPEM, rootPEM}, nil)
}

// MRTD returns the emulated TDX paravisor's MRTD: SHA-384 of a fixed
// text, not a measurement. Verifiers trust it only for quotes under Root.
func MRTD() [48]byte { return params.MRTD() }

// FMSPC is the emulated platform's FMSPC (a real Azure one, so that
// Intel's real TCB levels apply).
const FMSPC = "00806f050000"

// Collateral returns the fake Intel collateral as a directory
// (tdx/pcs.LoadDir reads it), valid 2025-01-01 to 2045-01-01, under Root.
func Collateral() fs.FS {
	sub, err := fs.Sub(collateralFS, "collateral")
	if err != nil {
		return collateralFS // not reached: the directory is embedded
	}
	return sub
}

// NewQuote returns an unsigned TD quote of the emulated platform for a
// TD whose report body is body: the template's header and certification
// data with body in place. Sign it with fakekeys.SignQuote.
func NewQuote(body tdx.Body) (*tdx.Quote, error) {
	q, err := tdx.ParseQuote(quoteTemplate)
	if err != nil {
		return nil, fmt.Errorf("%w: quote template: %w", ErrBadFixture, err)
	}
	q.Body = body
	return q, nil
}

// NewQuoteV5 returns an unsigned TD quote version 5 of the emulated
// platform with a TDX 1.5 body (body type 3): NewQuote's, body's
// TEETCBSVN2 and MRServiceTD included. Sign it with fakekeys.SignQuote.
func NewQuoteV5(body tdx.Body) (*tdx.Quote, error) {
	q, err := NewQuote(body)
	if err != nil {
		return nil, err
	}
	q.Header.Version, q.BodyType = tdx.QuoteVersion5, tdx.BodyTypeTD15
	return q, nil
}

// DefaultBody returns the TD report body of the emulated TD: the
// template's TDX module (TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM,
// SEAMATTRIBUTES), XFAM and TD attributes (0: no DEBUG), MRTD(), zero
// RTMRs and host-provided fields, and reportData.
func DefaultBody(reportData [64]byte) (tdx.Body, error) {
	q, err := tdx.ParseQuote(quoteTemplate)
	if err != nil {
		return tdx.Body{}, fmt.Errorf("%w: quote template: %w", ErrBadFixture, err)
	}
	b := q.Body
	b.MRTD, b.ReportData = MRTD(), reportData
	return b, nil
}
