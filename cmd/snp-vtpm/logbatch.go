package main

import (
	"io"
	"sync"
	"time"
)

// Bounds of serve's batched log (see logBatcher).
const (
	// serveLogFlushEvery is the longest a log line of serve waits in memory
	// before it is written: an audit line ("secret released") reaches the
	// log's reader at most this late.
	serveLogFlushEvery = 10 * time.Millisecond
	// logBatchMax is the most a batch holds: a write that fills it writes
	// the batch at once.
	logBatchMax = 64 << 10
)

// logBatcher is serve's stderr when main owns the process: log lines are
// collected in memory and written together, at most b.every after the first
// line of a batch arrived, or at once when the batch reaches
// logBatchMax bytes. At one request at a time every log line used to cost
// its own pipe write, and that write woke the log's reader: two per
// attestation. Close writes what is left; serve closes it before it
// returns, after its graceful shutdown (SIGINT, SIGTERM) and on every
// error path, so no line is lost when serve stops. Lines keep their order:
// everything written to serve's stderr passes through it.
type logBatcher struct {
	w     io.Writer
	every time.Duration

	mu     sync.Mutex
	buf    []byte
	err    error // the first error of w, returned by Close
	closed bool

	kick chan struct{} // a batch started (capacity 1)
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the flusher returned
}

// newLogBatcher returns a logBatcher writing to w and starts its flusher;
// Close stops it.
func newLogBatcher(w io.Writer, every time.Duration) *logBatcher {
	b := &logBatcher{w: w, every: every, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flusher()
	return b
}

// Write adds p to the batch (after Close: writes it through). It never
// fails; an error of the underlying writer is returned by Close.
func (b *logBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	started := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= logBatchMax:
		b.flushLocked()
	case started:
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// flushLocked writes the batch; b.mu is held.
func (b *logBatcher) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil && b.err == nil {
		b.err = err
	}
	if cap(b.buf) > logBatchMax {
		b.buf = nil // do not keep a batch grown by one huge write
	}
	b.buf = b.buf[:0]
}

// Flush writes the batch now.
func (b *logBatcher) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// flusher writes each batch every after it started, until Close.
func (b *logBatcher) flusher() {
	defer close(b.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.kick:
		}
		t.Reset(b.every)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		}
		b.Flush()
	}
}

// Close writes what is left, stops the flusher and makes later writes go
// straight through. It returns the first error of the underlying writer.
func (b *logBatcher) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.flushLocked()
		close(b.stop)
	}
	err := b.err
	b.mu.Unlock()
	<-b.done
	return err
}
