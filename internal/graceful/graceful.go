// Package graceful runs an http.Server until a context ends and then shuts
// it down gracefully: the one serve-and-stop loop of the snp-vtpm server,
// the fleet proxy and the load generator's null server.
package graceful

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves hs on ln until ctx is done or serving fails. When ctx is
// done it stops accepting connections and waits up to timeout for the
// requests in flight; those still running then are cut off: their
// contexts end (hs.BaseContext's, wrapped here), before hs.Close and
// before Serve returns, so that a handler that looks at its context after
// the cut sees it ended (net/http alone ends it later, from the closed
// connection's background read). The requests' contexts also end when
// Serve returns after serving failed.
// It returns nil after a graceful shutdown, the error serving failed with,
// or "graceful shutdown: ..." when the requests did not finish in time.
// A non-nil log receives "shutting down" (with the timeout) and "stopped".
func Serve(ctx context.Context, hs *http.Server, ln net.Listener, timeout time.Duration, log *slog.Logger) error {
	cutOff := cancelableBase(hs)
	defer cutOff()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	if log != nil {
		log.Info("shutting down", "timeout", timeout)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		cutOff()
		_ = hs.Close()
	}
	<-served // http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if log != nil {
		log.Info("stopped")
	}
	return nil
}

// cancelableBase wraps hs.BaseContext (nil: context.Background) so that
// the contexts of hs's requests can be ended at once, whatever net/http
// does: the returned func cancels them synchronously (a request's context
// derives from its base) and may be called more than once.
func cancelableBase(hs *http.Server) func() {
	var mu sync.Mutex
	var cancels []context.CancelFunc
	base := hs.BaseContext
	hs.BaseContext = func(l net.Listener) context.Context {
		parent := context.Background()
		if base != nil {
			parent = base(l)
		}
		reqs, cancel := context.WithCancel(parent)
		mu.Lock()
		cancels = append(cancels, cancel)
		mu.Unlock()
		return reqs
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		for _, cancel := range cancels {
			cancel()
		}
	}
}
