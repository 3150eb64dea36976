package graceful

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve starts Serve with handler h on a loopback port; it returns the
// base URL, the cancel that starts the shutdown and Serve's result.
func serve(t *testing.T, h http.Handler, timeout time.Duration) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, &http.Server{Handler: h, ReadHeaderTimeout: time.Second}, ln, timeout, nil) }()
	return "http://" + ln.Addr().String(), cancel, done
}

// TestServeStopsGracefully: a request in flight when ctx ends is answered,
// and Serve then returns nil.
func TestServeStopsGracefully(t *testing.T) {
	started := make(chan struct{})
	url, cancel, done := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(100 * time.Millisecond)
		_, _ = w.Write([]byte("ok"))
	}), 5*time.Second)
	got := make(chan error, 1)
	go func() {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-started
	cancel()
	if err := <-got; err != nil {
		t.Fatalf("request in flight during shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v, want nil after a graceful shutdown", err)
	}
}

// TestServeTimeout: a request that outlives the timeout is cut off and
// Serve reports the failed graceful shutdown.
func TestServeTimeout(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	url, cancel, done := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}), 50*time.Millisecond)
	go func() {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	err := <-done
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want the graceful shutdown's deadline error", err)
	}
}

// TestServeTimeoutEndsRequestContexts: a request cut off by the timeout
// has its context ended by the time Serve returns, even when net/http
// would not yet have ended it (the handler has not read the request's
// body, so no background read notices the closed connection): a handler
// that checks its context after the cut (the server does before releasing
// a secret) sees it ended. Its own BaseContext's values are kept.
func TestServeTimeoutEndsRequestContexts(t *testing.T) {
	type key struct{}
	started, release := make(chan struct{}), make(chan struct{})
	reqCtx := make(chan context.Context, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := &http.Server{ReadHeaderTimeout: time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithValue(context.Background(), key{}, "v") },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reqCtx <- r.Context()
			close(started)
			<-release
		})}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, hs, ln, 50*time.Millisecond, nil) }()
	defer close(release)
	go func() {
		if resp, err := http.Post("http://"+ln.Addr().String(), "text/plain", strings.NewReader("unread body")); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	rc := <-reqCtx
	if rc.Value(key{}) != "v" {
		t.Error("the request context lost the BaseContext's value")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want the graceful shutdown's deadline error", err)
	}
	if rc.Err() == nil {
		t.Error("Serve returned with a cut-off request's context still live")
	}
}

// TestServeError: a listener that fails ends Serve with its error.
func TestServeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = Serve(context.Background(), &http.Server{ReadHeaderTimeout: time.Second}, ln, time.Second, nil)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve on a closed listener = %v, want its accept error", err)
	}
}
