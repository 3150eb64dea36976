package httpget

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
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
