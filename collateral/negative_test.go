package collateral

import (
	"cmp"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// newTestClock is a settable clock, safe for concurrent use.
func newTestClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
}

// TestNegativeCache: for a VCEK that KDS fails to give, N concurrent calls
// send exactly one request, a call within the back-off sends none and gets
// the same class of error, and a call after the back-off sends one more.
func TestNegativeCache(t *testing.T) {
	tests := []struct {
		name       string
		status     int // 0: the connection is closed without an answer
		class      error
		backoff    time.Duration
		retryAfter string // the Retry-After header, if any
		retries    int    // the KDS client's MaxRetries; 0: none (-1)
	}{
		{"unknown chip (404)", http.StatusNotFound, ErrNotFound, DefaultNegativeTTL, "", 0},
		{"bad request (400)", http.StatusBadRequest, nil, DefaultNegativeTTL, "", 0},
		{"KDS down (503)", http.StatusServiceUnavailable, nil, DefaultTransientNegativeTTL, "", 0},
		{"rate limited (429)", http.StatusTooManyRequests, ErrRateLimited, DefaultTransientNegativeTTL, "", 0},
		{"network error", 0, nil, DefaultTransientNegativeTTL, "", 0},
		{"not a certificate", http.StatusOK, ErrInvalidCertificate, DefaultNegativeTTL, "", 0},
		// KDS's Retry-After is honoured by the back-off, not only by the
		// retries: past the client's MaxRetryAfter, past the caller's
		// deadline (the retry is not waited for), and up to MaxNegativeRetryAfter.
		{"rate limited (429), Retry-After 300 s", http.StatusTooManyRequests, ErrRateLimited, 5 * time.Minute, "300", 4},
		{"rate limited (429), Retry-After past the deadline", http.StatusTooManyRequests, ErrRateLimited, 30 * time.Second, "30", 4},
		{"KDS down (503), Retry-After 1 day", http.StatusServiceUnavailable, nil, MaxNegativeRetryAfter, "86400", 0},
	}
	const n = 100
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pki, kds := newMilanKDS(t)
			kds.setHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
				time.Sleep(100 * time.Millisecond) // the others arrive while this is in flight
				switch tc.status {
				case 0:
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						_ = conn.Close()
					}
				case http.StatusOK:
					_, _ = w.Write([]byte("<html>not a certificate</html>"))
				default:
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
				}
				return true
			})
			c := kds.newClient("")
			c.Logger = nil
			c.KDS.MaxRetries = cmp.Or(tc.retries, -1)
			clock := newTestClock()
			c.Now = clock.Now
			chip := chipID(7)
			sameClass := func(err error) bool {
				if err == nil {
					return false
				}
				if tc.class != nil {
					return errors.Is(err, tc.class)
				}
				var herr *HTTPError
				if tc.status != 0 {
					return errors.As(err, &herr) && herr.StatusCode == tc.status
				}
				var nerr net.Error
				return errors.As(err, &nerr) || !errors.As(err, &herr)
			}

			var wg sync.WaitGroup
			var wrong atomic.Int64
			ctx := ctxTimeout(t, 10*time.Second)
			for range n {
				wg.Go(func() {
					if _, err := c.GetVCEK(ctx, milanReq(chip, pki.validator())); !sameClass(err) {
						wrong.Add(1)
						t.Errorf("concurrent call: err = %v", err)
					}
				})
			}
			wg.Wait()
			got := kds.requests.Load()
			t.Logf("%d concurrent calls: %d upstream request(s), %d answered by the negative cache", n, got, c.Stats().NegativeHits)
			if got != 1 {
				t.Fatalf("upstream requests for %d concurrent calls = %d, want 1", n, got)
			}

			clock.Advance(tc.backoff - time.Millisecond)
			_, err := c.GetVCEK(ctx, milanReq(chip, pki.validator()))
			if !sameClass(err) || !errors.Is(err, ErrRecentFailure) {
				t.Errorf("within the back-off: err = %v, want the same class and ErrRecentFailure", err)
			}
			var rf *WaitError
			if !errors.As(err, &rf) || rf.RetryDelay() <= 0 || rf.RetryDelay() > time.Millisecond {
				t.Errorf("within the back-off: RetryDelay of %v, want (0, 1ms]", err)
			}
			kds.wantRequests(t, 1, "upstream requests within the back-off", "still 1")

			clock.Advance(time.Millisecond)
			_, err = c.GetVCEK(ctx, milanReq(chip, pki.validator()))
			if !sameClass(err) || errors.Is(err, ErrRecentFailure) {
				t.Errorf("after the back-off: err = %v, want a new failure of the same class", err)
			}
			kds.wantRequests(t, 2, "upstream requests after the back-off", "2")
		})
	}
}

