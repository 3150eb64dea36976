package collateral

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// ErrInvalidCollateral: Intel collateral fetched from the PCS (or read
// from the disk cache) failed verification (tdx/pcs). Nothing is cached.
var ErrInvalidCollateral = errors.New("invalid Intel collateral")

var _ verify.TDXCollateralGetter = (*Intel)(nil)

// Intel obtains Intel's collateral for TD quotes (verify.TDXCollateralGetter):
// for each item (the TCB info of the quote's FMSPC, the TD QE identity,
// the PCK CRL of the quote's PCK CA, the root CA CRL) it takes Static's
// when Static has it, else the memory cache, the disk cache (Dir), the
// fleet's cache (Fleet) and finally the PCS (under Fleet's fetch lock
// when it is a Locker: a cold fleet sends one request per item). Every item read from disk or
// from the fleet's cache, or fetched, is verified by
// tdx/pcs (issuer chain under the pinned Intel SGX Root CA, signature,
// validity window at the verification time) before it is used or cached;
// a cached item is used until its nextUpdate passes. Concurrent requests
// for one item share one fetch. A failed fetch is remembered per item for
// a bounded back-off (NegativeTTL, TransientNegativeTTL, a longer
// Retry-After): the caller whose fetch failed gets a *WaitError of Kind
// ErrFetchFailed, and calls within the back-off fail at once, without a
// request, with one of Kind ErrRecentFailure, each saying when the PCS is
// asked again (as the Chain's callers do). Nothing is cached from a failure. Fields must not be changed after the
// first call; an Intel is safe for concurrent use.
type Intel struct {
	// Static is collateral the caller holds (--collateral DIR), used as
	// given (Evaluate checks it); nil means none.
	Static *pcs.Collateral
	// PCS fetches what is missing; nil means nothing is fetched.
	PCS *PCSClient
	// Offline forbids every fetch: a missing item is an error naming it
	// (matching ErrOffline and verify.ErrTDXCollateralMissing).
	Offline bool
	// Dir is the cache directory (the VCEK cache's); items are kept in
	// Dir/intel. "" means no disk cache.
	Dir string
	// Limiter, when non-nil, bounds the requests sent to the PCS (retries
	// included), as Chain.Limiter does; it may be a Chain's.
	Limiter *RateLimiter
	// Fleet, when non-nil, is the cache shared by a fleet of verifiers
	// (collateral/rediscache): asked after Dir, given every item that
	// verified, trusted with availability only (what it returns is
	// verified again, and passed over if it does not verify).
	Fleet IntelStore
	// NegativeTTL is how long a failed fetch that says something about the
	// item (404 for an FMSPC, another final 4xx, an answer that does not
	// verify) is remembered. 0 means DefaultNegativeTTL, negative turns it
	// off.
	NegativeTTL time.Duration
	// TransientNegativeTTL is NegativeTTL for failures on the way to the
	// PCS (network errors, 408, 429, 5xx, after the retries); a longer
	// Retry-After of the PCS wins, up to MaxNegativeRetryAfter. 0 means
	// DefaultTransientNegativeTTL, negative turns it off.
	TransientNegativeTTL time.Duration
	// NegativeCacheSize bounds the failures remembered; 0 means
	// DefaultNegativeCacheSize.
	NegativeCacheSize int
	// Now returns the current time of the negative cache; nil means
	// time.Now. (Collateral is verified at the request's Now.)
	Now func() time.Time
	// Root replaces the pinned Intel SGX Root CA (tests only).
	Root *x509.Certificate
	// Logger receives logs; nil discards them.
	Logger *slog.Logger

	mu         sync.Mutex
	mem        map[string]*intelItem
	neg        negCache
	flight     flightGroup
	fetches    atomic.Int64
	retries    atomic.Int64
	memHits    atomic.Int64
	disk       atomic.Int64
	negHits    atomic.Int64
	fleetHits  atomic.Int64
	fleetBad   atomic.Int64
	lockWaits  atomic.Int64
	lockErrors atomic.Int64
}

