//go:build !windows

package vtpm

import (
	"errors"
	"io/fs"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// Open opens the TPM character device at path (DefaultDevice when path is
// empty). Errors are [*DeviceError]s matching [ErrNoDevice] when the device
// does not exist or is not a device, and [ErrPermission] when the caller may
// not open it.
func Open(path string) (transport.TPMCloser, error) {
	if path == "" {
		path = DefaultDevice
	}
	t, err := linuxtpm.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return t, nil
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
