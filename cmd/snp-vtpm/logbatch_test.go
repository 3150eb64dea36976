package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use that counts the
// writes it took.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	err    error
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	if l.err != nil {
		return 0, l.err
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

// TestLogBatcherBatchesAndCloseFlushes: lines wait in memory (one write for
// many lines) and Close writes every one of them, in order; after Close,
// writes go straight through.
func TestLogBatcherBatchesAndCloseFlushes(t *testing.T) {
	var sink lockedBuffer
	b := newLogBatcher(&sink, time.Hour)
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("msg=\"secret released\" n=%d\n", i)
		want.WriteString(line)
		if n, err := b.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if got := sink.String(); got != "" {
		t.Fatalf("written before its delay: %q", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sink.String(); got != want.String() || sink.count() != 1 {
		t.Fatalf("after Close: %d writes, %q", sink.count(), got)
	}
	_, _ = b.Write([]byte("after\n"))
	if got := sink.String(); !strings.HasSuffix(got, "after\n") || b.Close() != nil {
		t.Fatalf("write after Close: %q", got)
	}
}

// TestLogBatcherDelayBounded: a line reaches the sink on its own, without
// Close, once the delay has passed; a batch that reaches logBatchMax is
// written at once.
func TestLogBatcherDelayBounded(t *testing.T) {
	var sink lockedBuffer
	const every = 5 * time.Millisecond
	b := newLogBatcher(&sink, every)
	defer b.Close()
	for round := range 3 { // the flusher starts a batch again after each write
		line := fmt.Sprintf("audit %d\n", round)
		start := time.Now()
		_, _ = b.Write([]byte(line))
		for !strings.Contains(sink.String(), line) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("round %d: line not written after %v", round, time.Since(start))
			}
			time.Sleep(time.Millisecond)
		}
		if d := time.Since(start); d < every {
			t.Errorf("round %d: written after %v, before the delay %v", round, d, every)
		}
	}
	var big lockedBuffer
	bb := newLogBatcher(&big, time.Hour)
	defer bb.Close()
	_, _ = bb.Write(bytes.Repeat([]byte("x"), logBatchMax))
	if big.count() != 1 {
		t.Errorf("a full batch waited: %d writes", big.count())
	}
}

// TestLogBatcherConcurrent: lines written concurrently all arrive whole
// (run with -race), and an error of the sink comes back from Close.
func TestLogBatcherConcurrent(t *testing.T) {
	var sink lockedBuffer
	b := newLogBatcher(&sink, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				_, _ = fmt.Fprintf(b, "g=%d i=%d\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(sink.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	failing := &lockedBuffer{err: errors.New("pipe closed")}
	fb := newLogBatcher(failing, time.Hour)
	_, _ = fb.Write([]byte("x\n"))
	if err := fb.Close(); err == nil || err.Error() != "pipe closed" {
		t.Errorf("Close: %v", err)
	}
}

// TestServeLogBatchedPromptAndFlushed runs the built binary, whose log is
// batched: lines reach stderr while serve runs (no shutdown needed), and
// the access line of a request answered just before SIGTERM is there
// after serve exits, before serve's last line.
func TestServeLogBatchedPromptAndFlushed(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary(t), "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--offline")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v", err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	waitFor := func(s string) {
		t.Helper()
		for start := time.Now(); !strings.Contains(stderr.String(), s); time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%q not logged while serving:\n%s", s, stderr.String())
			}
		}
	}
	waitFor("msg=serving")
	res, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	waitFor("path=/healthz status=200")

	res, err = http.Post(url+"/v1/attest", "application/json", strings.NewReader(`{"nope":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	access := strings.Index(out, "path=/v1/attest status=400")
	last := strings.Index(out, "stopped: in-flight requests completed")
	if access < 0 || last < access {
		t.Fatalf("access line at %d, last line at %d:\n%s", access, last, out)
	}
}
