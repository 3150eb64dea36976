package collateral

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// IntelStore is a cache of Intel collateral shared by a fleet of
// verifiers (collateral/rediscache.Cache). It holds entries as Intel gives
// them (EncodeIntelEntry: the item as the PCS served it and its issuer
// chain) by item name ("tcbinfo-tdx-<fmspc>", "qeidentity-tdx",
// "pckcrl-<ca>", "rootcacrl"). It is trusted with availability only:
// Intel stores only what verified and verifies again what it reads.
type IntelStore interface {
	// GetIntel returns the entry of name, or an error (wrapping ErrMiss
	// when there is none).
	GetIntel(ctx context.Context, name string) ([]byte, error)
	// StoreIntel keeps entry under name until expires (the item's
	// nextUpdate), at most. Failures are the store's to count; Intel does
	// not wait for them.
	StoreIntel(ctx context.Context, name string, entry []byte, expires time.Time)
}

// MaxIntelEntrySize bounds an entry of an IntelStore.
const MaxIntelEntrySize = 4 + maxPCSCRL + maxIssuerChain

// EncodeIntelEntry returns the entry of an IntelStore for an item served
// as body with the issuer chain chainPEM (nil for the root CA CRL): the
// body's length (4 bytes, big-endian), the body, then the chain.
func EncodeIntelEntry(body, chainPEM []byte) []byte {
	out := make([]byte, 4, 4+len(body)+len(chainPEM))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	out = append(out, body...)
	return append(out, chainPEM...)
}

// DecodeIntelEntry splits an entry of EncodeIntelEntry into the body and
// the issuer chain (nil if empty). It checks the framing and the bounds
// only: the caller verifies the item.
func DecodeIntelEntry(entry []byte) (body, chainPEM []byte, err error) {
	if len(entry) < 4 || len(entry) > MaxIntelEntrySize {
		return nil, nil, fmt.Errorf("collateral: Intel entry of %d bytes (4 to %d): %w", len(entry), MaxIntelEntrySize, format.ErrBadEncoding)
	}
	n := binary.BigEndian.Uint32(entry)
	rest := entry[4:]
	if n == 0 || uint64(n) > uint64(len(rest)) || n > maxPCSCRL || len(rest)-int(n) > maxIssuerChain {
		return nil, nil, fmt.Errorf("collateral: Intel entry: body of %d bytes in %d: %w", n, len(rest), format.ErrBadEncoding)
	}
	body, chainPEM = rest[:n:n], rest[n:]
	if len(chainPEM) == 0 {
		chainPEM = nil
	}
	return body, chainPEM, nil
}

// fleetGet returns k from the fleet's cache, verified at now, and the
// entry as fetched; nil if Fleet is nil, misses, fails, or holds what
// does not verify (counted, logged, then replaced by a fetch).
func (c *Intel) fleetGet(ctx context.Context, k intelKind, now time.Time) (*intelItem, fetched) {
	if c.Fleet == nil {
		return nil, fetched{}
	}
	entry, err := c.Fleet.GetIntel(ctx, k.name)
	if err != nil {
		return nil, fetched{}
	}
	var f fetched
	it, err := func() (*intelItem, error) {
		var err error
		if f.body, f.chain, err = DecodeIntelEntry(entry); err != nil {
			return nil, err
		}
		return k.check(f, c.opts(now))
	}()
	if err != nil {
		c.fleetBad.Add(1)
		if c.Logger != nil {
			c.Logger.WarnContext(ctx, "the fleet cache's Intel collateral does not verify; fetching it again", "item", k.what, "err", err)
		}
		return nil, fetched{}
	}
	c.fleetHits.Add(1)
	return it, f
}

// fromFleet returns k from the fleet's cache, verified at now, and keeps
// it in memory and on disk.
func (c *Intel) fromFleet(ctx context.Context, k intelKind, now time.Time) (*intelItem, bool) {
	it, f := c.fleetGet(ctx, k, now)
	if it == nil {
		return nil, false
	}
	c.memPut(k.name, it)
	c.diskPut(ctx, k, f)
	return it, true
}

// fleetLock takes the fleet's fetch lock of k when Fleet has one (a
// Locker) and a fetch may be sent, waiting while another replica holds it;
// found reports that the holder's entry came (verified) meanwhile. See
// fleetWait.
func (c *Intel) fleetLock(ctx context.Context, k intelKind, now time.Time) (unlock func(), it *intelItem, found bool, err error) {
	lk, ok := c.Fleet.(fetchLocker)
	if !ok || c.Offline || c.PCS == nil {
		return func() {}, nil, false, nil
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return fleetWait(ctx, log, lk, "fleet cache", "intel/"+k.name, &c.lockErrors, &c.lockWaits, func() (*intelItem, bool) {
		return c.fromFleet(ctx, k, now)
	})
}

// fleetPut gives the verified item it, fetched as f, to the fleet's
// cache until its nextUpdate.
func (c *Intel) fleetPut(ctx context.Context, k intelKind, f fetched, it *intelItem) {
	if c.Fleet != nil {
		c.Fleet.StoreIntel(ctx, k.name, EncodeIntelEntry(f.body, f.chain), it.next)
	}
}
