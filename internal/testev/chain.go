// Package testev builds synthetic Azure SEV-SNP vTPM evidence under a
// private, AMD-like certificate chain, for tests. Every field an Azure CVM
// produces has a knob (see Builder), so tests can cover what real evidence
// cannot: debug guests, other VMPLs, mismatched TCBs, lying PCR selections,
// quotes signed by the wrong key and so on.
//
// The private chains (ARK-<product> self-signed, SEV-<product> and
// SEV-VLEK-<product> signed by it with RSASSA-PSS SHA-384; built by
// internal/amdcert, the emulator's chain builder too) use RSA-4096 keys
// committed in testkeys/ (ARKKey, ASKKey), so that no RSA-4096 key is
// generated at test time. They are not the emulated CVM's fake keys
// (package fakekeys): verifiers refuse a chain holding those unless it is
// marked emulated, and the private chains stand for AMD's in the tests.
// Nothing signed by them verifies under AMD's roots or the emulated chain.
// Trust them only through Roots or Chain.Roots.
//
// The package is pure Go and meant for tests only.
package testev

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/asn1"
	"fmt"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Marker is the description attribute of every certificate of the private
// chains, so that none is ever mistaken for AMD's.
const Marker = "snp-vtpm testev PRIVATE TEST CHAIN (not AMD)"