// IntelStats are cumulative counters of an Intel.
type IntelStats struct {
	// Fetches counts HTTP requests sent to the PCS, retries included.
	Fetches int64
	// Retries counts retried requests.
	Retries int64
	// CacheHits and DiskHits count items served from memory and disk.
	CacheHits, DiskHits int64
	// FleetHits counts items served from the fleet's cache (verified);
	// FleetRejected counts its entries that did not verify (refetched).
	FleetHits, FleetRejected int64
	// NegativeHits counts calls answered by a remembered failure (no
	// request sent).
	NegativeHits int64
	// LockWaits counts waits for another replica's fetch (Fleet's lock);
	// LockErrors counts locks that could not be asked (fetched without).
	LockWaits, LockErrors int64
}

// Stats returns a snapshot of the counters.
func (c *Intel) Stats() IntelStats {
	return IntelStats{Fetches: c.fetches.Load(), Retries: c.retries.Load(), CacheHits: c.memHits.Load(), DiskHits: c.disk.Load(),
		FleetHits: c.fleetHits.Load(), FleetRejected: c.fleetBad.Load(), NegativeHits: c.negHits.Load(),
		LockWaits: c.lockWaits.Load(), LockErrors: c.lockErrors.Load()}
}

// intelItem is a verified item: the parsed value, its issuer chain and
// its window.
type intelItem struct {
	val         any
	chain       []*x509.Certificate
	issue, next time.Time
}

func (it *intelItem) validAt(now time.Time) bool { return !now.Before(it.issue) && !now.After(it.next) }

// intelKind describes one item: its cache name, how to fetch it and how
// to verify it.
type intelKind struct {
	name, ext, what string
	fetch           func(ctx context.Context, c *PCSClient, hook func(string, bool) error) (fetched, error)
	check           func(f fetched, opts pcs.Options) (*intelItem, error)
}

func tcbInfoKind(fmspc [6]byte) intelKind {
	return intelKind{
		name: pcs.TCBInfoPrefix + hex.EncodeToString(fmspc[:]), ext: ".json", what: "TCB info for FMSPC " + hex.EncodeToString(fmspc[:]),
		fetch: func(ctx context.Context, c *PCSClient, h func(string, bool) error) (fetched, error) {
			return c.tcbInfo(ctx, fmspc, h)
		},
		check: func(f fetched, o pcs.Options) (*intelItem, error) {
			t, chain, err := pcs.CheckTCBInfo(f.body, f.chain, fmspc, o)
			if err != nil {
				return nil, err
			}
			return &intelItem{val: t, chain: chain, issue: t.IssueDate, next: t.NextUpdate}, nil
		},
	}
}

func qeIdentityKind() intelKind {
	return intelKind{
		name: strings.TrimSuffix(pcs.QEIdentityFile, ".json"), ext: ".json", what: "TD QE identity",
		fetch: func(ctx context.Context, c *PCSClient, h func(string, bool) error) (fetched, error) {
			return c.qeIdentity(ctx, h)
		},
		check: func(f fetched, o pcs.Options) (*intelItem, error) {
			q, chain, err := pcs.CheckQEIdentity(f.body, f.chain, o)
			if err != nil {
				return nil, err
			}
			return &intelItem{val: q, chain: chain, issue: q.IssueDate, next: q.NextUpdate}, nil
		},
	}
}

func crlItem(l *x509.RevocationList, err error) (*intelItem, error) {
	if err != nil {
		return nil, err
	}
	return &intelItem{val: l, issue: l.ThisUpdate, next: l.NextUpdate}, nil
}

func pckCRLKind(ca string) intelKind {
	return intelKind{
		name: pcs.PCKCRLPrefix + ca, ext: ".der", what: "PCK CRL (" + ca + ")",
		fetch: func(ctx context.Context, c *PCSClient, h func(string, bool) error) (fetched, error) {
			return c.pckCRL(ctx, ca, h)
		},
		check: func(f fetched, o pcs.Options) (*intelItem, error) {
			return crlItem(pcs.CheckPCKCRL(f.body, f.chain, ca, o))
		},
	}
}

func rootCRLKind() intelKind {
	return intelKind{
		name: strings.TrimSuffix(pcs.RootCRLFile, ".der"), ext: ".der", what: "Intel SGX Root CA CRL",
		fetch: func(ctx context.Context, c *PCSClient, h func(string, bool) error) (fetched, error) {
			return c.rootCRL(ctx, h)
		},
		check: func(f fetched, o pcs.Options) (*intelItem, error) { return crlItem(pcs.CheckRootCRL(f.body, o)) },
	}
}

