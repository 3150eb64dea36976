package main

import (
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

const (
	// snpFixtures is verifySNPDir relative to testdata/ (internal/testutil).
	snpFixtures  = "trustee-az-vtpm/az-snp-vtpm/"
	verifySNPDir = "../../testdata/" + snpFixtures
	// verifyAt is inside the validity of every real VCEK fixture.
	verifyAt = "2025-06-01T00:00:00Z"
	// verifyTDXDir holds trustee's real Azure TDX evidence (its PCK chain
	// is valid at verifyAt).
	verifyTDXDir = "../../testdata/trustee-az-vtpm/az-tdx-vtpm/"
)

// quoteNonceHex returns the extraData of the quote of the evidence file
// name (in verifySNPDir) in hex.
func quoteNonceHex(t *testing.T, name string) string {
	t.Helper()
	ev, err := evidence.Decode(testutil.ReadFile(t, snpFixtures+name))
	if err != nil {
		t.Fatal(err)
	}
	a, err := quote.Parse(ev.Quote.Message)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(a.ExtraData)
}

// assembledEvidenceFile writes v1 evidence assembled from trustee's
// hcl-report.bin, vcek.pem and tpm-quote-v1.json.
func assembledEvidenceFile(t *testing.T) string {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(verifySNPDir + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	q, err := evidence.DecodeQuoteJSON(read("tpm-quote-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(read("vcek.pem"))
	if blk == nil {
		t.Fatal("vcek.pem: no PEM block")
	}
	ev := &evidence.Evidence{Version: 1, Quote: *q, HCLReport: read("hcl-report.bin"), VCEK: blk.Bytes}
	data, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "assembled.json", data)
}

func TestVerifyRealEvidence(t *testing.T) {
	cases := []struct {
		name, file string
		nonce      []string
		version    string
		chip       string
	}{
		{"v0", verifySNPDir + "evidence-v0.json", []string{"--nonce", "challenge"}, "v0", "66a5a7b4"},
		{"v1", verifySNPDir + "evidence-v1.json", []string{"--nonce", "challenge"}, "v1", "66a5a7b4"},
		{"v2", verifySNPDir + "evidence-v2.json", []string{"--nonce-hex", quoteNonceHex(t, "evidence-v2.json")}, "v2", "2e0e62a0"},
		{"genoa", verifySNPDir + "evidence-genoa.json", []string{"--nonce-hex", quoteNonceHex(t, "evidence-genoa.json")}, "v0", "0506ffba"},
		{"assembled", assembledEvidenceFile(t), []string{"--nonce", "challenge"}, "v1", "19752a44"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"--at", verifyAt}, tc.nonce...), tc.file)
			code, out, errOut := verifyCLI(t, nil, args...)
			wantExit(t, code, 0, out, errOut)
			for _, want := range []string{"VERIFIED: evidence " + tc.version, "AMD (pinned)", tc.chip, "(checked)"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "NON-DEFAULT") || strings.Contains(out, "EMULATED") {
				t.Errorf("real evidence printed with non-default roots:\n%s", out)
			}
		})
	}
}

func TestVerifyWrongNonce(t *testing.T) {
	code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "replayed", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "quote-nonce") || !strings.Contains(errOut, "REJECTED") {
		t.Errorf("stderr does not name the check:\n%s", errOut)
	}
	if strings.Contains(out, "VERIFIED") {
		t.Errorf("stdout says VERIFIED:\n%s", out)
	}
}

func TestVerifyExpiredAt(t *testing.T) {
	code, out, errOut := verifyCLI(t, nil, "--at", "2035-01-01T00:00:00Z", "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "certificate-validity") {
		t.Errorf("stderr does not name the check:\n%s", errOut)
	}
}

