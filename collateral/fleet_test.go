package collateral

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/kds"
)

// fakeLocker is a fleet's shared cache (a Memory) with a fetch lock that
// tryLock decides, n counting its calls.
type fakeLocker struct {
	Memory
	n       atomic.Int64
	tryLock func(ctx context.Context, n int64) (bool, error)
}

func (l *fakeLocker) Name() string { return "fake fleet" }

func (l *fakeLocker) TryLock(ctx context.Context, _ string) (func(), bool, error) {
	ok, err := l.tryLock(ctx, l.n.Add(1))
	return func() {}, ok, err
}

// fakeIntelLocker is fakeLocker's Intel twin: an IntelStore in memory.
type fakeIntelLocker struct {
	mu      sync.Mutex
	items   map[string][]byte
	tryLock func(ctx context.Context) (bool, error)
}

func (l *fakeIntelLocker) GetIntel(_ context.Context, name string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.items[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("%s: %w", name, ErrMiss)
}

func (l *fakeIntelLocker) StoreIntel(_ context.Context, name string, entry []byte, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.items == nil {
		l.items = map[string][]byte{}
	}
	l.items[name] = entry
}

func (l *fakeIntelLocker) TryLock(ctx context.Context, _ string) (func(), bool, error) {
	ok, err := l.tryLock(ctx)
	return func() {}, ok, err
}

var errLockDown = errors.New("fleet lock: connection refused")

// TestFleetLockUnavailable: a fetch lock that cannot be asked (Redis
// down) is passed over: the VCEK and Intel's items are fetched without it
// and the lock error is counted (also with no Logger set). A lock call
// that failed because the caller's context ended is that context's end,
// not a lock error: the call fails with it, nothing is fetched.
func TestFleetLockUnavailable(t *testing.T) {
	pki, f := newMilanKDS(t)
	chain := func(l *fakeLocker) *Chain {
		return &Chain{ARK: func(string) *x509.Certificate { return pki.ark }, Logger: testutil.TestLogger(t),
			Sources: []Source{l, &KDS{Client: &kds.Client{BaseURL: f.srv.URL, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}}}}
	}
	down := &fakeLocker{tryLock: func(context.Context, int64) (bool, error) { return false, errLockDown }}
	c := chain(down)
	if _, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(1), pki.validator())); err != nil {
		t.Fatalf("GetVCEK with the lock down: %v", err)
	}
	f.wantRequests(t, 1, "KDS requests with the lock down", "1 (fetched without the lock)")
	if s := c.Stats(); s.LockErrors != 1 || s.LockWaits != 0 {
		t.Errorf("stats %+v, want one lock error", s)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := &fakeLocker{tryLock: func(ctx context.Context, _ int64) (bool, error) {
		cancel()
		return false, ctx.Err()
	}}
	c = chain(cancelled)
	_, err := c.GetVCEK(ctx, milanReq(chipID(2), pki.validator()))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GetVCEK, context ended while asking the lock: %v, want context.Canceled", err)
	}
	f.wantRequests(t, 1, "KDS requests after the context ended", "still 1")
	if s := c.Stats(); s.LockErrors != 0 {
		t.Errorf("stats %+v: the context's end counted as a lock error", s)
	}

	_, v := teekit(t)
	fake := newFakePCS(t)
	in := newIntel(fake.URL, t.TempDir())
	in.Fleet = &fakeIntelLocker{tryLock: func(context.Context) (bool, error) { return false, errLockDown }}
	if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); err != nil {
		t.Fatalf("TDXCollateral with the lock down: %v", err)
	}
	if s := in.Stats(); s.LockErrors != 4 || fake.Requests() != 4 {
		t.Errorf("stats %+v, %d PCS requests; want 4 lock errors, 4 requests", s, fake.Requests())
	}
}

// TestFleetLockWaitsForHolder: while another replica holds the fetch lock
// the Chain waits, and takes the VCEK the holder stored in the fleet's
// cache meanwhile without a request of its own.
func TestFleetLockWaitsForHolder(t *testing.T) {
	pki, f := newMilanKDS(t)
	req := milanReq(chipID(3), pki.validator())
	der, err := f.newClient("").GetVCEK(ctxTimeout(t, 5*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(req.Product, req.ChipID, req.ReportedTCB)
	if err != nil {
		t.Fatal(err)
	}
	held := &fakeLocker{}
	held.tryLock = func(ctx context.Context, n int64) (bool, error) {
		if n == 1 { // the holder stores it while this replica waits
			held.Store(ctx, KindVCEK, k, der)
		}
		return false, nil
	}
	c := &Chain{ARK: func(string) *x509.Certificate { return pki.ark }, Logger: testutil.TestLogger(t),
		Sources: []Source{held, &KDS{Client: &kds.Client{BaseURL: f.srv.URL}}}}
	got, source, err := c.VCEKFrom(ctxTimeout(t, 5*time.Second), req)
	if err != nil || string(got) != string(der) || source != held.Name() {
		t.Fatalf("VCEKFrom = %d bytes from %q, %v; want the holder's VCEK from the fleet", len(got), source, err)
	}
	f.wantRequests(t, 1, "KDS requests", "1 (the holder's)")
	if s := c.Stats(); s.LockWaits != 1 || s.LockErrors != 0 {
		t.Errorf("stats %+v, want one wait", s)
	}
}
