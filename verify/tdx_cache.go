package verify

import (
	"bytes"
	"crypto/x509"
	"time"
	"weak"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// tdQuoteEntry is a TD quote whose signatures a successful verification
// verified under the PCK chain entry by: the quote parsed, shared by every
// later verification of the same bytes (read-only). by is weak: the entry
// does not keep alive a chain the pcks cache evicted.
type tdQuoteEntry struct {
	q  *tdx.Quote
	by weak.Pointer[tdx.Verified]
}

// parseTDQuote parses the TD quote raw, or takes the parse of the entry
// that an earlier successful verification of the same bytes cached (then
// also returned, for verifyTDQuoteSignatures). A quote that never comes
// again (once: the quote of a TDREPORT refreshed with this verification's
// nonce) is neither looked up nor, by verifyTDQuoteSignatures, cached.
func parseTDQuote(raw []byte, once bool, p *pending) (tdQuote, error) {
	if p.recording() && !once {
		if e, ok := p.c.tdQuotes.get(raw, nil); ok {
			return tdQuote{Quote: e.q, raw: raw, cached: e}, nil
		}
	}
	q, err := tdx.ParseQuote(raw)
	if err != nil {
		return tdQuote{}, fail(CheckTDXQuoteFormat, err)
	}
	return tdQuote{Quote: q, raw: raw, once: once}, nil
}

// verifyTDQuoteSignatures verifies the TD quote tq under root at now: its
// PCK chain, then what the chain vouches for (QE report, quote signature).
// With a cache, a chain that an earlier successful verification verified
// under the same root (by the bytes of both) is only checked again for
// validity at now, and a quote cached as verified under that very chain
// entry skips its signatures; what this call verifies is recorded in p
// (the quote only if it can come again: not tq.once).
func verifyTDQuoteSignatures(tq tdQuote, root *x509.Certificate, now time.Time, p *pending) (*tdx.Verified, error) {
	v, cached := p.lookupPCK(tq.PCKChain, root)
	if cached {
		if err := v.ValidAt(now); err != nil {
			return nil, err
		}
	} else {
		var err error
		if v, err = tq.VerifyChain(tdx.VerifyOptions{Now: now, Root: root}); err != nil {
			return nil, err
		}
		p.addPCK(tq.PCKChain, v)
	}
	if tq.cached == nil || tq.cached.by.Value() != v {
		if err := tq.VerifySigned(v); err != nil {
			return nil, err
		}
		if !tq.once {
			p.addTDQuote(tq.raw, &tdQuoteEntry{q: tq.Quote, by: weak.Make(v)})
		}
	}
	return v, nil
}

// lookupPCK returns the chain verified under root (compared by its DER)
// for the PEM chain, by this call or an earlier successful one.
func (p *pending) lookupPCK(chain []byte, root *x509.Certificate) (*tdx.Verified, bool) {
	if !p.recording() || root == nil {
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
	if p.recording() {
		p.pckChain, p.pck = chain, v
	}
}

// addTDQuote records the TD quote raw, verified as e.
func (p *pending) addTDQuote(raw []byte, e *tdQuoteEntry) {
	if p.recording() {
		p.tdQuoteRaw, p.tdQuote = raw, e
	}
}
