package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestPrintResultPrintable: the strings of a verified result token reach
// the terminal escaped and cut (format.Printable): no escape sequence, no
// carriage return or line feed of the token's making, no 100 KB line.
func TestPrintResultPrintable(t *testing.T) {
	hostile := "\x1b[2J\rVERIFIED: forged\n\u202e" + strings.Repeat("A", 100_000)
	c := &result.Claims{Issuer: hostile, ID: hostile, Nonce: hostile, Submods: map[string]result.Appraisal{result.SubmodName: {
		Status: hostile, PolicyID: hostile,
		CVM: result.CVM{Platform: hostile, Product: hostile, Paravisor: hostile, VMUniqueID: hostile, Resource: hostile},
	}}}
	var b bytes.Buffer
	printResult(&b, c, true)
	checkPrintable(t, b.String())
}

// TestPrintMAAPrintable: likewise for a verified MAA token's strings.
func TestPrintMAAPrintable(t *testing.T) {
	hostile := "\x1b[2J\rVERIFIED: forged\n\u202e" + strings.Repeat("A", 100_000)
	c := &maa.Claims{AzureVM: maa.AzureVM{VMID: hostile, OSType: hostile, OSDistro: hostile},
		IsolationTEE: &maa.IsolationTEE{AttestationType: hostile, ComplianceStatus: hostile}}
	var b bytes.Buffer
	printMAA(&b, &maaResult{Issuer: hostile, Kid: hostile, Claims: c}, &maaFlags{jwks: "keys.json"})
	checkPrintable(t, b.String())
}

func checkPrintable(t *testing.T, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\r\u202e") || strings.Contains(out, "\nVERIFIED: forged") {
		t.Errorf("control characters reached the output:\n%.300q", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 1024 {
			t.Fatalf("a %d-byte line", len(line))
		}
	}
}

