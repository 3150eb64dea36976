// Package amdcert issues AMD-shaped certificate chains for the emulator and
// for tests: a self-signed ARK ("ARK-<product>"), the ASK
// ("SEV-<product>") that signs VCEKs, optionally the ASVK
// ("SEV-VLEK-<product>") that signs VLEKs, all RSASSA-PSS SHA-384 like
// AMD's, and VCEK or VLEK certificates (ECDSA P-384 keys) with AMD's
// extensions (package snp owns their OIDs).
//
// It is the one fake AMD chain builder: the emulated CVM's committed chain
// (emulator/fakeamd, generated once by its internal/gen program) and the
// private per-product chains of synthetic evidence (internal/testev) are
// two instances of it. Every certificate carries a marker in its subject's
// description attribute, so that none is mistaken for AMD's. The package
// holds no keys: callers pass them in. It is cgo-free and does no I/O.
package amdcert

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// AMDOrganization is the organisation of AMD's certificates. go-sev-guest's
// verifier requires exactly it in a VCEK's subject and issuer.
const AMDOrganization = "Advanced Micro Devices"

// ErrSpec reports a chain or certificate description that cannot be issued.
var ErrSpec = errors.New("amdcert: invalid certificate description")

// Subject returns an AMD-style subject (Santa Clara, Engineering) with
// common name cn and organisation org, carrying marker as a description
// attribute.
func Subject(cn, org, marker string) pkix.Name {
	return pkix.Name{
		Country:            []string{"US"},
		Locality:           []string{"Santa Clara"},
		Province:           []string{"CA"},
		Organization:       []string{org},
		OrganizationalUnit: []string{"Engineering"},
		CommonName:         cn,
		ExtraNames:         []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 13}, Value: marker}},
	}
}

// ChainSpec describes a chain to issue.
type ChainSpec struct {
	// Product names the chain ("ARK-Milan", "SEV-Milan", "SEV-VLEK-Milan").
	Product snp.Product
	// ARKKey self-signs the ARK and signs the intermediates.
	ARKKey *rsa.PrivateKey
	// ASKKey is the ASK's key.
	ASKKey *rsa.PrivateKey
	// ASVKKey is the ASVK's key; nil issues no ASVK (no VLEKs).
	ASVKKey *rsa.PrivateKey
	// Marker is put into every subject's description.
	Marker string
	// ARKOrganization is the ARK's organisation (default AMDOrganization).
	ARKOrganization string
	// NotBefore and NotAfter bound the validity of the ARK and intermediates.
	NotBefore, NotAfter time.Time
}

// Chain is an issued chain with the intermediates' keys, to issue VCEKs
// and VLEKs.
type Chain struct {
	Product   snp.Product
	Marker    string
	ARK       *x509.Certificate
	ASK       *x509.Certificate
	ASVK      *x509.Certificate // nil without ChainSpec.ASVKKey
	ASKKey    *rsa.PrivateKey
	ASVKKey   *rsa.PrivateKey
	notBefore time.Time
	notAfter  time.Time
}

// NewChain issues the ARK (serial 1), the ASK (serial 2) and, with an
// ASVKKey, the ASVK (serial 3) of spec.
func NewChain(spec ChainSpec) (*Chain, error) {
	if spec.ARKKey == nil || spec.ASKKey == nil {
		return nil, fmt.Errorf("%w: the ARK and ASK keys are required", ErrSpec)
	}
	p := string(spec.Product)
	org := spec.ARKOrganization
	if org == "" {
		org = AMDOrganization
	}
	ca := func(serial int64, cn, org string, pathLenZero bool) *x509.Certificate {
		t := fakepki.CATemplate(serial, Subject(cn, org, spec.Marker), spec.NotBefore, spec.NotAfter)
		t.SignatureAlgorithm, t.MaxPathLenZero = x509.SHA384WithRSAPSS, pathLenZero
		return t
	}
	arkTmpl := ca(1, "ARK-"+p, org, false)
	ark, err := fakepki.Issue(arkTmpl, arkTmpl, &spec.ARKKey.PublicKey, spec.ARKKey)
	if err != nil {
		return nil, fmt.Errorf("amdcert: ARK: %w", err)
	}
	ask, err := fakepki.Issue(ca(2, "SEV-"+p, AMDOrganization, true), ark, &spec.ASKKey.PublicKey, spec.ARKKey)
	if err != nil {
		return nil, fmt.Errorf("amdcert: ASK: %w", err)
	}
	c := &Chain{Product: spec.Product, Marker: spec.Marker, ARK: ark, ASK: ask, ASKKey: spec.ASKKey,
		ASVKKey: spec.ASVKKey, notBefore: spec.NotBefore, notAfter: spec.NotAfter}
	if spec.ASVKKey != nil {
		if c.ASVK, err = fakepki.Issue(ca(3, "SEV-VLEK-"+p, AMDOrganization, true), ark, &spec.ASVKKey.PublicKey, spec.ARKKey); err != nil {
			return nil, fmt.Errorf("amdcert: ASVK: %w", err)
		}
	}
	return c, nil
}

// PEM returns the ASK then the ARK (the shape of AMD's KDS cert_chain
// endpoint), followed by the ASVK when the chain has one (the shape of
// trustee's *_ask_ark_asvk.pem): what snp.ParseChainPEM reads.
func (c *Chain) PEM() []byte {
	var out []byte
	for _, cert := range []*x509.Certificate{c.ASK, c.ARK, c.ASVK} {
		if cert != nil {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
		}
	}
	return out
}

