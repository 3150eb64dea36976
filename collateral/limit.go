package collateral

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
)

// ErrUpstreamLimited: the Chain's Limiter refused to send a request upstream
// (KDS or IMDS). Nothing was learnt about the certificate; try again later.
// Matched by a *WaitError of that Kind.
var ErrUpstreamLimited = errors.New("upstream request budget exhausted")

// ErrRecentFailure: the certificate's fetch failed recently and is not tried
// again until its back-off ends (see Chain.NegativeTTL). Matched by a
// *WaitError of that Kind, which also matches the original failure.
var ErrRecentFailure = errors.New("fetch failed recently")

// ErrFetchFailed: the certificate's fetch failed on this call (this
// caller, or a shared fetch it joined, asked upstream) and is remembered:
// it is not sent again until its back-off ends (WaitError.Wait; calls
// within it get ErrRecentFailure). Matched by a *WaitError of that Kind,
// which also matches the failure and reads as it, so that the first
// caller learns the back-off as the later ones do (serve's 503
// Retry-After).
var ErrFetchFailed = errors.New("fetch failed")

// WaitError is a fetch that may succeed later, and when: the Chain's
// Limiter refused the request (Kind ErrUpstreamLimited), the same fetch
// failed less than its back-off ago (Kind ErrRecentFailure), or it failed
// just now and is remembered for the back-off (Kind ErrFetchFailed: the
// caller whose own fetch failed, for the Chain's items and Intel's). With
// a remembered failure, Err is that failure, so errors.Is matches the same
// sentinels as the failure itself (kds.ErrNotFound, ErrInvalidCertificate,
// ...). It matches its Kind with errors.Is.
type WaitError struct {
	// Kind is ErrUpstreamLimited, ErrRecentFailure or ErrFetchFailed.
	Kind error
	// What names the object that was not fetched ("VCEK", "cert chain", ...).
	What string
	// Err is the remembered failure (Kind ErrRecentFailure or
	// ErrFetchFailed), else nil.
	Err error
	// Wait is how long until a request would be sent again.
	Wait time.Duration
}

// Error implements error. A failure of this call (ErrFetchFailed) reads
// as the failure itself: the wait is for RetryDelay (serve's Retry-After),
// not news to a one-shot command.
func (e *WaitError) Error() string {
	if e.Err != nil && e.Kind == ErrFetchFailed {
		return e.Err.Error()
	}
	if e.Err != nil {
		return fmt.Sprintf("%v (remembered; not asked again for %s)", e.Err, httpget.WaitString(e.Wait))
	}
	return fmt.Sprintf("collateral: %s not fetched: %v, next request allowed in %s", e.What, e.Kind, httpget.WaitString(e.Wait))
}

// Unwrap returns the remembered failure, if any.
func (e *WaitError) Unwrap() error { return e.Err }

// Is reports whether target is the error's Kind.
func (e *WaitError) Is(target error) bool { return target != nil && target == e.Kind }

// RetryDelay is how long the caller should wait before trying again.
func (e *WaitError) RetryDelay() time.Duration { return e.Wait }

// RateLimiter is a token bucket that bounds the requests a Chain sends
// upstream: it holds at most burst tokens, gains rate tokens per second,
// and every request (a retry too) takes one. A request that finds no token
// is refused at once, never queued, so a flood of evidence naming unknown
// chips costs at most rate requests per second upstream. It is safe for
// concurrent use.
type RateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a full bucket of burst tokens refilled at rate
// tokens per second. now is the clock (nil: time.Now). rate must be > 0 and
// burst >= 1.
func NewRateLimiter(rate float64, burst int, now func() time.Time) (*RateLimiter, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 {
		return nil, fmt.Errorf("collateral: rate limiter needs rate > 0 and burst >= 1, got %v and %d", rate, burst)
	}
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{rate: rate, burst: float64(burst), now: now, tokens: float64(burst), last: now()}, nil
}

// Admit takes a token for one request upstream for what (the object it
// fetches): nil when l is nil or a token was free, else a *WaitError of
// ErrUpstreamLimited saying how long until one will be (serve's
// Retry-After), and nothing is to be sent.
func (l *RateLimiter) Admit(what string) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.Allow(); !ok {
		return &WaitError{Kind: ErrUpstreamLimited, What: what, Wait: wait}
	}
	return nil
}

// Allow takes a token if one is available. Otherwise it reports false and
// how long until one will be.
func (l *RateLimiter) Allow() (ok bool, wait time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(l.burst, l.tokens+d.Seconds()*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	wait = time.Duration(math.Ceil((1 - l.tokens) / l.rate * float64(time.Second)))
	return false, wait
}
