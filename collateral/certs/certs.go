// Package certs is the one reader of certificates for snp-vtpm: PEM (one or
// more CERTIFICATE blocks), DER (one certificate) and the THIM JSON document
// that Azure IMDS serves (`{"vcekCert": PEM, "certificateChain": PEM ASK+ARK,
// "tcbm": hex, "cacheControl": ...}`). Every CLI flag that takes a
// certificate, the IMDS and KDS transports and the disk cache read through
// it.
//
// Reading is parsing only: sizes are bounded, JSON is decoded strictly
// (internal/strictjson: duplicate members, case variants, invalid UTF-8 and
// trailing data are errors), and nothing is trusted. Signatures, chip ids
// and TCBs are checked by the caller (package collateral, package snp).
package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// MaxSize bounds every input of Read, ParsePEM and ParseTHIM. A real THIM
// document is about 7 KiB, a PEM ASK+ARK+ASVK bundle about 7 KiB.
const MaxSize = 64 << 10

// MaxCertificates bounds the certificates of one input.
const MaxCertificates = 8

// Format names what Read found.
type Format string

// The formats Read accepts.
const (
	FormatPEM  Format = "PEM"
	FormatDER  Format = "DER"
	FormatTHIM Format = "THIM JSON"
)

// FormatError reports input that is not a certificate in an accepted
// format. Field names the part at fault: "body" for the input as a whole,
// or a THIM member ("vcekCert", "certificateChain", "tcbm").
type FormatError struct {
	// Field names the part of the input at fault.
	Field string
	// Err is the underlying cause.
	Err error
}

// Error implements error.
func (e *FormatError) Error() string {
	return fmt.Sprintf("certificate input: %s: %v", e.Field, e.Err)
}

// Unwrap returns the underlying cause.
func (e *FormatError) Unwrap() error { return e.Err }

// Bundle is what Read found: the certificates in input order. For THIM
// JSON that is the VCEK followed by certificateChain (ASK, ARK).
type Bundle struct {
	// Format is the input's format.
	Format Format
	// Certs are the certificates, at least one.
	Certs []*x509.Certificate
	// THIM is the parsed document when Format is FormatTHIM.
	THIM *THIM
}

// Leaf returns the first certificate that is not a CA: the VCEK (or VLEK)
// of a THIM document, or of a PEM bundle in either order (KDS's
// cert_chain, ASK and ARK, or the ASVK, before or after it: a bundle
// written ARK, ASK, VCEK is common). AMD's ASK, ARK and ASVK are CAs
// (basic constraints CA:TRUE), a VCEK or VLEK is not. When every
// certificate is a CA it returns the first, for the caller's checks to
// refuse. Nothing here is trusted: the caller validates the leaf against
// its pinned roots.
func (b *Bundle) Leaf() *x509.Certificate {
	for _, c := range b.Certs {
		if !c.IsCA {
			return c
		}
	}
	return b.Certs[0]
}

// Read parses data as THIM JSON (it starts with "{"), PEM (it holds
// "-----BEGIN": its CERTIFICATE blocks in order; blocks of other types,
// such as a key kept in the same file, are passed over) or a single DER
// certificate, whichever it is.
func Read(data []byte) (*Bundle, error) {
	if err := checkSize(data); err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, &FormatError{Field: "body", Err: errors.New("empty file")}
	case trimmed[0] == '{':
		t, err := ParseTHIM(data)
		if err != nil {
			return nil, err
		}
		vcek, err := x509.ParseCertificate(t.VCEK)
		if err != nil { // ParseTHIM parsed it already
			return nil, &FormatError{Field: "vcekCert", Err: err}
		}
		return &Bundle{Format: FormatTHIM, Certs: append([]*x509.Certificate{vcek}, t.Chain...), THIM: t}, nil
	case bytes.Contains(trimmed, []byte("-----BEGIN")):
		cs, err := parsePEM(data)
		if err != nil {
			return nil, &FormatError{Field: "body", Err: err}
		}
		return &Bundle{Format: FormatPEM, Certs: cs}, nil
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, &FormatError{Field: "body", Err: fmt.Errorf("neither THIM JSON, PEM nor a DER certificate: %w", err)}
	}
	return &Bundle{Format: FormatDER, Certs: []*x509.Certificate{c}}, nil
}

func checkSize(data []byte) error {
	if len(data) > MaxSize {
		return &FormatError{Field: "body", Err: fmt.Errorf("%d bytes, more than %d", len(data), MaxSize)}
	}
	return nil
}

// strictPEM is how strictly ParsePEM reads PEM: CERTIFICATE blocks without
// headers and white space around them, nothing else.
var strictPEM = format.PEMChain{Format: "certs", Field: "pem", Min: 1, Max: MaxCertificates, Padding: " \t\n\v\f\r"}

// ParsePEM parses every PEM block of data, all of which must be CERTIFICATE
// blocks without headers (at most MaxCertificates); anything but white
// space before, between or after the blocks is an error (encoding/pem
// alone skips text before a block).
func ParsePEM(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(data), MaxSize)
	}
	ders, err := strictPEM.SplitPEM(data)
	if err != nil {
		return nil, err
	}
	certs := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
	}
	return certs, nil
}

