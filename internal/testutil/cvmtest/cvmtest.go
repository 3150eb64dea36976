//go:build cgo

// Package cvmtest starts the emulated Azure CVM for tests of the packages
// that run against it (vtpm, attester, server): one start-and-clean-up
// helper instead of a copy in each. The emulator's own tests cannot use it
// (it imports the emulator).
package cvmtest

import (
	"context"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator"
)

// StartTimeout bounds the start of the emulated CVM.
const StartTimeout = 30 * time.Second

// Start starts an emulated CVM with opts (nil: the defaults), failing t if
// it does not start within StartTimeout, and closes it when t ends,
// failing t if Close fails.
func Start(t testing.TB, opts *emulator.Options) *emulator.CVM {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c, err := emulator.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the emulated CVM: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing the emulated CVM: %v", err)
		}
	})
	return c
}