// TestNegativeCacheOff: a negative TTL turns the negative cache off.
func TestNegativeCacheOff(t *testing.T) {
	kds, c := newNotFoundClient(t)
	c.NegativeTTL = -1
	for i := range 3 {
		if _, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(1), nil)); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrRecentFailure) {
			t.Fatalf("call %d: err = %v", i, err)
		}
	}
	kds.wantRequests(t, 3, "requests", "3")
}

// TestValidatorRejectionNotRemembered: a caller's Validate rejecting what
// KDS served depends on the caller (and on the report an attacker sends):
// it is neither remembered nor imposed on another caller.
func TestValidatorRejectionNotRemembered(t *testing.T) {
	pki, kds := newMilanKDS(t)
	c := kds.newClient("")
	chip := chipID(3)
	reject := func([]byte) error { return errors.New("the attacker's report does not fit") }
	for i := range 2 {
		_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, reject))
		if err == nil || errors.Is(err, ErrRecentFailure) {
			t.Fatalf("call %d: err = %v, want the validator's rejection", i, err)
		}
	}
	if got := kds.requests.Load(); got != 2 {
		t.Fatalf("requests = %d, want 2 (a validator rejection is not remembered)", got)
	}
	if _, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator())); err != nil {
		t.Fatalf("a genuine caller after the rejections: %v", err)
	}
}

// TestSharedFetchEachValidator: callers sharing one fetch each apply their
// own Validate; the leader's rejection does not fail a waiter that accepts.
func TestSharedFetchEachValidator(t *testing.T) {
	leaderErr, waiterErr := sharedFetch(t, 4, false, true)
	if leaderErr == nil {
		t.Error("leader: accepted a certificate its validator rejects")
	}
	if waiterErr != nil {
		t.Errorf("waiter: %v", waiterErr)
	}
}

// TestSharedFetchWaiterValidates (mutation29b): a waiter that shares the
// fetch of a leader whose Validate accepted the certificate still applies
// its own, and fails when it rejects it.
func TestSharedFetchWaiterValidates(t *testing.T) {
	leaderErr, waiterErr := sharedFetch(t, 5, true, false)
	if leaderErr != nil {
		t.Errorf("leader: %v", leaderErr)
	}
	if waiterErr == nil {
		t.Error("waiter: accepted a certificate its validator rejects")
	}
}

// sharedFetch has a leader ask KDS for chip n's VCEK, held until a waiter
// shares the fetch, each with a Validate that accepts the genuine
// certificate or rejects everything; it returns both callers' errors, and
// checks that KDS was asked once.
func sharedFetch(t *testing.T, n byte, leaderAccepts, waiterAccepts bool) (leaderErr, waiterErr error) {
	t.Helper()
	pki, kds := newMilanKDS(t)
	validate := func(accept bool) func([]byte) error {
		if accept {
			return pki.validator()
		}
		return func([]byte) error { return errors.New("no") }
	}
	release := make(chan struct{})
	kds.setHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		<-release
		return false
	})
	c := kds.newClient("")
	chip := chipID(n)
	leader, waiter := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, validate(leaderAccepts)))
		leader <- err
	}()
	for kds.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, validate(waiterAccepts)))
		waiter <- err
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	leaderErr, waiterErr = <-leader, <-waiter
	kds.wantRequests(t, 1, "requests", "1")
	return leaderErr, waiterErr
}

