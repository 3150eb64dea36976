// Package testev builds synthetic Azure SEV-SNP vTPM evidence under a
// private, AMD-like certificate chain, for tests. Every field an Azure CVM
// produces has a knob (see Builder), so tests can cover what real evidence
// cannot: debug guests, other VMPLs, mismatched TCBs, lying PCR selections,
// quotes signed by the wrong key and so on.
//
// The private chains (ARK-<product> self-signed, SEV-<product> signed by it
// with RSASSA-PSS SHA-384) reuse the RSA-4096 keys of the emulator's fake
// chain (package fakekeys) so that no RSA-4096 key is generated at test
// time, but they are distinct certificates with distinct subjects: nothing
// signed by them verifies under AMD's roots or the emulated chain. Trust them
// only through Roots or Chain.Roots.
//
// The package is pure Go and meant for tests only.
package testev

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Marker is the description attribute of every certificate of the private
// chains, so that none is ever mistaken for AMD's.
const Marker = "snp-vtpm testev PRIVATE TEST CHAIN (not AMD)"

// AMD VCEK extension OIDs (1.3.6.1.4.1.3704.1.x).
var (
	OIDProductName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	OIDBlSPL       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	OIDTeeSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	OIDSnpSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	OIDUcodeSPL    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	OIDFmcSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 9}
	OIDHWID        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
	// OIDCSPID is the csp_id extension that only VLEK certificates carry.
	OIDCSPID       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 5}
	oidDescription = asn1.ObjectIdentifier{2, 5, 4, 13}
)

// Validity of the private ARK and ASK certificates.
var (
	chainNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	chainNotAfter  = time.Date(2080, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Chain is a private ARK/ASK pair for one product line, with the ASK's
// private key to issue VCEKs.
type Chain struct {
	// Product is the product line named by the common names.
	Product snp.Product
	// ARK is the self-signed root, CN "ARK-<product>".
	ARK *x509.Certificate
	// ASK is the intermediate, CN "SEV-<product>", signed by the ARK.
	ASK *x509.Certificate
	// ASKKey is the ASK's private key; it signs VCEKs.
	ASKKey *rsa.PrivateKey

	pem []byte
}

// amdName builds an AMD-style subject carrying Marker.
func amdName(cn string) pkix.Name {
	return pkix.Name{
		Country:            []string{"US"},
		Locality:           []string{"Santa Clara"},
		Province:           []string{"CA"},
		Organization:       []string{"Advanced Micro Devices"},
		OrganizationalUnit: []string{"Engineering"},
		CommonName:         cn,
		ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidDescription, Value: Marker}},
	}
}

// NewChain creates a private chain for product p: the ARK is self-signed
// by arkKey, the ASK (key askKey) is signed by arkKey, both RSASSA-PSS
// SHA-384. Use it for a second, untrusted chain; PrivateChain returns the
// shared one.
func NewChain(p snp.Product, arkKey, askKey *rsa.PrivateKey) (*Chain, error) {
	arkTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               amdName("ARK-" + string(p)),
		NotBefore:             chainNotBefore,
		NotAfter:              chainNotAfter,
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	arkDER, err := x509.CreateCertificate(rand.Reader, arkTmpl, arkTmpl, &arkKey.PublicKey, arkKey)
	if err != nil {
		return nil, fmt.Errorf("testev: ARK: %w", err)
	}
	ark, err := x509.ParseCertificate(arkDER)
	if err != nil {
		return nil, err
	}
	askTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               amdName("SEV-" + string(p)),
		NotBefore:             chainNotBefore,
		NotAfter:              chainNotAfter,
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	askDER, err := x509.CreateCertificate(rand.Reader, askTmpl, ark, &askKey.PublicKey, arkKey)
	if err != nil {
		return nil, fmt.Errorf("testev: ASK: %w", err)
	}
	ask, err := x509.ParseCertificate(askDER)
	if err != nil {
		return nil, err
	}
	c := &Chain{Product: p, ARK: ark, ASK: ask, ASKKey: askKey}
	c.pem = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: askDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: arkDER})...)
	return c, nil
}

