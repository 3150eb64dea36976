package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func decode(t testing.TB, data []byte) *evidence.Evidence {
	t.Helper()
	ev, err := evidence.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func encode(t testing.TB, ev *evidence.Evidence) []byte {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// quotedNonce returns the extraData of the evidence's quote: the nonce the
// attester was given.
func quotedNonce(t testing.TB, data []byte) []byte {
	t.Helper()
	a, err := quote.Parse(decode(t, data).Quote.Message)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), a.ExtraData...)
}

// realEvidence is a real evidence document with the nonce it was made for.
type realEvidence struct {
	name    string
	data    []byte
	nonce   []byte
	product string
	chip    string // hex prefix of chip_id
	tcb     [4]uint8
	version int
}

// assembledEvidence builds v1 evidence from trustee's loose files:
// hcl-report.bin, the VCEK of vcek.pem and tpm-quote-v1.json (one VM).
func assembledEvidence(t testing.TB) []byte {
	t.Helper()
	q, err := evidence.DecodeQuoteJSON(testutil.ReadFile(t, testutil.SNPDir+"tpm-quote-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	return encode(t, &evidence.Evidence{
		Version:   1,
		Quote:     *q,
		HCLReport: testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin"),
		VCEK:      testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0],
	})
}

func realEvidences(t testing.TB) []realEvidence {
	t.Helper()
	challenge := []byte("challenge")
	v2 := testutil.ReadFile(t, testutil.SNPDir+"evidence-v2.json")
	genoa := testutil.ReadFile(t, testutil.SNPDir+"evidence-genoa.json")
	return []realEvidence{
		{"v0", testutil.ReadFile(t, testutil.SNPDir+"evidence-v0.json"), challenge, "Milan", "66a5a7b4", [4]uint8{4, 0, 24, 219}, 0},
		{"v1", testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json"), challenge, "Milan", "66a5a7b4", [4]uint8{4, 0, 24, 219}, 1},
		{"v2", v2, quotedNonce(t, v2), "Milan", "2e0e62a0", [4]uint8{4, 0, 24, 219}, 2},
		{"genoa", genoa, quotedNonce(t, genoa), "Genoa", "0506ffba", [4]uint8{10, 0, 23, 84}, 0},
		{"assembled", assembledEvidence(t), challenge, "Milan", "19752a44", [4]uint8{3, 0, 8, 115}, 1},
	}
}

// wantCheck fails t unless err is a rejection by check.
// wantOutcome checks a verification's result: accepted when check is "",
// else rejected by check (see wantCheck) with no claims.
func wantOutcome(t testing.TB, claims *verify.Claims, err error, check verify.Check) {
	t.Helper()
	if check == "" {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return
	}
	wantCheck(t, err, check)
	if claims != nil {
		t.Error("claims returned with an error")
	}
}

func wantCheck(t testing.TB, err error, check verify.Check) {
	t.Helper()
	if err == nil {
		t.Fatalf("verified; want rejection by %s", check)
	}
	var verr *verify.Error
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v (%T), want *verify.Error", err, err)
	}
	if !errors.Is(err, verify.ErrRejected) {
		t.Errorf("err = %v does not match ErrRejected", err)
	}
	if verr.Check != check {
		t.Fatalf("rejected by %s (%v), want %s", verr.Check, verr.Err, check)
	}
}

func fixedOpts() verify.Config { return verify.Config{Now: testutil.FixtureTime()} }

// newVerifier returns a Verifier for cfg, failing the test if New refuses it.
func newVerifier(t testing.TB, cfg verify.Config) *verify.Verifier {
	t.Helper()
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatalf("verify.New: %v", err)
	}
	return v
}

// reportWith is Verifier.Report with a new Verifier for cfg (New's error,
// if any, is returned).
func reportWith(ctx context.Context, blob, vcek []byte, cfg verify.Config) (*verify.Claims, error) {
	v, err := verify.New(cfg)
	if err != nil {
		return nil, err
	}
	return v.Report(ctx, blob, vcek)
}

// decodedWith is Verifier.Decoded with a new Verifier for cfg.
func decodedWith(ctx context.Context, ev *evidence.Evidence, nonce []byte, cfg verify.Config) (*verify.Claims, error) {
	v, err := verify.New(cfg)
	if err != nil {
		return nil, err
	}
	return v.Decoded(ctx, ev, nonce)
}
