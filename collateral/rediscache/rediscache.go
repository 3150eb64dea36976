// Package rediscache is the collateral cache of a fleet of verifiers: a
// collateral.Locker kept in Redis, so that a VCEK, cert chain or CRL that
// one replica fetched and validated is reused by every replica, and a cold
// fleet sends one request to AMD KDS per chip and TCB, not one per replica.
// It is also a collateral.IntelStore: Intel's TDX collateral (TCB info per
// FMSPC, QE identity, PCK CRL per CA, root CA CRL, with their issuer
// chains) that one replica fetched from Intel PCS and verified, kept until
// the item's nextUpdate and verified again by each replica that reads it.
//
// Redis is trusted with availability, not integrity: the Chain stores
// here only what it validated against the pinned roots, and validates
// again what it reads back (a forged or other chip's certificate written
// into Redis is passed over and replaced by a fresh fetch). Entries expire
// with the certificate (NotAfter; a CRL's NextUpdate; an ASK's NotAfter),
// bounded by MaxTTL. Concurrent misses of the replicas are coalesced with
// a short lock (SET NX PX), renewed while its holder's fetch runs; a
// crashed holder's lock expires by itself.
// When Redis is down, Get and TryLock fail, counted in Stats, and the
// Chain goes on to the next source: verification does not fail for it.
//
// VLEKs are not fetched from KDS (AMD issues them to the cloud provider;
// they come with the evidence), so they never reach a cache.
package rediscache

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/kds"
)

// Defaults of the zero Cache fields.
const (
	// DefaultMaxTTL bounds how long an entry is kept, whatever the
	// certificate's own expiry.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultLockTTL is how long a replica's fetch lock lasts once its
	// holder stops renewing it without releasing it (a crashed replica):
	// the others then fetch themselves. While the holder's fetch runs the
	// lock is renewed (every third of LockTTL), however long KDS or the
	// PCS takes with its retries, back-off and Retry-After.
	DefaultLockTTL = 10 * time.Second
	// DefaultPrefix starts every key without a Prefix.
	DefaultPrefix = "snp-vtpm:"
)

var (
	_ collateral.Locker     = (*Cache)(nil)
	_ collateral.IntelStore = (*Cache)(nil)
)

// Cache is a collateral.Locker in Redis. Put it among a Chain's local
// sources after the Memory (Memory, Cache, [Disk], KDS). Its fields must
// not change after first use; it is safe for concurrent use.
type Cache struct {
	// Client is the Redis connection (standalone Redis or a primary).
	Client redis.Cmdable
	// Prefix starts every key ({Prefix}col:…); empty means DefaultPrefix.
	Prefix string
	// MaxTTL bounds an entry's lifetime; 0 means DefaultMaxTTL.
	MaxTTL time.Duration
	// LockTTL is the lifetime of a fetch lock that is no longer renewed;
	// 0 means DefaultLockTTL.
	LockTTL time.Duration
	// Now returns the current time (entry lifetimes); nil means time.Now.
	Now func() time.Time

	hits, misses, errs, stores, locks, renewals, trips atomic.Int64
}

// Stats are the cumulative counters of a Cache.
type Stats struct {
	// Hits counts entries read (before the Chain validated them).
	Hits int64
	// Misses counts keys Redis did not have.
	Misses int64
	// Errors counts Redis commands that failed (Redis down, timeouts).
	Errors int64
	// Stores counts entries written.
	Stores int64
	// Locks counts fetch locks taken.
	Locks int64
	// LockRenewals counts the times a fetch lock was renewed while its
	// fetch ran.
	LockRenewals int64
	// RoundTrips counts the commands sent to Redis (each one round trip).
	RoundTrips int64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errs.Load(), Stores: c.stores.Load(), Locks: c.locks.Load(), LockRenewals: c.renewals.Load(), RoundTrips: c.trips.Load()}
}

// Name implements collateral.Source.
func (c *Cache) Name() string { return "Redis" }

func (c *Cache) prefix() string {
	if c.Prefix == "" {
		return DefaultPrefix
	}
	return c.Prefix
}

// Key returns the Redis key of kind for k: the VCEK's product line,
// hardware id and TCB parts, or the product line of a cert chain, a VCEK
// CRL ({Prefix}col:crl:{line}) or a VLEK CRL ({Prefix}col:vlekcrl:{line}).
func (c *Cache) Key(kind collateral.Kind, k *collateral.Key) string {
	switch kind {
	case collateral.KindVCEK:
		return c.prefix() + "col:vcek:" + k.String()
	case collateral.KindCertChain:
		return c.prefix() + "col:chain:" + k.Product
	case collateral.KindVLEKCRL:
		return c.prefix() + "col:vlekcrl:" + k.Product
	}
	return c.prefix() + "col:crl:" + k.Product
}

func maxSize(kind collateral.Kind) int {
	switch kind {
	case collateral.KindVCEK:
		return kds.MaxVCEKSize
	case collateral.KindCertChain:
		return kds.MaxChainSize
	}
	return kds.MaxCRLSize
}

// Get implements collateral.Source: the entry, unvalidated (the Chain
// validates it), or an error wrapping collateral.ErrMiss.
func (c *Cache) Get(ctx context.Context, kind collateral.Kind, q *collateral.Query) ([]byte, error) {
	return c.get(ctx, c.Key(kind, q.Key), maxSize(kind))
}

