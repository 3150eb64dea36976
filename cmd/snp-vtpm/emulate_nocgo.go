//go:build !cgo

package main

import (
	"context"
	"errors"
)

// errNoEmulator is returned for --emulate by binaries built without cgo:
// the emulated CVM needs the cgo TPM simulator, which release builds leave out.
var errNoEmulator = errors.New("this binary was built without cgo: --emulate is not available; build with CGO_ENABLED=1, which needs gcc and the OpenSSL headers (apt-get install gcc libssl-dev): go run ./cmd/snp-vtpm --emulate ..., or make build-emulated")

// openEmulated fails: this build has no emulator.
func openEmulated(ctx context.Context, g *globals) (*platform, error) {
	return nil, errNoEmulator
}

// startFakeMAA fails: the emulated MAA, and its signing key, are in cgo
// builds only.
func startFakeMAA() (url string, stop func(), err error) {
	return "", nil, errNoEmulator
}

// emulatorBuiltIn says whether --emulate works in this build.
const emulatorBuiltIn = false
