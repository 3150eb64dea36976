package kds

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// lru is a bounded least-recently-used map of DER blobs. Not safe for concurrent
// use; the Client guards it with its mutex.
type lru struct {
	max   int
	order *list.List // front = most recent; values are *lruItem
	items map[string]*list.Element
}

type lruItem struct {
	key string
	val []byte
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (l *lru) get(key string) ([]byte, bool) {
	e, ok := l.items[key]
	if !ok {
		return nil, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruItem).val, true
}

func (l *lru) put(key string, val []byte) {
	if e, ok := l.items[key]; ok {
		e.Value.(*lruItem).val = val
		l.order.MoveToFront(e)
		return
	}
	l.items[key] = l.order.PushFront(&lruItem{key: key, val: val})
	for l.order.Len() > l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.items, oldest.Value.(*lruItem).key)
	}
}

func (l *lru) len() int { return l.order.Len() }

// vcekLRU returns the memory cache, creating it on first use. c.mu must be held.
func (c *Client) vcekLRU() *lru {
	if c.vceks == nil {
		size := c.MemoryCacheSize
		if size <= 0 {
			size = DefaultMemoryCacheSize
		}
		c.vceks = newLRU(size)
	}
	return c.vceks
}

func (c *Client) memGet(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vcekLRU().get(key)
}

func (c *Client) memPut(key string, der []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vcekLRU().put(key, der)
}

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
				return nil, false, fmt.Errorf("kds: waiting for a shared fetch: %w", ctx.Err())
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
					call.err = fmt.Errorf("kds: internal error: %v", r)
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

// diskPath returns CacheDir/kind/line/name, or "" without a CacheDir.
func (c *Client) diskPath(kind, line, name string) string {
	if c.CacheDir == "" {
		return ""
	}
	return filepath.Join(c.CacheDir, kind, line, name)
}

// readFileLimited reads a cache file of at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("cache file larger than %d bytes", limit)
	}
	if len(b) == 0 {
		return nil, errors.New("empty cache file")
	}
	return b, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see either the old or the new file whole.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