var chains = map[snp.Product]func() (*Chain, error){}

func init() {
	for _, p := range snp.Products {
		chains[p] = sync.OnceValues(func() (*Chain, error) {
			ark, ask := fakekeys.ARKKey(), fakekeys.ASKKey()
			if ark == nil || ask == nil {
				return nil, fmt.Errorf("testev: fakekeys unusable")
			}
			return NewChain(p, ark, ask)
		})
	}
}

// PrivateChain returns the shared private chain of product p (Milan, Genoa
// or Turin), created once per process. It panics on an unknown product.
func PrivateChain(p snp.Product) *Chain {
	f, ok := chains[p]
	if !ok {
		panic(fmt.Sprintf("testev: unknown product %q", p))
	}
	c, err := f()
	if err != nil {
		panic(err)
	}
	return c
}

// ChainPEM returns the ASK then the ARK of c in PEM (the shape of AMD's
// cert_chain endpoint and of the CLI's --roots file).
func (c *Chain) ChainPEM() []byte { return append([]byte(nil), c.pem...) }

// SNPChain returns c checked and parsed by snp.ParseChainPEM.
func (c *Chain) SNPChain() *snp.Chain {
	sc, err := snp.ParseChainPEM(c.pem)
	if err != nil {
		panic(fmt.Sprintf("testev: private %s chain rejected by snp.ParseChainPEM: %v", c.Product, err))
	}
	sc.Source = "testev private " + string(c.Product) + " chain"
	return sc
}

// Roots returns roots trusting c alone (no AMD root of any product line).
func (c *Chain) Roots() *snp.Roots { return (&snp.Roots{}).Add(c.SNPChain()) }

// Roots returns roots trusting the private chains of Milan, Genoa and Turin
// and nothing else.
func Roots() *snp.Roots { return AddPrivate(&snp.Roots{}) }

// AddPrivate returns a copy of r that also trusts the private chains of
// Milan, Genoa and Turin (for example AddPrivate(snp.DefaultRoots()) to
// verify real and synthetic evidence with one Options).
func AddPrivate(r *snp.Roots) *snp.Roots {
	for _, p := range snp.Products {
		r = r.Add(PrivateChain(p).SNPChain())
	}
	return r
}

// ChainPEM returns the private Milan chain (ASK then ARK) in PEM.
func ChainPEM() []byte { return PrivateChain(snp.Milan).ChainPEM() }

// VCEKTemplate describes a VCEK certificate to issue. Zero fields take the
// defaults documented on each.
type VCEKTemplate struct {
	// ProductName is the productName extension; default "<product>-B0"
	// ("Turin-C0" for Turin), where product is the issuing chain's. Any
	// string is written, including forged ones ("Milan-ZZZ-evil"); the
	// Builder then issues under the chain of its Product.
	ProductName string
	// Critical lists AMD extensions (OIDProductName, OIDBlSPL, ...) to mark
	// critical, which AMD never does; for unknown critical extensions use
	// ExtraExtensions with Critical set.
	Critical []asn1.ObjectIdentifier
	// HWID is the hwID extension, stored raw as AMD does (64 bytes; 8 on Turin).
	HWID []byte
	// TCB holds blSPL, teeSPL, snpSPL, ucodeSPL and (Turin) fmcSPL.
	TCB snp.TCBParts
	// FMC forces the fmcSPL extension on a non-Turin VCEK (Turin always has it).
	FMC bool
	// OmitFMC leaves the fmcSPL extension out even on Turin.
	OmitFMC bool
	// NotBefore and NotAfter bound the validity; default 2024-01-01 (before
	// the real fixtures' verification time, 2025-06-01) to six years from
	// now.
	NotBefore, NotAfter time.Time
	// Key is the VCEK's key pair; default the shared key of VCEKKey(product).
	Key *ecdsa.PrivateKey
	// ExtraExtensions are appended after the AMD extensions.
	ExtraExtensions []pkix.Extension
}

