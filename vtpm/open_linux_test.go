package vtpm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestOpenSilentDevice: a TPM device that takes commands and never answers
// them (as a hung vTPM) holds no caller past its context; once a command
// was abandoned, the next ones fail at once (ErrNoAnswer), also a command
// sent without context (as EphemeralKey.Close sends its flush), instead of
// queueing behind it forever; Close returns at once.
func TestOpenSilentDevice(t *testing.T) {
	d, err := Open(testutil.SilentTPMDevice(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, tc := range []struct {
		name     string
		call     func(context.Context) error
		deadline bool // the error is the context's (else the device's at once)
	}{
		{"ReadHCLReport", func(ctx context.Context) error { _, err := ReadHCLReport(ctx, d); return err }, true},
		{"Quote after it", func(ctx context.Context) error { _, err := Quote(ctx, d, []byte("nonce")); return err }, false},
		{"RefreshReport after it", func(ctx context.Context) error {
			_, err := RefreshReport(ctx, d, []byte("nonce"))
			return err
		}, false},
		{"a flush without context", func(context.Context) error { _, err := d.Send(rcResponse(0)); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := within(t, 3*time.Second, func() error { return tc.call(ctx) })
			if !errors.Is(err, ErrNoAnswer) || errors.Is(err, context.DeadlineExceeded) != tc.deadline {
				t.Fatalf("error %v, want ErrNoAnswer (context.DeadlineExceeded: %v)", err, tc.deadline)
			}
			if took := time.Since(start); !tc.deadline && took > 50*time.Millisecond {
				t.Errorf("took %v behind the abandoned command", took)
			}
		})
	}
	if err := within(t, 3*time.Second, d.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestDeviceStuck: a command abandoned by its context makes the device
// refuse others at once until its answer arrives; then it works again.
func TestDeviceStuck(t *testing.T) {
	b := &blockingCloser{answer: make(chan struct{})}
	d := &device{t: b}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := bind(ctx, d).Send(rcResponse(0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("abandoned command: %v", err)
	}
	if _, err := within2(t, func() ([]byte, error) { return d.Send(rcResponse(0)) }); !errors.Is(err, errStuck) {
		t.Fatalf("a command behind the abandoned one: %v, want errStuck", err)
	}
	b.answer <- struct{}{} // the abandoned command is answered
	for d.isBusy() {
		time.Sleep(time.Millisecond)
	}
	go func() { b.answer <- struct{}{} }()
	if _, err := within2(t, func() ([]byte, error) { return d.Send(rcResponse(0)) }); err != nil {
		t.Fatalf("a command after the answer: %v", err)
	}
}

// within2 is within for a Send.
func within2(t *testing.T, send func() ([]byte, error)) ([]byte, error) {
	t.Helper()
	var rsp []byte
	err := within(t, 3*time.Second, func() error {
		var err error
		rsp, err = send()
		return err
	})
	return rsp, err
}

// blockingCloser answers each command when told to and counts Close calls.
type blockingCloser struct {
	answer chan struct{}
	closes atomic.Int32
}

func (b *blockingCloser) Send([]byte) ([]byte, error) { <-b.answer; return rcResponse(0), nil }
func (b *blockingCloser) Close() error                { b.closes.Add(1); return nil }

// TestDeviceClose: Close does not wait for an outstanding command, and the
// file is closed once, when that command returns (not under it); commands
// after Close fail.
func TestDeviceClose(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			b := &blockingCloser{answer: make(chan struct{})}
			d := &device{t: b}
			sent := make(chan error, 1)
			if busy {
				go func() { _, err := d.Send(rcResponse(0)); sent <- err }()
				for !d.isBusy() {
					time.Sleep(time.Millisecond)
				}
			}
			if err := within(t, time.Second, d.Close); err != nil {
				t.Fatalf("Close: %v", err)
			}
			want := int32(1)
			if busy {
				want = 0
			}
			if n := b.closes.Load(); n != want {
				t.Fatalf("%d closes right after Close, want %d", n, want)
			}
			if busy {
				close(b.answer)
				if err := <-sent; !errors.Is(err, errClosed) {
					t.Fatalf("the outstanding command: %v, want errClosed", err)
				}
			}
			if n := b.closes.Load(); n != 1 {
				t.Fatalf("%d closes, want 1", n)
			}
			if _, err := d.Send(rcResponse(0)); !errors.Is(err, errClosed) {
				t.Fatalf("Send after Close: %v, want errClosed", err)
			}
			if err := d.Close(); err != nil || b.closes.Load() != 1 {
				t.Fatalf("second Close: %v, %d closes", err, b.closes.Load())
			}
		})
	}
}

// isBusy reports whether a command is outstanding.
func (d *device) isBusy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busy
}
