package collateral

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// flightGroup makes concurrent calls for the same key share one execution.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	val  any
	err  error
	// leaderCtxDone records that the leader's own context had ended when fn returned,
	// so its error says nothing about the waiters' chances.
	leaderCtxDone bool
}

// do runs fn once for all concurrent callers of key. The first caller (the leader)
// runs fn with its own context; the others wait for its result or for their own
// context to end. If the leader failed only because its context ended, a waiter
// whose context is still live takes over. leader reports whether this caller ran fn.
// log (optional) gets a debug line when a caller joins a fetch in flight.
func (g *flightGroup) do(ctx context.Context, log *slog.Logger, key string, fn func() (any, error)) (val any, leader bool, err error) {
	for {
		g.mu.Lock()
		if g.calls == nil {
			g.calls = map[string]*flightCall{}
		}
		if call, ok := g.calls[key]; ok {
			g.mu.Unlock()
			if log != nil {
				log.DebugContext(ctx, "waiting for a fetch in flight", "key", key)
			}
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, false, fmt.Errorf("collateral: waiting for a shared fetch: %w", ctx.Err())
			}
			if call.err != nil && call.leaderCtxDone && ctx.Err() == nil {
				continue // the leader gave up; try again as a leader
			}
			return call.val, false, call.err
		}
		call := &flightCall{done: make(chan struct{})}
		g.calls[key] = call
		g.mu.Unlock()

		func() {
			defer func() {
				// fn must not panic, but if it does, release the waiters first.
				if r := recover(); r != nil {
					call.err = fmt.Errorf("collateral: internal error: %v", r)
					g.finish(key, call)
					panic(r)
				}
			}()
			call.val, call.err = fn()
		}()
		call.leaderCtxDone = ctx.Err() != nil
		g.finish(key, call)
		return call.val, true, call.err
	}
}

func (g *flightGroup) finish(key string, call *flightCall) {
	g.mu.Lock()
	if g.calls[key] == call {
		delete(g.calls, key)
	}
	g.mu.Unlock()
	close(call.done)
}
