package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestRejectionHidesPolicy holds that a 403 names the failed check but not
// the reference values of the verifier's policy (nor its certificate
// sources), which the verifier's own log keeps for the operator; the
// checks that judge only the evidence's bytes keep their full reason.
func TestRejectionHidesPolicy(t *testing.T) {
	ref := func(b byte) verify.HexBytes { return bytes.Repeat([]byte{b}, 32) }
	minTCB := snp.TCBParts{Bootloader: 201, TEE: 202, SNP: 203, Microcode: 204}
	const mirror = "kds-mirror.corp.internal"
	for _, tc := range []struct {
		name     string
		policy   verify.Policy
		getter   verify.VCEKGetter
		omitVCEK bool
		resource map[string]Resource // with resources, the request names "r"
		otherKey bool                // evidence for another public key
		check    verify.Check
		marker   string // in the log's reason, never in the answer ("" for a detailed check)
		prefix   string // of the answer's message
	}{
		{name: "pcr-policy", policy: verify.Policy{PCRs: map[int]verify.HexBytes{7: ref(0xab)}},
			check: verify.CheckPCRPolicy, marker: hex.EncodeToString(ref(0xab))},
		{name: "minimum-tcb", policy: verify.Policy{MinTCB: &minTCB},
			check: verify.CheckMinTCB, marker: minTCB.String()},
		{name: "minimum-launch-tcb", policy: verify.Policy{MinLaunchTCB: &minTCB},
			check: verify.CheckMinLaunchTCB, marker: minTCB.String()},
		{name: "init-data", policy: verify.Policy{InitDataDigest: ref(0xcd)},
			check: verify.CheckInitData, marker: hex.EncodeToString(ref(0xcd))},
		{name: "vcek-missing names no KDS mirror", omitVCEK: true,
			getter: verify.VCEKGetterFunc(func(context.Context, verify.VCEKRequest) ([]byte, error) {
				return nil, errors.New("kds: GET https://" + mirror + "/vcek/v1/Milan/00: HTTP 404 Not Found")
			}),
			check: verify.CheckVCEKMissing, marker: mirror},
		{name: "resource policy", resource: map[string]Resource{"r": {Secret: []byte("pw-r"),
			Policy: &verify.Policy{PCRs: map[int]verify.HexBytes{8: ref(0xef)}}}},
			check: verify.CheckPCRPolicy, marker: hex.EncodeToString(ref(0xef)), prefix: "resource policy: "},
		{name: "quote-nonce keeps its reason", otherKey: true, check: verify.CheckNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logBuf testutil.LogBuffer
			cfg := testConfig()
			cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
			cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Policy: tc.policy, VCEKGetter: tc.getter})
			resource := ""
			if tc.resource != nil {
				cfg.Resources, resource = tc.resource, "r"
			}
			ts := startHTTP(t, newServer(t, cfg))
			_, pub, _ := GenerateKey()
			ch := getChallenge(t, ts.URL)
			nonce := Nonce(ch, pub)
			if tc.otherKey {
				_, other, _ := GenerateKey()
				nonce = Nonce(ch, other)
			}
			ev := (&testev.Builder{Nonce: nonce, OmitVCEK: tc.omitVCEK}).MustBuild().JSON
			status, er, body := postRaw(t, ts.URL+PathAttest, mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev, Resource: resource}))
			if status != http.StatusForbidden || er.Check != string(tc.check) {
				t.Fatalf("%d %s, want 403 %s", status, body, tc.check)
			}
			if !strings.HasPrefix(er.Error, tc.prefix+string(tc.check)+" check failed: ") {
				t.Errorf("message %q does not start with %q", er.Error, tc.prefix+string(tc.check)+" check failed: ")
			}
			line := rejectionLine(t, logBuf.Bytes())
			if line["check"] != string(tc.check) || line["resource"] != nil && line["resource"] != resource {
				t.Errorf("log line %v", line)
			}
			reason, _ := line["reason"].(string)
			if tc.marker == "" {
				// A detailed check: the client gets the whole reason.
				if strings.Contains(er.Error, policyReason) || er.Error != reason {
					t.Errorf("detailed check answered %q, logged %q", er.Error, reason)
				}
				return
			}
			if bytes.Contains(body, []byte(tc.marker)) || !strings.HasSuffix(er.Error, policyReason) {
				t.Errorf("the answer discloses the policy (%q): %s", tc.marker, body)
			}
			if !strings.Contains(reason, tc.marker) {
				t.Errorf("the log's reason lacks %q: %q", tc.marker, reason)
			}
			if resource != "" && line["resource"] != resource {
				t.Errorf("the log line does not name the resource: %v", line)
			}
		})
	}
}

// rejectionLine returns the one "evidence rejected" line of a JSON log.
func rejectionLine(t *testing.T, logs []byte) map[string]any {
	t.Helper()
	found := logLines(t, logs, "evidence rejected")
	if len(found) != 1 {
		t.Fatalf("%d rejection log lines, want 1:\n%s", len(found), logs)
	}
	return found[0]
}

// logLines returns the records of msg in a JSON log (one object a line),
// failing t on a line that is not JSON.
func logLines(t *testing.T, logs []byte, msg string) []map[string]any {
	t.Helper()
	var found []map[string]any
	for l := range bytes.SplitSeq(bytes.TrimSpace(logs), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			found = append(found, m)
		}
	}
	return found
}
