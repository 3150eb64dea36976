//go:build cgo

package main

import (
	"context"

	"github.com/snp-vtpm/snp-vtpm/emulator"
)

// openEmulated starts the emulated Azure CVM.
func openEmulated(ctx context.Context) (*cvm, error) {
	c, err := emulator.Start(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &cvm{tpm: c.TPM(), imdsURL: c.IMDSURL(), emulated: true, close: c.Close}, nil
}
