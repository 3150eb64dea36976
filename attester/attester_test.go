package attester_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
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
