package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Chain is a product's ASK and ARK as served by KDS and checked against the pinned ARK.
type Chain struct {
	// ASK is the AMD SEV signing key certificate, signed by ARK.
	ASK *x509.Certificate
	// ARK is the AMD root key certificate; it equals the pinned ARK.
	ARK *x509.Certificate
}

type crlEntry struct {
	crl *x509.RevocationList
}

// CertChain returns the product's ASK and ARK from KDS (/vcek/v1/{product}/cert_chain)
// or the caches. The ARK must equal the pinned ARK byte for byte and the ASK must be
// signed by it and valid now; otherwise the chain is neither cached nor returned.
// The returned Chain is shared with other callers and must not be modified.
func (c *Client) CertChain(ctx context.Context, product string) (*Chain, error) {
	line, err := ProductLine(product)
	if err != nil {
		return nil, c.fail(err)
	}
	ark, err := c.ark(line)
	if err != nil {
		return nil, c.fail(err)
	}
	check := func(b []byte) (*Chain, error) { return c.parseChain(b, ark) }
	c.mu.Lock()
	ch := c.chains[line]
	c.mu.Unlock()
	if ch != nil && c.chainValidNow(ch) {
		c.stats.cacheHits.Add(1)
		return ch, nil
	}
	log := c.logger().With("product", line)
	v, _, err := c.flight.do(ctx, log, "chain/"+line, func() (any, error) {
		path := c.diskPath("cert_chain", line, line+".pem")
		if path != "" {
			if b, err := readFileLimited(path, maxChainSize); err == nil {
				if ch, err := check(b); err == nil {
					c.stats.diskHits.Add(1)
					log.DebugContext(ctx, "cert chain from disk cache", "path", path)
					c.putChain(line, ch)
					return ch, nil
				} else {
					log.InfoContext(ctx, "ignoring invalid cert chain cache file; it will be replaced", "path", path, "err", err)
				}
			}
		}
		url, err := CertChainURL(c.baseURL(), line)
		if err != nil {
			return nil, err
		}
		if c.Offline {
			return nil, fmt.Errorf("kds: cert chain for %s not in cache: %w", line, ErrOffline)
		}
		body, err := c.get(ctx, url, "cert_chain", maxChainSize)
		if err != nil {
			return nil, err
		}
		ch, err := check(body)
		if err != nil {
			log.WarnContext(ctx, "KDS returned a cert chain that fails validation; not cached", "err", err)
			return nil, fmt.Errorf("kds: cert chain from %s: %w", url, err)
		}
		c.putChain(line, ch)
		writeCache(ctx, log, path, body)
		return ch, nil
	})
	if err != nil {
		return nil, c.fail(err)
	}
	return v.(*Chain), nil
}

func (c *Client) putChain(line string, ch *Chain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chains == nil {
		c.chains = map[string]*Chain{}
	}
	c.chains[line] = ch
}

func (c *Client) chainValidNow(ch *Chain) bool {
	now := c.now()
	return !now.Before(ch.ASK.NotBefore) && !now.After(ch.ASK.NotAfter)
}

// parseChain parses PEM ASK then ARK and checks them against the pinned ARK.
func (c *Client) parseChain(b []byte, pinned *x509.Certificate) (*Chain, error) {
	var certs []*x509.Certificate
	rest := b
	for len(certs) < 3 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("kds: cert chain PEM block of type %q: %w", block.Type, ErrInvalidCertificate)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("kds: cert chain certificate %d: %v: %w", len(certs)+1, err, ErrInvalidCertificate)
		}
		certs = append(certs, cert)
	}
	if len(certs) != 2 || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("kds: cert chain must be exactly two PEM certificates (ASK, ARK): %w", ErrInvalidCertificate)
	}
	ask, ark := certs[0], certs[1]
	if !bytes.Equal(ark.Raw, pinned.Raw) {
		return nil, fmt.Errorf("kds: cert chain ARK %q is not the pinned ARK: %w", ark.Subject.CommonName, ErrInvalidCertificate)
	}
	if err := ask.CheckSignatureFrom(pinned); err != nil {
		return nil, fmt.Errorf("kds: ASK %q not signed by the pinned ARK: %v: %w", ask.Subject.CommonName, err, ErrInvalidCertificate)
	}
	// CheckSignatureFrom does not enforce critical extensions.
	if err := snp.CheckCACertificate(ask); err != nil {
		return nil, fmt.Errorf("kds: ASK: %v: %w", err, ErrInvalidCertificate)
	}
	ch := &Chain{ASK: ask, ARK: pinned}
	if !c.chainValidNow(ch) {
		return nil, fmt.Errorf("kds: ASK %q outside its validity period: %w", ask.Subject.CommonName, ErrInvalidCertificate)
	}
	return ch, nil
}