// Validity of the private ARK, ASK and ASVK certificates.
var (
	chainNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	chainNotAfter  = time.Date(2080, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Chain is a private ARK/ASK/ASVK chain for one product line (an
// amdcert.Chain), with the intermediates' private keys to issue VCEKs and
// VLEKs.
type Chain struct {
	*amdcert.Chain
}

// NewChain creates a private chain for product p: the ARK is self-signed
// by arkKey, the ASK (key askKey) and, with a non-nil asvkKey, the ASVK are
// signed by arkKey, all RSASSA-PSS SHA-384. Use it for a second, untrusted
// chain; PrivateChain returns the shared one.
func NewChain(p snp.Product, arkKey, askKey, asvkKey *rsa.PrivateKey) (*Chain, error) {
	c, err := amdcert.NewChain(amdcert.ChainSpec{Product: p, ARKKey: arkKey, ASKKey: askKey, ASVKKey: asvkKey,
		Marker: Marker, NotBefore: chainNotBefore, NotAfter: chainNotAfter})
	if err != nil {
		return nil, fmt.Errorf("testev: %w", err)
	}
	return &Chain{c}, nil
}

// perProduct returns a lookup of one lazily made value per product line,
// each made once per process by newValue.
func perProduct[T any](newValue func(p snp.Product) (T, error)) func(p snp.Product) T {
	m := map[snp.Product]func() (T, error){}
	for _, p := range snp.Products() {
		m[p] = sync.OnceValues(func() (T, error) { return newValue(p) })
	}
	return func(p snp.Product) T {
		f, ok := m[p]
		if !ok {
			panic(fmt.Sprintf("testev: unknown product %q", p))
		}
		v, err := f()
		if err != nil {
			panic(err)
		}
		return v
	}
}

// chains are the shared private chains, created once per process. The ASVK
// reuses the ASK's key: no third RSA-4096 key is generated at test time,
// and the certificates still differ (subject, serial).
var chains = sync.OnceValue(func() func(snp.Product) *Chain {
	return perProduct(func(p snp.Product) (*Chain, error) {
		ark, ask := ARKKey(), ASKKey()
		if ark == nil || ask == nil {
			return nil, fmt.Errorf("testev: testkeys unusable")
		}
		return NewChain(p, ark, ask, ask)
	})
})

var (
	//go:embed testkeys/ark_key.pem
	arkKeyPEM []byte
	//go:embed testkeys/ask_key.pem
	askKeyPEM []byte
)

// ARKKey returns the private chains' ARK key (RSA-4096, committed in
// testkeys/; a fresh copy per call), nil only if the file is broken.
func ARKKey() *rsa.PrivateKey { return testKey("ARK", arkKeyPEM) }

// ASKKey returns the private chains' ASK key, which is also their ASVK's
// (RSA-4096, committed in testkeys/; a fresh copy per call), nil only if
// the file is broken.
func ASKKey() *rsa.PrivateKey { return testKey("ASK", askKeyPEM) }

func testKey(name string, b []byte) *rsa.PrivateKey {
	k, err := fakepki.RSAKey(name, b, 4096)
	if err != nil {
		return nil
	}
	return k
}

// vcekKeys are the shared VCEK keys per product, generated once per process.
var vcekKeys = sync.OnceValue(func() func(snp.Product) *ecdsa.PrivateKey {
	return perProduct(func(snp.Product) (*ecdsa.PrivateKey, error) {
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	})
})

// PrivateChain returns the shared private chain of product p (Milan, Genoa
// or Turin), with an ASVK, created once per process. It panics on an
// unknown product.
func PrivateChain(p snp.Product) *Chain { return chains()(p) }

// ChainPEM returns the ASK, the ARK and (if any) the ASVK of c in PEM (the
// shape of the CLI's --roots file).
func (c *Chain) ChainPEM() []byte { return c.PEM() }

// SNPChain returns c checked and parsed by snp.ParseChainPEM.
func (c *Chain) SNPChain() *snp.Chain {
	sc, err := snp.ParseChainPEM(c.PEM())
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
	for _, p := range snp.Products() {
		r = r.Add(PrivateChain(p).SNPChain())
	}
	return r
}

// ChainPEM returns the private Milan chain (ASK, ARK, ASVK) in PEM.
func ChainPEM() []byte { return PrivateChain(snp.Milan).ChainPEM() }

// VCEKTemplate describes a VCEK (or, with VLEK, a VLEK) certificate to
// issue. Zero fields take the defaults documented on each.
type VCEKTemplate struct {
	// VLEK issues a VLEK (csp_id, no hwID, signed by the chain's ASVK).
	VLEK bool
	// CSPID is a VLEK's csp_id (default "snp-vtpm-test-csp").
	CSPID string
	// ProductName is the productName extension; default "<product>-B0"
	// ("Turin-C0" for Turin), where product is the issuing chain's. Any
	// string is written, including forged ones ("Milan-ZZZ-evil"); the
	// Builder then issues under the chain of its Product.
	ProductName string
	// Critical lists AMD extensions (snp.OIDProductName(), ...) to mark
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
// c's ASK with RSASSA-PSS SHA-384) with the AMD extensions of t, or a VLEK
// (CN "SEV-VLEK", signed by c's ASVK) if t.VLEK. It returns the DER
// certificate.
func (c *Chain) IssueVCEK(t VCEKTemplate) ([]byte, error) {
	key := t.Key
	if key == nil {
		key = VCEKKey(c.Product)
	}
	name := t.ProductName
	if name == "" {
		name = DefaultProductName(c.Product)
	}
	nb, na := t.NotBefore, t.NotAfter
	if nb.IsZero() {
		nb = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if na.IsZero() {
		na = time.Now().UTC().Truncate(24*time.Hour).AddDate(6, 0, 0)
	}
	return c.Issue(amdcert.KeyTemplate{
		Key: &key.PublicKey, VLEK: t.VLEK, CSPID: t.CSPID, ProductName: name, HWID: t.HWID, TCB: t.TCB,
		FMC: (c.Product == snp.Turin || t.FMC) && !t.OmitFMC, Critical: t.Critical,
		ExtraExtensions: t.ExtraExtensions, NotBefore: nb, NotAfter: na,
	})
}

// VCEKKey returns the shared VCEK key pair of the private chip of product
// p (ECDSA P-384), generated once per process. It panics on an unknown
// product.
func VCEKKey(p snp.Product) *ecdsa.PrivateKey { return vcekKeys()(p) }

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
