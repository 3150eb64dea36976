package httpget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999999999999", 0},
		{"9223372036854775807", time.Duration(1<<63 - 1)},
	}
	for _, tc := range tests {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBackoffBounded(t *testing.T) {
	c := &Client{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for retry := 0; retry < 70; retry++ {
		d := c.Backoff(retry)
		if d < 50*time.Millisecond || d > time.Second {
			t.Fatalf("Backoff(%d) = %v out of bounds", retry, d)
		}
	}
}

// TestProgressMessages: the retry lines a Client logs (429 and 5xx) and
// its slow-fetch line are recognised by IsProgress, which a terminal uses
// to show them without -v; a diagnostic is not.
func TestProgressMessages(t *testing.T) {
	var mu sync.Mutex
	var msgs []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	h := &recordHandler{add: func(m string) { mu.Lock(); msgs = append(msgs, m); mu.Unlock() }}
	c := &Client{Service: "kds", MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Logger: slog.New(h)}
	if _, err := c.Get(context.Background(), srv.URL, "test", 16, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(msgs) != 2 {
		t.Fatalf("logged %q, want two retry lines", msgs)
	}
	for _, m := range append(msgs, fmt.Sprintf(slowMsg, "KDS", slowFetch)) {
		if !IsProgress(m) {
			t.Errorf("%q is not recognised as progress", m)
		}
	}
	if IsProgress("VCEK from Azure IMDS") {
		t.Error("a diagnostic is taken for progress")
	}
}

// recordHandler records the messages of info and higher lines.
type recordHandler struct{ add func(string) }

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.add(r.Message)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// TestNoDowngradeRedirect: a redirect from https to http:// is refused at
// once (not retried, nothing asked over plain HTTP), while one to another
// https URL is still followed and a client's own CheckRedirect still
// applies.
func TestNoDowngradeRedirect(t *testing.T) {
	var plain, secure atomic.Int64
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain.Add(1)
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	defer plainSrv.Close()
	final := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("final"))
	}))
	defer final.Close()
	to := ""
	src := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure.Add(1)
		http.Redirect(w, r, to, http.StatusFound)
	}))
	defer src.Close()
	own := *src.Client()
	refusing := &own
	refusing.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("mine: no redirects") }
	for _, tc := range []struct {
		name     string
		to       string
		client   *http.Client
		wantBody string
		wantErr  string
	}{
		{"https to http", plainSrv.URL + "/certs", src.Client(), "", ErrInsecureRedirect.Error()},
		{"https to https", final.URL + "/x", src.Client(), "final", ""},
		{"client's own CheckRedirect", final.URL + "/x", refusing, "", "mine: no redirects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to = tc.to
			plain.Store(0)
			secure.Store(0)
			c := &Client{HTTPClient: tc.client, Service: "test", MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
			body, err := c.Get(context.Background(), src.URL+"/certs", "JWKS", 1024, nil)
			if tc.wantErr == "" {
				if err != nil || string(body) != tc.wantBody {
					t.Fatalf("Get = %q, %v; want %q", body, err, tc.wantBody)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.to == plainSrv.URL+"/certs" {
				if !errors.Is(err, ErrInsecureRedirect) || plain.Load() != 0 || secure.Load() != 1 {
					t.Errorf("err %v; %d plain requests, %d attempts (want 0 and 1: refused, not retried)", err, plain.Load(), secure.Load())
				}
			}
		})
	}
}

// TestHostileBodies: a body over the limit (chunked, unknown length), an
// error answer that never ends, a body that drips slowly and a
// Retry-After of 10^9 seconds each end the Get promptly.
func TestHostileBodies(t *testing.T) {
	chunk := []byte(strings.Repeat("a", 4096))
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    func(error) bool
	}{
		{"chunked body over the limit", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 1<<12 && r.Context().Err() == nil; i++ {
				_, _ = w.Write(chunk)
				w.(http.Flusher).Flush()
			}
		}, func(err error) bool { return errors.Is(err, ErrTooLarge) }},
		{"endless error answer", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"slow drip", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 200 && r.Context().Err() == nil; i++ {
				_, _ = w.Write([]byte("a"))
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
			}
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"Retry-After 10^9 s", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1000000000")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, func(err error) bool { return strings.Contains(err.Error(), "more than the") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.handler)
			defer ts.Close()
			c := &Client{Service: "test", RequestTimeout: 300 * time.Millisecond, MaxRetries: -1}
			if strings.HasPrefix(tc.name, "Retry-After") {
				c.MaxRetries = 3
			}
			start := time.Now()
			_, err := c.Get(context.Background(), ts.URL, "x", 64<<10, nil)
			if err == nil || !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
