package pcs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// MaxDocumentSize bounds a TCB info or QE identity document (real ones are
// about 5 KiB and 1 KiB).
const MaxDocumentSize = 256 << 10

// TCBSigningCN is the common name of the certificate that signs TCB info
// and QE identity documents.
const TCBSigningCN = "Intel SGX TCB Signing"

// Signed is the signed part of a PCS document: the exact bytes of its
// inner object, as Intel signed them, and the ECDSA P-256 signature (r ||
// s) over their SHA-256.
type Signed struct {
	// Raw is the inner object's bytes, verbatim.
	Raw []byte
	// Signature is r || s.
	Signature [64]byte
}

// splitEnvelope reads {"<name>": {...}, "signature": "<128 hex>"} strictly
// and returns the inner object's bytes, verbatim, and the signature.
func splitEnvelope(b []byte, name, doc string) (Signed, error) {
	var s Signed
	var env map[string]jsontext.Value
	if err := strictjson.Unmarshal(b, &env, strictjson.Options{MaxBytes: MaxDocumentSize, MaxDepth: 8}); err != nil {
		return s, format.Field(doc, "document", err)
	}
	inner, ok := env[name]
	if !ok || len(env) != 2 {
		return s, fieldErrf(doc, format.ErrMissingField, "want exactly the members %q and \"signature\"", name)
	}
	if inner.Kind() != '{' {
		return s, fieldErrf(doc+"."+name, format.ErrUnexpectedValue, "not an object")
	}
	sig, ok := env["signature"]
	if !ok {
		return s, fieldErrf(doc, format.ErrMissingField, "want exactly the members %q and \"signature\"", name)
	}
	var hexSig string
	if err := strictjson.Unmarshal(sig, &hexSig, strictjson.Options{}); err != nil {
		return s, format.Field(doc, "signature", err)
	}
	if err := decodeHex(hexSig, s.Signature[:], doc+".signature"); err != nil {
		return s, err
	}
	s.Raw = bytes.Clone(inner)
	return s, nil
}

// decodeHex decodes the hex string s (either case) into dst, which it must
// fill exactly.
func decodeHex(s string, dst []byte, field string) error {
	if len(s) != 2*len(dst) {
		return fieldErrf(field, format.ErrBadLength, "%d hex digits, want %d", min(len(s), 1<<20), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fieldErrf(field, format.ErrBadEncoding, "not hex")
	}
	return nil
}

// verify checks the signature of s with the TCB signing key.
func (s *Signed) verify(signer *x509.Certificate, what string) error {
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return collErr("the TCB signing certificate's key is not ECDSA P-256")
	}
	d := sha256.Sum256(s.Raw)
	r, ss := new(big.Int).SetBytes(s.Signature[:32]), new(big.Int).SetBytes(s.Signature[32:])
	if !ecdsa.Verify(pub, d[:], r, ss) {
		return collErr("%s: signature does not verify with %q", what, TCBSigningCN)
	}
	return nil
}

// window checks issue <= now <= next, naming what and both times.
func window(what string, issue, next, now time.Time) error {
	const layout = time.RFC3339
	if now.Before(issue) {
		return collErr("%s is not yet valid at %s (issued %s)", what, now.UTC().Format(layout), issue.UTC().Format(layout))
	}
	if now.After(next) {
		return collErr("%s has expired: its next update was due %s, the verification time is %s", what, next.UTC().Format(layout), now.UTC().Format(layout))
	}
	return nil
}

// maxChainPEM bounds the TCB signing chain file.
const maxChainPEM = 64 << 10

// ParseSigningChain reads the TCB signing chain (the PCS header
// TCB-Info-Issuer-Chain, PEM): the "Intel SGX TCB Signing" certificate,
// optionally followed by the root, then only whitespace.
func ParseSigningChain(b []byte) ([]*x509.Certificate, error) {
	return parseCertsPEM(b, "tcb_signing_chain")
}

// parseCertsPEM reads an issuer chain: 1 or 2 PEM CERTIFICATE blocks
// (the issuer, optionally the root), then only whitespace.
func parseCertsPEM(b []byte, field string) ([]*x509.Certificate, error) {
	if len(b) > maxChainPEM {
		return nil, fieldErrf(field, format.ErrTooLarge, "%d > %d bytes", len(b), maxChainPEM)
	}
	ders, err := tdx.PEMChain{Format: "pcs", Field: field, Min: 1, Max: 2, Padding: " \t\n\v\f\r"}.SplitPEM(b)
	if err != nil {
		return nil, err
	}
	certs := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", field, i), fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
		}
	}
	return certs, nil
}

// verifySigner checks the TCB signing chain under root at now and returns
// the signing certificate.
func verifySigner(chain []*x509.Certificate, root *x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, collErr("no TCB signing chain")
	}
	leaf := chain[0]
	if len(chain) == 2 && !chain[1].Equal(root) {
		return nil, collErr("the TCB signing chain's root %q is not the pinned Intel SGX Root CA (sha256 %s)", format.Truncate(chain[1].Subject.CommonName, tdx.MaxNameInError), tdx.PinnedRootSHA256)
	}
	if leaf.Subject.CommonName != TCBSigningCN {
		return nil, collErr("the TCB signing certificate is %q, want %q", format.Truncate(leaf.Subject.CommonName, tdx.MaxNameInError), TCBSigningCN)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, collErr("the TCB signing certificate: %v", err)
	}
	return leaf, nil
}

// parseSigned splits the envelope b, keeps its signed part in h and
// decodes the inner object strictly into dst (which embeds h).
func parseSigned(b []byte, name, doc string, h *Header, dst any) error {
	s, err := splitEnvelope(b, name, doc)
	if err != nil {
		return err
	}
	h.Signed = s
	if err := strictjson.Unmarshal(s.Raw, dst, strictjson.Options{RejectUnknown: true, MaxBytes: MaxDocumentSize, MaxDepth: 8}); err != nil {
		return format.Field(doc, name, err)
	}
	return nil
}