// get reads the entry of key, of 1 to limit bytes.
func (c *Cache) get(ctx context.Context, key string, limit int) ([]byte, error) {
	c.trips.Add(1)
	b, err := c.Client.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		c.misses.Add(1)
		return nil, fmt.Errorf("rediscache: no entry: %w", collateral.ErrMiss)
	case err != nil:
		c.errs.Add(1)
		return nil, fmt.Errorf("rediscache: reading the fleet cache: %w", err)
	}
	c.hits.Add(1)
	if len(b) == 0 || len(b) > limit {
		return nil, fmt.Errorf("rediscache: entry of %d bytes (at most %d)", len(b), limit)
	}
	return b, nil
}

// Store implements collateral.Store: data, which the Chain validated, is
// kept until its own expiry or MaxTTL, whichever comes first. Data whose
// expiry cannot be read, or which has expired, is not kept.
func (c *Cache) Store(ctx context.Context, kind collateral.Kind, k *collateral.Key, data []byte) {
	exp, err := expiry(kind, data)
	if err != nil {
		return
	}
	c.set(ctx, c.Key(kind, k), data, exp)
}

// expiry returns when data stops being valid: a VCEK's NotAfter, a cert
// chain's earliest NotAfter, a CRL's (VCEK or VLEK) NextUpdate.
func expiry(kind collateral.Kind, data []byte) (time.Time, error) {
	switch kind {
	case collateral.KindVCEK:
		cert, err := x509.ParseCertificate(data)
		if err != nil {
			return time.Time{}, err
		}
		return cert.NotAfter, nil
	case collateral.KindCertChain:
		cs, err := certs.ParsePEM(data)
		if err != nil || len(cs) == 0 {
			return time.Time{}, fmt.Errorf("rediscache: cert chain: %v", err)
		}
		exp := cs[0].NotAfter
		for _, c := range cs[1:] {
			if c.NotAfter.Before(exp) {
				exp = c.NotAfter
			}
		}
		return exp, nil
	}
	crl, err := certs.ParseCRL(data)
	if err != nil {
		return time.Time{}, err
	}
	return crl.NextUpdate, nil
}

// IntelKey returns the Redis key of an Intel collateral item
// ({Prefix}col:intel:{name}).
func (c *Cache) IntelKey(name string) string { return c.prefix() + "col:intel:" + name }

// GetIntel implements collateral.IntelStore: the entry, unverified (the
// collateral.Intel verifies it), or an error wrapping collateral.ErrMiss.
func (c *Cache) GetIntel(ctx context.Context, name string) ([]byte, error) {
	return c.get(ctx, c.IntelKey(name), collateral.MaxIntelEntrySize)
}

// StoreIntel implements collateral.IntelStore: entry, which verified, is
// kept until expires (the item's nextUpdate) or MaxTTL, whichever comes
// first; an entry that has expired is not kept.
func (c *Cache) StoreIntel(ctx context.Context, name string, entry []byte, expires time.Time) {
	c.set(ctx, c.IntelKey(name), entry, expires)
}

// set keeps data under key until exp or MaxTTL, whichever comes first.
func (c *Cache) set(ctx context.Context, key string, data []byte, exp time.Time) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	maxTTL := c.MaxTTL
	if maxTTL <= 0 {
		maxTTL = DefaultMaxTTL
	}
	ttl := min(exp.Sub(now), maxTTL)
	if ttl < time.Millisecond {
		return
	}
	c.trips.Add(1)
	if err := c.Client.Set(ctx, key, data, ttl).Err(); err != nil {
		c.errs.Add(1)
		return
	}
	c.stores.Add(1)
}

// unlockScript deletes the lock only if it is still the caller's (it may
// have expired and been taken by another replica).
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// renewScript gives the lock LockTTL again (ARGV[2], milliseconds) only if
// it is still the caller's.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// TryLock implements collateral.Locker: SET {Prefix}col:lock:{name} token
// NX PX LockTTL. A lock taken is renewed every LockTTL/3 until unlock is
// called, ctx ends, or it is found no longer the caller's: a fetch longer
// than LockTTL (KDS's retries and back-off, up to minutes) keeps the other
// replicas waiting for its result instead of fetching the same item,
// while a crashed holder's lock still expires within LockTTL.
func (c *Cache) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, false, err
	}
	token := hex.EncodeToString(tok[:])
	ttl := c.LockTTL
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	key := c.prefix() + "col:lock:" + name
	c.trips.Add(1)
	ok, err = c.Client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		c.errs.Add(1)
		return nil, false, fmt.Errorf("rediscache: taking the fetch lock: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	c.locks.Add(1)
	renewCtx, stopRenewing := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go c.renew(renewCtx, key, token, ttl, stopped)
	var once sync.Once
	return func() {
		once.Do(func() {
			stopRenewing() // a renewal in flight is cancelled
			<-stopped
			// Not the caller's context: it may have ended, and a lock left
			// behind only delays the other replicas until it expires.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			c.trips.Add(1)
			if err := unlockScript.Run(ctx, c.Client, []string{key}, token).Err(); err != nil {
				c.errs.Add(1)
			}
		})
	}, true, nil
}

// renew gives the lock key (held with token) ttl again every ttl/3 until
// ctx ends (unlock, or the holder's context) or the lock is no longer
// token's (it expired and another replica took it, or it was deleted);
// then it closes stopped. A renewal that fails (Redis down) is counted
// and tried again at the next tick: the lock lasts ttl from the last one
// that succeeded.
func (c *Cache) renew(ctx context.Context, key, token string, ttl time.Duration, stopped chan<- struct{}) {
	defer close(stopped)
	every := max(ttl/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, min(every, time.Second))
		c.trips.Add(1)
		n, err := renewScript.Run(rctx, c.Client, []string{key}, token, ttl.Milliseconds()).Int64()
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			c.errs.Add(1)
		case n == 0:
			return // no longer ours
		default:
			c.renewals.Add(1)
		}
	}
}
