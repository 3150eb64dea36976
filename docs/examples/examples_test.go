//lint:file-ignore SA4006 the documentation's snippets leave out error checks for brevity; they are compiled, not run

package examples

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// readme is README.md's library example.
func readme(ctx context.Context, evidenceJSON, nonce []byte) {
	claims, err := verify.Evidence(ctx, evidenceJSON, nonce, verify.Config{}) // pinned AMD roots, default policy, no network; verify.New for a long-lived, caching Verifier
	if verr, ok := errors.AsType[*verify.Error](err); ok {
		log.Fatalf("rejected by check %s: %v", verr.Check, verr.Err)
	} else if err != nil {
		log.Fatal(err) // not a verdict: bad configuration, collateral unavailable, ctx done
	}
	fmt.Println(claims.Platform, claims.Product, claims.ChipID, claims.ReportedTCB, claims.PCRs[7]) // only verified claims; on TDX ("tdx") the SEV-SNP fields are empty and claims.TDX holds the TD's
}

// onACVM is docs/on-a-cvm.md's library example.
func onACVM(ctx context.Context, nonce []byte) (*verify.Claims, error) {
	t, err := vtpm.Open("/dev/tpmrm0") // or (*emulator.CVM).TPM() with cgo
	certs := &collateral.Chain{Sources: []collateral.Source{
		&collateral.Memory{},
		&collateral.IMDS{Client: &imds.Client{}}, // Azure IMDS (THIM) first
		&collateral.KDS{Client: &kds.Client{}},   // then AMD KDS
	}}
	a := &attester.Attester{TPM: t, Certs: certs} // Certs nil: evidence without VCEK
	a.TDQuotes = &imds.Client{}                   // a TDX CVM's TD quote (IMDS); unused on SEV-SNP
	res, err := a.Evidence(ctx, nonce, true)      // fresh: version 2, verified locally (res.Claims)
	data, err := res.Evidence.Encode()
	claims, err := verify.Evidence(ctx, data, nonce, verify.Config{}) // on the verifier's side
	return claims, err
}

// remoteAttestation is docs/remote-attestation.md's library example.
func remoteAttestation(ctx context.Context, secret []byte, v *verify.Verifier, log *slog.Logger, ln net.Listener, hc *http.Client, att *attester.Attester) (*server.Result, error) {
	// Verifier
	srv, err := server.New(server.Config{Secret: secret, Verifier: v /* verify.New(verify.Config{Policy: *policy}), policy from verify.ParsePolicy */, Logger: log})
	err = srv.Serve(ctx, ln) // or ServeTLS; returns nil after a graceful shutdown when ctx ends
	// or mount srv.Handler() in your own http.Server

	// Attester
	res, err := (&server.Client{URL: "https://verifier:8443", HTTPClient: hc}).Attest(ctx,
		func(ctx context.Context, nonce []byte) ([]byte, error) {
			res, err := att.Evidence(ctx, nonce, true) // attester.Attester
			if err != nil {
				return nil, err
			}
			return res.Evidence.Encode()
		})
	// res.Secret, res.Claims; errors.Is(err, server.ErrRejected) when the verifier said 403
	return res, err
}

var _ = []any{readme, onACVM, remoteAttestation}
