package collateral

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// CertChain is a product's ASK and ARK as served by KDS and checked against the pinned ARK.
type CertChain struct {
	// ASK is the AMD SEV signing key certificate, signed by ARK.
	ASK *x509.Certificate
	// ARK is the AMD root key certificate; it equals the pinned ARK.
	ARK *x509.Certificate
}

// ErrRevoked: a certificate is on the product's CRL. Matched by *RevokedError.
var ErrRevoked = errors.New("certificate revoked")

// RevokedError reports a certificate listed on a CRL. It matches ErrRevoked.
type RevokedError struct {
	// Serial is the revoked certificate's serial number.
	Serial *big.Int
	// Subject is the revoked certificate's subject.
	Subject string
	// RevokedAt is the revocation time from the CRL.
	RevokedAt time.Time
	// CRL names the CRL that lists it: "VCEK CRL" or "VLEK CRL".
	CRL string
	// Emulated: the CRL is the emulated CVM's fake one (EmulatedChain),
	// issued by the fake ARK, not AMD's.
	Emulated bool
}

// Error implements error.
func (e *RevokedError) Error() string {
	whose := "AMD's"
	if e.Emulated {
		whose = "the EMULATED chain's fake"
	}
	return fmt.Sprintf("collateral: certificate %q serial %s revoked at %s (%s %s)", e.Subject, e.Serial, e.RevokedAt.UTC().Format(time.RFC3339), whose, e.CRL)
}

// Is reports whether target is ErrRevoked.
func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// CertChain returns the product's ASK and ARK from the sources (KDS
// /vcek/v1/{product}/cert_chain, the disk cache) or memory. The ARK must
// equal the pinned ARK byte for byte and the ASK must be signed by it and
// valid now; otherwise the chain is neither cached nor returned. The
// returned CertChain is shared with other callers and must not be modified.
func (c *Chain) CertChain(ctx context.Context, product string) (*CertChain, error) {
	ch, err := collect(c, ctx, KindCertChain, product, &c.chains,
		func(b []byte, ark *x509.Certificate) (*CertChain, []byte, error) {
			ch, err := c.parseChain(b, ark)
			return ch, b, err
		},
		func(ch *CertChain) error { return c.chainValidNow(ch) })
	if err != nil {
		return nil, c.fail(err)
	}
	return ch, nil
}

func (c *Chain) chainValidNow(ch *CertChain) error {
	if now := c.now(); now.Before(ch.ASK.NotBefore) || now.After(ch.ASK.NotAfter) {
		return fmt.Errorf("collateral: ASK %q outside its validity period: %w", ch.ASK.Subject.CommonName, ErrInvalidCertificate)
	}
	return nil
}

