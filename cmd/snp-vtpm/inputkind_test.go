package main

import (
	"encoding/base64"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
)

// TestMisplacedFileHints: a certificate, a token, a JWKS or a policy given
// where another kind of file belongs is rejected with a warning naming the
// command or flag that reads it. verify said only that a PEM certificate is
// "invalid character '-' in number", a token or JWKS got no hint, maa
// verify and result verify hinted at nothing (evidence given as the token,
// one kind of token given to the other command), nor did eventlog.
func TestMisplacedFileHints(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	maaTok, maaKeys := realMAAFiles(t)
	_, resultJWKS := resultKeyJWKS(t)
	resultKeys := writeTemp(t, "result-jwks.json", resultJWKS)
	policy := writeTemp(t, "policy.json", []byte(`{"min_tcb": {"bootloader": 3}}`))
	for _, tc := range []struct {
		name  string
		args  []string
		check string
		want  string
	}{
		{"certificate to verify", []string{"verify", "--offline", "--nonce", "x", realVCEK}, "evidence-format",
			realVCEK + " looks like a PEM certificate: give a VCEK as \"snp-vtpm report -f REPORT --vcek " + realVCEK + "\""},
		{"MAA token to verify", []string{"verify", "--offline", "--nonce", "x", maaTok}, "evidence-format",
			`an MAA token (an RS256 JWT): verify it with "snp-vtpm maa verify ... ` + maaTok + `"`},
		{"MAA JWKS to verify", []string{"verify", "--offline", "--nonce", "x", maaKeys}, "evidence-format",
			`an MAA instance's JWKS (RSA token signing keys): give it as "snp-vtpm maa verify --jwks ` + maaKeys + `", or as --maa-jwks ` + maaKeys},
		{"result JWKS to verify", []string{"verify", "--offline", "--nonce", "x", resultKeys}, "evidence-format",
			`a JWKS (token signing keys, none RSA, as "snp-vtpm serve" publishes for its results): give it as "snp-vtpm result verify --jwks ` + resultKeys + `"`},
		{"policy to report -f", []string{"report", "--offline", "-f", policy}, "hcl-report-format",
			"a policy: give it as --policy " + policy},
		{"evidence to maa verify", []string{"maa", "verify", "--jwks", maaKeys, "--issuer", testmaa.Issuer, "--at", maaAt, ev}, "maa-format",
			`"snp-vtpm verify --nonce ... ` + ev + `"`},
		{"MAA token to result verify", []string{"result", "verify", "--jwks", resultKeys, "--issuer", "https://v.example", maaTok}, "result-alg",
			`an MAA token (an RS256 JWT): verify it with "snp-vtpm maa verify ... ` + maaTok + `"`},
		{"HCL report to eventlog", []string{"eventlog", realHCL}, "event-log", `"snp-vtpm report -f ` + realHCL + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitRejected, out, errOut)
			wantContains(t, "stderr", errOut, "warning: ", tc.want, "REJECTED: "+tc.check+" check failed")
			// A policy is no evidence document, whatever its first byte.
			if strings.Contains(errOut, "an evidence document") && tc.name != "evidence to maa verify" {
				t.Errorf("hint calls it evidence:\n%s", errOut)
			}
		})
	}
	// The token given as the argument itself is not repeated in a hint.
	data, err := os.ReadFile(maaTok)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(data))
	code, out, errOut := runCLI(t, "result", "verify", "--jwks", resultKeys, "--issuer", "https://v.example", tok)
	wantExit(t, code, exitRejected, out, errOut)
	if strings.Contains(errOut, "warning") || strings.Contains(errOut, tok[:40]) {
		t.Errorf("a hint for a token given as text:\n%s", errOut)
	}
}

