package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// The PCK CAs, as the PCS names them (ca=platform, ca=processor).
const (
	CAPlatform  = "platform"
	CAProcessor = "processor"
)

// PCKCA names the PCK CA of a verified quote: CAPlatform or CAProcessor.
func PCKCA(v *tdx.Verified) string { return caName(v.Intermediate.Subject.CommonName) }

// root returns opts.Root or the pinned Intel SGX Root CA.
func (o Options) root() (*x509.Certificate, error) {
	if o.Root != nil {
		return o.Root, nil
	}
	return tdx.IntelRoot()
}

// at returns opts.Now or the current time.
func (o Options) at() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// CheckTCBInfo parses a TCB info document as the PCS serves it for fmspc
// and verifies it at opts.Now with its issuer chain (PEM, the
// TCB-Info-Issuer-Chain header): the chain under the pinned root, the
// signature, the validity window and the FMSPC. It returns the document
// and the chain. Fetched collateral passes it before it is cached.
func CheckTCBInfo(body, chainPEM []byte, fmspc [6]byte, opts Options) (*TCBInfo, []*x509.Certificate, error) {
	t, chain, err := checkFetched(ParseTCBInfo, "TCB info", body, chainPEM, opts)
	if err != nil {
		return nil, nil, err
	}
	if t.FMSPC != fmspc {
		return nil, nil, collErr("the TCB info is for FMSPC %x, not %x", t.FMSPC, fmspc)
	}
	return t, chain, nil
}

// CheckQEIdentity is CheckTCBInfo for the TD QE identity (issuer chain:
// the SGX-Enclave-Identity-Issuer-Chain header).
func CheckQEIdentity(body, chainPEM []byte, opts Options) (*QEIdentity, []*x509.Certificate, error) {
	return checkFetched(ParseQEIdentity, "QE identity", body, chainPEM, opts)
}

// checkFetched parses a signed document (what) with parse and verifies
// it with its issuer chain (chainPEM): the chain under the pinned root,
// the signature and the validity window at opts.Now. It returns the
// document and the chain.
func checkFetched[D interface {
	verifyAt(signer *x509.Certificate, what string, now time.Time) error
}](parse func([]byte) (D, error), what string, body, chainPEM []byte, opts Options) (D, []*x509.Certificate, error) {
	var none D
	doc, err := parse(body)
	if err != nil {
		return none, nil, err
	}
	chain, signer, err := checkSigningChain(chainPEM, opts)
	if err != nil {
		return none, nil, err
	}
	if err := doc.verifyAt(signer, what, opts.at()); err != nil {
		return none, nil, err
	}
	return doc, chain, nil
}

// verifyAt verifies the signature by signer of the document (what) that h
// heads and its validity window at now.
func (h *Header) verifyAt(signer *x509.Certificate, what string, now time.Time) error {
	if err := h.Signed.verify(signer, what); err != nil {
		return err
	}
	return window(what, h.IssueDate, h.NextUpdate, now)
}

func checkSigningChain(chainPEM []byte, opts Options) ([]*x509.Certificate, *x509.Certificate, error) {
	chain, err := ParseSigningChain(chainPEM)
	if err != nil {
		return nil, nil, err
	}
	root, err := opts.root()
	if err != nil {
		return nil, nil, err
	}
	signer, err := verifySigner(chain, root, opts.at())
	return chain, signer, err
}

// CheckPCKCRL parses the PCK CRL of ca (CAPlatform or CAProcessor; DER,
// PEM or hex, see DecodeCRL) and verifies it at opts.Now with its issuer
// chain (PEM, the SGX-PCK-CRL-Issuer-Chain header: the PCK CA, optionally
// the root): the CA under the pinned root, the CRL's issuer, signature
// and window.
func CheckPCKCRL(body, chainPEM []byte, ca string, opts Options) (*x509.RevocationList, error) {
	want := tdx.PlatformCACN
	if ca == CAProcessor {
		want = tdx.ProcessorCACN
	} else if ca != CAPlatform {
		return nil, fmt.Errorf("pcs: PCK CA %.20q: want %q or %q", ca, CAPlatform, CAProcessor)
	}
	l, err := decodeParseCRL(body, "pck_crl")
	if err != nil {
		return nil, err
	}
	certs, err := parseCertsPEM(chainPEM, "pck_crl_issuer_chain")
	if err != nil {
		return nil, err
	}
	root, err := opts.root()
	if err != nil {
		return nil, err
	}
	caCert := certs[0]
	switch {
	case caCert.Subject.CommonName != want:
		return nil, collErr("the PCK CRL's issuer chain starts with %q, want %q", format.Truncate(caCert.Subject.CommonName, tdx.MaxNameInError), want)
	case len(certs) == 2 && !certs[1].Equal(root):
		return nil, collErr("the PCK CRL's issuer chain ends in %q, not the pinned Intel SGX Root CA", format.Truncate(certs[1].Subject.CommonName, tdx.MaxNameInError))
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := caCert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: opts.at(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, collErr("the PCK CRL's issuer %q: %v", want, err)
	}
	if err := checkCRL(l, caCert, opts.at(), "PCK CRL ("+ca+")"); err != nil {
		return nil, err
	}
	return l, nil
}

// CheckRootCRL parses the Intel SGX Root CA's CRL (DER, PEM or hex) and
// verifies its signature by the pinned root and its window at opts.Now.
func CheckRootCRL(body []byte, opts Options) (*x509.RevocationList, error) {
	l, err := decodeParseCRL(body, "root_ca_crl")
	if err != nil {
		return nil, err
	}
	root, err := opts.root()
	if err != nil {
		return nil, err
	}
	if err := checkCRL(l, root, opts.at(), "Intel SGX Root CA CRL"); err != nil {
		return nil, err
	}
	return l, nil
}

func decodeParseCRL(body []byte, field string) (*x509.RevocationList, error) {
	der, err := DecodeCRL(body)
	if err != nil {
		return nil, fieldErr(field, err)
	}
	return ParseCRL(der, field)
}

// DecodeCRL returns the DER of a CRL served as DER, as PEM ("X509 CRL")
// or as hex of the DER (PCCS), with nothing else around it but
// whitespace.
func DecodeCRL(b []byte) ([]byte, error) {
	if len(b) > 2*MaxCRLSize {
		return nil, fmt.Errorf("%w: %d bytes", format.ErrTooLarge, len(b))
	}
	if len(b) > 0 && b[0] == 0x30 {
		return b, nil
	}
	t := bytes.TrimSpace(b)
	if bytes.HasPrefix(t, []byte("-----BEGIN")) {
		blk, rest := pem.Decode(t)
		if blk == nil || blk.Type != "X509 CRL" || len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("%w: want one PEM X509 CRL block", format.ErrBadEncoding)
		}
		return blk.Bytes, nil
	}
	der := make([]byte, hex.DecodedLen(len(t)))
	if _, err := hex.Decode(der, t); err != nil || len(der) == 0 {
		return nil, fmt.Errorf("%w: neither DER, PEM nor hex", format.ErrBadEncoding)
	}
	return der, nil
}