// TestNegativeCacheBounded: remembered failures are bounded in number.
func TestNegativeCacheBounded(t *testing.T) {
	_, c := newNotFoundClient(t)
	c.Logger = nil
	c.NegativeCacheSize = 8
	for i := range 100 {
		_, _ = c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(byte(i)), nil))
	}
	c.neg.mu.Lock()
	n := len(c.neg.items)
	c.neg.mu.Unlock()
	if n > 8 {
		t.Fatalf("negative cache holds %d entries, want at most 8", n)
	}
	// The most recent failure is remembered.
	if _, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(99), nil)); !errors.Is(err, ErrRecentFailure) {
		t.Fatalf("latest failure not remembered: %v", err)
	}
}

func TestRateLimiter(t *testing.T) {
	clock := newTestClock()
	l, err := NewRateLimiter(2, 3, clock.Now) // 2 per second, burst 3
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		ok      bool
		wait    time.Duration
	}{
		{0, true, 0}, {0, true, 0}, {0, true, 0}, // the burst
		{0, false, 500 * time.Millisecond},
		{250 * time.Millisecond, false, 250 * time.Millisecond},
		{250 * time.Millisecond, true, 0},
		{0, false, 500 * time.Millisecond},
		{10 * time.Second, true, 0}, // refilled up to the burst only
		{0, true, 0}, {0, true, 0},
		{0, false, 500 * time.Millisecond},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		ok, wait := l.Allow()
		if ok != s.ok || wait != s.wait {
			t.Fatalf("step %d: Allow = %v, %v; want %v, %v", i, ok, wait, s.ok, s.wait)
		}
	}
	for _, bad := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := NewRateLimiter(bad.rate, bad.burst, nil); err == nil {
			t.Errorf("NewRateLimiter(%v, %d) accepted", bad.rate, bad.burst)
		}
	}
}

