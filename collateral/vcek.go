package collateral

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// GetVCEK returns the DER VCEK of req.ChipID at req.ReportedTCB from the
// first source that has one that validates: its product line, hwID and TCB
// extensions match the request and req.Validate (if set) accepts it. It is
// then stored in the Stores before that source. Concurrent calls for the
// same VCEK share one upstream fetch, and a failed fetch is remembered for
// a short back-off (NegativeTTL, TransientNegativeTTL) during which calls
// for the same VCEK fail at once. Errors that say nothing about the
// certificate (network, 5xx, 429, the Limiter) wrap
// verify.ErrCertificateUnavailable. The returned slice is the caller's own.
func (c *Chain) GetVCEK(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
	der, _, err := c.VCEKFrom(ctx, req)
	return der, err
}

// VCEKFrom is GetVCEK that also returns the Name of the source that
// supplied the VCEK (a shared fetch names the leader's source).
func (c *Chain) VCEKFrom(ctx context.Context, req verify.VCEKRequest) (der []byte, source string, err error) {
	der, source, err = c.getVCEK(ctx, req)
	if err != nil {
		return nil, "", c.fail(unavailable(ctx, err))
	}
	return der, source, nil
}

func (c *Chain) getVCEK(ctx context.Context, req verify.VCEKRequest) ([]byte, string, error) {
	k, err := NewKey(req.Product, req.ChipID, req.ReportedTCB)
	if err != nil {
		return nil, "", err
	}
	validate := func(der []byte) error {
		if req.Validate != nil {
			if err := req.Validate(der); err != nil {
				return &validatorError{err}
			}
		}
		return nil
	}
	check := func(der []byte) error {
		if _, err := kds.MatchVCEK(der, k.Product, k.ChipID, k.TCB); err != nil {
			return err
		}
		return validate(der)
	}
	log := c.logger().With("product", k.Product, "hwid", hex.EncodeToString(k.HWID), "tcb", k.Parts.String())
	local, up := c.split()
	q := &Query{Key: k, Upstream: c.upstream}
	if l, ok := c.fromLocal(ctx, log, local, q, check); ok {
		return clone(l.der), l.from, nil
	}
	if len(up) == 0 {
		return nil, "", fmt.Errorf("collateral: no VCEK for %s chip %s at TCB %s in the cache: %w", k.Product, shortHex(k.HWID), k.Parts, ErrOffline)
	}
	key := k.String()
	if err, ok := c.negGet(key); ok {
		c.stats.negHits.Add(1)
		log.DebugContext(ctx, "VCEK fetch failed recently; not asking again yet", "err", err)
		return nil, "", err
	}
	v, leader, err := c.flight.do(ctx, log, "vcek/"+key, func() (any, error) {
		if err, ok := c.negGet(key); ok {
			// A leader that finished just before this one started failed.
			c.stats.negHits.Add(1)
			return nil, err
		}
		if l, ok := c.fromLocal(ctx, log, local, q, check); ok {
			return l, nil
		}
		unlock, l, ok, err := fleetLock(c, ctx, log, local, "vcek/"+key, func() (loaded, bool) {
			return c.fromLocal(ctx, log, local, q, check)
		})
		if ok || err != nil {
			return l, err
		}
		defer unlock()
		l, err = c.fromUpstream(ctx, log, up, local, q, check)
		if err != nil && ctx.Err() == nil {
			// Remembered before the waiters are released (no caller after
			// them asks again within the back-off; they are told it too).
			err = c.negPut(ctx, key, "VCEK", err)
		}
		return l, err
	})
	if err != nil {
		return nil, "", err
	}
	l := v.(loaded)
	if leader && l.rejected != nil {
		return nil, "", l.rejected
	}
	if !leader {
		// Validated with another caller's Validate, or rejected by it: apply
		// this caller's. A certificate that matches the request but that the
		// leader's Validate rejected was not cached; it is cached once a
		// caller's Validate accepts it.
		if err := check(l.der); err != nil {
			return nil, "", err
		}
		if !l.validated {
			store(ctx, KindVCEK, k, l.der, local)
		}
	}
	return clone(l.der), l.from, nil
}

func shortHex(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// fromLocal asks the local sources in order; a VCEK that passes check is
// stored in the stores before its source.
func (c *Chain) fromLocal(ctx context.Context, log *slog.Logger, local []Source, q *Query, check func([]byte) error) (loaded, bool) {
	for i, s := range local {
		der, err := s.Get(ctx, KindVCEK, q)
		if err != nil {
			if !errors.Is(err, ErrMiss) {
				log.InfoContext(ctx, "ignoring an unreadable VCEK", "source", s.Name(), "err", err)
			}
			continue
		}
		if err := check(der); err != nil {
			// Another caller's validator may have accepted it, or the file is
			// corrupt: look further (it is replaced if a later source has one).
			log.InfoContext(ctx, "VCEK fails validation; looking further", "source", s.Name(), "err", err)
			continue
		}
		c.hit(s)
		log.DebugContext(ctx, "VCEK from "+s.Name())
		store(ctx, KindVCEK, q.Key, der, local[:i])
		return loaded{der: der, validated: true, from: s.Name()}, true
	}
	return loaded{}, false
}

// loaded is the outcome of a shared fetch: a VCEK matching the request
// (chip id, TCB, product line), and whether the leader's Validate accepted it.
type loaded struct {
	der       []byte
	validated bool
	rejected  error  // why the leader's Validate rejected der
	from      string // the Name of the source of der
}

// validatorError is a rejection by the caller's Validate: it depends on the
// caller (and on the report, which an attacker chooses), so it is never
// remembered nor shared with another caller.
type validatorError struct{ err error }

func (e *validatorError) Error() string {
	return "collateral: VCEK rejected by the validator: " + e.err.Error()
}

func (e *validatorError) Unwrap() error { return e.err }

// fromUpstream asks the upstream sources in order (one leader per key at a
// time). A source that fails or offers a VCEK that does not validate is
// passed over; the outcome of the last one tried is returned. What
// validates is stored in every local Store.
func (c *Chain) fromUpstream(ctx context.Context, log *slog.Logger, up, local []Source, q *Query, check func([]byte) error) (loaded, error) {
	var last loaded
	var lastErr error
	for _, s := range up {
		der, err := s.Get(ctx, KindVCEK, q)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrUpstreamLimited) {
				return loaded{}, err
			}
			log.InfoContext(ctx, s.Name()+" has no VCEK", "err", err)
			last, lastErr = loaded{}, err
			continue
		}
		if err := check(der); err != nil {
			var verr *validatorError
			if errors.As(err, &verr) {
				// The source answered; this caller's Validate rejects the
				// certificate. Another caller sharing the fetch may accept it.
				log.InfoContext(ctx, "VCEK from "+s.Name()+" rejected by the validator; not cached", "err", err)
				last, lastErr = loaded{der: der, rejected: err, from: s.Name()}, nil
				continue
			}
			log.WarnContext(ctx, s.Name()+" returned a VCEK that does not match the request; not cached", "err", err)
			last, lastErr = loaded{}, fmt.Errorf("collateral: VCEK from %s: %w", s.Name(), err)
			continue
		}
		c.hit(s)
		log.InfoContext(ctx, "VCEK from "+s.Name())
		store(ctx, KindVCEK, q.Key, der, local)
		return loaded{der: der, validated: true, from: s.Name()}, nil
	}
	return last, lastErr
}
