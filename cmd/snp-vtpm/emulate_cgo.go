//go:build cgo

package main

import (
	"context"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/emulator"
)

// openEmulated starts the emulated Azure CVM (TPM simulator, fake
// paravisor, fake IMDS) of package emulator.
func openEmulated(ctx context.Context, g *globals) (*platform, error) {
	cvm, err := emulator.Start(ctx, &emulator.Options{Logger: g.logger(), Platform: g.emulate})
	if err != nil {
		return nil, fmt.Errorf("starting the emulated CVM: %w", err)
	}
	return &platform{tpm: cvm.TPM(), imdsURL: cvm.IMDSURL(), tdQuoteURL: cvm.TDQuoteURL(), emulated: true, eventLog: cvm.EventLog(), close: cvm.Close}, nil
}

// emulatorBuiltIn says whether --emulate works in this build.
const emulatorBuiltIn = true
