package collateral

import (
	"context"
	"errors"
	"time"

	"github.com/snp-vtpm/snp-vtpm/kds"
)

// negCache remembers failed fetches by key until a deadline: at most max
// entries; when full, expired entries go first, then the one that expires
// soonest. Not safe for concurrent use; the Chain guards it with its mutex.
type negCache struct {
	max   int
	items map[string]negEntry
}

type negEntry struct {
	err   error
	until time.Time
}

func (n *negCache) get(key string, now time.Time) (negEntry, bool) {
	e, ok := n.items[key]
	if !ok {
		return negEntry{}, false
	}
	if !now.Before(e.until) {
		delete(n.items, key)
		return negEntry{}, false
	}
	return e, true
}

func (n *negCache) put(key string, e negEntry, now time.Time) {
	if n.items == nil {
		n.items = map[string]negEntry{}
	}
	if _, ok := n.items[key]; !ok && len(n.items) >= n.max {
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
		if len(n.items) >= n.max && soonest != "" {
			delete(n.items, soonest)
		}
	}
	n.items[key] = e
}

// negTTL returns how long a failure err of a fetch is remembered, or 0 if
// it is not. Failures that say something about the certificate (KDS has
// none: 404 and other final 4xx; what it served is not a VCEK for the
// request) are remembered for NegativeTTL; failures of the path to it
// (network errors, 408, 429, 5xx after the retries) for
// TransientNegativeTTL. Never remembered: a cancelled or expired context, a
// refusal of the Limiter (nothing was asked), Offline, and rejections by a
// caller's Validate (they depend on the caller and on the report, which an
// attacker chooses).
func (c *Chain) negTTL(err error) time.Duration {
	var herr *kds.HTTPError
	var verr *validatorError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrUpstreamLimited), errors.Is(err, ErrOffline), errors.As(err, &verr):
		return 0
	case errors.As(err, &herr) && !kds.RetryableStatus(herr.StatusCode),
		errors.Is(err, ErrInvalidCertificate):
		return ttlOr(c.NegativeTTL, DefaultNegativeTTL)
	}
	return ttlOr(c.TransientNegativeTTL, DefaultTransientNegativeTTL)
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
	now := c.now()
	c.mu.Lock()
	e, ok := c.negLocked().get(key, now)
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return &WaitError{Kind: ErrRecentFailure, What: "VCEK", Err: e.err, Wait: e.until.Sub(now)}, true
}

// negPut remembers the failure err of key for its back-off (if any).
func (c *Chain) negPut(key string, err error) {
	ttl := c.negTTL(err)
	if ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	c.negLocked().put(key, negEntry{err: err, until: now.Add(ttl)}, now)
	c.mu.Unlock()
}

// negLocked returns the negative cache, creating it on first use. c.mu
// must be held.
func (c *Chain) negLocked() *negCache {
	if c.neg == nil {
		size := c.NegativeCacheSize
		if size <= 0 {
			size = DefaultNegativeCacheSize
		}
		c.neg = &negCache{max: size}
	}
	return c.neg
}
