package attester_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// failTPM is a TPM that fails every command.
type failTPM struct{}

func (failTPM) Send([]byte) ([]byte, error) { return nil, errors.New("no TPM here") }

var _ transport.TPM = failTPM{}

func TestNoTPM(t *testing.T) {
	ctx := context.Background()
	var a attester.Attester
	if _, err := a.Evidence(ctx, []byte("n"), false); err == nil {
		t.Fatal("Evidence without a TPM succeeded")
	}
	if _, err := a.Report(ctx, nil); err == nil {
		t.Fatal("Report without a TPM succeeded")
	}
	if _, err := a.Quote(ctx, []byte("n")); err == nil {
		t.Fatal("Quote without a TPM succeeded")
	}
}

func TestNonceRequired(t *testing.T) {
	a := &attester.Attester{TPM: failTPM{}}
	for _, n := range [][]byte{nil, {}} {
		if _, err := a.Evidence(context.Background(), n, true); !errors.Is(err, attester.ErrNoNonce) {
			t.Fatalf("Evidence(%v) error = %v, want ErrNoNonce", n, err)
		}
	}
}

func TestTPMErrorsPropagate(t *testing.T) {
	a := &attester.Attester{TPM: failTPM{}}
	_, err := a.Evidence(context.Background(), []byte("n"), false)
	if err == nil || !strings.Contains(err.Error(), "no TPM here") {
		t.Fatalf("Evidence on a failing TPM: %v", err)
	}
	if der, from, err := a.VCEKFor(context.Background(), []byte("not a report")); der != nil || from != "" || err != nil {
		t.Fatalf("VCEKFor without Certs: %d bytes from %q, %v; want nothing", len(der), from, err)
	}
}

func TestVCEKForMalformedReport(t *testing.T) {
	a := &attester.Attester{TPM: failTPM{}, Certs: &collateral.Chain{}}
	for _, blob := range [][]byte{nil, []byte("HCLA"), make([]byte, 4096)} {
		if der, _, err := a.VCEKFor(context.Background(), blob); err == nil || der != nil {
			t.Fatalf("VCEKFor(%d bytes) = %d bytes, %v; want an error", len(blob), len(der), err)
		}
	}
}

// TestVCEKForRefusesUnmarkedEmulatedChain: the attester's certificate
// validator makes verify's checks, also the one of the emulated CVM's
// keys: with roots that trust the emulated chain parsed as a custom one
// (not marked Emulated), its VCEK is refused by the validator
// (vcek-chain, verify.ErrEmulatedKey: the chain then finds no other),
// neither returned nor cached; with the chain marked Emulated
// (fakeamd.Chain, --trust-emulated) it is returned.
func TestVCEKForRefusesUnmarkedEmulatedChain(t *testing.T) {
	ctx := context.Background()
	ev := testev.Emulated(testev.Builder{}).MustBuild()
	unmarked, err := snp.ParseChainPEM(fakeamd.ChainPEM())
	if err != nil {
		t.Fatal(err)
	}
	marked, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		chain   *snp.Chain
		refused bool
	}{{"unmarked", unmarked, true}, {"marked emulated", marked, false}} {
		v, err := verify.New(verify.Config{Roots: snp.DefaultRoots().Replace(tc.chain)})
		if err != nil {
			t.Fatal(err)
		}
		mem := &collateral.Memory{}
		a := &attester.Attester{TPM: failTPM{}, Verifier: v, Certs: &collateral.Chain{Sources: []collateral.Source{mem, &collateral.Static{Certs: [][]byte{fakeamd.VCEKDER()}}}}}
		der, _, err := a.VCEKFor(ctx, ev.Evidence.HCLReport)
		switch {
		case tc.refused && (der != nil || err == nil):
			t.Errorf("%s: %d bytes, %v; want no VCEK", tc.name, len(der), err)
		case tc.refused && mem.Len() != 0:
			t.Errorf("%s: the refused VCEK was cached", tc.name)
		case !tc.refused && (err != nil || der == nil):
			t.Errorf("%s: %v; want the VCEK", tc.name, err)
		}
	}
}
