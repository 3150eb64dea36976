// Package collateral obtains the certificates and CRLs that verify SNP
// reports: a Chain of Sources, composed by the caller, in the order
// carried (Static) → Memory → Disk → IMDS (Azure THIM) → KDS (AMD).
//
// Every certificate from every hop is validated the same way before it is
// returned or cached: a VCEK must carry the requested product line, chip id
// and TCB (kds.MatchVCEK) and pass the request's Validate (pinned chain,
// chip id, TCB: package verify); a cert chain must end in the pinned ARK; a
// CRL (the VCEK CRL, listing ASKs, or the VLEK CRL, listing ASVKs) must be
// signed by the pinned ARK and current. Caches (Memory, Disk) receive only
// what verified, and what they return is validated again.
//
// Around the upstream sources (IMDS, KDS) the Chain adds: shared fetches
// (concurrent calls for one certificate make one request; with a Locker
// among the local sources, such as the Redis cache of collateral/rediscache,
// one request for a whole fleet of replicas), a negative cache
// with back-off (a failure is not asked again within NegativeTTL), an
// upstream budget (RateLimiter: every request, retries included, takes a
// token; none is queued) and Offline (no request at all). Chain implements
// verify.VCEKGetter and verify.RevocationChecker; packages kds and imds are
// its transports, collateral/certs its certificate reader. EmulatedChain is
// the revocation checker of the emulated CVM's fake AMD chain: its own
// fake CRLs, served in process (EmulatedKDS), apart from AMD's.
package collateral

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Defaults used for zero-valued Chain (and Intel) fields.
const (
	// DefaultNegativeTTL is how long a VCEK that KDS does not have (404, an
	// unknown chip) or answers with something invalid is not asked for again
	// (an Intel collateral item: an FMSPC Intel PCS does not know, an item
	// that does not verify).
	DefaultNegativeTTL = 30 * time.Second
	// DefaultTransientNegativeTTL is how long a VCEK (or an Intel item) whose
	// fetch failed on the way (network error, 408, 429, 5xx, after the
	// retries) is not asked for again.
	DefaultTransientNegativeTTL = 5 * time.Second
	// DefaultNegativeCacheSize is the number of failed fetches remembered.
	DefaultNegativeCacheSize = 4096
)

// Sentinel errors, usable with errors.Is (with kds.ErrNotFound,
// kds.ErrInvalidCertificate, kds.ErrUnsupportedProduct, kds.ErrInvalidRequest).
var (
	// ErrOffline: the Chain is Offline (or has no upstream source) and no
	// local source has the certificate.
	ErrOffline = errors.New("offline and not cached")
	// ErrMiss: a Source does not have what was asked (not an error of the Chain).
	ErrMiss = errors.New("not in this source")
	// ErrInvalidCertificate is kds.ErrInvalidCertificate: a certificate or
	// CRL failed validation.
	ErrInvalidCertificate = kds.ErrInvalidCertificate
)

// Getter obtains the VCEK of a request; every Getter is a verify.VCEKGetter.
type Getter interface {
	GetVCEK(ctx context.Context, req verify.VCEKRequest) ([]byte, error)
}

var (
	_ Getter                   = (*Chain)(nil)
	_ verify.VCEKGetter        = (*Chain)(nil)
	_ verify.RevocationChecker = (*Chain)(nil)
)

// Chain asks its Sources in order and validates every answer. Its fields
// must not be changed after the first call; it is safe for concurrent use
// and must not be copied after first use.
type Chain struct {
	// Sources are asked in order: the local ones (those that are not
	// Upstream) first, then the Upstream ones. A Store among them receives
	// what verified from a later source.
	Sources []Source
	// Offline forbids every upstream request: only local sources answer,
	// and a miss returns an error wrapping ErrOffline.
	Offline bool
	// Limiter, when non-nil, bounds the requests sent upstream (KDS and IMDS, retries
	// included): a request it refuses is not sent and the call fails at once with an
	// error matching ErrUpstreamLimited (a *WaitError saying how long to wait).
	Limiter *RateLimiter
	// NegativeTTL is how long a failed VCEK fetch that says something about the
	// certificate (KDS answered 404 or another final 4xx, or served something that is
	// not the requested VCEK) is remembered: calls for the same VCEK within it fail at
	// once, without a request, with an error that wraps the first one (a
	// *WaitError of Kind ErrRecentFailure). A product line's cert chain and
	// CRLs (VCEK and VLEK) are remembered the same way, each on its own.
	// 0 means DefaultNegativeTTL, negative turns it off.
	NegativeTTL time.Duration
	// TransientNegativeTTL is NegativeTTL for failures on the way to KDS (network
	// errors, 408, 429, 5xx, after the retries); a longer Retry-After of KDS wins,
	// up to MaxNegativeRetryAfter. 0 means DefaultTransientNegativeTTL,
	// negative turns it off. A refusal of the Limiter, a cancelled context and a
	// rejection by the caller's Validate are never remembered.
	TransientNegativeTTL time.Duration
	// NegativeCacheSize bounds the failures remembered; 0 means DefaultNegativeCacheSize.
	NegativeCacheSize int
	// ARK returns the pinned AMD root for a product line ("Milan", "Genoa", "Turin")
	// for cert chains and CRLs; nil means the AMD roots embedded in go-sev-guest.
	// Returning nil means the product has no trusted root (kds.ErrUnsupportedProduct).
	ARK func(product string) *x509.Certificate
	// Now returns the current time for CRL and certificate validity and the
	// negative cache; nil means time.Now.
	Now func() time.Time
	// Logger receives debug and info logs; nil discards them.
	Logger *slog.Logger

	emulated bool // EmulatedChain's: its CRLs are the fake ARK's

	mu       sync.Mutex
	neg      negCache
	crls     map[string]*x509.RevocationList // VCEK CRLs by product line
	vlekCRLs map[string]*x509.RevocationList // VLEK CRLs by product line
	chains   map[string]*CertChain
	flight   flightGroup
	stats    counters
}

