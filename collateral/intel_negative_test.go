package collateral

import (
	"context"
	"errors"
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

// fakeClock is a settable clock for the negative cache.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// wantWait checks that err is a remembered Intel PCS failure that names
// the item, the PCS and the wait, and wraps the PCS's HTTP status.
func wantWait(t *testing.T, err error, pcsURL, item string, wait time.Duration, status int) {
	t.Helper()
	we, ok := errors.AsType[*WaitError](err)
	herr, isHTTP := errors.AsType[*httpget.HTTPError](err)
	if !ok || !errors.Is(err, ErrRecentFailure) || !isHTTP || herr.StatusCode != status || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("got %v, want a *WaitError of ErrRecentFailure wrapping HTTP %d", err, status)
	}
	if we.RetryDelay() <= 0 || we.RetryDelay() > wait {
		t.Errorf("RetryDelay %v, want in (0, %v]", we.RetryDelay(), wait)
	}
	for _, s := range []string{"Intel PCS " + pcsURL, item, "not asked again for"} {
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
	fake, dir, clk := newFakePCS(t), t.TempDir(), newFakeClock()
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
	in.PCS.MaxRetries, in.Now = 2, clk.now
	ctx := context.Background()
	for i := range 10 {
		_, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime()))
		wantWait(t, err, fake.URL, "TCB info for FMSPC 00806f050000", DefaultTransientNegativeTTL, http.StatusServiceUnavailable)
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

	clk.advance(DefaultTransientNegativeTTL + time.Millisecond)
	if _, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) || fake.Requests() != 6 {
		t.Fatalf("after the back-off, still down: %v, %d requests (want 6)", err, fake.Requests())
	}
	down.Store(false)
	if _, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) || fake.Requests() != 6 {
		t.Fatalf("mended, within the new back-off: %v, %d requests (want 6)", err, fake.Requests())
	}
	clk.advance(DefaultTransientNegativeTTL + time.Millisecond)
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
			fake, clk := newFakePCS(t), newFakeClock()
			fake.SetHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool {
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			})
			in := newIntel(fake.URL, t.TempDir())
			in.Now = clk.now
			_, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
			wantWait(t, err, fake.URL, "TCB info", tc.want, http.StatusTooManyRequests)
			if we, _ := errors.AsType[*WaitError](err); we.RetryDelay() != tc.want {
				t.Errorf("RetryDelay %v, want %v", we.RetryDelay(), tc.want)
			}
			clk.advance(tc.want - time.Second)
			if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) || fake.Requests() != 1 {
				t.Fatalf("within Retry-After: %v after %d requests (want 1)", err, fake.Requests())
			}
			clk.advance(2 * time.Second)
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
	fake, clk := newFakePCS(t), newFakeClock()
	in := newIntel(fake.URL, t.TempDir())
	in.Now = clk.now
	req := intelReq(v, testutil.TDXFixtureTime())
	req.FMSPC = [6]byte{0x90, 0xc0, 0x6f, 0, 0, 0}
	for range 10 {
		_, err := in.TDXCollateral(context.Background(), req)
		wantWait(t, err, fake.URL, "TCB info for FMSPC 90c06f000000", DefaultNegativeTTL, http.StatusNotFound)
	}
	if n := fake.Requests(); n != 1 {
		t.Fatalf("%d requests for 10 attestations of an unknown FMSPC, want 1", n)
	}
	if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); err != nil {
		t.Fatalf("a known FMSPC: %v", err)
	}
	before := fake.Requests()
	clk.advance(DefaultNegativeTTL - time.Second)
	if _, err := in.TDXCollateral(context.Background(), req); !errors.Is(err, ErrRecentFailure) || fake.Requests() != before {
		t.Fatalf("within NegativeTTL: %v, %d new requests", err, fake.Requests()-before)
	}
	clk.advance(2 * time.Second)
	if _, err := in.TDXCollateral(context.Background(), req); !errors.Is(err, httpget.ErrNotFound) || fake.Requests() != before+1 {
		t.Fatalf("after NegativeTTL: %v, %d new requests (want 1)", err, fake.Requests()-before)
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