// TestRateLimiterAdmit: Admit is Allow as an error: nil while a token is
// free (and on a nil limiter: no budget), then a *WaitError of
// ErrUpstreamLimited naming what and the wait.
func TestRateLimiterAdmit(t *testing.T) {
	if err := (*RateLimiter)(nil).Admit("VCEK"); err != nil {
		t.Fatalf("nil limiter: %v", err)
	}
	clock := newTestClock()
	l, err := NewRateLimiter(2, 1, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Admit("VCEK"); err != nil {
		t.Fatalf("first: %v", err)
	}
	werr, ok := errors.AsType[*WaitError](l.Admit("MAA JWKS"))
	if !ok || !errors.Is(werr, ErrUpstreamLimited) || werr.What != "MAA JWKS" || werr.RetryDelay() != 500*time.Millisecond {
		t.Fatalf("second: %+v, want a WaitError of ErrUpstreamLimited for MAA JWKS, 500ms", werr)
	}
}

// TestLimiterRefusesWithoutQueueing: beyond the budget a call fails at
// once with ErrUpstreamLimited, sends nothing, is not remembered as a
// failure of the certificate, and a retry is a request like any other.
func TestLimiterRefusesWithoutQueueing(t *testing.T) {
	pki, kds := newMilanKDS(t)
	c := kds.newClient("")
	clock := newTestClock()
	var err error
	c.Limiter, err = NewRateLimiter(1, 2, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 5*time.Second)
	for i := range 2 {
		if _, err := c.GetVCEK(ctx, milanReq(chipID(byte(10+i)), pki.validator())); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, err = c.GetVCEK(ctx, milanReq(chipID(12), pki.validator()))
	var lerr *WaitError
	if !errors.Is(err, ErrUpstreamLimited) || !errors.As(err, &lerr) || lerr.RetryDelay() != time.Second {
		t.Fatalf("over the budget: err = %v, want a WaitError with RetryDelay 1s", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v: it queued", d)
	}
	if got := kds.requests.Load(); got != 2 {
		t.Fatalf("requests = %d, want 2", got)
	}
	// A cached certificate needs no budget.
	if _, err := c.GetVCEK(ctx, milanReq(chipID(10), pki.validator())); err != nil {
		t.Fatalf("cached VCEK refused: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := c.GetVCEK(ctx, milanReq(chipID(12), pki.validator())); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
	if got := c.Stats().Limited; got != 1 {
		t.Errorf("Stats().Limited = %d, want 1", got)
	}
}

// TestLimiterBoundsRetries: a retry takes a token too.
func TestLimiterBoundsRetries(t *testing.T) {
	_, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	c := kds.newClient("")
	c.KDS.MaxRetries = 5
	var err error
	c.Limiter, err = NewRateLimiter(0.001, 2, newTestClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(1), nil))
	var herr *HTTPError
	if !errors.Is(err, ErrUpstreamLimited) || !errors.As(err, &herr) || herr.StatusCode != http.StatusBadGateway {
		t.Fatalf("err = %v, want the 502 and ErrUpstreamLimited", err)
	}
	if got := kds.requests.Load(); got != 2 {
		t.Fatalf("requests = %d, want 2 (the burst)", got)
	}
}

// wantWait checks that err is a remembered Intel PCS failure of the given
// kind that names the item and the PCS, says the wait and wraps the PCS's
// HTTP status: ErrFetchFailed for the caller whose fetch failed (it reads
// as the failure itself, as the Chain's first caller's does),
// ErrRecentFailure for a call within the back-off (it says the wait).
func wantWait(t *testing.T, err error, pcsURL, item string, wait time.Duration, status int, kind error) {
	t.Helper()
	other := ErrFetchFailed
	if kind == ErrFetchFailed {
		other = ErrRecentFailure
	}
	we, ok := errors.AsType[*WaitError](err)
	herr, isHTTP := errors.AsType[*httpget.HTTPError](err)
	if !ok || !errors.Is(err, kind) || errors.Is(err, other) || !isHTTP || herr.StatusCode != status || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("got %v, want a *WaitError of %v wrapping HTTP %d", err, kind, status)
	}
	if we.RetryDelay() <= 0 || we.RetryDelay() > wait {
		t.Errorf("RetryDelay %v, want in (0, %v]", we.RetryDelay(), wait)
	}
	want := []string{"Intel PCS " + pcsURL, item, "not asked again for"}
	if kind == ErrFetchFailed {
		want = want[:2]
		if err.Error() != we.Err.Error() {
			t.Errorf("first failure reads %q, want the failure itself %q", err, we.Err)
		}
	}
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
}

// TestIntelOutageBackoff: while the PCS answers 503, N attestations (10
// in a row, then 16 concurrent) send the first one's request and its 2
// retries, nothing more; each gets a *WaitError saying when the PCS is
// asked again (serve's Retry-After). After the back-off the PCS is asked
// again; once it is mended the collateral verifies. Nothing was cached
// from the failures (memory, disk).
func TestIntelOutageBackoff(t *testing.T) {
	q, v := teekit(t)
	fake, dir, clk := newFakePCS(t), t.TempDir(), newTestClock()
	var down atomic.Bool
	down.Store(true)
	fake.SetHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	in := newIntel(fake.URL, dir)
	in.PCS.MaxRetries, in.Now = 2, clk.Now
	ctx := context.Background()
	for i := range 10 {
		_, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime()))
		kind := ErrRecentFailure
		if i == 0 {
			kind = ErrFetchFailed // this call's own fetch failed
		}
		wantWait(t, err, fake.URL, "TCB info for FMSPC 00806f050000", DefaultTransientNegativeTTL, http.StatusServiceUnavailable, kind)
		if i == 0 && !strings.Contains(err.Error(), "503") {
			t.Errorf("first error does not name the status: %v", err)
		}
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) {
				t.Errorf("concurrent call: %v", err)
			}
		})
	}
	wg.Wait()
	if n := fake.Requests(); n != 3 {
		t.Fatalf("%d requests for 26 attestations during the outage, want 3 (the first and its 2 retries)", n)
	}
	if s := in.Stats(); s.NegativeHits != 25 {
		t.Errorf("stats %+v, want 25 negative hits", s)
	}
	if len(in.mem) != 0 {
		t.Errorf("memory holds %d items after failures", len(in.mem))
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "intel")); len(ents) != 0 {
		t.Errorf("disk cache holds %d files after failures", len(ents))
	}

	clk.Advance(DefaultTransientNegativeTTL + time.Millisecond)
	if _, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrFetchFailed) || fake.Requests() != 6 {
		t.Fatalf("after the back-off, still down (this call fetched): %v, %d requests (want 6)", err, fake.Requests())
	}
	down.Store(false)
	if _, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) || fake.Requests() != 6 {
		t.Fatalf("mended, within the new back-off: %v, %d requests (want 6)", err, fake.Requests())
	}
	clk.Advance(DefaultTransientNegativeTTL + time.Millisecond)
	c, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime()))
	if err != nil {
		t.Fatal(err)
	}
	wantUpToDate(t, c, q, v)
	if n := fake.Requests(); n != 10 {
		t.Errorf("%d requests in all, want 10 (4 items once mended)", n)
	}
}

