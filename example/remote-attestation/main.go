// Command remote-attestation walks through a remote attestation of an Azure
// Confidential VM (AMD SEV-SNP) with this module's library:
//
//  1. the relying party makes a fresh random nonce;
//  2. the attester (inside the CVM) gathers evidence for it: a HCL report
//     refreshed with the nonce, a vTPM quote over the nonce and the PCRs,
//     and the VCEK from Azure IMDS;
//  3. the verifier checks the evidence completely (pinned AMD roots, VCEK,
//     report signature, runtime-data binding, attestation key, quote,
//     nonce, PCRs);
//  4. only then does the relying party release its secret.
//
// By default it runs against the emulated Azure CVM (binaries built with
// cgo only): the verifier then trusts the emulated chain, and every line
// says EMULATED. On a real CVM run it as root with -tpm /dev/tpmrm0.
//
// The code is illustrative: a real relying party sends the nonce and the
// evidence over the network, keeps its secret elsewhere, applies a policy
// (verify.Policy: measurements, minimum TCB, PCRs) and encrypts the secret
// to a key bound into the evidence.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// banner marks every line printed in emulated mode.
const banner = "*** EMULATED: not a real Azure CVM, not signed by AMD or Intel ***"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// cvm is where the attester runs: the TPM, the IMDS endpoint and whether
// it is the emulated CVM.
type cvm struct {
	tpm      transport.TPM
	imdsURL  string
	emulated bool
	close    func() error
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("remote-attestation", flag.ContinueOnError)
	tpmPath := fs.String("tpm", "", "TPM device of a real Azure CVM, e.g. /dev/tpmrm0 (default: the emulated CVM)")
	secret := fs.String("secret", "the database password is hunter2", "the secret released after verification")
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// The CVM: the real vTPM with -tpm, else the emulated one.
	var (
		c   *cvm
		err error
	)
	if *tpmPath != "" {
		c, err = openReal(*tpmPath)
	} else {
		c, err = openEmulated(ctx)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := c.close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the TPM:", err)
		}
	}()
	if c.emulated {
		fmt.Fprintln(out, banner)
		defer fmt.Fprintln(out, banner)
	}
	return c.walk(ctx, out, *secret)
}

// walk is the attestation itself: nonce, evidence, verification, and the
// secret released only after it.
func (c *cvm) walk(ctx context.Context, out io.Writer, secret string) error {
	say := func(format string, a ...any) {
		if c.emulated {
			fmt.Fprint(out, "[EMULATED] ")
		}
		fmt.Fprintf(out, format+"\n", a...)
	}

	// 1. Relying party: a fresh nonce, never reused.
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	say("relying party: nonce %x", nonce)

	// The verifier's configuration; the attester checks its own evidence
	// with the same one before sending it.
	v, err := newVerifier(c.emulated)
	if err != nil {
		return err
	}

	// 2. Attester, inside the CVM: evidence for that nonce (fresh report:
	// evidence version 2), checked locally and serialised as it would
	// travel over the network.
	res, err := c.attester(v).Evidence(ctx, nonce, true)
	if err != nil {
		return fmt.Errorf("attester: %w", err)
	}
	ev := res.Evidence
	wire, err := ev.Encode()
	if err != nil {
		return err
	}
	say("attester: evidence version %d, %d bytes, VCEK included: %v", ev.Version, len(wire), ev.VCEK != nil)

	// 3. Verifier: check everything against the nonce it issued.
	claims, err := v.Evidence(ctx, wire, nonce)
	if err != nil {
		say("verifier: REJECTED: %v", err)
		say("relying party: no secret released")
		return err
	}
	say("verifier: verified %s chip %x..., measurement %x..., roots: %s",
		claims.Product, []byte(claims.ChipID[:8]), []byte(claims.Measurement[:8]), claims.RootsSource)

	// 4. Relying party: release the secret only now.
	say("Secret: %s", secret)
	return nil
}

// attester is the attester on the CVM, checking its evidence with v. It
// takes the VCEK through a certificate chain that asks the CVM's Azure
// IMDS first, then (on a real CVM: AMD does not know the emulated chip)
// AMD KDS; the chain validates each with v's roots.
func (c *cvm) attester(v *verify.Verifier) *attester.Attester {
	certs := &collateral.Chain{Sources: []collateral.Source{
		&collateral.Memory{},
		&collateral.IMDS{Client: &imds.Client{URL: c.imdsURL}},
	}}
	if !c.emulated {
		certs.Sources = append(certs.Sources, &collateral.KDS{Client: &kds.Client{}})
	}
	return &attester.Attester{TPM: c.tpm, Certs: certs, Verifier: v}
}

// newVerifier is the verifier: pinned AMD roots (plus the emulated chain in
// emulated mode only) and a VCEK from the evidence or AMD KDS.
func newVerifier(emulated bool) (*verify.Verifier, error) {
	roots := snp.DefaultRoots()
	if emulated {
		chain, err := fakeamd.Chain()
		if err != nil {
			return nil, err
		}
		roots = roots.Add(chain)
	}
	return verify.New(verify.Config{
		Roots:      roots,
		VCEKGetter: &collateral.Chain{Sources: []collateral.Source{&collateral.Memory{}, &collateral.KDS{Client: &kds.Client{}}}},
	})
}

// openReal opens the vTPM of a real Azure CVM.
func openReal(path string) (*cvm, error) {
	t, err := vtpm.Open(path)
	if err != nil {
		if errors.Is(err, vtpm.ErrPermission) {
			return nil, fmt.Errorf("%w (run as root)", err)
		}
		return nil, err
	}
	return &cvm{tpm: t, imdsURL: imds.DefaultURL, close: t.Close}, nil
}