func TestVerifyStdin(t *testing.T) {
	data, err := os.ReadFile(verifySNPDir + "evidence-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := verifyCLI(t, data, "--at", verifyAt, "--nonce", "challenge", "-")
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, "VERIFIED: evidence v1") {
		t.Errorf("output:\n%s", out)
	}
	code, out, errOut = verifyCLI(t, []byte("{}"), "--at", verifyAt, "--nonce", "challenge", "-")
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "evidence-format") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestVerifyJSON(t *testing.T) {
	code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "challenge", "--json", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 0, out, errOut)
	var got struct {
		Product     string            `json:"product"`
		ChipID      string            `json:"chip_id"`
		ReportedTCB map[string]int    `json:"reported_tcb"`
		PCRs        map[string]string `json:"pcrs"`
		Nonce       string            `json:"nonce"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if got.Product != "Milan" || !strings.HasPrefix(got.ChipID, "66a5a7b4") || len(got.ChipID) != 128 {
		t.Errorf("product %q chip_id %q", got.Product, got.ChipID)
	}
	if got.ReportedTCB["bootloader"] != 4 || got.ReportedTCB["snp"] != 24 || got.ReportedTCB["microcode"] != 219 {
		t.Errorf("reported_tcb %v", got.ReportedTCB)
	}
	if len(got.PCRs) != 24 || len(got.PCRs["0"]) != 64 {
		t.Errorf("pcrs %v", got.PCRs)
	}
	if got.Nonce != hex.EncodeToString([]byte("challenge")) {
		t.Errorf("nonce %q", got.Nonce)
	}

	code, out, errOut = verifyCLI(t, nil, "--at", verifyAt, "--nonce", "other", "--json", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 2, out, errOut)
	var rej struct {
		Verified *bool  `json:"verified"`
		Check    string `json:"check"`
	}
	if err := json.Unmarshal([]byte(out), &rej); err != nil {
		t.Fatalf("--json rejection is not JSON: %v\n%s", err, out)
	}
	if rej.Verified == nil || *rej.Verified || rej.Check != "quote-nonce" {
		t.Errorf("rejection %s", out)
	}
}

// TestVerifyUsageErrors: a bad command line is a usage error (exit 1)
// that says so on stderr (naming want, when set) and claims no success.
// Freshness cannot be skipped by accident: no nonce, an empty one or a
// conflicting pair is one too; only --no-nonce verifies without one, and
// then says so.
func TestVerifyUsageErrors(t *testing.T) {
	v1 := verifySNPDir + "evidence-v1.json"
	at := func(args ...string) []string { return append([]string{"--at", verifyAt}, args...) }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--nonce", "challenge", filepath.Join(t.TempDir(), "nope.json")}, ""},
		{"no file", []string{"--nonce", "challenge"}, ""},
		{"two files", []string{"--nonce", "challenge", v1, v1}, ""},
		{"unknown flag", []string{"--no-such-flag", v1}, ""},
		{"bad --at", []string{"--at", "yesterday", "--nonce", "challenge", v1}, ""},
		{"missing roots file", []string{"--roots", filepath.Join(t.TempDir(), "none.pem"), "--nonce", "challenge", v1}, ""},
		{"roots file without a chain", []string{"--roots", v1, "--nonce", "challenge", v1}, ""},
		{"missing policy file", []string{"--policy", filepath.Join(t.TempDir(), "none.json"), "--nonce", "challenge", v1}, ""},
		{"policy with an unknown field", []string{"--policy", writeTemp(t, "p.json", []byte(`{"min_tbc":{}}`)), "--nonce", "challenge", v1}, ""},
		{"missing nonce", at(v1), "--no-nonce"},
		{"empty text", at("--nonce", "", v1), "--nonce: empty value"},
		{"empty text with =", at("--nonce=", v1), "--nonce: empty value"},
		{"empty hex", at("--nonce-hex", "", v1), "--nonce-hex: empty value"},
		{"bad hex", at("--nonce-hex", "zz", v1), "--nonce-hex"},
		{"nonce and nonce-hex", at("--nonce", "a", "--nonce-hex", "00", v1), "not both"},
		{"nonce and no-nonce", at("--nonce", "challenge", "--no-nonce", v1), "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := verifyCLI(t, nil, tc.args...)
			wantExit(t, code, 1, out, errOut)
			if errOut == "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, errOut)
			}
			if strings.Contains(out, "VERIFIED") {
				t.Errorf("stdout claims success:\n%s", out)
			}
		})
	}
	code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--no-nonce", v1)
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, "WITHOUT FRESHNESS") || !strings.Contains(out, "NOT CHECKED") || !strings.Contains(errOut, "--no-nonce") {
		t.Errorf("no warning about the unchecked nonce:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}

	// v2 evidence: its report was refreshed with a nonce, but without our
	// nonce nothing says it is fresh.
	code, out, errOut = verifyCLI(t, nil, "--at", verifyAt, "--no-nonce", "--json", verifySNPDir+"evidence-v2.json")
	wantExit(t, code, 0, out, errOut)
	var got struct {
		NonceChecked *bool `json:"nonce_checked"`
		FreshReport  *bool `json:"fresh_report"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if got.NonceChecked == nil || *got.NonceChecked || got.FreshReport == nil || *got.FreshReport {
		t.Errorf("claims without a nonce: nonce_checked %v, fresh_report %v, want false, false", got.NonceChecked, got.FreshReport)
	}
}

