package kds

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// lru is a bounded least-recently-used map of DER blobs. Not safe for concurrent
// use; the Client guards it with its mutex.
type lru struct {
	max   int
	order *list.List // front = most recent; values are *lruItem
	items map[string]*list.Element
}

type lruItem struct {
	key string
	val []byte
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (l *lru) get(key string) ([]byte, bool) {
	e, ok := l.items[key]
	if !ok {
		return nil, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruItem).val, true
}

func (l *lru) put(key string, val []byte) {
	if e, ok := l.items[key]; ok {
		e.Value.(*lruItem).val = val
		l.order.MoveToFront(e)
		return
	}
	l.items[key] = l.order.PushFront(&lruItem{key: key, val: val})
	for l.order.Len() > l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.items, oldest.Value.(*lruItem).key)
	}
}

func (l *lru) len() int { return l.order.Len() }

// vcekLRU returns the memory cache, creating it on first use. c.mu must be held.
func (c *Client) vcekLRU() *lru {
	if c.vceks == nil {
		size := c.MemoryCacheSize
		if size <= 0 {
			size = DefaultMemoryCacheSize
		}
		c.vceks = newLRU(size)
	}
	return c.vceks
}

func (c *Client) memGet(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vcekLRU().get(key)
}

func (c *Client) memPut(key string, der []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vcekLRU().put(key, der)
}

// flightGroup makes concurrent calls for the same key share one execution.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	val  any
	err  error
	// leaderCtxDone records that the leader's own context had ended when fn returned,
	// so its error says nothing about the waiters' chances.
	leaderCtxDone bool
}

// do runs fn once for all concurrent callers of key. The first caller (the leader)
// runs fn with its own context; the others wait for its result or for their own
// context to end. If the leader failed only because its context ended, a waiter
// whose context is still live takes over. leader reports whether this caller ran fn.
// log (optional) gets a debug line when a caller joins a fetch in flight.
func (g *flightGroup) do(ctx context.Context, log *slog.Logger, key string, fn func() (any, error)) (val any, leader bool, err error) {
	for {
		g.mu.Lock()
		if g.calls == nil {
			g.calls = map[string]*flightCall{}
		}
		if call, ok := g.calls[key]; ok {
			g.mu.Unlock()
			if log != nil {
				log.DebugContext(ctx, "waiting for a fetch in flight", "key", key)
			}
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, false, fmt.Errorf("kds: waiting for a shared fetch: %w", ctx.Err())
			}
			if call.err != nil && call.leaderCtxDone && ctx.Err() == nil {
				continue // the leader gave up; try again as a leader
			}
			return call.val, false, call.err
		}
		call := &flightCall{done: make(chan struct{})}
		g.calls[key] = call
		g.mu.Unlock()

		func() {
			defer func() {
				// fn must not panic, but if it does, release the waiters first.
				if r := recover(); r != nil {
					call.err = fmt.Errorf("kds: internal error: %v", r)
					g.finish(key, call)
					panic(r)
				}
			}()
			call.val, call.err = fn()
		}()
		call.leaderCtxDone = ctx.Err() != nil
		g.finish(key, call)
		return call.val, true, call.err
	}
}

func (g *flightGroup) finish(key string, call *flightCall) {
	g.mu.Lock()
	if g.calls[key] == call {
		delete(g.calls, key)
	}
	g.mu.Unlock()
	close(call.done)
}

// diskPath returns CacheDir/kind/line/name, or "" without a CacheDir.
func (c *Client) diskPath(kind, line, name string) string {
	if c.CacheDir == "" {
		return ""
	}
	return filepath.Join(c.CacheDir, kind, line, name)
}

// readFileLimited reads a cache file of at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("cache file larger than %d bytes", limit)
	}
	if len(b) == 0 {
		return nil, errors.New("empty cache file")
	}
	return b, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see either the old or the new file whole.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ErrRecentFailure: the certificate's fetch failed recently and is not tried
// again until its back-off ends (see Client.NegativeTTL). Matched by
// *RecentFailureError, which also matches the original failure.
var ErrRecentFailure = errors.New("kds: fetch failed recently")

// RecentFailureError is returned, without any request, for a certificate
// whose fetch failed less than its back-off ago. It wraps that failure, so
// errors.Is matches the same sentinels as the first call's error
// (ErrNotFound, ErrInvalidCertificate, ...), and it matches ErrRecentFailure.
type RecentFailureError struct {
	// Err is the remembered failure.
	Err error
	// Wait is how long until the back-off ends.
	Wait time.Duration
}

// Error implements error.
func (e *RecentFailureError) Error() string {
	return fmt.Sprintf("%v (remembered; not asked again for %s)", e.Err, waitString(e.Wait))
}

// Unwrap returns the remembered failure.
func (e *RecentFailureError) Unwrap() error { return e.Err }

// Is reports whether target is ErrRecentFailure.
func (e *RecentFailureError) Is(target error) bool { return target == ErrRecentFailure }

// RetryDelay is how long until the back-off ends.
func (e *RecentFailureError) RetryDelay() time.Duration { return e.Wait }

// negCache remembers failed fetches by key until a deadline: at most max
// entries; when full, expired entries go first, then the one that expires
// soonest. Not safe for concurrent use; the Client guards it with its mutex.
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
// none: 404 and other final 4xx; what it served is not a VCEK for the URL)
// are remembered for NegativeTTL; failures of the path to it (network
// errors, 408, 429, 5xx after the retries) for TransientNegativeTTL. Never
// remembered: a cancelled or expired context, a refusal of the Limiter
// (nothing was asked), Offline, and rejections by a caller's Validate (they
// depend on the caller and on the report, which an attacker chooses).
func (c *Client) negTTL(err error) time.Duration {
	var herr *HTTPError
	var verr *validatorError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrUpstreamLimited), errors.Is(err, ErrOffline), errors.As(err, &verr):
		return 0
	case errors.As(err, &herr) && !retryableStatus(herr.StatusCode),
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
func (c *Client) negGet(key string) (error, bool) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.negLocked().get(key, now)
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return &RecentFailureError{Err: e.err, Wait: e.until.Sub(now)}, true
}

// negPut remembers the failure err of key for its back-off (if any).
func (c *Client) negPut(key string, err error) {
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
func (c *Client) negLocked() *negCache {
	if c.neg == nil {
		size := c.NegativeCacheSize
		if size <= 0 {
			size = DefaultNegativeCacheSize
		}
		c.neg = &negCache{max: size}
	}
	return c.neg
}
