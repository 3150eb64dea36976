package vtpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"
)

// ErrNoAnswer means the context ended while a TPM command was outstanding:
// the function returned without the answer (the error also matches the
// context's error). A TPM that hangs, or a paravisor that never answers,
// cannot hold a caller past its deadline.
var ErrNoAnswer = errors.New("no answer from the TPM before the context ended")

// boundTPM is a transport whose commands end, for the caller, when ctx
// does: each command is sent from its own goroutine, and Send returns
// ctx's error at once when ctx ends first. The abandoned command runs on
// in the background (a single TPM command cannot be cancelled); its answer
// is dropped.
type boundTPM struct {
	ctx context.Context
	t   transport.TPM
}

// bind returns t with its commands bounded by ctx. Every function of this
// package that takes a context sends its commands through it. A context
// that can never end needs no goroutine: t is returned as it is.
func bind(ctx context.Context, t transport.TPM) transport.TPM {
	if ctx.Done() == nil {
		return t
	}
	if b, ok := t.(*boundTPM); ok && b.ctx == ctx {
		return b
	}
	return &boundTPM{ctx: ctx, t: t}
}

// abandoner is a transport that is told when a command sent through it
// will not be waited for (the device of Open, and boundTPM, which tells
// its own transport).
type abandoner interface{ abandoned() }

func (b *boundTPM) abandoned() {
	if a, ok := b.t.(abandoner); ok {
		a.abandoned()
	}
}

type sendResult struct {
	rsp []byte
	err error
}

// Send implements transport.TPM.
func (b *boundTPM) Send(cmd []byte) ([]byte, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	cmd = bytes.Clone(cmd) // the abandoned goroutine may outlive the caller's buffer
	done := make(chan sendResult, 1)
	go func() {
		rsp, err := b.t.Send(cmd)
		done <- sendResult{rsp, err}
	}()
	select {
	case r := <-done:
		return r.rsp, r.err
	case <-b.ctx.Done():
		select {
		case r := <-done: // answered as the context ended: use it
			return r.rsp, r.err
		default:
		}
		b.abandoned()
		return nil, fmt.Errorf("%w: %w", ErrNoAnswer, b.ctx.Err())
	}
}
