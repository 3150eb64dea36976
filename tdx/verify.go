package tdx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Common names of the certificates of a PCK chain.
const (
	PCKCertCN     = "Intel SGX PCK Certificate"
	PlatformCACN  = "Intel SGX PCK Platform CA"
	ProcessorCACN = "Intel SGX PCK Processor CA"
	RootCACN      = "Intel SGX Root CA"
)

// maxChainCerts bounds the certificates of a PCK chain.
const maxChainCerts = 3

// VerifyOptions configure Quote.Verify.
type VerifyOptions struct {
	// Now is the time at which every certificate must be valid; zero
	// means time.Now().
	Now time.Time
	// Root replaces the pinned Intel SGX Root CA; nil (the default) means
	// IntelRoot. Only tests and emulation set it.
	Root *x509.Certificate
}

// Verified is what Quote.Verify established.
type Verified struct {
	// PCK is the PCK certificate that signed the QE report.
	PCK *x509.Certificate
	// Intermediate is the PCK's issuer (Platform or Processor CA).
	Intermediate *x509.Certificate
	// SGX holds the PCK certificate's SGX extensions (FMSPC, PCESVN, ...).
	SGX PCKExtensions
}

// Verify checks q offline, in this order, each failure wrapping one kind:
// the PCK chain up to the pinned Intel SGX Root CA, valid at opts.Now
// (ErrPCKChain); the PCK's signature over the QE report
// (ErrQEReportSignature); the QE report data binding the attestation key
// and QE auth data (ErrQEReportData); the attestation key's signature over
// the header and body (ErrQuoteSignature). It says nothing of Intel's TCB
// status, which needs Intel's collateral.
func (q *Quote) Verify(opts VerifyOptions) (*Verified, error) {
	v, err := q.verifyPCKChain(opts)
	if err != nil {
		return nil, err
	}
	pck, ok := v.PCK.PublicKey.(*ecdsa.PublicKey)
	if !ok || pck.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the PCK certificate's key is not ECDSA P-256", ErrPCKChain)
	}
	if !verifyRaw(pck, q.QEReport[:], q.QEReportSignature) {
		return nil, fmt.Errorf("%w: the PCK certificate's key did not sign the QE report", ErrQEReportSignature)
	}
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	want := make([]byte, 64)
	copy(want, h.Sum(nil))
	if subtle.ConstantTimeCompare(want, q.QEReport[qeReportDataOff:qeReportDataOff+64]) != 1 {
		return nil, fmt.Errorf("%w: QE report data is not SHA-256(attestation key || QE auth data) || zeros", ErrQEReportData)
	}
	ak, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
	if err != nil {
		return nil, fmt.Errorf("%w: attestation key: %v", ErrQuoteSignature, err)
	}
	if !verifyRaw(ak, q.SignedBytes(), q.Signature) {
		return nil, fmt.Errorf("%w: the attestation key did not sign the quote header and body", ErrQuoteSignature)
	}
	return v, nil
}

// verifyRaw verifies a raw r || s ECDSA signature over SHA-256(msg).
func verifyRaw(pub *ecdsa.PublicKey, msg []byte, sig [64]byte) bool {
	d := sha256.Sum256(msg)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, d[:], r, s)
}

// PCKCertificates parses the PEM PCK chain: 2 or 3 certificates (PCK,
// intermediate CA, optionally the root), then nothing but whitespace and
// NUL bytes.
func (q *Quote) PCKCertificates() ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := q.PCKChain
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" || len(certs) == maxChainCerts {
			return nil, fieldErrf("pck_chain", format.ErrUnexpectedValue, "want at most %d CERTIFICATE blocks", maxChainCerts)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("pck_chain[%d]", len(certs)), fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
		}
		certs = append(certs, c)
	}
	if len(bytes.Trim(rest, " \t\r\n\x00")) != 0 {
		return nil, fieldErrf("pck_chain", format.ErrTrailingData, "%d bytes that are not PEM", len(rest))
	}
	if len(certs) < 2 {
		return nil, fieldErrf("pck_chain", format.ErrTruncated, "%d certificates, want the PCK certificate and its CA", len(certs))
	}
	return certs, nil
}

// verifyPCKChain checks the PCK chain under the pinned root (or
// opts.Root) at opts.Now, the names of its certificates and the PCK's SGX
// extensions.
func (q *Quote) verifyPCKChain(opts VerifyOptions) (*Verified, error) {
	certs, err := q.PCKCertificates()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	root := opts.Root
	if root == nil {
		if root, err = IntelRoot(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
		}
	}
	if len(certs) == 3 && !certs[2].Equal(root) {
		return nil, fmt.Errorf("%w: the chain's root %q is not the pinned Intel SGX Root CA (sha256 %s)", ErrPCKChain, certs[2].Subject.CommonName, PinnedRootSHA256)
	}
	leaf, inter := certs[0], certs[1]
	if leaf.Subject.CommonName != PCKCertCN {
		return nil, fmt.Errorf("%w: leaf is %q, want %q", ErrPCKChain, leaf.Subject.CommonName, PCKCertCN)
	}
	if cn := inter.Subject.CommonName; cn != PlatformCACN && cn != ProcessorCACN {
		return nil, fmt.Errorf("%w: intermediate is %q, want %q or %q", ErrPCKChain, cn, PlatformCACN, ProcessorCACN)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	if len(chains) != 1 || len(chains[0]) != 3 {
		return nil, fmt.Errorf("%w: want exactly PCK <- CA <- root", ErrPCKChain)
	}
	ext, err := ParsePCKExtensions(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	return &Verified{PCK: leaf, Intermediate: inter, SGX: *ext}, nil
}
