package snp

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-sev-guest/verify/trust"
)

// Chain is a trusted AMD signing chain for one product line: the ASK (or
// , for VCEKs, the "SEV-<product>" key) and the self-signed ARK.
type Chain struct {
	Product Product
	ARK     *x509.Certificate
	ASK     *x509.Certificate
	// Source says where the chain came from: "AMD (pinned)" for the roots
	// built into this module, otherwise a file name or "emulated".
	Source string
	// Pinned is true for AMD's roots built into this module.
	Pinned bool
	// Emulated is true for the chain of the emulated CVM, which is not AMD's.
	Emulated bool
}

// Roots are the trusted chains per product line. The zero value trusts
// nothing; DefaultRoots returns AMD's pinned roots. Roots is immutable once
// built and safe for concurrent use.
type Roots struct {
	chains map[Product][]*Chain
}

var defaultRoots = sync.OnceValues(func() (*Roots, error) {
	r := &Roots{chains: map[Product][]*Chain{}}
	for p, pemBytes := range map[Product][]byte{
		Milan: trust.AskArkMilanVcekBytes,
		Genoa: trust.AskArkGenoaVcekBytes,
		Turin: trust.AskArkTurinVcekBytes,
	} {
		c, err := ParseChainPEM(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("pinned %s roots: %w", p, err)
		}
		if c.Product != p {
			return nil, fmt.Errorf("%w: pinned %s roots name product %s", ErrRoots, p, c.Product)
		}
		c.Source, c.Pinned = "AMD (pinned)", true
		r.chains[p] = []*Chain{c}
	}
	return r, nil
})

// DefaultRoots returns AMD's ARK and ASK for Milan, Genoa and Turin as
// pinned in this module. Their signatures are checked once per process.
func DefaultRoots() *Roots {
	r, err := defaultRoots()
	if err != nil {
		// The embedded certificates are part of the build; failing to
		// parse them is a broken build, not bad input.
		panic(err)
	}
	return r
}

// Chains returns the trusted chains for product p.
func (r *Roots) Chains(p Product) []*Chain {
	if r == nil {
		return nil
	}
	return r.chains[p]
}

// Replace returns a copy of r in which the chains of c.Product are replaced
// by c alone.
func (r *Roots) Replace(c *Chain) *Roots {
	out := r.clone()
	out.chains[c.Product] = []*Chain{c}
	return out
}

// Add returns a copy of r that trusts c in addition to the chains it has.
func (r *Roots) Add(c *Chain) *Roots {
	out := r.clone()
	out.chains[c.Product] = append(append([]*Chain(nil), out.chains[c.Product]...), c)
	return out
}

func (r *Roots) clone() *Roots {
	out := &Roots{chains: map[Product][]*Chain{}}
	if r != nil {
		for p, cs := range r.chains {
			out.chains[p] = cs
		}
	}
	return out
}

// ParseChainPEM parses PEM holding an ASK then its ARK (the shape of AMD's
// cert_chain endpoint; further certificates such as an ASVK are ignored).
// It checks that the ARK is self-signed, that the ARK signs the ASK, and
// that their common names name one product line ("ARK-Milan", "SEV-Milan").
// The returned chain is neither pinned nor emulated.
func ParseChainPEM(data []byte) (*Chain, error) {
	var certs []*x509.Certificate
	for len(certs) < 2 {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRoots, err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		return nil, fmt.Errorf("%w: want an ASK then an ARK certificate in PEM, found %d", ErrRoots, len(certs))
	}
	return NewChain(certs[0], certs[1])
}

// NewChain checks and returns the chain ask <- ark (see ParseChainPEM). Both
// must pass CheckCACertificate (no unknown critical extension).
func NewChain(ask, ark *x509.Certificate) (*Chain, error) {
	arkCN, askCN := ark.Subject.CommonName, ask.Subject.CommonName
	prod, ok := strings.CutPrefix(arkCN, "ARK-")
	if !ok {
		return nil, fmt.Errorf("%w: ARK common name %q does not start with ARK-", ErrRoots, arkCN)
	}
	p, err := ParseProduct(prod)
	if err != nil || string(p) != prod {
		return nil, fmt.Errorf("%w: ARK common name %q names no known product line", ErrRoots, arkCN)
	}
	if askCN != "SEV-"+prod {
		return nil, fmt.Errorf("%w: ASK common name %q, want SEV-%s", ErrRoots, askCN, prod)
	}
	for _, c := range []*x509.Certificate{ark, ask} {
		if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("%w: %s key is not RSA", ErrRoots, c.Subject.CommonName)
		}
		if err := CheckCACertificate(c); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(ark.RawIssuer, ark.RawSubject) {
		return nil, fmt.Errorf("%w: ARK is not self-issued", ErrRoots)
	}
	if err := ark.CheckSignature(ark.SignatureAlgorithm, ark.RawTBSCertificate, ark.Signature); err != nil {
		return nil, fmt.Errorf("%w: ARK self-signature: %v", ErrRoots, err)
	}
	if !bytes.Equal(ask.RawIssuer, ark.RawSubject) {
		return nil, fmt.Errorf("%w: ASK issuer is not the ARK", ErrRoots)
	}
	if err := ark.CheckSignature(ask.SignatureAlgorithm, ask.RawTBSCertificate, ask.Signature); err != nil {
		return nil, fmt.Errorf("%w: ASK not signed by ARK: %v", ErrRoots, err)
	}
	return &Chain{Product: p, ARK: ark, ASK: ask, Source: "custom"}, nil
}

// checkValidity checks that every certificate of the chain is valid at now.
func (c *Chain) checkValidity(now time.Time) error {
	for _, cert := range []*x509.Certificate{c.ARK, c.ASK} {
		if err := checkValidity(cert, now); err != nil {
			return err
		}
	}
	return nil
}

func checkValidity(c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("%w: %s valid %s to %s, verification time %s", ErrValidity, c.Subject.CommonName,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckValidity checks that v and the chain's ASK and ARK are valid at now.
func (c *Chain) CheckValidity(v *VCEK, now time.Time) error {
	if err := checkValidity(v.Cert, now); err != nil {
		return err
	}
	return c.checkValidity(now)
}