// TestMisplacedFlagFileHints: a file of another kind given to a flag that
// reads keys or certificates is exit 1 with a warning saying what the file
// is and what reads it. result verify --jwks with an MAA instance's JWKS
// said only `unknown object member at "/keys/0/x5c"`, and --roots (verify,
// report) and report --vcek given evidence only that it is no THIM
// document.
func TestMisplacedFlagFileHints(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	maaTok, maaKeys := realMAAFiles(t)
	_, serveJWKS := resultKeyJWKS(t)
	resultKeys := writeTemp(t, "jwks.json", serveJWKS)
	maaPolicy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "https://sharedeus2.eus2.attest.azure.net"}`))
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"MAA JWKS to result verify --jwks", []string{"result", "verify", "--jwks", maaKeys, "--issuer", "https://v.example", maaTok},
			[]string{maaKeys + ` looks like an MAA instance's JWKS (RSA token signing keys): give it as "snp-vtpm maa verify --jwks ` + maaKeys + `"`, "error: --jwks " + maaKeys}},
		{"evidence to result verify --jwks", []string{"result", "verify", "--jwks", ev, "--issuer", "https://v.example", maaTok},
			[]string{ev + " looks like an evidence document", "error: --jwks " + ev}},
		{"evidence to verify --roots", []string{"verify", "--offline", "--roots", ev, "--nonce", "x", ev},
			[]string{ev + ` looks like an evidence document (JSON): verify it with "snp-vtpm verify --nonce ... ` + ev + `"`, "error: --roots " + ev}},
		{"MAA token to verify --roots", []string{"verify", "--offline", "--roots", maaTok, "--nonce", "x", ev},
			[]string{maaTok + " looks like an MAA token", "error: --roots " + maaTok}},
		{"evidence to report --vcek", []string{"report", "--offline", "-f", realHCL, "--vcek", ev},
			[]string{ev + " looks like an evidence document", "error: --vcek " + ev}},
		{"serve's JWKS to maa verify --jwks", []string{"maa", "verify", "--jwks", resultKeys, "--issuer", "https://maa.example", maaTok},
			[]string{resultKeys + ` looks like a JWKS (token signing keys, none RSA, as "snp-vtpm serve" publishes for its results): give it as "snp-vtpm result verify --jwks ` + resultKeys + `"`, "error: --jwks " + resultKeys}},
		{"evidence to verify --maa-jwks", []string{"verify", "--offline", "--policy", maaPolicy, "--maa-jwks", ev, "--maa-token", maaTok, "--nonce", "x", ev},
			[]string{ev + " looks like an evidence document", "error: --maa-jwks " + ev}},
		{"MAA JWKS to report --roots", []string{"report", "--offline", "-f", realHCL, "--roots", maaKeys},
			[]string{maaKeys + " looks like an MAA instance's JWKS", "error: --roots " + maaKeys}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitUsage, out, errOut)
			wantContains(t, "stderr", errOut, append([]string{"warning: "}, tc.want...)...)
		})
	}
	// A file of the flag's own kind that fails gets no hint: a single
	// certificate to --roots (it wants an ASK and an ARK).
	code, out, errOut := runCLI(t, "verify", "--offline", "--roots", realVCEK, "--nonce", "x", ev)
	wantExit(t, code, exitUsage, out, errOut)
	if strings.Contains(errOut, "warning") || !strings.Contains(errOut, "error: --roots "+realVCEK) {
		t.Errorf("--roots with one certificate:\n%s", errOut)
	}
}

// TestPolicyValueKinds: a policy member of the wrong JSON kind names the
// kind it wants. A string for an allow-list of hex digests said "a JSON
// string where a string was expected", and a policy that is no object
// "where another type was expected"; so did a --pcrs file of eventlog.
func TestPolicyValueKinds(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	for _, tc := range []struct{ policy, want string }{
		{`{"measurements": "6a06"}`, `invalid value at "/measurements" (byte 17): a JSON string where an array was expected`},
		{`{"id_key_digests": "942f"}`, `invalid value at "/id_key_digests" (byte 19): a JSON string where an array was expected`},
		{`[]`, `invalid value (byte 0): a JSON array where an object was expected`},
	} {
		pol := writeTemp(t, "policy.json", []byte(tc.policy))
		code, out, errOut := verifyCLI(t, nil, "--policy", pol, "--at", verifyAt, "--nonce", "challenge", ev)
		wantExit(t, code, exitUsage, out, errOut)
		if !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: stderr lacks %q:\n%s", tc.policy, tc.want, errOut)
		}
	}
	code, out, errOut := runCLI(t, "eventlog", "--pcrs", writeTemp(t, "pcrs.json", []byte(`{"version": 1}`)), realHCL)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, `invalid value at "/version" (byte 12): a JSON number where an object was expected`)
}

