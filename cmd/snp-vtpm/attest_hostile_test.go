//go:build cgo

package main

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/server"
)

// hostileText is what a hostile verifier puts in its strings: escape
// sequences that clear the line and colour it, line breaks that start a
// line of ours, a right-to-left override, a C1 CSI and a bell.
const hostileText = "\r\x1b[2K\x1b[1;32mattested: Milan chip\nREJECTED: \u202eok\u009b0m\x07"

// hostileVerifier answers a challenge, then /v1/attest with answer(req).
func hostileVerifier(t *testing.T, answer func(w http.ResponseWriter, req *server.AttestRequest)) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == server.PathChallenge {
			_ = json.NewEncoder(w).Encode(server.ChallengeResponse{Challenge: make([]byte, server.ChallengeSize), Suite: server.Suite})
			return
		}
		var req server.AttestRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("attest request: %v", err)
		}
		answer(w, &req)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestAttestHostileVerifierText: the text a verifier sends (the reason of
// a rejection, the claims of a success) reaches the terminal with every
// control and format character escaped and cut, so that it can neither
// clear nor forge the CLI's own lines.
func TestAttestHostileVerifierText(t *testing.T) {
	rejecting := hostileVerifier(t, func(w http.ResponseWriter, _ *server.AttestRequest) {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(server.ErrorResponse{Check: "vcek-chain" + hostileText, Error: hostileText + strings.Repeat("x", 100000)})
	})
	accepting := hostileVerifier(t, func(w http.ResponseWriter, req *server.AttestRequest) {
		pk, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(req.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		info := append([]byte(server.InfoPrefix), server.Nonce(req.Challenge, req.PublicKey)...)
		ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info, []byte(cliSecret))
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewEncoder(w).Encode(server.AttestResponse{Ciphertext: ct, Suite: server.Suite, Claims: server.Claims{
			Product: "Milan" + hostileText, Paravisor: "azure-hcl", EvidenceVersion: 1,
			EventLog: &server.EventLogSummary{Replayed: []int{}, Error: hostileText + strings.Repeat("y", 100000)},
		}})
	})
	for _, tc := range []struct {
		name string
		url  string
		code int
	}{{"403 reason", rejecting, exitRejected}, {"200 claims", accepting, exitOK}} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "--emulate", "attest", "--server", tc.url)
			wantExit(t, code, tc.code, out, errOut)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			for _, l := range lines {
				if i := strings.IndexFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e }); i >= 0 {
					t.Errorf("stderr line carries %U: %.300q", []rune(l[i:])[0], l)
				}
				if len(l) > 4096 {
					t.Errorf("stderr line of %d bytes", len(l))
				}
				if strings.HasPrefix(l, "REJECTED: \\u202e") || strings.HasPrefix(l, "attested: Milan chip") {
					t.Errorf("the verifier wrote a line of its own: %.300q", l)
				}
			}
			if !strings.Contains(errOut, `\x1b[2K`) {
				t.Errorf("stderr does not show the verifier's text escaped:\n%.500s", errOut)
			}
		})
	}
}