// TestVerifyRoots checks --roots with a private chain: synthetic evidence
// signed under it verifies and is flagged NON-DEFAULT ROOTS; without
// --roots it is rejected by the chain check.
func TestVerifyRoots(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	file := writeTemp(t, "synthetic.json", ev.JSON)
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	nonce := hex.EncodeToString(ev.Nonce)

	code, out, errOut := verifyCLI(t, nil, "--roots", roots, "--nonce-hex", nonce, file)
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, "NON-DEFAULT ROOTS") || !strings.Contains(out, "VERIFIED") {
		t.Errorf("output does not flag the roots:\n%s", out)
	}

	code, out, errOut = verifyCLI(t, nil, "--nonce-hex", nonce, file)
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "vcek-chain") {
		t.Errorf("stderr does not name vcek-chain:\n%s", errOut)
	}

	// --roots replaces the Milan roots only: real Milan evidence is then
	// rejected, real Genoa evidence still verifies.
	code, out, errOut = verifyCLI(t, nil, "--roots", roots, "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "vcek-chain") {
		t.Errorf("stderr does not name vcek-chain:\n%s", errOut)
	}
	code, out, errOut = verifyCLI(t, nil, "--roots", roots, "--at", verifyAt,
		"--nonce-hex", quoteNonceHex(t, "evidence-genoa.json"), verifySNPDir+"evidence-genoa.json")
	wantExit(t, code, 0, out, errOut)

	// --trust-emulated does not make the private chain trusted.
	code, out, errOut = verifyCLI(t, nil, "--trust-emulated", "--nonce-hex", nonce, file)
	wantExit(t, code, 2, out, errOut)
}

func TestVerifyPolicy(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	reject := writeTemp(t, "reject.json", []byte(`{"measurements":["`+strings.Repeat("ab", 48)+`"]}`))
	code, out, errOut := verifyCLI(t, nil, "--policy", reject, "--at", verifyAt, "--nonce", "challenge", ev)
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "measurement") {
		t.Errorf("stderr does not name the measurement check:\n%s", errOut)
	}

	accept := writeTemp(t, "accept.json", []byte(`{"min_tcb":{"bootloader":4,"tee":0,"snp":24,"microcode":219},"products":["Milan"]}`))
	code, out, errOut = verifyCLI(t, nil, "--policy", accept, "--at", verifyAt, "--nonce", "challenge", ev)
	wantExit(t, code, 0, out, errOut)

	minTCB := writeTemp(t, "min.json", []byte(`{"min_tcb":{"bootloader":4,"tee":0,"snp":25,"microcode":219}}`))
	code, out, errOut = verifyCLI(t, nil, "--policy", minTCB, "--at", verifyAt, "--nonce", "challenge", ev)
	wantExit(t, code, 2, out, errOut)
	if !strings.Contains(errOut, "minimum-tcb") {
		t.Errorf("stderr does not name the minimum-tcb check:\n%s", errOut)
	}
}

