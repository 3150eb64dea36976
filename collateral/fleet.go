package collateral

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Locker is a Store shared by the replicas of a fleet (a Redis cache, see
// collateral/rediscache) that also coalesces their upstream fetches: before
// asking upstream, the Chain takes the Locker's short lock for the item; a
// replica that does not get it waits (with back-off and its context),
// looking in its local sources again, until the holder has stored the item
// or the lock expired (a crashed holder), so that a cold fleet sends one
// request per item, not one per replica. What a Locker returns is validated
// like anything else: it is trusted with availability, not integrity.
type Locker interface {
	Store
	// TryLock tries to take the fetch lock of name for a short time. ok
	// reports whether it was taken (then unlock releases it); false means
	// that another replica holds it. An error means the lock could not be
	// asked: the Chain then fetches without it.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// Back-off of a replica waiting for another one's fetch.
const (
	lockPollMin = 10 * time.Millisecond
	lockPollMax = 200 * time.Millisecond
)

// locker returns the first Locker among local, or nil.
func locker(local []Source) Locker {
	for _, s := range local {
		if l, ok := s.(Locker); ok {
			return l
		}
	}
	return nil
}

// fleetLock takes the fleet-wide fetch lock of name from the first Locker
// among local (without one it returns at once, found false); see
// fleetWait.
func fleetLock[T any](c *Chain, ctx context.Context, log *slog.Logger, local []Source, name string, again func() (T, bool)) (unlock func(), v T, found bool, err error) {
	lk := locker(local)
	if lk == nil {
		return func() {}, v, false, nil
	}
	return fleetWait(ctx, log, lk, lk.Name(), name, &c.stats.lockErrors, &c.stats.lockWaits, again)
}

// fetchLocker is the lock of a Locker.
type fetchLocker interface {
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// fleetWait takes the fleet-wide fetch lock of name from lk (whose name
// is src). While another replica holds the lock it waits with back-off
// and calls again; when again finds the item (stored by the holder), it
// returns it with found true. Otherwise the caller fetches, then calls
// unlock (never nil). A lock that cannot be asked (Redis down) is passed
// over (counted in lockErrors): the caller fetches on its own. Each wait
// is counted in lockWaits.
func fleetWait[T any](ctx context.Context, log *slog.Logger, lk fetchLocker, src, name string, lockErrors, lockWaits *atomic.Int64, again func() (T, bool)) (unlock func(), v T, found bool, err error) {
	noop := func() {}
	wait := lockPollMin
	for {
		release, ok, err := lk.TryLock(ctx, name)
		if err != nil && ctx.Err() != nil {
			return noop, v, false, fmt.Errorf("collateral: waiting for another replica's fetch: %w", ctx.Err())
		}
		if err != nil {
			lockErrors.Add(1)
			log.InfoContext(ctx, "fleet fetch lock unavailable; fetching without it", "source", src, "err", err)
			return noop, v, false, nil
		}
		if ok {
			// The previous holder may have stored it just before releasing.
			if v, found := again(); found {
				release()
				return noop, v, true, nil
			}
			return release, v, false, nil
		}
		lockWaits.Add(1)
		log.DebugContext(ctx, "another replica is fetching; waiting", "key", name, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return noop, v, false, fmt.Errorf("collateral: waiting for another replica's fetch: %w", ctx.Err())
		case <-t.C:
		}
		if v, found := again(); found {
			return noop, v, true, nil
		}
		wait = min(2*wait, lockPollMax)
	}
}