// parseChain parses PEM ASK then ARK (certs.ParsePEM) and checks them
// against the pinned ARK.
func (c *Chain) parseChain(b []byte, pinned *x509.Certificate) (*CertChain, error) {
	cs, err := certs.ParsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("collateral: cert chain: %v: %w", err, ErrInvalidCertificate)
	}
	if len(cs) != 2 {
		return nil, fmt.Errorf("collateral: cert chain of %d certificates, want two (ASK, ARK): %w", len(cs), ErrInvalidCertificate)
	}
	ask, ark := cs[0], cs[1]
	if !bytes.Equal(ark.Raw, pinned.Raw) {
		return nil, fmt.Errorf("collateral: cert chain ARK %q is not the pinned ARK: %w", format.Truncate(ark.Subject.CommonName, 64), ErrInvalidCertificate)
	}
	if err := ask.CheckSignatureFrom(pinned); err != nil {
		return nil, fmt.Errorf("collateral: ASK %q not signed by the pinned ARK: %v: %w", format.Truncate(ask.Subject.CommonName, 64), err, ErrInvalidCertificate)
	}
	// CheckSignatureFrom does not enforce critical extensions.
	if err := snp.CheckCACertificate(ask); err != nil {
		return nil, fmt.Errorf("collateral: ASK: %v: %w", err, ErrInvalidCertificate)
	}
	ch := &CertChain{ASK: ask, ARK: pinned}
	if err := c.chainValidNow(ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// CRL returns the product's VCEK certificate revocation list (the ASKs
// AMD revoked) from the sources (KDS /vcek/v1/{product}/crl, the disk
// cache, a fleet's cache) or memory. A CRL is used only if it is signed by
// the pinned ARK of the product, issued by it, a complete CRL
// (certs.CheckCRLExtensions) and not past its NextUpdate, whether cached
// or fetched. The returned list is shared and must not be modified.
func (c *Chain) CRL(ctx context.Context, product string) (*x509.RevocationList, error) {
	return c.crl(ctx, KindCRL, product)
}

// VLEKCRL returns the product's VLEK certificate revocation list (the
// ASVKs AMD revoked) from the sources (KDS /vlek/v1/{product}/crl, the
// disk cache, a fleet's cache) or memory, checked and cached like CRL (it
// too is issued and signed by the pinned ARK), apart from the VCEK CRL.
// The returned list is shared and must not be modified.
func (c *Chain) VLEKCRL(ctx context.Context, product string) (*x509.RevocationList, error) {
	return c.crl(ctx, KindVLEKCRL, product)
}

// crl is CRL and VLEKCRL: the CRL of kind (KindCRL or KindVLEKCRL), each
// kind kept in its own memory map.
func (c *Chain) crl(ctx context.Context, kind Kind, product string) (*x509.RevocationList, error) {
	memo := &c.crls
	if kind == KindVLEKCRL {
		memo = &c.vlekCRLs
	}
	crl, err := collect(c, ctx, kind, product, memo, c.parseCRL, c.crlFresh)
	if err != nil {
		return nil, c.fail(unavailable(ctx, err))
	}
	return crl, nil
}

// crlFresh reports an error when crl is past its NextUpdate (or has none).
func (c *Chain) crlFresh(crl *x509.RevocationList) error {
	if crl.NextUpdate.IsZero() {
		return fmt.Errorf("collateral: CRL has no NextUpdate: %w", ErrInvalidCertificate)
	}
	if now := c.now(); !now.Before(crl.NextUpdate) {
		return fmt.Errorf("collateral: CRL expired at %s: %w", crl.NextUpdate.UTC().Format(time.RFC3339), ErrInvalidCertificate)
	}
	return nil
}

// parseCRL parses a CRL (DER, or PEM "X509 CRL") and checks issuer,
// signature (pinned ARK) and freshness. It returns the DER to cache.
func (c *Chain) parseCRL(b []byte, ark *x509.Certificate) (*x509.RevocationList, []byte, error) {
	der, err := certs.DER(b, "X509 CRL")
	if err != nil {
		return nil, nil, fmt.Errorf("collateral: CRL: %v: %w", err, ErrInvalidCertificate)
	}
	crl, err := certs.ParseCRL(der) // entries bounded before parsing
	if err != nil {
		return nil, nil, fmt.Errorf("collateral: CRL does not parse: %v: %w", err, ErrInvalidCertificate)
	}
	if !bytes.Equal(crl.RawIssuer, ark.RawSubject) {
		return nil, nil, fmt.Errorf("collateral: CRL issuer %q is not the pinned ARK %q: %w", format.Truncate(format.ReadableName(crl.Issuer.String()), 128), ark.Subject.String(), ErrInvalidCertificate)
	}
	if err := crl.CheckSignatureFrom(ark); err != nil {
		return nil, nil, fmt.Errorf("collateral: CRL not signed by the pinned ARK: %v: %w", err, ErrInvalidCertificate)
	}
	if err := c.crlFresh(crl); err != nil {
		return nil, nil, err
	}
	return crl, der, nil
}

// collect is CertChain, CRL and VLEKCRL: the memory entry if still fresh,
// else (one fetch per product line at a time) the local sources then the
// upstream ones, each answer parsed and checked against the pinned ARK
// before it is kept in memory and given to the Stores. An upstream failure
// is remembered in the negative cache like a VCEK's (Chain.NegativeTTL,
// TransientNegativeTTL): within its back-off no request is sent and the
// caller gets a *WaitError wrapping it. A context marked upstream-only
// (crossCheckedCRLs) skips memory and the local sources but still stores
// what verified into them.
func collect[T any](c *Chain, ctx context.Context, kind Kind, product string, memo *map[string]T,
	parse func([]byte, *x509.Certificate) (T, []byte, error), fresh func(T) error) (T, error) {
	var zero T
	line, err := kds.ProductLine(product)
	if err != nil {
		return zero, err
	}
	ark, err := c.ark(line)
	if err != nil {
		return zero, err
	}
	only := upstreamOnly(ctx)
	c.mu.Lock()
	v, ok := (*memo)[line]
	c.mu.Unlock()
	if ok && !only && fresh(v) == nil {
		c.stats.cacheHits.Add(1)
		return v, nil
	}
	log := c.logger().With("product", line, "what", kindName(kind))
	local, up := c.split()
	q := &Query{Key: &Key{Product: line}, Upstream: c.upstream}
	try := func(srcs []Source, storeIn func(i int) []Source) (T, bool, bool, error) {
		return collectFrom(c, ctx, log, kind, q, srcs, storeIn, func(b []byte) (T, []byte, error) { return parse(b, ark) }, memo)
	}
	fromLocal := func() (T, bool, error) {
		if only {
			var none T
			return none, false, nil
		}
		v, ok, abort, err := try(local, func(i int) []Source { return local[:i] })
		if abort {
			return v, false, err
		}
		return v, ok, nil
	}
	name := fmt.Sprint(kind, "/", line)
	shared := name
	if only {
		shared += "/upstream" // not joined by a call that reads the caches
	}
	got, _, err := c.flight.do(ctx, log, shared, func() (any, error) {
		if v, ok, err := fromLocal(); ok || err != nil {
			return v, err
		}
		if len(up) == 0 {
			return nil, fmt.Errorf("collateral: no current %s for %s in the cache: %w", kindName(kind), line, ErrOffline)
		}
		if err, ok := c.neg.get(name, kindName(kind), c.now()); ok {
			c.stats.negHits.Add(1)
			return nil, err
		}
		unlock, v, ok, err := fleetLock(c, ctx, log, local, name, func() (T, bool) {
			v, ok, _ := fromLocal()
			return v, ok
		})
		if ok || err != nil {
			return v, err
		}
		defer unlock()
		v, _, _, err = try(up, func(int) []Source { return local })
		// Remembered before the waiters are released; they and this
		// caller learn the back-off (a *WaitError).
		return v, c.negPut(ctx, name, kindName(kind), err)
	})
	if err != nil {
		return zero, err
	}
	return got.(T), nil
}

// ErrCRLConflict: the VCEK CRL and the VLEK CRL of a product line are
// one signed document (the same to-be-signed bytes and signature): a
// mirror or a cache served one in place of the other, and what the other
// lists is unknown. It wraps ErrInvalidCertificate.
var ErrCRLConflict = fmt.Errorf("collateral: the VCEK CRL and the VLEK CRL are the same document (one was served for the other): %w", ErrInvalidCertificate)

// CheckRevoked gets both CRLs of the product line, the VCEK CRL (see CRL)
// and the VLEK CRL (see VLEKCRL), the one of the key that signed the
// report first (signingKey: snp.SigningKeyVCEK or snp.SigningKeyVLEK), and
// returns a *RevokedError (matching ErrRevoked) for the first certificate
// whose serial number either lists. Pass the intermediate and the leaf:
// the ASK and the VCEK, or the ASVK and the VLEK.
//
// Both CRLs are the ARK's, with no issuing distribution point: each is,
// by RFC 5280, a complete CRL of every certificate the ARK issued, whose
// serials are unique, so a serial on either names a revoked certificate.
// Nothing in an AMD CRL says which of the two it is (same issuer, key,
// algorithm and extensions), so reading only "the" CRL of the signing key
// let a mirror or a cache that served the other kind's CRL in its place
// hide a revoked ASK or ASVK for good. Reading both closes swapped CRLs;
// both slots holding one document is ErrCRLConflict, after the upstream
// sources (not the caches) were asked again. What remains: two distinct
// genuine, current CRLs that do not list the certificate (an older one of
// its kind, or two of the other kind) pass, as a replayed CRL does.
//
// Another signingKey, or a nil certificate, wraps kds.ErrInvalidRequest.
// Any error getting a CRL is returned as is, so callers can tell
// "revoked" from "could not check" (e.g. ErrOffline). It implements
// verify.RevocationChecker.
func (c *Chain) CheckRevoked(ctx context.Context, product string, signingKey uint32, cs ...*x509.Certificate) error {
	kinds := []Kind{KindCRL, KindVLEKCRL}
	switch signingKey {
	case snp.SigningKeyVCEK:
	case snp.SigningKeyVLEK:
		kinds = []Kind{KindVLEKCRL, KindCRL}
	default:
		return c.fail(fmt.Errorf("collateral: CheckRevoked: signing key %d is neither VCEK nor VLEK: %w", signingKey, kds.ErrInvalidRequest))
	}
	for _, cert := range cs {
		if cert == nil || cert.SerialNumber == nil {
			return c.fail(fmt.Errorf("collateral: CheckRevoked: nil certificate or serial: %w", kds.ErrInvalidRequest))
		}
	}
	lists, err := c.crossCheckedCRLs(ctx, product, kinds)
	if err != nil {
		return err
	}
	for _, cert := range cs {
		for i, l := range lists {
			for _, entry := range l.RevokedCertificateEntries {
				if entry.SerialNumber != nil && entry.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return c.fail(&RevokedError{
						Serial:    new(big.Int).Set(cert.SerialNumber),
						Subject:   cert.Subject.String(),
						RevokedAt: entry.RevocationTime,
						CRL:       crlName(kinds[i]),
						Emulated:  c.emulated,
					})
				}
			}
		}
	}
	return nil
}