// Stats are cumulative counters of a Chain.
type Stats struct {
	// Fetches counts HTTP requests sent (KDS and IMDS), retries included.
	Fetches int64
	// CacheHits counts answers served from memory.
	CacheHits int64
	// DiskHits counts answers served from the disk cache.
	DiskHits int64
	// IMDSHits counts VCEKs obtained from IMDS.
	IMDSHits int64
	// Retries counts retried HTTP attempts.
	Retries int64
	// Errors counts calls that returned an error.
	Errors int64
	// NegativeHits counts calls answered by a remembered failure (no request sent).
	NegativeHits int64
	// Limited counts upstream requests the Limiter refused (not sent).
	Limited int64
	// FleetHits counts answers served by a fleet's shared cache (a Locker).
	FleetHits int64
	// LockWaits counts waits for another replica's fetch (a Locker's lock).
	LockWaits int64
	// LockErrors counts fetches made without the fleet's lock because it
	// could not be asked (Redis down).
	LockErrors int64
}

type counters struct {
	fetches, cacheHits, diskHits, imdsHits, retries, errors, negHits, limited atomic.Int64
	fleetHits, lockWaits, lockErrors                                          atomic.Int64
}

// Stats returns a snapshot of the Chain's counters.
func (c *Chain) Stats() Stats {
	return Stats{
		Fetches:      c.stats.fetches.Load(),
		CacheHits:    c.stats.cacheHits.Load(),
		DiskHits:     c.stats.diskHits.Load(),
		IMDSHits:     c.stats.imdsHits.Load(),
		Retries:      c.stats.retries.Load(),
		Errors:       c.stats.errors.Load(),
		NegativeHits: c.stats.negHits.Load(),
		Limited:      c.stats.limited.Load(),
		FleetHits:    c.stats.fleetHits.Load(),
		LockWaits:    c.stats.lockWaits.Load(),
		LockErrors:   c.stats.lockErrors.Load(),
	}
}

// hit counts an answer of s.
func (c *Chain) hit(s Source) {
	switch s.(type) {
	case *Memory:
		c.stats.cacheHits.Add(1)
	case *Disk:
		c.stats.diskHits.Add(1)
	case *IMDS:
		c.stats.imdsHits.Add(1)
	case Locker:
		c.stats.fleetHits.Add(1)
	}
}

func (c *Chain) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Chain) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ark returns the pinned ARK of a canonical product line.
func (c *Chain) ark(line string) (*x509.Certificate, error) {
	var ark *x509.Certificate
	if c.ARK != nil {
		ark = c.ARK(line)
	} else if roots := trust.DefaultRootCerts[line]; roots != nil && roots.ProductCerts != nil {
		ark = roots.ProductCerts.Ark
	}
	if ark == nil {
		return nil, fmt.Errorf("collateral: no pinned ARK for %s: %w", line, kds.ErrUnsupportedProduct)
	}
	return ark, nil
}

func (c *Chain) fail(err error) error {
	c.stats.errors.Add(1)
	return err
}

// upstream is the budget hook handed to upstream sources: the Limiter's
// token and the counters, before every request.
func (c *Chain) upstream(what string, retry bool) error {
	if err := c.Limiter.Admit(what); err != nil {
		c.stats.limited.Add(1)
		return err
	}
	c.stats.fetches.Add(1)
	if retry {
		c.stats.retries.Add(1)
	}
	return nil
}

// split returns the local and the upstream sources (none upstream when
// Offline), each in order.
func (c *Chain) split() (local, up []Source) {
	for _, s := range c.Sources {
		if _, ok := s.(Upstream); ok {
			if !c.Offline {
				up = append(up, s)
			}
			continue
		}
		local = append(local, s)
	}
	return local, up
}

// store gives data, which verified, to every Store of stores.
func store(ctx context.Context, kind Kind, k *Key, data []byte, stores []Source) {
	for _, s := range stores {
		if st, ok := s.(Store); ok {
			st.Store(ctx, kind, k, data)
		}
	}
}

// unavailable marks the errors that say nothing about the evidence (the
// source could not be reached, kept failing or is over its budget) with
// verify.ErrCertificateUnavailable, so that a verifier does not reject on
// them. Offline misses, unknown chips (404), invalid certificates and
// rejections by the caller's Validate stay verdicts.
func unavailable(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, verify.ErrRejected) || errors.Is(err, ErrOffline) ||
		errors.Is(err, kds.ErrNotFound) || errors.Is(err, kds.ErrInvalidCertificate) ||
		errors.Is(err, kds.ErrUnsupportedProduct) || errors.Is(err, kds.ErrInvalidRequest) {
		return err
	}
	var verr *validatorError
	if errors.As(err, &verr) {
		return err
	}
	return fmt.Errorf("%w: %w", verify.ErrCertificateUnavailable, err)
}

func clone(b []byte) []byte { return bytes.Clone(b) }