// DefaultProductName returns the productName of a VCEK of product p.
func DefaultProductName(p snp.Product) string {
	if p == snp.Turin {
		return "Turin-C0"
	}
	if p == snp.Genoa {
		return "Genoa-B1"
	}
	return string(p) + "-B0"
}

// IssueVCEK issues a VCEK (CN "SEV-VCEK", serial 0, ECDSA P-384, signed by
// c's ASK with RSASSA-PSS SHA-384) with the AMD extensions of t. It returns
// the DER certificate.
func (c *Chain) IssueVCEK(t VCEKTemplate) ([]byte, error) {
	name := t.ProductName
	if name == "" {
		name = DefaultProductName(c.Product)
	}
	key := t.Key
	if key == nil {
		key = VCEKKey(c.Product)
	}
	nb, na := t.NotBefore, t.NotAfter
	now := time.Now().UTC().Truncate(24 * time.Hour)
	if nb.IsZero() {
		nb = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if na.IsZero() {
		na = now.AddDate(6, 0, 0)
	}
	ia5, err := asn1.MarshalWithParams(name, "ia5")
	if err != nil {
		return nil, err
	}
	integer := func(v uint8) []byte {
		b, _ := asn1.Marshal(int(v)) // an int always marshals
		return b
	}
	exts := []pkix.Extension{
		{Id: OIDProductName, Value: ia5},
		{Id: OIDBlSPL, Value: integer(t.TCB.Bootloader)},
		{Id: OIDTeeSPL, Value: integer(t.TCB.TEE)},
		{Id: OIDSnpSPL, Value: integer(t.TCB.SNP)},
		{Id: OIDUcodeSPL, Value: integer(t.TCB.Microcode)},
	}
	if (c.Product == snp.Turin || t.FMC) && !t.OmitFMC {
		exts = append(exts, pkix.Extension{Id: OIDFmcSPL, Value: integer(t.TCB.FMC)})
	}
	exts = append(exts, pkix.Extension{Id: OIDHWID, Value: append([]byte(nil), t.HWID...)})
	for i := range exts {
		exts[i].Critical = slices.ContainsFunc(t.Critical, exts[i].Id.Equal)
	}
	exts = append(exts, t.ExtraExtensions...)
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(0),
		Subject:            amdName("SEV-VCEK"),
		NotBefore:          nb,
		NotAfter:           na,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions:    exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ASK, &key.PublicKey, c.ASKKey)
	if err != nil {
		return nil, fmt.Errorf("testev: VCEK: %w", err)
	}
	return der, nil
}

var vcekKeys = map[snp.Product]func() (*ecdsa.PrivateKey, error){}

func init() {
	for _, p := range snp.Products {
		vcekKeys[p] = sync.OnceValues(func() (*ecdsa.PrivateKey, error) {
			return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		})
	}
}

// VCEKKey returns the shared VCEK key pair of the private chip of product
// p (ECDSA P-384), generated once per process.
func VCEKKey(p snp.Product) *ecdsa.PrivateKey {
	f, ok := vcekKeys[p]
	if !ok {
		panic(fmt.Sprintf("testev: unknown product %q", p))
	}
	k, err := f()
	if err != nil {
		panic(err)
	}
	return k
}

// NewVCEKKey generates a fresh ECDSA P-384 key (fast), for a VCEK of
// another chip.
func NewVCEKKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

var (
	akKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	ekKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	// otherKey is a third RSA key, for an untrusted intermediate or a
	// foreign attestation key.
	otherKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// AKKey returns the shared RSA-2048 attestation key (HCLAkPub), generated
// once per process.
func AKKey() *rsa.PrivateKey { return akKey() }

// EKKey returns the shared RSA-2048 endorsement key (HCLEkPub), generated
// once per process.
func EKKey() *rsa.PrivateKey { return ekKey() }

// OtherRSAKey returns a third shared RSA-2048 key, distinct from AKKey and
// EKKey: for an ASK that no root trusts or an attestation key of another VM.
func OtherRSAKey() *rsa.PrivateKey { return otherKey() }