// crossCheckedCRLs returns the product line's CRLs of kinds, in order.
// When both are one document it forgets them, asks the upstream sources
// for both again (their answers replace what the caches hold) and fails
// with ErrCRLConflict if they are still one, or if there is no upstream
// source to ask.
func (c *Chain) crossCheckedCRLs(ctx context.Context, product string, kinds []Kind) ([]*x509.RevocationList, error) {
	lists, err := c.crlsOf(ctx, product, kinds)
	if err != nil || !sameCRL(lists[0], lists[1]) {
		return lists, err
	}
	line, _ := kds.ProductLine(product) // crlsOf checked it
	c.logger().WarnContext(ctx, "the VCEK CRL and the VLEK CRL are the same document; asking upstream for both again", "product", line)
	c.forgetCRLs(line)
	if _, up := c.split(); len(up) > 0 {
		lists, err = c.crlsOf(context.WithValue(ctx, upstreamOnlyKey{}, true), product, kinds)
		if err != nil || !sameCRL(lists[0], lists[1]) {
			return lists, err
		}
		c.forgetCRLs(line)
	}
	return nil, c.fail(fmt.Errorf("%w (%s)", ErrCRLConflict, line))
}

// crlsOf gets the product line's CRL of each kind, in order.
func (c *Chain) crlsOf(ctx context.Context, product string, kinds []Kind) ([]*x509.RevocationList, error) {
	lists := make([]*x509.RevocationList, len(kinds))
	for i, k := range kinds {
		l, err := c.crl(ctx, k, product)
		if err != nil {
			return nil, err
		}
		lists[i] = l
	}
	return lists, nil
}

