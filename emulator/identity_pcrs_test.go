//go:build cgo

package emulator_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestBootedSystemExtendsIdentityPCRs: code in the booted system can
// extend PCRs 6 and 8 after the firmware and GRUB measured them (never
// reset them). What it appends to PCR 6 unbinds the VM identity
// (vm-identity), and an init-data digest it extends into a PCR 8 that GRUB
// already measured into is not bound (init-data): PCR 8 = E(0, digest)
// only when the digest is its one measurement. The event log then no
// longer replays those PCRs (event-log).
func TestBootedSystemExtendsIdentityPCRs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cvm, err := emulator.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cvm.Close(); err != nil {
			t.Error(err)
		}
	}()
	chain, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{Roots: snp.DefaultRoots().Add(chain)}
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &attester.Attester{TPM: cvm.TPM(), EventLog: cvm.EventLog(), Verifier: v,
		Certs: &collateral.Chain{Sources: []collateral.Source{&collateral.Memory{}, &collateral.IMDS{Client: &imds.Client{URL: cvm.IMDSURL()}}}}}
	initData := sha256.Sum256([]byte("init-data"))
	strict := func(p *verify.Policy) {
		p.RequireVMIdentity, p.InitDataDigest, p.EventLogPCRs = true, initData[:], []int{6, 8}
	}
	verifyWith := func(pol func(*verify.Policy)) (*verify.Claims, error) {
		t.Helper()
		nonce := []byte("identity pcrs nonce")
		res, err := a.Evidence(ctx, nonce, true)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := res.Evidence.Encode()
		if err != nil {
			t.Fatal(err)
		}
		c := cfg
		if pol != nil {
			pol(&c.Policy)
		}
		return verify.Evidence(ctx, wire, nonce, c)
	}

	c, err := verifyWith(func(p *verify.Policy) { p.RequireVMIdentity, p.EventLogPCRs = true, []int{6, 8} })
	if err != nil || !c.VMIdentity.PCR6Bound || c.InitData.State != verify.InitDataMeasured {
		t.Fatalf("as booted: %v; vm_identity %+v, init_data %+v", err, c.VMIdentity, c.InitData)
	}
	testutil.ExtendPCR(t, cvm.TPM(), 8, initData[:])
	testutil.ExtendPCR(t, cvm.TPM(), 6, initData[:])
	c, err = verifyWith(nil)
	if err != nil || c.VMIdentity.PCR6Bound || c.VMIdentity.Form != verify.VMIdentityMismatch || c.InitData.Bound {
		t.Fatalf("extended: %v; vm_identity %+v, init_data %+v", err, c.VMIdentity, c.InitData)
	}
	for _, tc := range []struct {
		pol  func(*verify.Policy)
		want verify.Check
	}{
		{strict, verify.CheckVMIdentity},
		{func(p *verify.Policy) { p.RequireVMIdentity = true }, verify.CheckVMIdentity},
		{func(p *verify.Policy) { p.InitDataDigest = initData[:] }, verify.CheckInitData},
		{func(p *verify.Policy) { p.EventLogPCRs = []int{6} }, verify.CheckEventLog},
		{func(p *verify.Policy) { p.EventLogPCRs = []int{8} }, verify.CheckEventLog},
	} {
		_, err := verifyWith(tc.pol)
		if verr, ok := errors.AsType[*verify.Error](err); !ok || verr.Check != tc.want {
			t.Errorf("error %v, want check %s", err, tc.want)
		}
	}
}