// TestIntelRetryAfter: a 429 whose Retry-After (5 min) is longer than the
// client waits keeps the item's failure for that long, not for
// TransientNegativeTTL; a Retry-After beyond MaxNegativeRetryAfter is
// bounded by it.
func TestIntelRetryAfter(t *testing.T) {
	_, v := teekit(t)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{{"300", 5 * time.Minute}, {"86400", MaxNegativeRetryAfter}} {
		t.Run(tc.header, func(t *testing.T) {
			fake, clk := newFakePCS(t), newTestClock()
			fake.SetHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			})
			in := newIntel(fake.URL, t.TempDir())
			in.Now = clk.Now
			_, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
			wantWait(t, err, fake.URL, "TCB info", tc.want, http.StatusTooManyRequests, ErrFetchFailed)
			if we, _ := errors.AsType[*WaitError](err); we.RetryDelay() != tc.want {
				t.Errorf("RetryDelay %v, want %v", we.RetryDelay(), tc.want)
			}
			clk.Advance(tc.want - time.Second)
			if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) || fake.Requests() != 1 {
				t.Fatalf("within Retry-After: %v after %d requests (want 1)", err, fake.Requests())
			}
			clk.Advance(2 * time.Second)
			_, _ = in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
			if fake.Requests() != 2 {
				t.Errorf("after Retry-After: %d requests, want 2", fake.Requests())
			}
		})
	}
}

// TestIntelUnknownFMSPC: the PCS answers 404 for an FMSPC it does not
// know; 10 attestations naming it send one request (a 404 is not retried)
// until NegativeTTL has passed; another FMSPC is not held back by it.
func TestIntelUnknownFMSPC(t *testing.T) {
	_, v := teekit(t)
	fake, clk := newFakePCS(t), newTestClock()
	in := newIntel(fake.URL, t.TempDir())
	in.Now = clk.Now
	req := intelReq(v, testutil.TDXFixtureTime())
	req.FMSPC = [6]byte{0x90, 0xc0, 0x6f, 0, 0, 0}
	for i := range 10 {
		_, err := in.TDXCollateral(context.Background(), req)
		kind := ErrRecentFailure
		if i == 0 {
			kind = ErrFetchFailed // this call's own fetch failed
		}
		wantWait(t, err, fake.URL, "TCB info for FMSPC 90c06f000000", DefaultNegativeTTL, http.StatusNotFound, kind)
	}
	if n := fake.Requests(); n != 1 {
		t.Fatalf("%d requests for 10 attestations of an unknown FMSPC, want 1", n)
	}
	if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); err != nil {
		t.Fatalf("a known FMSPC: %v", err)
	}
	before := fake.Requests()
	clk.Advance(DefaultNegativeTTL - time.Second)
	if _, err := in.TDXCollateral(context.Background(), req); !errors.Is(err, ErrRecentFailure) || fake.Requests() != before {
		t.Fatalf("within NegativeTTL: %v, %d new requests", err, fake.Requests()-before)
	}
	clk.Advance(2 * time.Second)
	if _, err := in.TDXCollateral(context.Background(), req); !errors.Is(err, httpget.ErrNotFound) || fake.Requests() != before+1 {
		t.Fatalf("after NegativeTTL: %v, %d new requests (want 1)", err, fake.Requests()-before)
	}
}

