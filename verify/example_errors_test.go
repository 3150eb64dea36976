package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Tell the three kinds of error apart, as a verifier service does to
// answer: a rejection is a verdict (an *Error naming the failed check:
// 403), an unavailable certificate source is none (503, try again), and a
// context that ended is the caller's own doing. The real v1 evidence is
// verified as it is, for the wrong nonce, under a policy that trusts
// another paravisor, and without its VCEK: with no certificate source (a
// verdict: vcek-missing) and with one that is down (no verdict).
func Example_errors() {
	data, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	if err != nil {
		log.Fatal(err)
	}
	noVCEK, err := evidence.Decode(data)
	if err != nil {
		log.Fatal(err)
	}
	noVCEK.VCEK = nil

	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	kdsDown := verify.VCEKGetterFunc(func(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
		return nil, fmt.Errorf("AMD KDS answered 503: %w", verify.ErrCertificateUnavailable)
	})
	otherParavisor := verify.Policy{IDKeyDigests: []verify.HexBytes{bytes.Repeat([]byte{1}, 48)}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	for _, c := range []struct {
		name  string
		cfg   verify.Config
		ev    *evidence.Evidence // nil: data
		nonce string
		ctx   context.Context
	}{
		{"genuine", verify.Config{Now: at}, nil, "challenge", context.Background()},
		{"replayed", verify.Config{Now: at}, nil, "another nonce", context.Background()},
		{"other paravisor", verify.Config{Now: at, Policy: otherParavisor}, nil, "challenge", context.Background()},
		{"no VCEK, no source", verify.Config{Now: at}, noVCEK, "challenge", context.Background()},
		{"no VCEK, KDS down", verify.Config{Now: at, VCEKGetter: kdsDown}, noVCEK, "challenge", context.Background()},
		{"cancelled", verify.Config{Now: at}, nil, "challenge", cancelled},
	} {
		v, err := verify.New(c.cfg)
		if err != nil {
			log.Fatal(err) // a configuration error
		}
		if c.ev != nil {
			_, err = v.Decoded(c.ctx, c.ev, []byte(c.nonce))
		} else {
			_, err = v.Evidence(c.ctx, data, []byte(c.nonce))
		}
		fmt.Printf("%s: %s\n", c.name, classify(err))
	}
	// Output:
	// genuine: 200 verified
	// replayed: 403 rejected by quote-nonce
	// other paravisor: 403 rejected by paravisor-identity (ID key 942fd93e... is not trusted)
	// no VCEK, no source: 403 rejected by vcek-missing
	// no VCEK, KDS down: 503 vcek-missing unavailable, try again later
	// cancelled: 503 context canceled
}

// classify maps a verification error to an HTTP status and a reason.
func classify(err error) string {
	var verr *verify.Error
	var untrusted *verify.UntrustedParavisorError
	var unavailable *verify.UnavailableError
	switch {
	case err == nil:
		return "200 verified"
	case errors.As(err, &verr) && errors.As(err, &untrusted):
		return fmt.Sprintf("403 rejected by %s (ID key %x... is not trusted)", verr.Check, untrusted.Digest[:4])
	case errors.As(err, &verr): // matches verify.ErrRejected too
		return "403 rejected by " + string(verr.Check)
	case errors.As(err, &unavailable): // ErrCertificateUnavailable or ErrTDXCollateral
		return "503 " + string(unavailable.Check) + " unavailable, try again later"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "503 " + err.Error()
	default:
		return "500 " + err.Error()
	}
}
