package tdx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
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
	// Root is the root the chain was verified under (the pinned Intel SGX
	// Root CA, or VerifyOptions.Root).
	Root *x509.Certificate
	// SGX holds the PCK certificate's SGX extensions (FMSPC, PCESVN, ...).
	SGX PCKExtensions
}

// Verify checks q offline, in this order, each failure wrapping one kind:
// the PCK chain up to the pinned Intel SGX Root CA, valid at opts.Now
// (ErrPCKChain); the PCK's signature over the QE report
// (ErrQEReportSignature); the QE report being Intel's TD quoting enclave,
// not in debug mode (ErrQEIdentity); the QE report data binding the attestation key
// and QE auth data (ErrQEReportData); the attestation key's signature over
// the header and body (ErrQuoteSignature); the signed body naming Intel's
// production TDX module (ErrTDXModule, Body.CheckTDXModule). It says
// nothing of Intel's TCB status, which needs Intel's collateral. It is
// VerifyChain, then VerifySigned.
func (q *Quote) Verify(opts VerifyOptions) (*Verified, error) {
	v, err := q.VerifyChain(opts)
	if err != nil {
		return nil, err
	}
	if err := q.VerifySigned(v); err != nil {
		return nil, err
	}
	return v, nil
}

// VerifySigned checks what q's PCK chain, already verified as v (by
// VerifyChain for a quote with the same PCKChain bytes), vouches for: the
// PCK's signature over the QE report (ErrQEReportSignature), the QE's
// identity (ErrQEIdentity: Intel's TD quoting enclave), the QE report
// data (ErrQEReportData), the attestation key's signature over the
// header and body (ErrQuoteSignature) and, once the body is known to be
// signed, its TDX module (ErrTDXModule: Body.CheckTDXModule).
func (q *Quote) VerifySigned(v *Verified) error {
	pck, ok := v.PCK.PublicKey.(*ecdsa.PublicKey)
	if !ok || pck.Curve != elliptic.P256() {
		return fmt.Errorf("%w: the PCK certificate's key is not ECDSA P-256", ErrPCKChain)
	}
	if !verifyRaw(pck, q.QEReport[:], q.QEReportSignature) {
		return fmt.Errorf("%w: the PCK certificate's key did not sign the QE report", ErrQEReportSignature)
	}
	if err := q.checkQEIdentity(); err != nil {
		return err
	}
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	var want [64]byte
	h.Sum(want[:0])
	if subtle.ConstantTimeCompare(want[:], q.QEReport[qeReportDataOff:qeReportDataOff+64]) != 1 {
		return fmt.Errorf("%w: QE report data is not SHA-256(attestation key || QE auth data) || zeros", ErrQEReportData)
	}
	var point [1 + len(q.AttestationKey)]byte
	point[0] = 4
	copy(point[1:], q.AttestationKey[:])
	ak, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
	if err != nil {
		return fmt.Errorf("%w: attestation key: %v", ErrQuoteSignature, err)
	}
	var buf [maxSignedSize]byte
	signed := buf[:q.signedSize()]
	q.putSigned(signed)
	if !verifyRaw(ak, signed, q.Signature) {
		return fmt.Errorf("%w: the attestation key did not sign the quote header and body", ErrQuoteSignature)
	}
	return q.Body.CheckTDXModule()
}

// Intel's TD quoting enclave, as Intel's QE identity (id TD_QE) names it
// and every real TD quote in testdata/ carries it: its signer (MRSIGNER,
// the SHA-256 of Intel's enclave signing key) and product id.
var intelTDQEMRSigner = [32]byte{0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
	0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5}

// Offsets in the QE report (an SGX REPORTBODY) and Intel's TD QE values.
const (
	qeAttributesOff = 48  // ATTRIBUTES (16 bytes; FLAGS bit 1 is DEBUG)
	qeMRSignerOff   = 128 // MRSIGNER (32 bytes)
	qeISVProdIDOff  = 256 // ISVPRODID (uint16)
	// TDQEProdID is the ISVPRODID of Intel's TD quoting enclave.
	TDQEProdID = 2
	// qeAttributeDebug is SGX ATTRIBUTES.FLAGS.DEBUG.
	qeAttributeDebug = 1 << 1
)

// checkQEIdentity checks, offline, that the QE report (whose PCK signature
// verified) is Intel's TD quoting enclave in production mode: MRSIGNER is
// Intel's, ISVPRODID is TDQEProdID and DEBUG is clear (ErrQEIdentity). The
// PCK (Intel's provisioning certification enclave) signs the report of any
// enclave that may use the provisioning key, so without this an enclave of
// anyone's making on any SGX platform with a PCK certificate could certify
// its own attestation key and sign TD quotes of any body. Intel's QE
// identity collateral (tdx/pcs) checks the same and more (masked
// MISCSELECT and ATTRIBUTES, the QE's TCB level) when it is given.
func (q *Quote) checkQEIdentity() error {
	r := q.QEReport[:]
	if subtle.ConstantTimeCompare(r[qeMRSignerOff:qeMRSignerOff+32], intelTDQEMRSigner[:]) != 1 {
		return fmt.Errorf("%w: MRSIGNER %x, want Intel's %x", ErrQEIdentity, r[qeMRSignerOff:qeMRSignerOff+32], intelTDQEMRSigner[:])
	}
	if id := binary.LittleEndian.Uint16(r[qeISVProdIDOff:]); id != TDQEProdID {
		return fmt.Errorf("%w: ISVPRODID %d, want %d (the TD quoting enclave)", ErrQEIdentity, id, TDQEProdID)
	}
	if r[qeAttributesOff]&qeAttributeDebug != 0 {
		return fmt.Errorf("%w: the quoting enclave runs in DEBUG mode (ATTRIBUTES %x): its attestation key is readable by the host", ErrQEIdentity, r[qeAttributesOff:qeAttributesOff+16])
	}
	return nil
}

