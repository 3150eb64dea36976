//go:build !windows

package vtpm

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// Open opens the TPM character device at path (DefaultDevice when path is
// empty). Errors are [*DeviceError]s matching [ErrNoDevice] when the device
// does not exist or is not a device, and [ErrPermission] when the caller may
// not open it. The device runs one command at a time (it is safe for
// concurrent use), and Close does not wait for an outstanding command.
func Open(path string) (transport.TPMCloser, error) {
	if path == "" {
		path = DefaultDevice
	}
	t, err := linuxtpm.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return &device{t: t}, nil
}

// openError classifies an error from opening the TPM device.
func openError(path string, err error) error {
	var kind error
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, linuxtpm.ErrFileIsNotDevice):
		kind = ErrNoDevice
	case errors.Is(err, fs.ErrPermission):
		kind = ErrPermission
	}
	return &DeviceError{Path: path, Kind: kind, Err: err}
}

// device is the TPM device of Open: it runs one command at a time, so that
// no two commands share the file. While a command that was abandoned (see
// boundTPM) is outstanding, other commands fail at once with errStuck
// rather than queue behind it (a cleanup without context, such as
// EphemeralKey.Close, would wait forever for a TPM that hangs). Close does
// not wait for an outstanding command: the file is then closed when that
// command returns (go-tpm still uses it until then).
type device struct {
	cmd sync.Mutex // held while a command runs
	t   transport.TPMCloser

	mu     sync.Mutex // guards the fields below
	busy   bool       // a command is outstanding
	stuck  bool       // ... and was abandoned
	closed bool
}

var (
	// errClosed is the error of a command sent after Close.
	errClosed = errors.New("vtpm: the TPM device is closed")
	// errStuck is the error of a command sent while an abandoned one is
	// outstanding.
	errStuck = fmt.Errorf("%w: an earlier command is still outstanding", ErrNoAnswer)
)

// Send implements transport.TPM.
func (d *device) Send(cmd []byte) ([]byte, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	d.cmd.Lock()
	defer d.cmd.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errClosed
	}
	d.busy = true
	d.mu.Unlock()
	rsp, err := d.t.Send(cmd)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.busy, d.stuck = false, false
	if d.closed {
		_ = d.t.Close() // Close was called while this command ran
		return nil, errClosed
	}
	return rsp, err
}

// usable returns errClosed or errStuck when a command cannot be sent now.
func (d *device) usable() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return errClosed
	case d.stuck:
		return errStuck
	}
	return nil
}

// abandoned implements abandoner: the outstanding command will not be
// waited for.
func (d *device) abandoned() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stuck = d.busy
}

// Close closes the device, at once unless a command is outstanding (then
// when it returns); later commands fail. Closing twice is harmless.
func (d *device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.busy {
		return nil
	}
	return d.t.Close()
}
