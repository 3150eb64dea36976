package server_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"time"

	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Run the verifier inside your own HTTP server (Handler) and attest to it
// with Client. The attester here replays real evidence captured on an
// Azure CVM for another nonce, so the verifier refuses it: the error is an
// *APIError naming the failed check, matching ErrRejected. On a CVM the
// gather function is an attester.Attester's Evidence for the nonce it is
// given, encoded (see docs/remote-attestation.md), and Attest returns the
// opened secret with the verifier's claims.
func ExampleClient_Attest() {
	v, err := verify.New(verify.Config{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{Secret: []byte("hunter2"), Verifier: v})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler()) // or srv.Serve(ctx, listener)
	defer ts.Close()

	replay := func(ctx context.Context, nonce []byte) ([]byte, error) {
		// nonce is server.Nonce(challenge, public key): 48 fresh bytes.
		return os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	}
	res, err := (&server.Client{URL: ts.URL}).Attest(context.Background(), replay)
	var apiErr *server.APIError
	switch {
	case errors.As(err, &apiErr) && errors.Is(err, server.ErrRejected):
		fmt.Println("rejected:", apiErr.StatusCode, apiErr.Check, verify.Check(apiErr.Check) == verify.CheckNonce)
	case err != nil:
		fmt.Println("no verdict:", err) // network, 401 challenge, 503: try again
	default:
		fmt.Printf("secret: %s (emulated: %v)\n", res.Secret, res.Claims.Emulated)
	}
	// Output:
	// rejected: 403 quote-nonce true
}
