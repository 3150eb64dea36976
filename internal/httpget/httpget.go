// Package httpget is the one HTTP GET with bounded retries used by the
// certificate transports (kds, imds): per-attempt timeout, retries on
// network errors, 408, 429 and 5xx only (SPEC §5), Retry-After honoured up
// to a bound and never past the caller's deadline, bounded bodies, no
// redirect from https to http (NoDowngrade), and a hook called before
// every attempt (the upstream budget and counters of package collateral).
package httpget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Defaults used for zero-valued Client fields.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxRetries     = 4
	DefaultMinBackoff     = 1 * time.Second
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryAfter  = 2 * time.Minute
)

// slowFetch is how long an attempt may take before a log line says that it is still waiting.
const slowFetch = 3 * time.Second

// ErrNotFound is matched by an *HTTPError with status 404.
var ErrNotFound = errors.New("not found")

// ErrRateLimited is matched by an *HTTPError with status 429.
var ErrRateLimited = errors.New("rate limited")

// ErrTooLarge: a response body exceeded its limit (never retried).
var ErrTooLarge = errors.New("response too large")

// ErrInsecureRedirect: a redirect from https to another scheme was refused
// (never retried).
var ErrInsecureRedirect = errors.New("redirect from https to another scheme refused")

// maxRedirects is how many redirects NoDowngrade follows when the client
// has no CheckRedirect of its own (net/http's default).
const maxRedirects = 10

// NoDowngrade returns a copy of hc (nil: http.DefaultClient) that refuses
// a redirect from an https URL to one of another scheme (ErrInsecureRedirect),
// then applies hc's own CheckRedirect (none: at most 10 redirects). What
// was asked for over TLS is never read or sent in the clear, where anyone
// on the way could read or replace it (a JWKS, an evidence document).
func NoDowngrade(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	cp := *hc
	next := hc.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: to %s", ErrInsecureRedirect, format.Printable(req.URL.Redacted(), 256))
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return &cp
}

// HTTPError reports a response with a status other than 200 OK.
type HTTPError struct {
	// URL is the requested URL.
	URL string
	// StatusCode is the HTTP status code of the (last) response.
	StatusCode int
	// RetryAfter is the delay the server asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
}

// Error implements error.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return s
}

// Is reports whether e matches ErrNotFound (404) or ErrRateLimited (429).
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// Retryable reports whether a status is worth retrying: 408, 429, 5xx.
func Retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Client sends GETs with bounded retries. The zero value is usable.
type Client struct {
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Header is added to every request.
	Header http.Header
	// Service names the server in logs and errors ("kds", "imds").
	Service string
	// RequestTimeout bounds one attempt; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt; 0
	// means DefaultMaxRetries, negative means none.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the jittered exponential backoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; 0 means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Hook is called before every attempt (retry reports whether it is a
// retry); an error stops the Get without sending anything.
type Hook func(what string, retry bool) error

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) requestTimeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return DefaultRequestTimeout
}

func (c *Client) maxRetries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

func (c *Client) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter > 0 {
		return c.MaxRetryAfter
	}
	return DefaultMaxRetryAfter
}

// Backoff returns the jittered delay before retry number retry (from 0).
func (c *Client) Backoff(retry int) time.Duration {
	lo, hi := c.MinBackoff, c.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	hi = max(hi, lo)
	d := hi
	if retry < 30 {
		if exp := lo << retry; exp > 0 && exp < hi {
			d = exp
		}
	}
	// Equal jitter: half fixed, half random.
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// attemptResult is the outcome of one HTTP attempt.
type attemptResult struct {
	body       []byte
	header     http.Header
	retryable  bool
	retryAfter time.Duration
	err        error
}

// Get fetches url (at most limit bytes) with bounded retries. what names
// the object for logs and errors; hook (optional) runs before each attempt.
func (c *Client) Get(ctx context.Context, url, what string, limit int64, hook Hook) ([]byte, error) {
	body, _, err := c.GetWithHeader(ctx, url, what, limit, hook)
	return body, err
}

// GetWithHeader is Get that also returns the headers of the response that
// succeeded (Intel PCS sends issuer chains in headers).
func (c *Client) GetWithHeader(ctx context.Context, url, what string, limit int64, hook Hook) ([]byte, http.Header, error) {
	log := c.logger().With("what", what, "url", url)
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("%s: GET %s: %w", c.Service, url, err)
		}
		if hook != nil {
			if err := hook(what, attempt > 0); err != nil {
				if lastErr != nil {
					return nil, nil, fmt.Errorf("%s: %s: %w; retry not sent: %w", c.Service, what, lastErr, err)
				}
				return nil, nil, err
			}
		}
		start := time.Now()
		r := c.attempt(ctx, log, url, limit)
		if r.err == nil {
			log.DebugContext(ctx, c.Service+" fetch done", "bytes", len(r.body), "elapsed", time.Since(start), "attempt", attempt+1)
			return r.body, r.header, nil
		}
		if err := ctx.Err(); err != nil {
			// The caller's context ended: that, not the transport's view of it, is the cause.
			return nil, nil, fmt.Errorf("%s: GET %s: %w", c.Service, url, err)
		}
		if !r.retryable {
			return nil, nil, r.err
		}
		lastErr = r.err
		wait, err := c.retryWait(ctx, what, attempt, r)
		if err != nil {
			return nil, nil, err
		}
		c.logRetry(ctx, log, r.err, wait, attempt)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("%s: GET %s: waiting to retry after %v: %w", c.Service, url, r.err, ctx.Err())
		}
	}
}

