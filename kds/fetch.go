package kds

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
)

// userAgent identifies this client to KDS.
const userAgent = "snp-vtpm-kds/1"

// slowFetch is how long an attempt may take before the Client logs that it is still waiting.
const slowFetch = 3 * time.Second

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
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

func (c *Client) backoff(retry int) time.Duration {
	lo, hi := c.MinBackoff, c.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	if hi < lo {
		hi = lo
	}
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

func (c *Client) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter > 0 {
		return c.MaxRetryAfter
	}
	return DefaultMaxRetryAfter
}

// attemptResult is the outcome of one HTTP attempt.
type attemptResult struct {
	body       []byte
	retryable  bool
	retryAfter time.Duration // from Retry-After, 0 if none
	err        error
}

// get fetches url with bounded retries. It never sends a request when Offline. what
// names the object for logs.
func (c *Client) get(ctx context.Context, url, what string, limit int64) ([]byte, error) {
	if c.Offline {
		return nil, fmt.Errorf("kds: %s: %w", what, ErrOffline)
	}
	log := c.logger().With("what", what, "url", url)
	maxRetries := c.maxRetries()
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("kds: GET %s: %w", url, err)
		}
		if err := c.allowUpstream(what); err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("kds: %s: %w; retry not sent: %w", what, lastErr, err)
			}
			return nil, err
		}
		start := time.Now()
		c.stats.fetches.Add(1)
		r := c.attempt(ctx, log, url, limit)
		if r.err == nil {
			log.DebugContext(ctx, "KDS fetch done", "bytes", len(r.body), "elapsed", time.Since(start), "attempt", attempt+1)
			return r.body, nil
		}
		if err := ctx.Err(); err != nil {
			// The caller's context ended: that, not the transport's view of it, is the cause.
			return nil, fmt.Errorf("kds: GET %s: %w", url, err)
		}
		if !r.retryable {
			return nil, r.err
		}
		lastErr = r.err
		if attempt >= maxRetries {
			return nil, fmt.Errorf("kds: giving up on %s after %d attempts: %w", what, attempt+1, r.err)
		}
		wait := r.retryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		} else if wait > c.maxRetryAfter() {
			return nil, fmt.Errorf("kds: %s: server asks to retry in %s, more than the %s this client waits: %w",
				what, wait, c.maxRetryAfter(), r.err)
		}
		if deadline, ok := ctx.Deadline(); ok {
			if left := time.Until(deadline); wait >= left {
				return nil, fmt.Errorf("kds: %s: next retry in %s would pass the context deadline (%s left): %w: %w",
					what, wait.Round(time.Millisecond), left.Round(time.Millisecond), r.err, context.DeadlineExceeded)
			}
		}
		var herr *HTTPError
		if errors.As(r.err, &herr) && herr.StatusCode == http.StatusTooManyRequests {
			log.InfoContext(ctx, fmt.Sprintf("KDS rate limited, retry in %s", waitString(wait)), "attempt", attempt+1)
		} else {
			log.InfoContext(ctx, fmt.Sprintf("KDS request failed, retry in %s", waitString(wait)), "attempt", attempt+1, "err", r.err)
		}
		c.stats.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("kds: GET %s: waiting to retry after %v: %w", url, r.err, ctx.Err())
		}
	}
}

func waitString(d time.Duration) string {
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
		log.InfoContext(ctx, fmt.Sprintf("still waiting for KDS after %s", slowFetch), "timeout", c.requestTimeout())
	})
	defer slow.Stop()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, url, nil)
	if err != nil {
		return attemptResult{err: fmt.Errorf("kds: building request for %s: %w", url, err)}
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return attemptResult{retryable: true, err: fmt.Errorf("kds: GET %s: %w", url, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		herr := &HTTPError{URL: url, StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		return attemptResult{retryable: retryableStatus(resp.StatusCode), retryAfter: herr.RetryAfter, err: herr}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		// A connection cut mid-body is a network error: retry.
		return attemptResult{retryable: true, err: fmt.Errorf("kds: reading %s: %w", url, err)}
	}
	if int64(len(body)) > limit {
		return attemptResult{err: fmt.Errorf("kds: GET %s: response larger than %d bytes: %w", url, limit, ErrInvalidCertificate)}
	}
	if resp.ContentLength > 0 && int64(len(body)) != resp.ContentLength {
		return attemptResult{retryable: true, err: fmt.Errorf("kds: GET %s: got %d of %d bytes", url, len(body), resp.ContentLength)}
	}
	return attemptResult{body: body}
}

func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// It returns 0 when absent or unparsable.
func parseRetryAfter(v string, now time.Time) time.Duration {
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
