//go:build windows

package vtpm

import (
	"errors"

	"github.com/google/go-tpm/tpm2/transport"
)

// Open is not supported on Windows: the Azure vTPM is reached through
// /dev/tpmrm0 on Linux guests. It always returns an error matching
// [ErrNoDevice].
func Open(path string) (transport.TPMCloser, error) {
	if path == "" {
		path = DefaultDevice
	}
	return nil, &DeviceError{Path: path, Kind: ErrNoDevice, Err: errors.New("TPM device access is only implemented for Linux")}
}
