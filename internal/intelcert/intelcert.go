// Package intelcert issues Intel-shaped PCK certificate chains and
// collateral for the emulator and for tests: a self-signed root, an
// "Intel SGX PCK Platform CA", a PCK certificate with Intel's SGX
// extensions (package tdx owns their OIDs and parser), an "Intel SGX TCB
// Signing" certificate, CRLs, and signed PCS documents (TCB info, QE
// identity) in Intel's JSON envelope.
//
// It is the one fake Intel chain builder: the emulated TDX CVM's committed
// chain (emulator/fakeintel, generated once by its internal/gen program)
// and the throw-away chains of tests (internal/tdxtest) are instances of
// it. The package holds no keys (callers pass them in), is cgo-free and
// does no I/O. Nothing it issues chains to the pinned Intel SGX Root CA.
package intelcert

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// ErrSpec reports a chain description that cannot be issued.
var ErrSpec = errors.New("intelcert: invalid certificate description")

// ChainSpec describes a chain: root, Platform CA and PCK, all ECDSA P-256
// like Intel's, valid NotBefore..NotAfter.
type ChainSpec struct {
	// RootSubject is the root's subject (the CN the PCS tools expect is
	// tdx.RootCACN; a marker in Organization keeps it apart from Intel's).
	// RawRootSubject, when set, is used verbatim instead.
	RootSubject    pkix.Name
	RawRootSubject []byte
	// Organization is the CA's, PCK's and TCB signer's organisation
	// (empty: none).
	Organization string
	// RootKey, CAKey and PCKKey are the keys of the three certificates.
	RootKey, CAKey, PCKKey *ecdsa.PrivateKey
	// SGX are the PCK's SGX extensions (FMSPC, PCE-ID, PCESVN, CPUSVN and
	// TCB components).
	SGX tdx.PCKExtensions
	// NotBefore and NotAfter bound every certificate.
	NotBefore, NotAfter time.Time
	// ProcessorCA issues the PCK from an "Intel SGX PCK Processor CA"
	// instead of the Platform CA (Intel issues PCKs from both).
	ProcessorCA bool
	// BarePCK issues the PCK with only a key usage, the authority key id
	// and an SGX extension of the TCB, PCE-ID and FMSPC: less than Intel's
	// profile (which go-tdx-guest requires), enough for package tdx.
	BarePCK bool
	// RootCRLURL, when set, is the root's CRL distribution point (Intel's
	// names its CRL, which go-tdx-guest fetches from there).
	RootCRLURL string
}

// Chain is an issued chain.
type Chain struct {
	Root, CA, PCK *x509.Certificate
	spec          ChainSpec
}

// NewChain issues the root, the Platform CA and the PCK certificate.
func NewChain(s ChainSpec) (*Chain, error) {
	if s.RootKey == nil || s.CAKey == nil || s.PCKKey == nil || !s.NotBefore.Before(s.NotAfter) {
		return nil, fmt.Errorf("%w: three keys and a validity window are required", ErrSpec)
	}
	ext, err := sgxExtension(s.SGX, s.BarePCK)
	if err != nil {
		return nil, err
	}
	c := &Chain{spec: s}
	rootTmpl := s.ca(1, s.RootSubject)
	rootTmpl.RawSubject = s.RawRootSubject
	if s.RootCRLURL != "" {
		rootTmpl.CRLDistributionPoints = []string{s.RootCRLURL}
	}
	if c.Root, err = fakepki.Issue(rootTmpl, rootTmpl, &s.RootKey.PublicKey, s.RootKey); err != nil {
		return nil, err
	}
	caCN, ca := tdx.PlatformCACN, "platform"
	if s.ProcessorCA {
		caCN, ca = tdx.ProcessorCACN, "processor"
	}
	if c.CA, err = fakepki.Issue(s.ca(2, s.name(caCN)), c.Root, &s.CAKey.PublicKey, s.RootKey); err != nil {
		return nil, err
	}
	if c.PCK, err = fakepki.Issue(s.pckTemplate(ext, ca), c.CA, &s.PCKKey.PublicKey, s.CAKey); err != nil {
		return nil, err
	}
	return c, nil
}

// pckTemplate is the PCK certificate's template, with the SGX extension
// ext: Intel's profile (authority and subject key ids, the CRL
// distribution point of the CA's PCK CRL, key usage, basic constraints,
// SGX extensions: six extensions), or the bare one (BarePCK).
func (s *ChainSpec) pckTemplate(ext pkix.Extension, ca string) *x509.Certificate {
	leaf := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: s.name(tdx.PCKCertCN), NotBefore: s.NotBefore, NotAfter: s.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{ext}}
	if s.BarePCK {
		return leaf
	}
	leaf.KeyUsage |= x509.KeyUsageContentCommitment
	leaf.BasicConstraintsValid = true
	pub, _ := s.PCKKey.PublicKey.Bytes() // a P-256 key: never fails
	id := sha256.Sum256(pub)
	leaf.SubjectKeyId = id[:20]
	leaf.CRLDistributionPoints = []string{"https://pcs.invalid/sgx/certification/v4/pckcrl?ca=" + ca + "&encoding=der"}
	return leaf
}