// TDXCollateral implements verify.TDXCollateralGetter.
func (c *Intel) TDXCollateral(ctx context.Context, req verify.TDXCollateralRequest) (*pcs.Collateral, error) {
	fm := hex.EncodeToString(req.FMSPC[:])
	out := &pcs.Collateral{TCBInfos: map[string]*pcs.TCBInfo{}, PCKCRLs: map[string]*x509.RevocationList{}}
	s := c.Static
	if s == nil {
		s = &pcs.Collateral{}
	}
	var missing []string
	var firstErr error
	get := func(k intelKind) *intelItem {
		if firstErr != nil {
			return nil
		}
		it, err := c.item(ctx, k, req.Now)
		switch {
		case errors.Is(err, ErrOffline):
			missing = append(missing, k.what)
		case err != nil:
			firstErr = err
		}
		return it
	}
	if t := s.TCBInfos[fm]; t != nil {
		out.TCBInfos[fm], out.SigningChain = t, s.SigningChain
	} else if it := get(tcbInfoKind(req.FMSPC)); it != nil {
		out.TCBInfos[fm], out.SigningChain = it.val.(*pcs.TCBInfo), it.chain
	}
	if out.QEIdentity = s.QEIdentity; out.QEIdentity == nil {
		if it := get(qeIdentityKind()); it != nil {
			out.QEIdentity = it.val.(*pcs.QEIdentity)
			if out.SigningChain == nil {
				out.SigningChain = it.chain
			}
		}
	}
	if out.PCKCRLs[req.CA] = s.PCKCRLs[req.CA]; out.PCKCRLs[req.CA] == nil {
		if it := get(pckCRLKind(req.CA)); it != nil {
			out.PCKCRLs[req.CA] = it.val.(*x509.RevocationList)
		}
	}
	if out.RootCRL = s.RootCRL; out.RootCRL == nil {
		if it := get(rootCRLKind()); it != nil {
			out.RootCRL = it.val.(*x509.RevocationList)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if len(missing) > 0 {
		return nil, &intelMissingError{fmspc: fm, missing: missing}
	}
	return out, nil
}

// intelMissingError says which of Intel's collateral items are neither
// given, nor cached, nor fetchable (Offline). It matches ErrOffline and
// verify.ErrTDXCollateralMissing, and says so once: wrapping the two
// sentinels with %w wrote "offline" three times, also to a user who never
// said --offline (the CLI is Offline without --pcs-url).
type intelMissingError struct {
	fmspc   string
	missing []string
}

// Error names the FMSPC and the missing items.
func (e *intelMissingError) Error() string {
	return fmt.Sprintf("collateral: Intel collateral for FMSPC %s not available: missing the %s (not given with --collateral DIR, not in the cache, and not fetched: offline or no PCS URL)",
		e.fmspc, strings.Join(e.missing, ", the "))
}

// Is matches ErrOffline and verify.ErrTDXCollateralMissing.
func (e *intelMissingError) Is(target error) bool {
	return target == ErrOffline || target == verify.ErrTDXCollateralMissing
}

func (c *Intel) opts(now time.Time) pcs.Options { return pcs.Options{Now: now, Root: c.Root} }

// memGet returns the item name from memory if it is current at now.
func (c *Intel) memGet(name string, now time.Time) *intelItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it := c.mem[name]; it != nil && it.validAt(now) {
		return it
	}
	return nil
}

func (c *Intel) memPut(name string, it *intelItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		c.mem = map[string]*intelItem{}
	}
	c.mem[name] = it
}

// item returns the verified item k at now: memory, a remembered failure,
// disk, the fleet's cache, then one shared fetch.
func (c *Intel) item(ctx context.Context, k intelKind, now time.Time) (*intelItem, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if it := c.memGet(k.name, now); it != nil {
		c.memHits.Add(1)
		return it, nil
	}
	if err, ok := c.negGet(k); ok {
		return nil, err
	}
	v, _, err := c.flight.do(ctx, c.Logger, "intel/"+k.name, func() (any, error) { return c.load(ctx, k, now) })
	if err != nil {
		return nil, err
	}
	return v.(*intelItem), nil
}