// KeyTemplate describes a VCEK or VLEK certificate to issue.
type KeyTemplate struct {
	// Key is the certificate's public key (ECDSA P-384 for AMD's).
	Key *ecdsa.PublicKey
	// VLEK issues a VLEK (CN "SEV-VLEK", csp_id instead of hwID, signed
	// by the ASVK) instead of a VCEK (CN "SEV-VCEK", signed by the ASK).
	VLEK bool
	// ProductName is the productName extension; any string is written.
	ProductName string
	// HWID is a VCEK's hwID extension, stored raw as AMD does.
	HWID []byte
	// HWIDOctetString wraps the hwID in a DER OCTET STRING, as the
	// emulator's committed VCEK has it (snp.ParseVCEK accepts both forms).
	HWIDOctetString bool
	// CSPID is a VLEK's csp_id extension (default "snp-vtpm-test-csp").
	CSPID string
	// TCB holds blSPL, teeSPL, snpSPL, ucodeSPL and fmcSPL.
	TCB snp.TCBParts
	// FMC writes fmcSPL (Turin certificates carry it).
	FMC bool
	// Critical lists AMD extensions to mark critical (AMD never does).
	Critical []asn1.ObjectIdentifier
	// Omit lists AMD extensions to leave out (AMD always writes them).
	Omit []asn1.ObjectIdentifier
	// ExtraExtensions are appended after the AMD extensions.
	ExtraExtensions []pkix.Extension
	// NotBefore and NotAfter bound the validity (default the chain's).
	NotBefore, NotAfter time.Time
	// Serial is the certificate's serial number (AMD's are 0).
	Serial int64
}

// Issue issues the certificate t describes (RSASSA-PSS SHA-384)
// and returns its DER.
func (c *Chain) Issue(t KeyTemplate) ([]byte, error) {
	if t.Key == nil {
		return nil, fmt.Errorf("%w: no public key", ErrSpec)
	}
	parent, key, cn := c.ASK, c.ASKKey, "SEV-VCEK"
	if t.VLEK {
		parent, key, cn = c.ASVK, c.ASVKKey, "SEV-VLEK"
		if parent == nil {
			return nil, fmt.Errorf("%w: the %s chain has no ASVK to sign a VLEK", ErrSpec, c.Product)
		}
	}
	exts, err := t.extensions()
	if err != nil {
		return nil, err
	}
	nb, na := t.NotBefore, t.NotAfter
	if nb.IsZero() {
		nb = c.notBefore
	}
	if na.IsZero() {
		na = c.notAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(t.Serial), Subject: Subject(cn, AMDOrganization, c.Marker),
		NotBefore: nb, NotAfter: na, SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, t.Key, key)
	if err != nil {
		return nil, fmt.Errorf("amdcert: %s: %w", cn, err)
	}
	return der, nil
}

// extensions returns AMD's extensions in AMD's order: structVersion,
// productName, the SPLs (reserved ones 0), hwID or csp_id; less t.Omit,
// then t.ExtraExtensions.
func (t KeyTemplate) extensions() ([]pkix.Extension, error) {
	type value struct {
		id     asn1.ObjectIdentifier
		v      any
		params string
	}
	vs := []value{{snp.OIDStructVersion(), 1, ""}, {snp.OIDProductName(), t.ProductName, "ia5"},
		{snp.OIDBlSPL(), int(t.TCB.Bootloader), ""}, {snp.OIDTeeSPL(), int(t.TCB.TEE), ""}, {snp.OIDSnpSPL(), int(t.TCB.SNP), ""}}
	for n := 4; n <= 7; n++ {
		vs = append(vs, value{snp.OIDReservedSPL(n), 0, ""})
	}
	vs = append(vs, value{snp.OIDUcodeSPL(), int(t.TCB.Microcode), ""})
	if t.FMC {
		vs = append(vs, value{snp.OIDFmcSPL(), int(t.TCB.FMC), ""})
	}
	var exts []pkix.Extension
	for _, v := range vs {
		b, err := asn1.MarshalWithParams(v.v, v.params)
		if err != nil {
			return nil, fmt.Errorf("%w: extension %v: %w", ErrSpec, v.id, err)
		}
		exts = append(exts, pkix.Extension{Id: v.id, Value: b})
	}
	if t.VLEK {
		csp, err := asn1.MarshalWithParams(cmp.Or(t.CSPID, "snp-vtpm-test-csp"), "ia5")
		if err != nil {
			return nil, fmt.Errorf("%w: csp_id: %w", ErrSpec, err)
		}
		exts = append(exts, pkix.Extension{Id: snp.OIDCSPID(), Value: csp})
	} else {
		hwid := append([]byte(nil), t.HWID...)
		if t.HWIDOctetString {
			var err error
			if hwid, err = asn1.Marshal(t.HWID); err != nil {
				return nil, fmt.Errorf("%w: hwID: %w", ErrSpec, err)
			}
		}
		exts = append(exts, pkix.Extension{Id: snp.OIDHWID(), Value: hwid})
	}
	kept := exts[:0]
	for _, e := range exts {
		e.Critical = slices.ContainsFunc(t.Critical, e.Id.Equal)
		if !slices.ContainsFunc(t.Omit, e.Id.Equal) {
			kept = append(kept, e)
		}
	}
	return append(kept, t.ExtraExtensions...), nil
}