// retryWait returns how long to wait before retrying a failed attempt, or
// why not to retry.
func (c *Client) retryWait(ctx context.Context, what string, attempt int, r attemptResult) (time.Duration, error) {
	if attempt >= c.maxRetries() {
		return 0, fmt.Errorf("%s: giving up on %s after %d attempts: %w", c.Service, what, attempt+1, r.err)
	}
	wait := r.retryAfter
	if wait <= 0 {
		wait = c.Backoff(attempt)
	} else if wait > c.maxRetryAfter() {
		return 0, fmt.Errorf("%s: %s: server asks to retry in %s, more than the %s this client waits: %w",
			c.Service, what, wait, c.maxRetryAfter(), r.err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); wait >= left {
			return 0, fmt.Errorf("%s: %s: next retry in %s would pass the context deadline (%s left): %w: %w",
				c.Service, what, wait.Round(time.Millisecond), left.Round(time.Millisecond), r.err, context.DeadlineExceeded)
		}
	}
	return wait, nil
}

func (c *Client) logRetry(ctx context.Context, log *slog.Logger, err error, wait time.Duration, attempt int) {
	service := strings.ToUpper(c.Service)
	var herr *HTTPError
	if errors.As(err, &herr) && herr.StatusCode == http.StatusTooManyRequests {
		log.InfoContext(ctx, fmt.Sprintf(retryMsg, service, "rate limited", WaitString(wait)), "attempt", attempt+1)
	} else {
		log.InfoContext(ctx, fmt.Sprintf(retryMsg, service, "request failed", WaitString(wait)), "attempt", attempt+1, "err", err)
	}
}

// Progress messages: the retry and slow-fetch lines a terminal shows
// without -v. IsProgress recognises them; keep the two together.
const (
	retryMsg = "%s %s, retry in %s"
	slowMsg  = "still waiting for %s after %s"
)

// IsProgress reports whether an info message logged by a Client is the
// progress of a slow step (a retry, or a fetch still waiting) rather than a
// diagnostic: a command line shows the first kind without -v.
func IsProgress(msg string) bool {
	return strings.Contains(msg, ", retry in ") || strings.HasPrefix(msg, "still waiting for ")
}

// WaitString prints a wait for humans: whole seconds from one second up.
func WaitString(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%d s", int64(math.Ceil(d.Seconds())))
	}
	return d.Round(time.Millisecond).String()
}

// attempt sends one GET bounded by the per-request timeout.
func (c *Client) attempt(ctx context.Context, log *slog.Logger, url string, limit int64) attemptResult {
	actx, cancel := context.WithTimeout(ctx, c.requestTimeout())
	defer cancel()
	slow := time.AfterFunc(slowFetch, func() {
		log.InfoContext(ctx, fmt.Sprintf(slowMsg, strings.ToUpper(c.Service), slowFetch), "timeout", c.requestTimeout())
	})
	defer slow.Stop()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, url, nil)
	if err != nil {
		return attemptResult{err: fmt.Errorf("%s: building request for %s: %w", c.Service, url, err)}
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := NoDowngrade(c.HTTPClient).Do(req)
	if err != nil {
		return attemptResult{retryable: !errors.Is(err, ErrInsecureRedirect), err: fmt.Errorf("%s: GET %s: %w", c.Service, url, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		herr := &HTTPError{URL: url, StatusCode: resp.StatusCode, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		return attemptResult{retryable: Retryable(resp.StatusCode), retryAfter: herr.RetryAfter, err: fmt.Errorf("%s: %w", c.Service, herr)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		// A connection cut mid-body is a network error: retry.
		return attemptResult{retryable: true, err: fmt.Errorf("%s: reading %s: %w", c.Service, url, err)}
	}
	if int64(len(body)) > limit {
		return attemptResult{err: fmt.Errorf("%s: GET %s: larger than %d bytes: %w", c.Service, url, limit, ErrTooLarge)}
	}
	if resp.ContentLength > 0 && int64(len(body)) != resp.ContentLength {
		return attemptResult{retryable: true, err: fmt.Errorf("%s: GET %s: got %d of %d bytes", c.Service, url, len(body), resp.ContentLength)}
	}
	return attemptResult{body: body, header: resp.Header}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP
// date. It returns 0 when absent or unparsable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
