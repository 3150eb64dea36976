package collateral

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/kds"
)

// MaxNegativeRetryAfter bounds how long a Retry-After of AMD KDS or of
// Intel's PCS (429 or 503) keeps a failure remembered.
const MaxNegativeRetryAfter = 10 * time.Minute

// negCache remembers failed fetches by key until a deadline, each as
// the *WaitError to give the callers that come within its back-off: at
// most a given number of entries; when full, expired entries go first,
// then the one that expires soonest. Safe for concurrent use; its zero
// value is empty. The Chain (VCEKs) and the Intel (PCS items) each hold
// one.
type negCache struct {
	mu    sync.Mutex
	items map[string]negEntry
}

type negEntry struct {
	err   error
	until time.Time
}

// get returns the remembered failure of key, naming what failed, as a
// *WaitError of Kind ErrRecentFailure that says how long the back-off
// lasts after now; false if there is none or it has ended.
func (n *negCache) get(key, what string, now time.Time) (error, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.items[key]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(n.items, key)
		return nil, false
	}
	return &WaitError{Kind: ErrRecentFailure, What: what, Err: e.err, Wait: e.until.Sub(now)}, true
}

// put remembers the failure err of key, naming what failed, from now for
// ttl (> 0), keeping at most size entries (0: DefaultNegativeCacheSize),
// and returns the error for the caller whose fetch failed (and those that
// shared it): a *WaitError of Kind ErrFetchFailed wrapping err that says
// when upstream is asked again, so that serve answers 503 with that
// Retry-After to the first caller too. Calls within the back-off get
// ErrRecentFailure from get. The Chain and the Intel share this rule.
func (n *negCache) put(key, what string, err error, ttl time.Duration, now time.Time, size int) error {
	if size <= 0 {
		size = DefaultNegativeCacheSize
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.items == nil {
		n.items = map[string]negEntry{}
	}
	if _, ok := n.items[key]; !ok && len(n.items) >= size {
		var soonest string
		for k, old := range n.items {
			if !now.Before(old.until) {
				delete(n.items, k)
				continue
			}
			if soonest == "" || old.until.Before(n.items[soonest].until) {
				soonest = k
			}
		}
		if len(n.items) >= size && soonest != "" {
			delete(n.items, soonest)
		}
	}
	n.items[key] = negEntry{err: err, until: now.Add(ttl)}
	return &WaitError{Kind: ErrFetchFailed, What: what, Err: err, Wait: ttl}
}

// negTTL returns how long a failure err of a fetch is remembered, or 0 if
// it is not. Failures that say something about the certificate (KDS has
// none: 404 and other final 4xx; what it served is not a VCEK for the
// request) are remembered for NegativeTTL; failures of the path to it
// (network errors, an attempt that timed out, 408, 429, 5xx after the
// retries) for TransientNegativeTTL, or for the Retry-After KDS asked if
// longer (at most MaxNegativeRetryAfter), also when that Retry-After was
// not waited for because it passed the caller's deadline. Never
// remembered: a failure while the caller's context ended, a refusal of the
// Limiter (nothing was asked), Offline, and rejections by a caller's
// Validate (they depend on the caller and on the report, which an attacker
// chooses).
func (c *Chain) negTTL(ctx context.Context, err error) time.Duration {
	var herr *kds.HTTPError
	var verr *validatorError
	switch {
	case ctx.Err() != nil, errors.Is(err, context.Canceled),
		errors.Is(err, ErrUpstreamLimited), errors.Is(err, ErrOffline), errors.As(err, &verr):
		return 0
	case errors.As(err, &herr) && !kds.RetryableStatus(herr.StatusCode),
		errors.Is(err, ErrInvalidCertificate):
		return ttlOr(c.NegativeTTL, DefaultNegativeTTL)
	}
	return transientTTL(c.TransientNegativeTTL, err)
}

// transientTTL is how long a failure err on the way to an upstream
// server is remembered: ttl (0: DefaultTransientNegativeTTL, negative:
// not at all), or the Retry-After of the server's last answer if longer,
// at most MaxNegativeRetryAfter.
func transientTTL(ttl time.Duration, err error) time.Duration {
	ttl = ttlOr(ttl, DefaultTransientNegativeTTL)
	var herr *httpget.HTTPError
	if ttl > 0 && errors.As(err, &herr) && herr.RetryAfter > ttl {
		ttl = min(herr.RetryAfter, MaxNegativeRetryAfter)
	}
	return ttl
}

func ttlOr(v, def time.Duration) time.Duration {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

// negGet returns the remembered failure of key, if its back-off lasts.
func (c *Chain) negGet(key string) (error, bool) {
	return c.neg.get(key, "VCEK", c.now())
}

// negPut remembers the failure err (if not nil) of key, naming what
// failed, for its back-off (if any), and returns the error to give the
// caller: with a back-off, negCache.put's *WaitError of Kind
// ErrFetchFailed (so that serve answers 503 with that Retry-After to the
// first caller too, not only to those that come within the back-off);
// else err.
func (c *Chain) negPut(ctx context.Context, key, what string, err error) error {
	if err == nil {
		return nil
	}
	ttl := c.negTTL(ctx, err)
	if ttl <= 0 {
		return err
	}
	return c.neg.put(key, what, err, ttl, c.now(), c.NegativeCacheSize)
}

// negTTL is Chain.negTTL for Intel's collateral: how long the failure err
// of fetching an item from the PCS is remembered, or 0 if it is not.
// Failures that say something about the item (404 for an FMSPC, another
// final 4xx, an answer that does not verify) are remembered for
// NegativeTTL; failures of the way to it (network errors, 408, 429, 5xx
// after the retries) for TransientNegativeTTL, or for the Retry-After the
// PCS asked if longer (at most MaxNegativeRetryAfter). Never remembered: a
// failure while the caller's context ended, a refusal of the Limiter
// (nothing was asked) and Offline.
func (c *Intel) negTTL(ctx context.Context, err error) time.Duration {
	var herr *httpget.HTTPError
	switch {
	case ctx.Err() != nil, errors.Is(err, context.Canceled),
		errors.Is(err, ErrUpstreamLimited), errors.Is(err, ErrOffline):
		return 0
	case errors.As(err, &herr) && !httpget.Retryable(herr.StatusCode),
		errors.Is(err, ErrInvalidCollateral):
		return ttlOr(c.NegativeTTL, DefaultNegativeTTL)
	}
	return transientTTL(c.TransientNegativeTTL, err)
}

func (c *Intel) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// negGet returns the remembered failure of the item k, if its back-off
// lasts.
func (c *Intel) negGet(k intelKind) (error, bool) {
	err, ok := c.neg.get(k.name, k.what, c.now())
	if ok {
		c.negHits.Add(1)
	}
	return err, ok
}

// negPut remembers the failure err of the item k for its back-off (if
// any) and returns the error to give the caller: with a back-off, a
// *WaitError of Kind ErrFetchFailed wrapping err that says when the PCS
// is asked again (so that serve answers 503 with that Retry-After), as
// the Chain's first caller gets; else err.
func (c *Intel) negPut(ctx context.Context, k intelKind, err error) error {
	ttl := c.negTTL(ctx, err)
	if ttl <= 0 {
		return err
	}
	return c.neg.put(k.name, k.what, err, ttl, c.now(), c.NegativeCacheSize)
}
