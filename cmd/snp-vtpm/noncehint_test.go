package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
)

// TestNonceMixupHint: a quote-nonce rejection whose quote is over the
// other reading of the nonce flag's value (hex digits given to --nonce,
// or to --nonce-hex a nonce that was text) warns which flag gives it; the
// verdict is unchanged (exit 2, quote-nonce). A nonce that matches no
// reading gets no warning.
func TestNonceMixupHint(t *testing.T) {
	real := verifySNPDir + "evidence-v1.json" // quoted over "challenge"
	textNonce := []byte("c0ffee")             // a text nonce made of hex digits
	emu := testev.Emulated(testev.Builder{Nonce: textNonce}).MustBuild()
	emuFile := writeTemp(t, "emulated.json", emu.JSON)
	hexOfChallenge := hex.EncodeToString([]byte("challenge"))
	for _, tc := range []struct {
		name string
		args []string
		warn string // "": none
	}{
		{"hex given as text", []string{"--at", verifyAt, "--nonce", hexOfChallenge, real}, "the quote is over the nonce that --nonce-hex " + hexOfChallenge + " gives, not the one --nonce gave"},
		{"text given as hex", []string{"--at", "2030-01-01T00:00:00Z", "--trust-emulated", "--nonce-hex", string(textNonce), emuFile}, "the quote is over the nonce that --nonce c0ffee gives, not the one --nonce-hex gave"},
		{"another nonce", []string{"--at", verifyAt, "--nonce", "other", real}, ""},
		{"other hex", []string{"--at", verifyAt, "--nonce-hex", "00", real}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := verifyCLI(t, nil, tc.args...)
			wantExit(t, code, exitRejected, out, errOut)
			wantContains(t, "stderr", errOut, "REJECTED: quote-nonce check failed")
			if tc.warn == "" {
				if strings.Contains(errOut, "warning: the quote is over") {
					t.Errorf("a hint where no reading matches:\n%s", errOut)
				}
				return
			}
			wantContains(t, "stderr", errOut, "warning: "+tc.warn)
		})
	}
}

// TestMAANonceMixupHint: likewise for maa verify's maa-nonce (the real
// token's client payload nonce is base64 of "midnight-srs"): its hex given
// to --nonce, and the base64 itself given to --nonce, are named.
func TestMAANonceMixupHint(t *testing.T) {
	tok, keys := realMAAFiles(t)
	base := []string{"maa", "verify", "--jwks", keys, "--issuer", testmaa.Issuer, "--at", maaAt}
	hexNonce := hex.EncodeToString([]byte("midnight-srs"))
	for nonce, warn := range map[string]string{
		hexNonce:           "the token's client payload is over the nonce that --nonce-hex " + hexNonce + " gives, not the one --nonce gave",
		"bWlkbmlnaHQtc3Jz": "the token's client payload is over the nonce that --nonce midnight-srs gives, not the one --nonce gave (--nonce takes the nonce itself; the token carries its base64)",
		"other":            "",
	} {
		code, out, errOut := runCLI(t, append(base, "--nonce", nonce, tok)...)
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, "stderr", errOut, "REJECTED: maa-nonce check failed")
		if warned := strings.Contains(errOut, "warning: the token's client payload is over"); warned != (warn != "") {
			t.Errorf("--nonce %s: warned %v:\n%s", nonce, warned, errOut)
		}
		wantContains(t, "stderr", errOut, warn)
	}
}