// parsePEM reads the PEM of a file (Read): its CERTIFICATE blocks in
// order; blocks of other types (a key kept in the same file) are passed
// over (at most MaxCertificates of them too).
func parsePEM(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(data), MaxSize)
	}
	rest := data
	var certs []*x509.Certificate
	for skipped := 0; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" && skipped < MaxCertificates {
			skipped++
			continue
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d has type %q, want CERTIFICATE", len(certs)+1, format.Truncate(block.Type, 32))
		}
		if len(certs) == MaxCertificates {
			return nil, fmt.Errorf("more than %d certificates", MaxCertificates)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%d trailing bytes that are not a complete PEM block", len(rest))
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// DER returns the DER inside data when data is one PEM block of type typ
// ("CERTIFICATE", "X509 CRL") and nothing else, or data itself when it is
// not PEM. Other PEM is an error.
func DER(data []byte, typ string) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return data, nil
	}
	block, rest := pem.Decode(trimmed)
	switch {
	case block == nil:
		return nil, errors.New("PEM that does not decode")
	case block.Type != typ:
		return nil, fmt.Errorf("PEM block of type %q, want %q", format.Truncate(block.Type, 32), typ)
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, fmt.Errorf("%d bytes after the PEM block", len(rest))
	}
	return block.Bytes, nil
}

// THIM is a parsed THIM certification document. None of it is trusted.
type THIM struct {
	// VCEK is the DER encoding of vcekCert.
	VCEK []byte
	// VCEKPEM is vcekCert exactly as the document carried it.
	VCEKPEM string
	// TCBM is the TCB the VCEK was issued for, as hex digits (e.g.
	// "7308000000000003"); "" if absent.
	TCBM string
	// Chain holds the certificates of certificateChain in order (ASK, then
	// ARK). Information only: never trust it, pin the AMD roots instead.
	Chain []*x509.Certificate
	// CacheControl is the cacheControl value (seconds, as a string), if any.
	CacheControl string
}

// TCB returns TCBM as the 64-bit TCB_VERSION value (the hex digits read as
// a big-endian number).
func (t *THIM) TCB() (uint64, error) {
	s := strings.TrimSpace(t.TCBM)
	if s == "" {
		return 0, &FormatError{Field: "tcbm", Err: errors.New("empty")}
	}
	if len(s) > 16 {
		return 0, &FormatError{Field: "tcbm", Err: fmt.Errorf("%d hex digits, want at most 16", len(s))}
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, &FormatError{Field: "tcbm", Err: err}
	}
	return v, nil
}

// thimDoc is the THIM document as read by the strict JSON decoder. Unknown
// members are tolerated (the format is Microsoft's); names that differ from
// a known one only in letter case are not.
type thimDoc struct {
	VCEKCert         *string        `json:"vcekCert"`
	TCBM             string         `json:"tcbm"`
	CertificateChain string         `json:"certificateChain"`
	CacheControl     jsontext.Value `json:"cacheControl"`
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown strictjson.Unknown[thimDoc] `json:",embed"`
}

// ParseTHIM parses a THIM certification document: vcekCert must hold
// exactly one certificate, certificateChain (if present) only certificates,
// tcbm (if present) at most 16 hex digits. It verifies no signature.
// Errors are *FormatError naming the member ("body" for the JSON itself).
func ParseTHIM(data []byte) (*THIM, error) {
	var d thimDoc
	if err := strictjson.Unmarshal(data, &d, strictjson.Options{MaxBytes: MaxSize}); err != nil {
		return nil, &FormatError{Field: "body", Err: err}
	}
	if d.VCEKCert == nil {
		return nil, &FormatError{Field: "vcekCert", Err: errors.New(`missing: JSON certificates are a THIM document, {"vcekCert": PEM, "certificateChain": PEM}`)}
	}
	if strings.TrimSpace(*d.VCEKCert) == "" {
		return nil, &FormatError{Field: "vcekCert", Err: errors.New("empty")}
	}
	vcek, err := ParsePEM([]byte(*d.VCEKCert))
	if err != nil {
		return nil, &FormatError{Field: "vcekCert", Err: err}
	}
	if len(vcek) != 1 {
		return nil, &FormatError{Field: "vcekCert", Err: fmt.Errorf("%d certificates, want 1", len(vcek))}
	}
	t := &THIM{
		VCEK:         vcek[0].Raw,
		VCEKPEM:      *d.VCEKCert,
		TCBM:         strings.TrimSpace(d.TCBM),
		CacheControl: cacheControlString(d.CacheControl),
	}
	if t.TCBM != "" {
		if _, err := hex.DecodeString(padEven(t.TCBM)); err != nil || len(t.TCBM) > 16 {
			return nil, &FormatError{Field: "tcbm", Err: fmt.Errorf("not a hex TCB: %q", format.Truncate(t.TCBM, 32))}
		}
	}
	if strings.TrimSpace(d.CertificateChain) != "" {
		if t.Chain, err = ParsePEM([]byte(d.CertificateChain)); err != nil {
			return nil, &FormatError{Field: "certificateChain", Err: err}
		}
	}
	return t, nil
}

// cacheControlString accepts cacheControl as a JSON string or number (raw
// holds one valid JSON value, as the decoder read it).
func cacheControlString(raw jsontext.Value) string {
	switch raw.Kind() {
	case '"':
		var s string
		if strictjson.Unmarshal(raw, &s, strictjson.Options{}) == nil {
			return s
		}
	case '0':
		return string(raw)
	}
	return ""
}

func padEven(s string) string {
	if len(s)%2 == 1 {
		return "0" + s
	}
	return s
}