// TestResultVerifyEmulatedJSON: result verify --json repeats the token's
// emulated claim at the top ("emulated": true for a result about the
// emulated CVM, accepted with --trust-emulated; false otherwise), next to
// "verified", as verify --json has it; the human output carries the
// banner.
func TestResultVerifyEmulatedJSON(t *testing.T) {
	const iss = "https://verifier.example"
	signer, jwksFile := resultSigner(t, iss)
	for _, emulated := range []bool{false, true} {
		tok, _, err := signer.Issue(result.Appraised{Claims: &verify.Claims{Platform: verify.PlatformSNP, Product: "Milan", Emulated: emulated}, Nonce: []byte("n")})
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"result", "verify", "--jwks", jwksFile, "--issuer", iss, "--trust-emulated"}
		code, out, errOut := runCLI(t, append(args, "--json", tok)...)
		wantExit(t, code, exitOK, out, errOut)
		var doc struct {
			Verified bool  `json:"verified"`
			Emulated *bool `json:"emulated"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Verified || doc.Emulated == nil || *doc.Emulated != emulated {
			t.Errorf("emulated %v: --json %s (%v)", emulated, out, err)
		}
		code, out, errOut = runCLI(t, append(args, tok)...)
		wantExit(t, code, exitOK, out, errOut)
		if strings.Contains(out, emulatedBanner) != emulated {
			t.Errorf("emulated %v: human output:\n%s", emulated, out)
		}
	}
}

// TestResultVerifyTCBAsVerify: result verify prints the reported TCB as
// verify and attest do, "bootloader 4, tee 0, snp 24, microcode 219", with
// the FMC only for Turin (the only product line whose report has one). It
// printed "bl=4 tee=0 snp=24 ucode=219 fmc=0" for a Milan result.
func TestResultVerifyTCBAsVerify(t *testing.T) {
	const iss = "https://verifier.example"
	signer, jwksFile := resultSigner(t, iss)
	for _, tc := range []struct {
		product string
		want    string
	}{
		{"Milan", "reported tcb     bootloader 4, tee 0, snp 24, microcode 219\n"},
		{"Turin", "reported tcb     fmc 1, bootloader 4, tee 0, snp 24, microcode 219\n"},
	} {
		c := &verify.Claims{Platform: verify.PlatformSNP, Product: tc.product}
		c.ReportedTCB.Bootloader, c.ReportedTCB.SNP, c.ReportedTCB.Microcode, c.ReportedTCB.FMC = 4, 24, 219, 1
		tok, _, err := signer.Issue(result.Appraised{Claims: c, Nonce: []byte("n")})
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "result", "verify", "--jwks", jwksFile, "--issuer", iss, tok)
		wantExit(t, code, exitOK, out, errOut)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: output lacks %q:\n%s", tc.product, tc.want, out)
		}
	}
}

// resultSigner is a result.Signer for iss with a fresh key, and a file
// holding its JWKS for result verify --jwks.
func resultSigner(t *testing.T, iss string) (*result.Signer, string) {
	t.Helper()
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := result.NewSigner(key, iss)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := result.MarshalJWKS(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return signer, writeTemp(t, "jwks.json", jwks)
}

// TestResultVerifyDottedFileName: a token file in the current directory
// whose name has two dots ("result.v1.jwt") is read as the file. It was
// taken for the token text by its shape alone and rejected (exit 2,
// result-format) instead of being verified; a name that is no file is
// still the token, and a missing dotted name still fails as a token.
func TestResultVerifyDottedFileName(t *testing.T) {
	const iss = "https://verifier.example"
	signer, jwksFile := resultSigner(t, iss)
	tok, _, err := signer.Issue(result.Appraised{Claims: &verify.Claims{Platform: verify.PlatformSNP, Product: "Milan"}, Nonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("result.v1.jwt", []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"result", "verify", "--jwks", jwksFile, "--issuer", iss}
	code, out, errOut := runCLI(t, append(args, "result.v1.jwt")...)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "stdout", out, "VERIFIED: attestation result from "+iss)
	code, out, errOut = runCLI(t, append(args, tok)...)
	wantExit(t, code, exitOK, out, errOut)
	code, out, errOut = runCLI(t, append(args, "other.v1.jwt")...)
	wantExit(t, code, exitRejected, out, errOut)
	wantContains(t, "stderr", errOut, "result-format")
}

// TestResultVerifyAt: result verify --at checks exp, nbf and iat at that
// time, as maa verify --at and verify --at do: a token issued on
// 2025-06-01 (valid 5 minutes) verifies at 00:02 that day, is
// result-expired now and at 00:10, result-not-yet-valid the day before;
// an --at that is not RFC 3339 is exit 1 with the message of the other
// commands, before the JWKS is fetched. result verify had no --at, so an
// archived token could not be checked at all.
func TestResultVerifyAt(t *testing.T) {
	const iss = "https://verifier.example"
	signer, jwksFile := resultSigner(t, iss)
	issued := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	signer.Now = func() time.Time { return issued }
	tok, _, err := signer.Issue(result.Appraised{Claims: &verify.Claims{Platform: verify.PlatformSNP, Product: "Milan"}, Nonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"result", "verify", "--jwks", jwksFile, "--issuer", iss}
	for _, tc := range []struct {
		at    []string
		code  int
		check string
	}{
		{[]string{"--at", "2025-06-01T00:02:00Z"}, exitOK, ""},
		{[]string{"--at", "2025-06-01T02:02:00+02:00"}, exitOK, ""},
		{nil, exitRejected, "result-expired"},
		{[]string{"--at", "2025-06-01T00:10:00Z"}, exitRejected, "result-expired"},
		{[]string{"--at", "2025-05-31T00:00:00Z"}, exitRejected, "result-not-yet-valid"},
	} {
		code, out, errOut := runCLI(t, append(append(args, tc.at...), tok)...)
		wantExit(t, code, tc.code, out, errOut)
		if tc.check != "" && !strings.Contains(errOut, tc.check) {
			t.Errorf("%v: stderr lacks %s:\n%s", tc.at, tc.check, errOut)
		}
	}
	// The JWKS URL is down: the --at error comes first, as parseAt words
	// it for verify, report, policy derive and maa verify.
	code, out, errOut := runCLI(t, "result", "verify", "--jwks", "http://127.0.0.1:1/.well-known/jwks.json", "--at", "yesterday", tok)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, `error: --at "yesterday": want an RFC 3339 time such as 2025-06-01T00:00:00Z`)
}

// TestResultVerifyResource: --resource NAME refuses a result of the same
// verifier for another resource or for its single secret (exit 2,
// result-resource), and accepts one for NAME; without it any resource
// passes, and with an empty value it is a usage error (exit 1).
func TestResultVerifyResource(t *testing.T) {
	const iss = "https://verifier.example"
	signer, jwksFile := resultSigner(t, iss)
	issue := func(resource string) string {
		tok, _, err := signer.Issue(result.Appraised{Claims: &verify.Claims{Platform: verify.PlatformSNP, Product: "Milan"}, Nonce: []byte("n"), Resource: resource})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	args := []string{"result", "verify", "--jwks", jwksFile, "--issuer", iss}
	for _, tc := range []struct {
		issued string
		flag   []string
		code   int
	}{
		{"db/password", []string{"--resource", "db/password"}, exitOK},
		{"db/password", nil, exitOK},
		{"db/readonly", []string{"--resource", "db/password"}, exitRejected},
		{"", []string{"--resource", "db/password"}, exitRejected},
		// An empty value (--resource "$R" with R unset) is a usage error,
		// not "any resource": it would drop the check asked for.
		{"db/password", []string{"--resource", ""}, exitUsage},
		{"db/password", []string{"--resource="}, exitUsage},
	} {
		code, out, errOut := runCLI(t, append(append(args, tc.flag...), issue(tc.issued))...)
		wantExit(t, code, tc.code, out, errOut)
		if tc.code == exitRejected && !strings.Contains(errOut, "result-resource") {
			t.Errorf("%q with %v: stderr lacks result-resource:\n%s", tc.issued, tc.flag, errOut)
		}
		if tc.code == exitUsage && !strings.Contains(errOut, "--resource: empty value") {
			t.Errorf("%q with %v: stderr does not name the empty --resource:\n%s", tc.issued, tc.flag, errOut)
		}
	}
}