// verifyRaw verifies a raw r || s ECDSA signature over SHA-256(msg).
func verifyRaw(pub *ecdsa.PublicKey, msg []byte, sig [64]byte) bool {
	d := sha256.Sum256(msg)
	var r, s big.Int
	return ecdsa.Verify(pub, d[:], r.SetBytes(sig[:32]), s.SetBytes(sig[32:]))
}

// pckChain is the quote's PCK chain: the PCK certificate, its CA and
// optionally the root, then only whitespace and NUL bytes.
var pckChain = PEMChain{Format: "tdx", Field: "pck_chain", Min: 2, Max: maxChainCerts, Padding: " \t\r\n\x00"}

// parseCerts parses the first n of ders.
func parseCerts(ders [][]byte, n int) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, n)
	for i, der := range ders[:n] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("pck_chain[%d]", i), fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// PCKCertificates parses the PEM PCK chain: 2 or 3 certificates (PCK,
// intermediate CA, optionally the root), then nothing but whitespace and
// NUL bytes.
func (q *Quote) PCKCertificates() ([]*x509.Certificate, error) {
	ders, err := pckChain.SplitPEM(q.PCKChain)
	if err != nil {
		return nil, err
	}
	return parseCerts(ders, len(ders))
}

// VerifyChain checks q's PCK chain (ErrPCKChain): PEM of the PCK
// certificate, its CA and optionally the root, which must then be the root
// byte for byte; the names of the certificates; the chain up to the pinned
// root (or opts.Root), every certificate valid at opts.Now; the PCK's SGX
// extensions. The root in the chain is compared, never parsed.
func (q *Quote) VerifyChain(opts VerifyOptions) (*Verified, error) {
	ders, err := pckChain.SplitPEM(q.PCKChain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	root := opts.Root
	if root == nil {
		if root, err = IntelRoot(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
		}
	}
	certs, err := parseCerts(ders, 2)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	if len(ders) == 3 && !bytes.Equal(ders[2], root.Raw) {
		return nil, fmt.Errorf("%w: the chain's root is not the pinned Intel SGX Root CA (sha256 %s)", ErrPCKChain, PinnedRootSHA256)
	}
	return verifyPCKChain(certs[0], certs[1], root, opts.Now)
}

// verifyPCKChain checks leaf <- inter <- root at now (zero: time.Now()),
// the names of the certificates, their algorithms (before any signature)
// and the PCK's SGX extensions.
func verifyPCKChain(leaf, inter, root *x509.Certificate, now time.Time) (*Verified, error) {
	if leaf.Subject.CommonName != PCKCertCN {
		return nil, fmt.Errorf("%w: leaf is %q, want %q", ErrPCKChain, format.Truncate(leaf.Subject.CommonName, MaxNameInError), PCKCertCN)
	}
	if cn := inter.Subject.CommonName; cn != PlatformCACN && cn != ProcessorCACN {
		return nil, fmt.Errorf("%w: intermediate is %q, want %q or %q", ErrPCKChain, format.Truncate(cn, MaxNameInError), PlatformCACN, ProcessorCACN)
	}
	if err := checkPCKAlgorithms(leaf, inter, root); err != nil {
		return nil, err
	}
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
	return &Verified{PCK: leaf, Intermediate: inter, Root: root, SGX: *ext}, nil
}

// checkPCKAlgorithms requires of the chain leaf <- inter <- root, before
// any of its signatures is verified, what every Intel PCK chain uses
// (ErrPCKChain): ECDSA P-256 keys and ECDSA-SHA256 signatures. An RSA key
// of 16384 bits in a forged intermediate would otherwise cost each
// verification a second of CPU (a verifier's denial of service).
func checkPCKAlgorithms(leaf, inter, root *x509.Certificate) error {
	certs := [...]struct {
		name string
		c    *x509.Certificate
	}{{"PCK certificate", leaf}, {"intermediate CA", inter}, {"root CA", root}}
	for _, n := range certs {
		if k, ok := n.c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			return fmt.Errorf("%w: the %s's key is %s, want ECDSA P-256", ErrPCKChain, n.name, keyName(n.c))
		}
	}
	for _, n := range certs {
		if n.c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			return fmt.Errorf("%w: the %s is signed with %s, want ECDSA-SHA256", ErrPCKChain, n.name, n.c.SignatureAlgorithm)
		}
	}
	return nil
}

// keyName describes a certificate's public key for an error: its
// algorithm, and its curve or size.
func keyName(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	}
	return c.PublicKeyAlgorithm.String()
}

// ValidAt checks that every certificate of the verified chain v is valid
// at now (ErrPCKChain): what a chain verified earlier must pass again
// before it is trusted at another time.
func (v *Verified) ValidAt(now time.Time) error {
	for _, c := range []*x509.Certificate{v.PCK, v.Intermediate, v.Root} {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("%w: %q is valid from %s to %s, not at %s", ErrPCKChain, format.Truncate(c.Subject.CommonName, MaxNameInError),
				c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), now.Format(time.RFC3339))
		}
	}
	return nil
}
