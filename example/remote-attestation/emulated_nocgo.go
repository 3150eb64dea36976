//go:build !cgo

package main

import (
	"context"
	"errors"
)

// openEmulated fails: the emulated CVM needs cgo.
func openEmulated(ctx context.Context) (*cvm, error) {
	return nil, errors.New("built without cgo: no emulated CVM; run on an Azure CVM with -tpm /dev/tpmrm0, or build with CGO_ENABLED=1")
}
