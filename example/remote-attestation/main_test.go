//go:build cgo

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

// The tests share the process-wide TPM simulator and run one after another.

func TestWalkThrough(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-secret", "s3cr3t"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{banner, "evidence version 2", "VCEK included: true", "verifier: verified Milan", "EMULATED CVM (not AMD)", "Secret: s3cr3t"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "verifier: verified") > strings.Index(text, "Secret:") {
		t.Errorf("secret printed before verification:\n%s", text)
	}
}

func TestVerifierRejects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := openEmulated(ctx)
	if err != nil {
		t.Fatalf("openEmulated: %v", err)
	}
	defer func() {
		if err := c.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	emulated, err := newVerifier(true)
	if err != nil {
		t.Fatal(err)
	}
	real, err := newVerifier(false)
	if err != nil {
		t.Fatal(err)
	}
	verifyEvidence := func(ctx context.Context, wire, nonce []byte, emu bool) (*verify.Claims, error) {
		if emu {
			return emulated.Evidence(ctx, wire, nonce)
		}
		return real.Evidence(ctx, wire, nonce)
	}
	// The attester checks its own evidence: under AMD's roots it refuses.
	a := c.attester(real)
	var verr *verify.Error
	if _, err := a.Evidence(ctx, nonce, true); !errors.As(err, &verr) || verr.Check != verify.CheckVCEKChain {
		t.Fatalf("attester with AMD's roots: %v, want a vcek-chain rejection", err)
	}
	a.Verifier = emulated
	res, err := a.Evidence(ctx, nonce, true)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := res.Evidence.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyEvidence(ctx, wire, nonce, true); err != nil {
		t.Fatalf("emulated evidence with the emulated roots: %v", err)
	}
	// In real mode the verifier trusts AMD only.
	if _, err := verifyEvidence(ctx, wire, nonce, false); !errors.As(err, &verr) || verr.Check != verify.CheckVCEKChain {
		t.Fatalf("emulated evidence in real mode: %v, want a vcek-chain rejection", err)
	}
	// A replayed evidence (another nonce) is rejected.
	other := append([]byte(nil), nonce...)
	other[0] ^= 1
	if _, err := verifyEvidence(ctx, wire, other, true); !errors.As(err, &verr) || verr.Check != verify.CheckNonce {
		t.Fatalf("evidence for another nonce: %v, want a quote-nonce rejection", err)
	}
}

func TestBadTPMPath(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-tpm", "/nonexistent"}, &out)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Fatalf("run -tpm /nonexistent: %v", err)
	}
	if strings.Contains(out.String(), "Secret:") {
		t.Fatalf("secret released without attestation:\n%s", out.String())
	}
}
