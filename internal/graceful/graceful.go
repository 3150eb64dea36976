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
	"time"
)

// Serve serves hs on ln until ctx is done or serving fails. When ctx is
// done it stops accepting connections and waits up to timeout for the
// requests in flight; those still running then are cut off (hs.Close).
// It returns nil after a graceful shutdown, the error serving failed with,
// or "graceful shutdown: ..." when the requests did not finish in time.
// A non-nil log receives "shutting down" (with the timeout) and "stopped".
func Serve(ctx context.Context, hs *http.Server, ln net.Listener, timeout time.Duration, log *slog.Logger) error {
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