// TestMalformedJSONSaidOnce: evidence that is not JSON is "malformed JSON"
// once; it read "malformed JSON: malformed JSON (byte 0)".
func TestMalformedJSONSaidOnce(t *testing.T) {
	code, out, errOut := verifyCLI(t, nil, "--offline", "--nonce", "x", writeTemp(t, "ev.json", []byte("{")))
	wantExit(t, code, exitRejected, out, errOut)
	wantContains(t, "stderr", errOut, "evidence: document: malformed JSON (byte 1)")
	if strings.Contains(errOut, "malformed JSON: malformed JSON") {
		t.Errorf("said twice:\n%s", errOut)
	}
}

// TestLastAttemptInWords: when a client gives up before --timeout, the
// last attempt's failure is said in words; it was the net package's
// "dial tcp HOST: connect: connection refused".
func TestLastAttemptInWords(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The first retry waits 0.5-1s (jittered): with a timeout below 0.5s the
	// client always stops after the first attempt because the retry would
	// pass the deadline. With 1s or 2s, jitter decides between that, three
	// quick attempts ("giving up after 3 attempts") and a deadline reached
	// while waiting ("gave up after 1s").
	code, out, errOut := runCLI(t, "result", "verify", "--timeout", "400ms", "--jwks", "http://"+addr+"/.well-known/jwks.json", "a.b.c")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "(last attempt: cannot connect to "+addr+": connection refused)")
	if strings.Contains(errOut, "dial tcp") {
		t.Errorf("Go's wording:\n%s", errOut)
	}
}

// TestEncodedReportHints: real reports and quotes are often published as
// text (base64 in teekit's and trustauthority-cli's samples, hex in CCF's
// and Signal's tests). Given as text they were rejected with a misleading
// detail ("hcl: magic: bad magic (42514141 ...)", "tdx: version:
// unsupported version (16706 ...)"); they are still rejected (the bytes are
// what is read), with a warning naming the encoding, what it encodes and
// the command that decodes it. Text that decodes to anything else gets no
// such warning.
func TestEncodedReportHints(t *testing.T) {
	read := func(rel string) []byte {
		b, err := os.ReadFile("../../testdata/" + rel)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	report, hcl, quote := read("oak/genoa-report.bin"), read("ita-aztdx/hcl-report.bin"), read("intel-collateral/azure-tdx-quote-teekit.bin")
	wrap := func(s string) []byte { // 76-column lines, as base64(1) writes
		var b strings.Builder
		for len(s) > 76 {
			b.WriteString(s[:76] + "\n")
			s = s[76:]
		}
		return []byte(b.String() + s + "\n")
	}
	for _, c := range []struct {
		name, flag string
		text       []byte
		want       string // "" = no encoding warning
	}{
		{"report.b64", "-f", wrap(base64.StdEncoding.EncodeToString(report)), "is the base64 text of an SNP report: give the bytes it encodes (base64 -d "},
		{"report.hex", "-f", []byte(hex.EncodeToString(report)), "is the hex text of an SNP report: give the bytes it encodes (xxd -r -p "},
		{"hcl.b64", "-f", wrap(base64.StdEncoding.EncodeToString(hcl)), "is the base64 text of an HCL report"},
		{"quote.b64", "--td-quote", []byte(base64.StdEncoding.EncodeToString(quote)), "is the base64 text of a TD quote"},
		{"quote.b64url", "--td-quote", []byte(base64.RawURLEncoding.EncodeToString(quote)), "is the base64url text of a TD quote"},
		{"other.b64", "-f", []byte(base64.StdEncoding.EncodeToString(report[:1000])), ""},
	} {
		file := writeTemp(t, c.name, c.text)
		code, out, errOut := runCLI(t, "report", c.flag, file, "--offline")
		wantExit(t, code, exitRejected, out, errOut)
		if got := strings.Contains(errOut, "text of"); got != (c.want != "") || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: stderr:\n%s\nwant %q", c.name, errOut, c.want)
		}
	}
}

// TestRevocationUnreachableHint: a CRL that cannot be fetched does not
// send the user to --offline alone, which reads AMD's CRLs only from the
// cache: the next step says so.
func TestRevocationUnreachableHint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, out, errOut := runCLI(t, "verify", "--check-revocation", "--kds-url", "http://"+addr, "--timeout", "400ms",
		"--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	if code == exitOK {
		t.Fatalf("verified without AMD's CRL:\n%s", out)
	}
	wantContains(t, "stderr", errOut, "--offline also needs AMD's CRLs in the cache directory")
}
