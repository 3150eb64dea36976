package server

import (
	"context"
	"errors"
	"time"
)

// errStoreUnavailable means the challenge store (Redis) could not be
// reached or did not answer: the request is refused with 503 and
// Retry-After, and nothing is released.
var errStoreUnavailable = errors.New("challenge store unavailable")

// store is where outstanding challenges live: process memory (the default,
// memStore) or Redis shared by every replica (redisStore). Every method
// that reaches the network takes a context; errors that are the store's
// fault (not a verdict on the request) wrap errStoreUnavailable.
type store interface {
	// issue returns a fresh random challenge for client and its expiry,
	// or errTooManyChallenges / errClientChallenges with the time until
	// the oldest challenge concerned expires.
	issue(ctx context.Context, client string) (k challengeKey, expires time.Time, retry time.Duration, err error)
	// consume spends challenge c: exactly one of any number of concurrent
	// calls with the same challenge, on any replica, returns nil.
	consume(ctx context.Context, c []byte) error
	// outstanding returns the number of unexpired, unused challenges.
	outstanding(ctx context.Context) (int, error)
	// evict drops expired challenges the store does not expire itself
	// and returns how many it dropped.
	evict() int
	// ready reports whether the store can serve requests (/readyz).
	ready(ctx context.Context) error
	// close releases the store's connections.
	close() error
}

// memStore is the in-memory challengeStore as a store.
type memStore struct{ s *challengeStore }

func (m memStore) issue(_ context.Context, client string) (challengeKey, time.Time, time.Duration, error) {
	return m.s.issue(client)
}
func (m memStore) consume(_ context.Context, c []byte) error { return m.s.consume(c) }
func (m memStore) outstanding(context.Context) (int, error)  { return m.s.len(), nil }
func (m memStore) evict() int                                { return m.s.evict() }
func (m memStore) ready(context.Context) error               { return nil }
func (m memStore) close() error                              { return nil }