// CRL returns the product's certificate revocation list from KDS
// (/vcek/v1/{product}/crl) or the caches. A CRL is used only if it is signed by the
// pinned ARK of the product, issued by it and not past its NextUpdate; it is cached
// in memory and on disk until its NextUpdate. A CRL past its NextUpdate is rejected,
// whether cached or fetched. The returned list is shared and must not be modified.
func (c *Client) CRL(ctx context.Context, product string) (*x509.RevocationList, error) {
	line, err := ProductLine(product)
	if err != nil {
		return nil, c.fail(err)
	}
	ark, err := c.ark(line)
	if err != nil {
		return nil, c.fail(err)
	}
	c.mu.Lock()
	e := c.crls[line]
	c.mu.Unlock()
	if e != nil && c.crlFresh(e.crl) == nil {
		c.stats.cacheHits.Add(1)
		return e.crl, nil
	}
	log := c.logger().With("product", line)
	v, _, err := c.flight.do(ctx, log, "crl/"+line, func() (any, error) {
		path := c.diskPath("crl", line, line+".crl")
		if path != "" {
			if b, err := readFileLimited(path, maxCRLSize); err == nil {
				if crl, err := c.parseCRL(b, ark); err == nil {
					c.stats.diskHits.Add(1)
					log.DebugContext(ctx, "CRL from disk cache", "path", path, "next_update", crl.NextUpdate)
					c.putCRL(line, crl)
					return crl, nil
				} else {
					log.InfoContext(ctx, "ignoring unusable CRL cache file; it will be replaced", "path", path, "err", err)
				}
			}
		}
		if c.Offline {
			return nil, fmt.Errorf("kds: no current CRL for %s in cache: %w", line, ErrOffline)
		}
		url, err := CRLURL(c.baseURL(), line)
		if err != nil {
			return nil, err
		}
		body, err := c.get(ctx, url, "CRL", maxCRLSize)
		if err != nil {
			return nil, err
		}
		der := derOrPEM(body, "X509 CRL")
		crl, err := c.parseCRL(der, ark)
		if err != nil {
			log.WarnContext(ctx, "KDS returned a CRL that fails validation; not cached", "err", err)
			return nil, fmt.Errorf("kds: CRL from %s: %w", url, err)
		}
		log.InfoContext(ctx, "CRL fetched from KDS", "revoked", len(crl.RevokedCertificateEntries), "next_update", crl.NextUpdate)
		c.putCRL(line, crl)
		writeCache(ctx, log, path, der)
		return crl, nil
	})
	if err != nil {
		return nil, c.fail(err)
	}
	return v.(*x509.RevocationList), nil
}

func (c *Client) putCRL(line string, crl *x509.RevocationList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crls == nil {
		c.crls = map[string]*crlEntry{}
	}
	c.crls[line] = &crlEntry{crl: crl}
}

// crlFresh reports an error when crl is past its NextUpdate (or has none).
func (c *Client) crlFresh(crl *x509.RevocationList) error {
	if crl.NextUpdate.IsZero() {
		return fmt.Errorf("kds: CRL has no NextUpdate: %w", ErrInvalidCertificate)
	}
	if now := c.now(); !now.Before(crl.NextUpdate) {
		return fmt.Errorf("kds: CRL expired at %s: %w", crl.NextUpdate.UTC().Format(time.RFC3339), ErrInvalidCertificate)
	}
	return nil
}

// parseCRL parses a DER CRL and checks issuer, signature (pinned ARK) and freshness.
func (c *Client) parseCRL(der []byte, ark *x509.Certificate) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("kds: CRL does not parse: %v: %w", err, ErrInvalidCertificate)
	}
	if !bytes.Equal(crl.RawIssuer, ark.RawSubject) {
		return nil, fmt.Errorf("kds: CRL issuer %q is not the pinned ARK %q: %w", crl.Issuer.String(), ark.Subject.String(), ErrInvalidCertificate)
	}
	if err := crl.CheckSignatureFrom(ark); err != nil {
		return nil, fmt.Errorf("kds: CRL not signed by the pinned ARK: %v: %w", err, ErrInvalidCertificate)
	}
	if err := c.crlFresh(crl); err != nil {
		return nil, err
	}
	return crl, nil
}

// CheckRevoked fetches the product's CRL (see CRL) and returns a *RevokedError
// (matching ErrRevoked) for the first certificate whose serial number the CRL lists.
// Pass the ASK and the VCEK. Any error getting the CRL is returned as is, so callers
// can tell "revoked" from "could not check" (e.g. ErrOffline).
func (c *Client) CheckRevoked(ctx context.Context, product string, certs ...*x509.Certificate) error {
	crl, err := c.CRL(ctx, product)
	if err != nil {
		return err
	}
	for _, cert := range certs {
		if cert == nil || cert.SerialNumber == nil {
			return c.fail(fmt.Errorf("kds: CheckRevoked: nil certificate or serial: %w", ErrInvalidRequest))
		}
		for _, entry := range crl.RevokedCertificateEntries {
			if entry.SerialNumber != nil && entry.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return c.fail(&RevokedError{
					Serial:    new(big.Int).Set(cert.SerialNumber),
					Subject:   cert.Subject.String(),
					RevokedAt: entry.RevocationTime,
				})
			}
		}
	}
	return nil
}

func writeCache(ctx context.Context, log *slog.Logger, path string, data []byte) {
	if path == "" {
		return
	}
	if err := writeFileAtomic(path, data); err != nil {
		log.WarnContext(ctx, "could not write the disk cache", "path", path, "err", err)
	}
}