// TestVerifyPolicyHexFieldErrors: a bad hex field of a policy is a usage
// error naming the member and what is wrong with it: a value that is not a
// string once came out as "invalid value (byte 0)", naming no member, and
// one that is not hex as "a JSON string where another type was expected".
func TestVerifyPolicyHexFieldErrors(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	for _, tc := range []struct{ policy, want string }{
		{`{"init_data_digest": 5}`, `invalid value at "/init_data_digest" (byte 21): a JSON number where a string was expected: want a string of hex digits`},
		{`{"measurements": [["ab"]]}`, `invalid value at "/measurements/0" (byte 18): a JSON array where a string was expected: want a string of hex digits`},
		{`{"init_data_digest": "zz"}`, `invalid value at "/init_data_digest" (byte 21): "zz" is not hex`},
		{`{"pcrs": {"7": "<64 hex>"}}`, `invalid value at "/pcrs/7" (byte 15): "<64 hex>" is not hex`},
		// Object members name an object, not a string or "another type".
		{`{"pcrs": ["ab"]}`, `invalid value at "/pcrs" (byte 9): a JSON array where an object was expected`},
		{`{"min_tcb": [1]}`, `invalid value at "/min_tcb" (byte 12): a JSON array where an object was expected`},
	} {
		pol := writeTemp(t, "policy.json", []byte(tc.policy))
		code, out, errOut := verifyCLI(t, nil, "--policy", pol, "--at", verifyAt, "--nonce", "challenge", ev)
		wantExit(t, code, exitUsage, out, errOut)
		if !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "another type") {
			t.Errorf("%s: stderr lacks %q:\n%s", tc.policy, tc.want, errOut)
		}
	}
}

// TestVerifyV0VCEKStack: `verify` of real v0 evidence whose "vcek" stacks
// the VCEK's chain after it (VCEK, ASK, ARK) exits 0; stacked in another
// order, or with bytes of the sender's choice labelled CERTIFICATE, it is
// exit 2 naming vcek-chain, in the human and the --json output.
func TestVerifyV0VCEKStack(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(testutil.ReadFile(t, snpFixtures+"evidence-v0.json"), &doc); err != nil {
		t.Fatal(err)
	}
	vcek := doc["vcek"].(string)
	amd := testutil.PEMBlocks(t, testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem"), "CERTIFICATE")
	block := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	for _, tc := range []struct {
		name, stack string
		exit        int
	}{
		{"VCEK, ASK, ARK", vcek + block(amd[0]) + block(amd[1]), 0},
		{"VCEK, ARK, ASK", vcek + block(amd[1]) + block(amd[0]), 2},
		{"VCEK, text labelled CERTIFICATE", vcek + block([]byte(strings.Repeat("not AMD's ", 100))), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc["vcek"] = tc.stack
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			file := writeTemp(t, "evidence.json", b)
			code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "challenge", file)
			wantExit(t, code, tc.exit, out, errOut)
			if tc.exit == 0 {
				return
			}
			if !strings.Contains(errOut, "vcek-chain") || !strings.Contains(errOut, "not the ASK") {
				t.Errorf("stderr does not name vcek-chain and the ASK:\n%s", errOut)
			}
			code, out, errOut = verifyCLI(t, nil, "--json", "--at", verifyAt, "--nonce", "challenge", file)
			wantExit(t, code, 2, out, errOut)
			var rej struct {
				Verified bool   `json:"verified"`
				Check    string `json:"check"`
			}
			if err := json.Unmarshal([]byte(out), &rej); err != nil || rej.Verified || rej.Check != "vcek-chain" {
				t.Errorf("--json rejection (%v): %s", err, out)
			}
		})
	}
}