// load is the shared part of item: memory and remembered failures again
// (this call may have waited), disk, the fleet's cache, then the fetch
// under the fleet's lock (one replica fetches, the others wait for its
// entry).
func (c *Intel) load(ctx context.Context, k intelKind, now time.Time) (*intelItem, error) {
	if it := c.memGet(k.name, now); it != nil {
		c.memHits.Add(1)
		return it, nil
	}
	if err, ok := c.negGet(k); ok {
		return nil, err
	}
	if it := c.diskGet(ctx, k, now); it != nil {
		c.disk.Add(1)
		c.memPut(k.name, it)
		return it, nil
	}
	if it, ok := c.fromFleet(ctx, k, now); ok {
		return it, nil
	}
	unlock, it, found, err := c.fleetLock(ctx, k, now)
	if err != nil || found {
		return it, err
	}
	defer unlock()
	it, err = c.fetch(ctx, k, now)
	if err != nil {
		return nil, c.negPut(ctx, k, err)
	}
	return it, nil
}

// fetch asks the PCS for k, verifies the answer and caches it (memory,
// disk, the fleet's cache).
func (c *Intel) fetch(ctx context.Context, k intelKind, now time.Time) (*intelItem, error) {
	if c.Offline || c.PCS == nil {
		return nil, fmt.Errorf("collateral: %s: %w", k.what, ErrOffline)
	}
	hook := func(what string, retry bool) error {
		if err := c.Limiter.Admit(what); err != nil {
			return err
		}
		c.fetches.Add(1)
		if retry {
			c.retries.Add(1)
		}
		return nil
	}
	f, err := k.fetch(ctx, c.PCS, hook)
	if err != nil {
		return nil, fmt.Errorf("collateral: fetching the %s from Intel PCS %s: %w", k.what, c.PCS.base(), err)
	}
	it, err := k.check(f, c.opts(now))
	if err != nil {
		return nil, fmt.Errorf("collateral: the %s from Intel PCS %s: %w: %w", k.what, c.PCS.base(), ErrInvalidCollateral, err)
	}
	c.memPut(k.name, it)
	c.diskPut(ctx, k, f)
	c.fleetPut(ctx, k, f, it)
	return it, nil
}

// diskPaths returns the files of k, relative to Dir.
func (c *Intel) diskPaths(k intelKind) (body, chain string) {
	return filepath.Join("intel", k.name+k.ext), filepath.Join("intel", k.name+".issuer-chain.pem")
}

// diskGet reads k from the disk cache and verifies it at now; anything
// that fails is ignored (and replaced by the next fetch).
func (c *Intel) diskGet(ctx context.Context, k intelKind, now time.Time) *intelItem {
	if c.Dir == "" {
		return nil
	}
	bp, cp := c.diskPaths(k)
	var f fetched
	var err error
	if f.body, err = readCacheFile(c.Dir, bp, maxPCSCRL); err != nil {
		c.diskUnusable(ctx, bp, err)
		return nil
	}
	if f.chain, err = readCacheFile(c.Dir, cp, maxIssuerChain); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.diskUnusable(ctx, cp, err)
		return nil
	}
	it, err := k.check(f, c.opts(now))
	if err != nil {
		return nil
	}
	return it
}

// diskUnusable logs a cache file that could not be used (ErrCacheFile,
// ErrCacheLink); a missing one is no news.
func (c *Intel) diskUnusable(ctx context.Context, rel string, err error) {
	if c.Logger != nil && errors.Is(err, ErrCacheFile) {
		c.Logger.InfoContext(ctx, "ignoring an unusable disk cache file", "path", filepath.Join(c.Dir, rel), "err", err)
	}
}

// diskPut writes the verified answer f of k to the disk cache.
func (c *Intel) diskPut(ctx context.Context, k intelKind, f fetched) {
	if c.Dir == "" {
		return
	}
	bp, cp := c.diskPaths(k)
	err := writeCacheFile(c.Dir, bp, f.body)
	if err == nil && f.chain != nil {
		err = writeCacheFile(c.Dir, cp, f.chain)
	}
	if err != nil && c.Logger != nil {
		c.Logger.WarnContext(ctx, "could not write the disk cache", "path", filepath.Join(c.Dir, bp), "err", err)
	}
}
