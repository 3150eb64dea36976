package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressEvery is how often a slow command says what it waits for.
const progressEvery = 5 * time.Second

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress prints, when stderr is a terminal, every g.progressEvery
// until stop is called or ctx ends, what the command still waits for. stop
// returns once nothing more is printed.
func (g *globals) startProgress(ctx context.Context) (stop func()) {
	if !g.terminal || g.progressEvery <= 0 {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(exited)
		t := time.NewTicker(g.progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Fprintf(g.stderr, "... still waiting for %s (%s so far; --timeout %s)\n",
					g.waitingFor(), time.Since(start).Round(time.Second), g.timeout)
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// waitingFor names what the command may wait for.
func (g *globals) waitingFor() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.waits) == 0 {
		return "the network or the TPM"
	}
	return strings.Join(g.waits, " or ")
}
