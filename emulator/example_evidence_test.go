//go:build cgo

package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Gather evidence on the emulated SEV-SNP and TDX CVMs, as a platform
// engineer does on a real one with package attester, and verify it as a
// relying party does: with a verifier that trusts the emulated chains
// (never by default) next to AMD's and Intel's pinned roots. The default
// verifier rejects the same evidence.
func ExampleStart_evidence() {
	ctx := context.Background()
	fakeChain, err := fakeamd.Chain()
	if err != nil {
		log.Fatal(err)
	}
	trusting, err := verify.New(verify.Config{Roots: snp.DefaultRoots().Add(fakeChain), TrustEmulatedTDX: true})
	if err != nil {
		log.Fatal(err)
	}
	nonce := []byte("the verifier's nonce")
	for _, platform := range []string{emulator.PlatformSNP, emulator.PlatformTDX} {
		cvm, err := emulator.Start(ctx, &emulator.Options{Platform: platform})
		if err != nil {
			log.Fatal(err)
		}
		a := &attester.Attester{
			TPM: cvm.TPM(), // on a real CVM: vtpm.Open("/dev/tpmrm0")
			Certs: &collateral.Chain{Sources: []collateral.Source{
				&collateral.Memory{},
				&collateral.IMDS{Client: &imds.Client{URL: cvm.IMDSURL()}}, // on a real CVM: &imds.Client{}, then collateral.KDS
			}},
			TDQuotes: &imds.Client{TDQuoteURL: cvm.TDQuoteURL()}, // on a real CVM: &imds.Client{}
			EventLog: cvm.EventLog(),                             // on a real CVM: leave nil (attester.DefaultEventLogPath)
			Verifier: trusting,                                   // the attester checks its own evidence first
		}
		res, err := a.Evidence(ctx, nonce, true) // fresh: version 2
		if err != nil {
			log.Fatal(err)
		}
		wire, err := res.Evidence.Encode() // what travels to the verifier
		if err != nil {
			log.Fatal(err)
		}
		if err := cvm.Close(); err != nil {
			log.Fatal(err)
		}

		claims, err := trusting.Evidence(ctx, wire, nonce)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: verified, emulated %v, paravisor %s, evidence v%d, fresh report %v\n",
			claims.Platform, claims.Emulated, claims.Paravisor, claims.EvidenceVersion, claims.FreshReport)

		_, err = verify.Evidence(ctx, wire, nonce, verify.Config{})
		var verr *verify.Error
		if errors.As(err, &verr) {
			fmt.Printf("%s: the default verifier rejects it: %s\n", claims.Platform, verr.Check)
		}
	}
	// Output:
	// sev-snp: verified, emulated true, paravisor emulated-hcl, evidence v2, fresh report true
	// sev-snp: the default verifier rejects it: vcek-chain
	// tdx: verified, emulated true, paravisor emulated-hcl, evidence v2, fresh report true
	// tdx: the default verifier rejects it: tdx-pck-chain
}