// crlName names the CRL of kind: "VCEK CRL" or "VLEK CRL".
func crlName(k Kind) string {
	if k == KindVLEKCRL {
		return "VLEK CRL"
	}
	return "VCEK CRL"
}

// sameCRL reports whether a and b are one signed document. AMD signs with
// RSASSA-PSS and a random salt, so two CRLs it signed apart never share a
// signature, even with the same contents.
func sameCRL(a, b *x509.RevocationList) bool {
	return bytes.Equal(a.RawTBSRevocationList, b.RawTBSRevocationList) && bytes.Equal(a.Signature, b.Signature)
}

// forgetCRLs drops both CRLs of a product line from memory.
func (c *Chain) forgetCRLs(line string) {
	c.mu.Lock()
	delete(c.crls, line)
	delete(c.vlekCRLs, line)
	c.mu.Unlock()
}

// upstreamOnlyKey marks a context whose collect reads neither memory nor
// the local sources (it still stores into them).
type upstreamOnlyKey struct{}

func upstreamOnly(ctx context.Context) bool { return ctx.Value(upstreamOnlyKey{}) != nil }

// collectFrom asks srcs in order for the product's item of kind; the first
// answer that parse accepts is kept in memo and given to the Stores of
// storeIn(i), i its index in srcs. abort: the context ended or the Limiter
// refused; stop there.
func collectFrom[T any](c *Chain, ctx context.Context, log *slog.Logger, kind Kind, q *Query, srcs []Source, storeIn func(i int) []Source,
	parse func([]byte) (T, []byte, error), memo *map[string]T) (v T, ok, abort bool, lastErr error) {
	for i, s := range srcs {
		b, err := s.Get(ctx, kind, q)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrUpstreamLimited) {
				return v, false, true, err
			}
			lastErr = err
			continue
		}
		v, keep, err := parse(b)
		if err != nil {
			log.InfoContext(ctx, "ignoring what fails validation; not cached", "source", s.Name(), "err", err)
			lastErr = fmt.Errorf("collateral: %s from %s: %w", kindName(kind), s.Name(), err)
			continue
		}
		c.hit(s)
		c.mu.Lock()
		if *memo == nil {
			*memo = map[string]T{}
		}
		(*memo)[q.Product] = v
		c.mu.Unlock()
		store(ctx, kind, q.Key, keep, storeIn(i))
		return v, true, false, nil
	}
	return v, false, false, lastErr
}