func (s *ChainSpec) name(cn string) pkix.Name {
	n := pkix.Name{CommonName: cn}
	if s.Organization != "" {
		n.Organization = []string{s.Organization}
	}
	return n
}

func (s *ChainSpec) ca(serial int64, subj pkix.Name) *x509.Certificate {
	return fakepki.CATemplate(serial, subj, s.NotBefore, s.NotAfter)
}

// TCBSigner issues an "Intel SGX TCB Signing" certificate for key under
// the chain's root (serial 4).
func (c *Chain) TCBSigner(key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	s := &c.spec
	return fakepki.Issue(&x509.Certificate{SerialNumber: big.NewInt(4), Subject: s.name("Intel SGX TCB Signing"),
		NotBefore: s.NotBefore, NotAfter: s.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature}, c.Root, &key.PublicKey, s.RootKey)
}

// SGXExtension encodes the PCK certificate's SGX extensions as Intel's
// profile orders them: the PPID (zero), the TCB (components 1..16, PCESVN,
// CPUSVN), the PCE-ID, the FMSPC and the SGX type (0, standard).
func SGXExtension(x tdx.PCKExtensions) (pkix.Extension, error) {
	return sgxExtension(x, false)
}

// sgxExtension is SGXExtension, without the PPID and SGX type if bare.
func sgxExtension(x tdx.PCKExtensions, bare bool) (pkix.Extension, error) {
	type entry struct {
		ID    asn1.ObjectIdentifier
		Value any
	}
	base := asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	arc := func(a ...int) asn1.ObjectIdentifier { return append(append(asn1.ObjectIdentifier{}, base...), a...) }
	var tcb []entry
	for i, c := range x.TCBComponents {
		tcb = append(tcb, entry{arc(2, i+1), int(c)})
	}
	tcb = append(tcb, entry{arc(2, 17), int(x.PCESVN)}, entry{arc(2, 18), x.CPUSVN[:]})
	entries := []entry{{arc(2), tcb}, {arc(3), x.PCEID[:]}, {arc(4), x.FMSPC[:]}}
	if !bare {
		entries = append([]entry{{arc(1), make([]byte, 16)}}, append(entries, entry{arc(5), asn1.Enumerated(0)})...)
	}
	v, err := asn1.Marshal(entries)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("intelcert: SGX extensions: %w", err)
	}
	return pkix.Extension{Id: base, Value: v}, nil
}

// SignRaw signs SHA-256(msg) with k as Intel does: r || s, 32 bytes each.
func SignRaw(k *ecdsa.PrivateKey, msg []byte) ([64]byte, error) {
	d := sha256.Sum256(msg)
	var out [64]byte
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		return out, fmt.Errorf("intelcert: signing: %w", err)
	}
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// SignDocument wraps the inner JSON object of a PCS document (member name
// "tcbInfo" or "enclaveIdentity") with its signature by key, as Intel's
// PCS serves it.
func SignDocument(key *ecdsa.PrivateKey, name string, inner []byte) ([]byte, error) {
	sig, err := SignRaw(key, inner)
	if err != nil {
		return nil, err
	}
	return []byte(`{"` + name + `":` + string(inner) + `,"signature":"` + hex.EncodeToString(sig[:]) + `"}`), nil
}

// CRL issues a CRL (number 1) by issuer, valid thisUpdate..nextUpdate,
// revoking serials (at thisUpdate).
func CRL(issuer *x509.Certificate, key *ecdsa.PrivateKey, serials []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	return fakepki.CRL(issuer, key, serials, thisUpdate, nextUpdate)
}

// SignQuote makes q a quote under pck (the PCK certificate's key, whose
// chain chainPEM is) with attestation key ak: it sets the PCK chain, the
// attestation key, the QE report data (SHA-256(attestation key || QE auth
// data) || zeros) and both signatures, over q's header and body as they
// are.
func SignQuote(q *tdx.Quote, chainPEM []byte, pck, ak *ecdsa.PrivateKey) error {
	q.PCKChain = chainPEM
	pub, err := ak.PublicKey.Bytes()
	if err != nil || len(pub) != 65 {
		return fmt.Errorf("%w: the attestation key is not a P-256 key", ErrSpec)
	}
	copy(q.AttestationKey[:], pub[1:])
	rd := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
	copy(q.QEReport[320:352], rd[:])
	clear(q.QEReport[352:384])
	if q.QEReportSignature, err = SignRaw(pck, q.QEReport[:]); err != nil {
		return err
	}
	q.Signature, err = SignRaw(ak, q.SignedBytes())
	return err
}
