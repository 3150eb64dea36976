package snp

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Chain is a trusted AMD signing chain for one product line: the
// self-signed ARK, the ASK ("SEV-<product>") that signs VCEKs and,
// optionally, the ASVK ("SEV-VLEK-<product>") that signs VLEKs.
type Chain struct {
	Product Product
	ARK     *x509.Certificate
	ASK     *x509.Certificate
	// ASVK signs VLEKs; nil if the chain trusts no VLEK.
	ASVK *x509.Certificate
	// Source says where the chain came from: "AMD (pinned)" for the roots
	// built into this module, otherwise a file name or, for the emulated
	// CVM, "EMULATED CVM (not AMD)" (emulator/fakeamd.ChainSource).
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

// pinnedPEM are AMD's certificates as go-sev-guest's verify/trust embeds
// them: per product line the ASK then ARK (VCEK chain) and the ASVK then
// ARK (VLEK chain). The ASVKs ("SEV-VLEK-Milan", "-Genoa", "-Turin") are
// the ones AMD's KDS serves at /vlek/v1/<product>/cert_chain; the copies
// in testdata/trustee-az-vtpm/amd-vendor-certs/*_ask_ark_asvk.pem (from
// confidential-containers/trustee) are byte-identical (tested).
var pinnedPEM = map[Product][2][]byte{
	Milan: {trust.AskArkMilanVcekBytes, trust.AskArkMilanVlekBytes},
	Genoa: {trust.AskArkGenoaVcekBytes, trust.AskArkGenoaVlekBytes},
	Turin: {trust.AskArkTurinVcekBytes, trust.AskArkTurinVlekBytes},
}

var defaultRoots = sync.OnceValues(func() (*Roots, error) {
	r := &Roots{chains: map[Product][]*Chain{}}
	for p, pemBytes := range pinnedPEM {
		c, err := ParseChainPEM(pemBytes[0])
		if err != nil {
			return nil, fmt.Errorf("pinned %s roots: %w", p, err)
		}
		if c.Product != p {
			return nil, fmt.Errorf("%w: pinned %s roots name product %s", ErrRoots, p, c.Product)
		}
		vlek, err := pemCertificates(pemBytes[1], 2)
		if err != nil || len(vlek) != 2 || !vlek[1].Equal(c.ARK) {
			return nil, fmt.Errorf("%w: pinned %s ASVK chain is not ASVK then the pinned ARK (%v)", ErrRoots, p, err)
		}
		if c, err = c.WithASVK(vlek[0]); err != nil {
			return nil, fmt.Errorf("pinned %s ASVK: %w", p, err)
		}
		c.Source, c.Pinned = "AMD (pinned)", true
		r.chains[p] = []*Chain{c}
	}
	return r, nil
})

// Sentinel errors of the pinned AMD roots and the chains they sign.
var (
	// ErrChain reports a VCEK that does not chain to the pinned ASK and ARK.
	ErrChain = errors.New("VCEK not signed by a trusted AMD ASK/ARK")
	// ErrValidity reports a certificate used outside its validity period.
	ErrValidity = errors.New("certificate outside its validity period")
	// ErrRoots reports an unusable root certificate file.
	ErrRoots = errors.New("invalid AMD root certificates")
)

// DefaultRoots returns AMD's ARK, ASK and ASVK for Milan, Genoa and Turin
// as pinned in this module. Their signatures are checked once per process.
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
// cert_chain endpoint), optionally followed by the product line's ASVK
// (the shape of trustee's *_ask_ark_asvk.pem), which the chain then trusts
// to sign VLEKs (see WithASVK). A third certificate that is no ASVK and
// any further certificates are ignored. It checks that the ARK is
// self-signed, that the ARK signs the ASK, and that their common names
// name one product line ("ARK-Milan", "SEV-Milan"). The returned chain is
// neither pinned nor emulated.
func ParseChainPEM(data []byte) (*Chain, error) {
	certs, err := pemCertificates(data, 3)
	if err != nil {
		return nil, err
	}
	if len(certs) < 2 {
		return nil, fmt.Errorf("%w: want an ASK then an ARK certificate in PEM, found %d", ErrRoots, len(certs))
	}
	c, err := NewChain(certs[0], certs[1])
	if err != nil || len(certs) < 3 || !strings.HasPrefix(certs[2].Subject.CommonName, asvkPrefix) {
		return c, err
	}
	return c.WithASVK(certs[2])
}

// asvkPrefix starts the common name of an ASVK: "SEV-VLEK-Milan".
const asvkPrefix = "SEV-VLEK-"

// pemCertificates parses up to max CERTIFICATE blocks of data, skipping
// blocks of other types.
func pemCertificates(data []byte, max int) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for len(certs) < max {
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
	return certs, nil
}

// WithASVK returns a copy of c that also trusts asvk to sign VLEKs. The
// ASVK must be named "SEV-VLEK-<product>" for c's product line, hold an
// RSA key, pass CheckCACertificate and be signed by c's ARK.
func (c *Chain) WithASVK(asvk *x509.Certificate) (*Chain, error) {
	if cn, want := asvk.Subject.CommonName, asvkPrefix+string(c.Product); cn != want {
		return nil, fmt.Errorf("%w: ASVK common name %q, want %s", ErrRoots, format.Truncate(cn, 64), want)
	}
	if err := checkSignedByARK(asvk, c.ARK); err != nil {
		return nil, err
	}
	out := *c
	out.ASVK = asvk
	return &out, nil
}

// checkSignedByARK checks an intermediate (ASK or ASVK): RSA key, CA
// constraints, issued and signed by ark.
func checkSignedByARK(ica, ark *x509.Certificate) error {
	cn := format.Truncate(ica.Subject.CommonName, 64)
	if _, ok := ica.PublicKey.(*rsa.PublicKey); !ok {
		return fmt.Errorf("%w: %s key is not RSA", ErrRoots, cn)
	}
	if err := CheckCACertificate(ica); err != nil {
		return err
	}
	if !bytes.Equal(ica.RawIssuer, ark.RawSubject) {
		return fmt.Errorf("%w: %s issuer is not the ARK", ErrRoots, cn)
	}
	if err := ark.CheckSignature(ica.SignatureAlgorithm, ica.RawTBSCertificate, ica.Signature); err != nil {
		return fmt.Errorf("%w: %s not signed by ARK: %v", ErrRoots, cn, err)
	}
	return nil
}

// NewChain checks and returns the chain ask <- ark (see ParseChainPEM). Both
// must pass CheckCACertificate (no unknown critical extension).
func NewChain(ask, ark *x509.Certificate) (*Chain, error) {
	arkCN, askCN := ark.Subject.CommonName, ask.Subject.CommonName
	prod, ok := strings.CutPrefix(arkCN, "ARK-")
	if !ok {
		return nil, fmt.Errorf("%w: ARK common name %q does not start with ARK-", ErrRoots, format.Truncate(arkCN, 64))
	}
	p, err := ParseProduct(prod)
	if err != nil || string(p) != prod {
		return nil, fmt.Errorf("%w: ARK common name %q names no known product line", ErrRoots, format.Truncate(arkCN, 64))
	}
	if askCN != "SEV-"+prod {
		return nil, fmt.Errorf("%w: ASK common name %q, want SEV-%s", ErrRoots, format.Truncate(askCN, 64), prod)
	}
	// The ARK signs itself: the same checks as for an intermediate.
	if err := checkSignedByARK(ark, ark); err != nil {
		return nil, err
	}
	if err := checkSignedByARK(ask, ark); err != nil {
		return nil, err
	}
	return &Chain{Product: p, ARK: ark, ASK: ask, Source: "custom"}, nil
}

// Intermediate returns the certificate of c that signs v: the ASK for a
// VCEK, the ASVK (or nil) for a VLEK.
func (c *Chain) Intermediate(v *VCEK) *x509.Certificate {
	if v.SigningKey == SigningKeyVLEK {
		return c.ASVK
	}
	return c.ASK
}

// origin says, for an error that may reach a remote client (serve answers
// a vcek-chain rejection in full), which roots c is without Source, which
// may hold the path of the verifier's --roots file.
func (c *Chain) origin() string {
	switch {
	case c.Pinned:
		return "AMD's pinned roots"
	case c.Emulated:
		return "the emulated CVM's chain"
	}
	return "the verifier's configured roots"
}

func checkValidity(c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("%w: %s valid %s to %s, verification time %s", ErrValidity, format.Truncate(c.Subject.CommonName, 64),
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckValidity checks that v, the chain's intermediate that signs it (ASK
// or ASVK) and the ARK are valid at now. An expired VLEK's error says how
// to verify an archived report: AMD issues VLEKs for one year. A VCEK not
// yet valid says why that happens: AMD KDS issues a VCEK when it is asked
// for one, so a copy fetched after the report was made starts after it.
func (c *Chain) CheckValidity(v *VCEK, now time.Time) error {
	if err := checkValidity(v.Cert, now); err != nil {
		switch {
		case v.SigningKey == SigningKeyVLEK:
			return fmt.Errorf("%w (a VLEK is valid for one year: verify an archived report at the time it was made, with --at)", err)
		case now.Before(v.Cert.NotBefore):
			return fmt.Errorf("%w (AMD KDS dates a VCEK from when it was fetched, which can be after the report was made: verify at a time within its validity, with --at)", err)
		}
		return err
	}
	for _, cert := range []*x509.Certificate{c.ARK, c.Intermediate(v)} {
		if cert == nil {
			return fmt.Errorf("%w: no trusted ASVK for product line %s signs VLEKs", ErrChain, c.Product)
		}
		if err := checkValidity(cert, now); err != nil {
			return err
		}
	}
	return nil
}