// TestChainNegTTL: what the Chain remembers of a failed KDS fetch, for how
// long: a Retry-After longer than TransientNegativeTTL wins (bounded by
// MaxNegativeRetryAfter), also when the client gave up on it because it
// passed the caller's deadline; an attempt that timed out is a failure on
// the way; the caller's own ended context, the Limiter, Offline and the
// caller's Validate are never remembered.
func TestChainNegTTL(t *testing.T) {
	c := &Chain{NegativeTTL: time.Minute, TransientNegativeTTL: 2 * time.Second}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	rateLimited := &httpget.HTTPError{StatusCode: http.StatusTooManyRequests, RetryAfter: 30 * time.Second}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want time.Duration
	}{
		{"404", context.Background(), &httpget.HTTPError{StatusCode: 404, RetryAfter: time.Hour}, time.Minute},
		{"invalid", context.Background(), ErrInvalidCertificate, time.Minute},
		{"503", context.Background(), &httpget.HTTPError{StatusCode: 503}, 2 * time.Second},
		{"503 Retry-After", context.Background(), &httpget.HTTPError{StatusCode: 503, RetryAfter: time.Hour}, MaxNegativeRetryAfter},
		{"429 Retry-After 1 s", context.Background(), &httpget.HTTPError{StatusCode: 429, RetryAfter: time.Second}, 2 * time.Second},
		{"429 Retry-After past the deadline", context.Background(), fmt.Errorf("kds: next retry would pass the context deadline: %w: %w", rateLimited, context.DeadlineExceeded), 30 * time.Second},
		{"attempt timed out", context.Background(), fmt.Errorf("kds: giving up after 5 attempts: %w", context.DeadlineExceeded), 2 * time.Second},
		{"network", context.Background(), errors.New("connection refused"), 2 * time.Second},
		{"limiter", context.Background(), &WaitError{Kind: ErrUpstreamLimited}, 0},
		{"offline", context.Background(), ErrOffline, 0},
		{"validator", context.Background(), &validatorError{errors.New("no")}, 0},
		{"cancelled", context.Background(), fmt.Errorf("kds: %w", context.Canceled), 0},
		{"caller gone", done, &httpget.HTTPError{StatusCode: 503, RetryAfter: time.Hour}, 0},
	} {
		if got := c.negTTL(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	c.NegativeTTL, c.TransientNegativeTTL = -1, -1
	if got := c.negTTL(context.Background(), rateLimited); got != 0 {
		t.Errorf("turned off: %v", got)
	}
}

// TestIntelNegTTL: what is remembered for how long.
func TestIntelNegTTL(t *testing.T) {
	in := &Intel{NegativeTTL: time.Minute, TransientNegativeTTL: 2 * time.Second}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want time.Duration
	}{
		{"404", context.Background(), &httpget.HTTPError{StatusCode: 404}, time.Minute},
		{"invalid", context.Background(), ErrInvalidCollateral, time.Minute},
		{"503", context.Background(), &httpget.HTTPError{StatusCode: 503}, 2 * time.Second},
		{"503 Retry-After", context.Background(), &httpget.HTTPError{StatusCode: 503, RetryAfter: time.Hour}, MaxNegativeRetryAfter},
		{"network", context.Background(), errors.New("connection refused"), 2 * time.Second},
		{"limiter", context.Background(), &WaitError{Kind: ErrUpstreamLimited}, 0},
		{"offline", context.Background(), ErrOffline, 0},
		{"caller gone", done, &httpget.HTTPError{StatusCode: 503}, 0},
	} {
		if got := in.negTTL(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	in.NegativeTTL, in.TransientNegativeTTL = -1, -1
	if got := in.negTTL(context.Background(), &httpget.HTTPError{StatusCode: 404, RetryAfter: time.Hour}); got != 0 {
		t.Errorf("turned off: %v", got)
	}
}

// TestFirstFailureCarriesWait: the first call whose fetch fails (VCEK,
// cert chain, VCEK CRL, VLEK CRL) gets a *WaitError of ErrFetchFailed
// that says how long the failure is remembered (what serve sends as
// Retry-After), wrapping the failure; a call within the back-off gets
// ErrRecentFailure with the wait left, without a request. The first
// caller got the bare failure, so serve answered it Retry-After: 1 while
// the back-off was 5 minutes.
func TestFirstFailureCarriesWait(t *testing.T) {
	kinds := []struct {
		name string
		call func(ctx context.Context, c *testClient) error
		// marks: the call marks a failure of the way to KDS
		// verify.ErrCertificateUnavailable (CertChain leaves it to
		// CheckRevoked, its caller in a verification)
		marks bool
	}{
		{"VCEK", func(ctx context.Context, c *testClient) error {
			_, err := c.GetVCEK(ctx, milanReq(chipID(9), nil))
			return err
		}, true},
		{"cert chain", func(ctx context.Context, c *testClient) error { _, err := c.CertChain(ctx, ProductMilan); return err }, false},
		{"CRL", func(ctx context.Context, c *testClient) error { _, err := c.CRL(ctx, ProductMilan); return err }, true},
		{"VLEK CRL", func(ctx context.Context, c *testClient) error { _, err := c.VLEKCRL(ctx, ProductMilan); return err }, true},
	}
	answers := []struct {
		name        string
		status      int
		retryAfter  string
		wait        time.Duration
		unavailable bool // marked verify.ErrCertificateUnavailable (serve: 503)
	}{
		{"503, Retry-After 300", http.StatusServiceUnavailable, "300", 5 * time.Minute, true},
		{"503", http.StatusServiceUnavailable, "", DefaultTransientNegativeTTL, true},
		{"404", http.StatusNotFound, "", DefaultNegativeTTL, false},
	}
	for _, k := range kinds {
		for _, a := range answers {
			t.Run(k.name+", "+a.name, func(t *testing.T) {
				_, kds := newMilanKDS(t)
				kds.setHook(func(w http.ResponseWriter, _ *http.Request, _ int64) bool {
					if a.retryAfter != "" {
						w.Header().Set("Retry-After", a.retryAfter)
					}
					w.WriteHeader(a.status)
					return true
				})
				c := kds.newClient("")
				c.KDS.MaxRetries = -1
				clock := newTestClock()
				c.Now = clock.Now
				ctx := ctxTimeout(t, 5*time.Second)
				err := k.call(ctx, c)
				we, ok := errors.AsType[*WaitError](err)
				herr, isHTTP := errors.AsType[*HTTPError](err)
				if !ok || !errors.Is(err, ErrFetchFailed) || errors.Is(err, ErrRecentFailure) || !isHTTP || herr.StatusCode != a.status {
					t.Fatalf("first call: %v, want a *WaitError of ErrFetchFailed wrapping HTTP %d", err, a.status)
				}
				if unavailable := a.unavailable && k.marks; we.RetryDelay() != a.wait || errors.Is(err, verify.ErrCertificateUnavailable) != unavailable {
					t.Errorf("first call: RetryDelay %v, unavailable %v; want %v, %v", we.RetryDelay(), errors.Is(err, verify.ErrCertificateUnavailable), a.wait, unavailable)
				}
				if we.Error() != we.Err.Error() {
					t.Errorf("first call's message %q, want the failure's %q", we.Error(), we.Err.Error())
				}
				clock.Advance(time.Second)
				err = k.call(ctx, c)
				we, ok = errors.AsType[*WaitError](err)
				if !ok || !errors.Is(err, ErrRecentFailure) || errors.Is(err, ErrFetchFailed) || we.RetryDelay() != a.wait-time.Second {
					t.Errorf("within the back-off: %v, want ErrRecentFailure with %v left", err, a.wait-time.Second)
				}
				kds.wantRequests(t, 1, "KDS requests", "1")
			})
		}
	}
}

// TestLimiterBoundsIMDS: IMDS is upstream too: a request to it takes a
// token like one to KDS, and beyond the budget IMDS is not asked.
func TestLimiterBoundsIMDS(t *testing.T) {
	pki, kds := newMilanKDS(t)
	chip := chipID(20)
	thim := fmt.Appendf(nil, `{"vcekCert":%q}`, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})}))
	c, imdsReqs := kds.newClientIMDS(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(thim) })
	var err error
	if c.Limiter, err = NewRateLimiter(1, 1, newTestClock().Now); err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := c.GetVCEK(ctx, milanReq(chip, pki.validator())); err != nil {
		t.Fatalf("within the budget: %v", err)
	}
	if _, err = c.GetVCEK(ctx, milanReq(chipID(21), pki.validator())); !errors.Is(err, ErrUpstreamLimited) {
		t.Fatalf("over the budget: err = %v, want ErrUpstreamLimited", err)
	}
	if n, k := imdsReqs.Load(), kds.requests.Load(); n != 1 || k != 0 {
		t.Errorf("IMDS requests %d, KDS requests %d; want 1 and 0", n, k)
	}
}

