//go:build cgo

package main

import (
	"context"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/maa/fakemaa"
)

// openEmulated starts the emulated Azure CVM (TPM simulator, fake
// paravisor, fake IMDS) of package emulator.
func openEmulated(ctx context.Context, g *globals) (*platform, error) {
	cvm, err := emulator.Start(ctx, &emulator.Options{Logger: g.logger(), Platform: g.emulate, THIMDown: g.emulateTHIMDown, RevokedVCEK: g.emulateRevokedVCEK})
	if err != nil {
		return nil, fmt.Errorf("starting the emulated CVM: %w", err)
	}
	return &platform{tpm: cvm.TPM(), imdsURL: cvm.IMDSURL(), tdQuoteURL: cvm.TDQuoteURL(), emulated: true, eventLog: cvm.EventLog(), close: cvm.Close}, nil
}

// emulatorBuiltIn says whether --emulate works in this build.
const emulatorBuiltIn = true

// startFakeMAA starts the emulated MAA (package maa/fakemaa) on loopback
// and returns its URL and how to stop it. It is in cgo builds only, with
// the emulated CVM it attests: the release binary links neither its
// public test signing key nor the emulated CVMs' (fakekeys).
func startFakeMAA() (url string, stop func(), err error) {
	svc, err := fakemaa.New(fakemaa.Config{})
	if err != nil {
		return "", nil, err
	}
	run, err := svc.Start()
	if err != nil {
		return "", nil, fmt.Errorf("starting the fake MAA: %w", err)
	}
	return run.URL, func() { _ = run.Close() }, nil
}
