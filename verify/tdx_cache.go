package verify

import (
	"bytes"
	"crypto/x509"
	"time"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// verifyTDQuoteSignatures verifies q (whose bytes are raw) under root at
// now: its PCK chain, then what the chain vouches for (QE report, quote
// signature). With a cache, a chain that an earlier successful
// verification verified under the same root (by the bytes of both) is
// only checked again for validity at now, and a quote whose exact bytes
// an earlier success verified under that same chain entry skips its
// signatures; what this call verifies is recorded in p.
func verifyTDQuoteSignatures(q *tdx.Quote, raw []byte, root *x509.Certificate, now time.Time, p *pending) (*tdx.Verified, error) {
	v, cached := p.lookupPCK(q.PCKChain, root)
	if cached {
		if err := v.ValidAt(now); err != nil {
			return nil, err
		}
	} else {
		var err error
		if v, err = q.VerifyChain(tdx.VerifyOptions{Now: now, Root: root}); err != nil {
			return nil, err
		}
		p.addPCK(q.PCKChain, v)
	}
	if !p.lookupTDQuote(raw, v) {
		if err := q.VerifySigned(v); err != nil {
			return nil, err
		}
		p.addTDQuote(raw, v)
	}
	return v, nil
}

// lookupPCK returns the chain verified under root (compared by its DER)
// for the PEM chain, by this call or an earlier successful one.
func (p *pending) lookupPCK(chain []byte, root *x509.Certificate) (*tdx.Verified, bool) {
	if p == nil || p.c == nil || root == nil {
		return nil, false
	}
	under := func(v *tdx.Verified) bool { return bytes.Equal(v.Root.Raw, root.Raw) }
	if p.pck != nil && under(p.pck) && bytes.Equal(p.pckChain, chain) {
		return p.pck, true
	}
	return p.c.pcks.get(chain, under)
}

// addPCK records a verified PCK chain.
func (p *pending) addPCK(chain []byte, v *tdx.Verified) {
	if p != nil && p.c != nil {
		p.pckChain, p.pck = chain, v
	}
}

// lookupTDQuote reports whether an earlier successful verification
// verified the signatures of the TD quote raw under the chain entry v (by
// identity).
func (p *pending) lookupTDQuote(raw []byte, v *tdx.Verified) bool {
	if p == nil || p.c == nil {
		return false
	}
	_, ok := p.c.tdQuotes.get(raw, func(by *tdx.Verified) bool { return by == v })
	return ok
}

// addTDQuote records that the chain entry v verified the TD quote raw.
func (p *pending) addTDQuote(raw []byte, v *tdx.Verified) {
	if p != nil && p.c != nil {
		p.tdQuoteRaw, p.tdQuoteBy = raw, v
	}
}