// TestNegativeCacheEvictsExpiredFirst: a full negative cache makes room
// by dropping the failures that have ended; only when none has does it
// drop the live one that ends soonest, never more than one.
func TestNegativeCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	errFetch := errors.New("404")
	for _, tc := range []struct {
		name       string
		later      time.Duration // when the third failure comes
		kept, gone []string
	}{
		{"one ended", 2 * time.Second, []string{"long", "third"}, []string{"short"}},
		{"none ended", 500 * time.Millisecond, []string{"long", "third"}, []string{"short"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n negCache
			_ = n.put("short", "VCEK", errFetch, time.Second, now, 2)
			_ = n.put("long", "VCEK", errFetch, time.Hour, now, 2)
			at := now.Add(tc.later)
			_ = n.put("third", "VCEK", errFetch, time.Hour, at, 2)
			for _, k := range tc.kept {
				if _, ok := n.get(k, "VCEK", at); !ok {
					t.Errorf("%s forgotten", k)
				}
			}
			for _, k := range tc.gone {
				if _, ok := n.get(k, "VCEK", at); ok {
					t.Errorf("%s still remembered", k)
				}
			}
		})
	}
}

// signalWriter closes c on its first write.
type signalWriter struct {
	once sync.Once
	c    chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.c) })
	return len(p), nil
}

// TestFlightLeaderPanic: fn must not panic, but if it does the panic goes
// on up the leader's stack (not turned into a nil result), and a caller
// waiting on the same key gets an error instead of waiting forever.
func TestFlightLeaderPanic(t *testing.T) {
	var g flightGroup
	started := make(chan struct{})
	joined := &signalWriter{c: make(chan struct{})} // the waiter logs that it waits
	waitLog := slog.New(slog.NewTextHandler(joined, &slog.HandlerOptions{Level: slog.LevelDebug}))
	waiter := make(chan error, 1)
	go func() {
		<-started
		_, _, err := g.do(ctxTimeout(t, 5*time.Second), waitLog, "k", func() (any, error) { return "second", nil })
		waiter <- err
	}()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("leader recovered %v, want the panic", r)
			}
		}()
		_, _, _ = g.do(context.Background(), nil, "k", func() (any, error) {
			close(started)
			<-joined.c
			panic("boom")
		})
	}()
	if err := <-waiter; err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("the waiter got %v from a leader that panicked, want an internal error", err)
	}
}
