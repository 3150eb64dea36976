package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// evidenceWithoutVCEK writes the real v1 evidence with its VCEK removed
// and returns the file, the VCEK (DER) and the HCL report.
func evidenceWithoutVCEK(t *testing.T) (file string, vcek, hclReport []byte) {
	t.Helper()
	ev, err := evidence.Decode(testutil.ReadFile(t, snpFixtures+"evidence-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	vcek = ev.VCEK
	ev.VCEK = nil
	stripped, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "novcek.json", stripped), vcek, ev.HCLReport
}

// snpReportOf parses the SNP report inside an HCL report.
func snpReportOf(t *testing.T, hclReport []byte) *snp.Report {
	t.Helper()
	h, err := hcl.Parse(hclReport)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := snp.ParseReport(h.SNPReport)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// bigFile creates a sparse file of size bytes.
func bigFile(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// goInternals are fragments that must not reach a user without -v.
var goInternals = []string{"x509:", "json:", "asn1:", "Go value", "Go struct", "verify.", "HexBytes", "level=INFO", "time=", `Get "`, "dial tcp"}

// TestExitContract runs the built binary on each class of input of the
// exit-status contract and checks the code, stdout and stderr: 0 verified,
// 2 examined and rejected (also malformed, truncated, empty or oversized
// input), 1 nothing examined (usage, files, directories, collateral down).
func TestExitContract(t *testing.T) {
	real := testutil.ReadFile(t, snpFixtures+"evidence-v1.json")
	hclReport := testutil.ReadFile(t, snpFixtures+"hcl-report.bin")
	noVCEK, _, _ := evidenceWithoutVCEK(t)
	dir := t.TempDir()
	big := bigFile(t, 100<<20)
	ev := verifySNPDir + "evidence-v1.json"
	down := "http://127.0.0.1:1"
	verifyArgs := func(args ...string) []string {
		return append([]string{"verify", "--at", verifyAt, "--cache-dir", t.TempDir()}, args...)
	}
	reportArgs := func(file string) []string {
		return []string{"report", "--offline", "--at", realAt, "-f", file, "--vcek", realVCEK}
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin []byte
		code  int
		want  string // on stderr for 1 and 2, on stdout for 0
	}{
		{"verified", verifyArgs("--offline", "--nonce", "challenge", ev), nil, 0, "VERIFIED: evidence v1"},
		{"verified from stdin", verifyArgs("--offline", "--nonce", "challenge", "-"), real, 0, "VERIFIED"},
		{"wrong nonce", verifyArgs("--offline", "--nonce", "other", ev), nil, 2, "quote-nonce"},
		{"empty evidence", verifyArgs("--offline", "--nonce", "x", writeTemp(t, "empty", nil)), nil, 2, "evidence-format"},
		{"empty stdin", verifyArgs("--offline", "--nonce", "x", "-"), []byte{}, 2, "evidence-format"},
		{"truncated evidence", verifyArgs("--offline", "--nonce", "challenge", writeTemp(t, "half", real[:len(real)/2])), nil, 2, "evidence-format"},
		{"garbage evidence", verifyArgs("--offline", "--nonce", "x", writeTemp(t, "bin", []byte{0xff, 0, 1, 2})), nil, 2, "evidence-format"},
		{"wrong JSON types", verifyArgs("--offline", "--nonce", "x", writeTemp(t, "types", []byte(`{"version":1,"tpm_quote":{"signature":5}}`))), nil, 2, "tpm_quote.signature"},
		{"oversized evidence", verifyArgs("--offline", "--nonce", "x", big), nil, 2, "larger than"},
		{"directory", verifyArgs("--offline", "--nonce", "x", dir), nil, 1, "is a directory"},
		{"missing file", verifyArgs("--offline", "--nonce", "x", filepath.Join(dir, "nope")), nil, 1, "cannot open"},
		{"usage", verifyArgs("--nonce", "x"), nil, 1, `accepts 1 arg(s), received 0 (usage: snp-vtpm verify`},
		{"negative timeout", verifyArgs("--timeout", "-5s", "--nonce", "challenge", ev), nil, 1, `--timeout -5s: want a duration of 0 (never give up) or more (usage: snp-vtpm verify`},
		{"unknown flag", verifyArgs("--nonce", "x", "--bogus", ev), nil, 1, `unknown flag: --bogus (usage: snp-vtpm verify`},
		{"unknown command", []string{"fleet"}, nil, 1, `unknown command "fleet" for "snp-vtpm" (see "snp-vtpm --help" for its commands)`},
		{"unknown subcommand", []string{"policy", "frob"}, nil, 1, `see "snp-vtpm policy --help" for its commands`},
		// A group without a command of that name printed its help and exited 0.
		{"unknown maa subcommand", []string{"maa", "frob"}, nil, 1, `unknown command "frob" for "snp-vtpm maa" (see "snp-vtpm maa --help" for its commands)`},
		{"typo of result verify", []string{"result", "verfy", "a.b.c"}, nil, 1, `unknown command "verfy" for "snp-vtpm result"`},
		{"unknown shell", []string{"completion", "nosh"}, nil, 1, `unknown command "nosh" for "snp-vtpm completion"`},
		{"unknown help topic", []string{"help", "frob"}, nil, 1, `unknown command "frob" for "snp-vtpm" (see "snp-vtpm --help" for its commands)`},
		// serve's listen failure named the certificate sources' next steps.
		{"serve cannot listen", []string{"serve", "--listen", "nohost", "--secret-file", writeTemp(t, "secret.txt", []byte("s"))}, nil, 1, "missing port in address. Next: give --listen an address"},
		{"argument to version", []string{"version", "extra"}, nil, 1, `see "snp-vtpm version --help"`},
		{"tpm flag on verify", append([]string{"--tpm", "/dev/tpm0"}, verifyArgs("--nonce", "x", ev)...), nil, 1, "--tpm means nothing"},
		{"emulate flag on verify", append([]string{"--emulate"}, verifyArgs("--nonce", "x", ev)...), nil, 1, "--emulate means nothing"},
		{"KDS down", verifyArgs("--kds-url", down, "--nonce", "challenge", noVCEK), nil, 1, "cannot connect to 127.0.0.1:1: connection refused. Next: use --offline"},
		{"result verify JWKS down", []string{"result", "verify", "--timeout", "5s", "--jwks", down + "/keys", "a.b.c"}, nil, 1, "cannot connect to 127.0.0.1:1: connection refused. Next: check that the verifier is up"},
		// Offline, --kds-url and --timeout are no next step; the two product lines' misses are one line.
		{"report offline without VCEK", []string{"report", "--offline", "--cache-dir", t.TempDir(), "--at", realAt, "-f", realHCL}, nil, 1,
			"offline and not cached; collateral: no VCEK for Genoa chip 19752a447db501a3… at TCB bl=3 tee=0 snp=8 ucode=115 fmc=0 in the cache: offline and not cached. Next: give the report's VCEK with --vcek FILE (PEM, DER or THIM JSON), or run without --offline to fetch it from AMD KDS\n"},
		{"report KDS down", []string{"report", "--kds-url", down, "--cache-dir", t.TempDir(), "--at", realAt, "-f", realHCL}, nil, 1, "Next: give the report's VCEK with --vcek FILE"},
		{"CRL down", verifyArgs("--check-revocation", "--kds-url", down, "--nonce", "challenge", ev), nil, 1, "revocation"},
		{"offline without cached CRL", verifyArgs("--offline", "--check-revocation", "--nonce", "challenge", ev), nil, 1, "Next: run without --offline to fetch the VCEK and AMD's CRL"},
		{"report valid", reportArgs(realHCL), nil, 0, "VALID SNP REPORT"},
		{"report IGVM-framed 1204 bytes", reportArgs(writeTemp(t, "igvm.bin", hclReport[32:1236])), nil, 0, "VALID SNP REPORT"},
		{"report empty", reportArgs(writeTemp(t, "empty.bin", nil)), nil, 2, "hcl-report-format"},
		{"report truncated", reportArgs(writeTemp(t, "trunc.bin", hclReport[:700])), nil, 2, "format"},
		{"report oversized", reportArgs(big), nil, 2, "larger than"},
		{"report directory", reportArgs(dir), nil, 1, "is a directory"},
		{"report without TPM", []string{"--tpm", "/nonexistent", "report"}, nil, 1, "no TPM device"},
		{"quote without TPM", []string{"--tpm", "/nonexistent", "quote", "--nonce", "n"}, nil, 1, "no TPM device"},
		{"evidence without TPM", []string{"--tpm", "/nonexistent", "evidence", "--nonce", "n"}, nil, 1, "no TPM device"},
		{"attest without TPM", []string{"--tpm", "/nonexistent", "attest", "--server", down}, nil, 1, "no TPM device"},
		// A device that is no TPM (its answer ends at once) says so and what to do.
		{"report on a device that is no TPM", []string{"--tpm", "/dev/null", "report"}, nil, 1, "the device did not answer as a TPM: give --tpm the vTPM's device (default /dev/tpmrm0), or try --emulate"},
		// --resource "$R" with R unset asked for no resource: refused before the TPM is opened.
		{"attest empty resource", []string{"--tpm", "/nonexistent", "attest", "--server", down, "--resource", ""}, nil, 1, "--resource: empty value (is the variable you passed unset?)"},
		{"policy derive rejected", []string{"policy", "derive", "--offline", "--at", verifyAt, "--nonce", "other", ev}, nil, 2, "quote-nonce"},
		{"policy derive oversized", []string{"policy", "derive", "--offline", "--nonce", "x", big}, nil, 2, "larger than"},
		{"policy derive", []string{"policy", "derive", "--offline", "--at", verifyAt, "--nonce", "challenge", ev}, nil, 0, `"measurements"`},
		{"version", []string{"version"}, nil, 0, "pinned AMD roots"},
		{"serve without secret", []string{"serve", "--listen", "127.0.0.1:0"}, nil, 1, "secret-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBin(t, tc.stdin, tc.args...)
			wantExit(t, code, tc.code, out, errOut)
			checkContractOutput(t, tc.code, tc.want, out, errOut)
		})
	}
}

// checkContractOutput checks the output of one exit class: the result on
// stdout and a quiet stderr for 0; one sentence on stderr, nothing on
// stdout, no Go internals and the check named once for 1 and 2.
func checkContractOutput(t *testing.T, code int, want, out, errOut string) {
	t.Helper()
	if code == exitOK {
		if !strings.Contains(out, want) || errOut != "" {
			t.Fatalf("stdout lacks %q or stderr is not empty:\nstdout:\n%s\nstderr:\n%s", want, out, errOut)
		}
		return
	}
	prefix := map[int]string{exitUsage: "error: ", exitRejected: "REJECTED: "}[code]
	if out != "" || !strings.HasPrefix(errOut, prefix) || !strings.Contains(errOut, want) {
		t.Fatalf("want nothing on stdout and %q...%q on stderr:\nstdout:\n%s\nstderr:\n%s", prefix, want, out, errOut)
	}
	if n := strings.Count(errOut, "check failed"); n > 1 {
		t.Errorf("the check is named %d times:\n%s", n, errOut)
	}
	for _, bad := range goInternals {
		if strings.Contains(errOut, bad) {
			t.Errorf("stderr leaks %q:\n%s", bad, errOut)
		}
	}
}

// TestTimeoutHangingKDS: a KDS that never answers ends verify after
// --timeout with exit status 1 and a message naming the host and the next
// steps.
func TestTimeoutHangingKDS(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	noVCEK, _, _ := evidenceWithoutVCEK(t)
	code, out, errOut := runBin(t, nil, "verify", "--timeout", "1s", "--kds-url", srv.URL, "--cache-dir", t.TempDir(), "--nonce", "challenge", noVCEK)
	wantExit(t, code, exitUsage, out, errOut)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, want := range []string{"gave up after 1s", host, "--offline", "--kds-url", "cache directory"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestTimeoutFailingKDS: a KDS that keeps answering 503 makes the client
// stop before --timeout (its next retry would come too late); the message
// must not claim the whole --timeout passed, and names the last answer.
func TestTimeoutFailingKDS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	noVCEK, _, _ := evidenceWithoutVCEK(t)
	start := time.Now()
	code, out, errOut := runCLI(t, "verify", "--timeout", "4s", "--kds-url", srv.URL, "--cache-dir", t.TempDir(), "--nonce", "challenge", noVCEK)
	wantExit(t, code, exitUsage, out, errOut)
	if time.Since(start) >= 4*time.Second {
		t.Fatalf("took %s: the client did not stop early", time.Since(start))
	}
	if strings.Contains(errOut, "gave up after 4s") {
		t.Errorf("stderr claims the whole --timeout passed:\n%s", errOut)
	}
	for _, want := range []string{"next retry would pass --timeout 4s", "HTTP 503 Service Unavailable", strings.TrimPrefix(srv.URL, "http://"), "--kds-url"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestPlainMessages: what users see without -v.
func TestPlainMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`VCEK issuer "CN=SEV-Milan,C=US,2.5.4.13=#131b736e702d7674706d20454d554c4154454420286e6f7420414d4429" is not trusted`,
			`VCEK issuer "CN=SEV-Milan,C=US,description=snp-vtpm EMULATED (not AMD)" is not trusted`},
		{"unknown attribute 1.2.3=#0201ff kept", "unknown attribute 1.2.3=#0201ff kept"},
		{"vcek-chain check failed: vcek-chain check failed: x509: certificate signed by unknown authority",
			"vcek-chain check failed: certificate signed by unknown authority"},
		{"policy: invalid value (byte 0): JSON number for Go string", "policy: invalid value (byte 0): a JSON number where a string was expected"},
		{"json: cannot unmarshal string into Go value of type verify.HexBytes", "a JSON string where a string was expected"},
		{`invalid value at "/pcrs/7" (byte 15): JSON string for Go verify.HexBytes: "zz" is not hex: encoding/hex: invalid byte`,
			`invalid value at "/pcrs/7" (byte 15): "zz" is not hex: invalid byte`},
		{`invalid value at "/x" (byte 5): JSON number for Go verify.HexBytes: want a string of hex digits`,
			`invalid value at "/x" (byte 5): a JSON number where a string was expected: want a string of hex digits`},
		{"field x: bad verify.Policy value", "field x: bad (-v shows the details)"},
		// A cut inside parentheses closes them.
		{"name one (snp-vtpm attest --resource NAME, server.Client.Resource)", "name one (snp-vtpm attest --resource NAME) (-v shows the details)"},
		{`kds: GET http://h/x: Get "http://h/x": dial tcp 127.0.0.1:1: connect: connection refused`,
			"kds: GET http://h/x: cannot connect to 127.0.0.1:1: connection refused"},
		{`server: Post "http://v/v1/challenge": dial tcp: lookup v on 10.0.0.53:53: no such host`,
			"server: cannot resolve v: no such host"},
		{`Get "http://[::1]:80/": dial tcp: lookup kds.example: no such host`, "cannot resolve kds.example: no such host"},
		{`invalid argument "abc" for "--timeout" flag: time: invalid duration "abc"`, `invalid argument "abc" for "--timeout" flag: invalid duration "abc"`},
		// Joined errors (one per product line tried) are one line.
		{"no VCEK for Milan: offline\nno VCEK for Genoa: offline\n", "no VCEK for Milan: offline; no VCEK for Genoa: offline"},
	} {
		if got := plain(tc.in); got != tc.want {
			t.Errorf("plain(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestHelpHasExitTable: every command's help carries the exit-status table.
func TestHelpHasExitTable(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"verify", "--help"}, {"report", "--help"}, {"quote", "--help"},
		{"evidence", "--help"}, {"attest", "--help"}, {"serve", "--help"}, {"version", "--help"}, {"policy", "derive", "--help"},
		{"policy", "--help"}, {"eventlog", "--help"}, {"maa", "verify", "--help"}, {"maa", "attest", "--help"}, {"result", "verify", "--help"}} {
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, exitOK, out, errOut)
		wantContains(t, strings.Join(args, " "), out, "Exit status (the same for every command)", "2  the input was examined and rejected", "1  nothing could be examined")
	}
}

// TestServeHelpLog: serve's help says that its log (INFO) is its output
// on stderr without -v, and that -v adds DEBUG lines.
func TestServeHelpLog(t *testing.T) {
	code, out, errOut := runCLI(t, "serve", "--help")
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "serve --help", strings.Join(strings.Fields(out), " "), "The log is serve's output, on stderr without -v",
		"one access-log line per request", "-v adds DEBUG diagnostics", "--log-json")
}

// TestServeHelpOffersNoRefusedFlag: serve --help does not list --imds,
// which serve refuses (IMDS serves only the verifier's own VCEK); given
// anyway, it is still a usage error saying why. The help listed it, from
// the trust flags serve shares with verify, as "ask Azure IMDS (THIM) for
// a missing VCEK".
func TestServeHelpOffersNoRefusedFlag(t *testing.T) {
	code, out, errOut := runCLI(t, "serve", "--help")
	wantExit(t, code, exitOK, out, errOut)
	if strings.Contains(out, "--imds") {
		t.Errorf("serve --help offers --imds, which serve refuses:\n%s", out)
	}
	code, out, errOut = runCLI(t, "serve", "--listen", "127.0.0.1:0", "--secret-file", writeTemp(t, "s.txt", []byte("s")), "--imds")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "serve --imds", errOut, "--imds is for verifying on the CVM itself")
}

// TestProgressOnTerminal: on a terminal a slow command says what it waits
// for; elsewhere (pipes, files, tests) it prints nothing.
func TestProgressOnTerminal(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var buf bytes.Buffer
		g := &globals{stderr: &buf, terminal: terminal, progressEvery: 5 * time.Millisecond, timeout: time.Minute}
		g.waitFor("kds.example (AMD KDS)")
		stop := g.startProgress(context.Background())
		time.Sleep(50 * time.Millisecond)
		stop()
		got := buf.String()
		if terminal != strings.Contains(got, "still waiting for kds.example (AMD KDS)") {
			t.Errorf("terminal %v: %q", terminal, got)
		}
		buf.Reset()
		newLogger(&buf, false, terminal).Info("kds rate limited, retry in 3s", "attempt", 2)
		if terminal != strings.Contains(buf.String(), "... kds rate limited, retry in 3s (attempt: 2)") {
			t.Errorf("terminal %v: log %q", terminal, buf.String())
		}
		// Other info lines are diagnostics: only -v shows them, also on a terminal.
		buf.Reset()
		newLogger(&buf, false, terminal).Info("emulated Azure CVM started", "imds", "http://127.0.0.1:1")
		newLogger(&buf, false, terminal).Info("VCEK from Azure IMDS")
		if buf.Len() != 0 {
			t.Errorf("terminal %v: diagnostics without -v: %q", terminal, buf.String())
		}
	}
}

// TestMisplacedInputHint: a file of a kind another command reads (an HCL
// report given to verify, evidence to report -f, a TD quote to verify) is
// rejected, and a warning names the command that reads it.
func TestMisplacedInputHint(t *testing.T) {
	const tdQuote = "../../testdata/intel-collateral/azure-tdx-quote-teekit.bin"
	ev := verifySNPDir + "evidence-v1.json"
	for _, tc := range []struct {
		name  string
		args  []string
		check string
		want  string
	}{
		{"HCL report to verify", []string{"verify", "--offline", "--nonce", "x", realHCL}, "evidence-format", `"snp-vtpm report -f ` + realHCL + `"`},
		{"TD quote to verify", []string{"verify", "--offline", "--nonce", "x", tdQuote}, "evidence-format", `"snp-vtpm report --td-quote ` + tdQuote + `"`},
		{"evidence to report -f", []string{"report", "--offline", "-f", ev}, "hcl-report-format", `"snp-vtpm verify --nonce ... ` + ev + `"`},
		{"TD quote to report -f", []string{"report", "--offline", "-f", tdQuote}, "hcl-report-format", `"snp-vtpm report --td-quote ` + tdQuote + `"`},
		{"HCL report to --td-quote", []string{"report", "--offline", "--td-quote", realHCL}, "tdx-quote-format", `"snp-vtpm report -f ` + realHCL + `"`},
		// It was rejected naming no flag: a TDX report is checked with its TD quote.
		{"TDX HCL report without its TD quote", []string{"report", "--offline", "-f", verifyTDXDir + "hcl-report.bin"}, "hcl-report-type",
			`is the HCL report of a TDX CVM: validate it with the TD quote of its TDREPORT, "snp-vtpm report --td-quote QUOTE -f ` + verifyTDXDir + `hcl-report.bin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitRejected, out, errOut)
			wantContains(t, "stderr", errOut, "warning: ", tc.want, "REJECTED: "+tc.check+" check failed")
		})
	}
	// Garbage matches no kind: no warning.
	code, out, errOut := runCLI(t, "verify", "--offline", "--nonce", "x", writeTemp(t, "garbage", []byte{0xff, 1, 2, 3}))
	wantExit(t, code, exitRejected, out, errOut)
	if strings.Contains(errOut, "warning") {
		t.Errorf("a warning for garbage:\n%s", errOut)
	}
}

// TestJSONRejections: with --json every command that prints a result
// (verify, report, eventlog, policy derive, maa verify, result verify;
// attest in TestAttestJSON) prints a rejection as the same JSON document on
// stdout: exactly the members verified (false), check and error.
func TestJSONRejections(t *testing.T) {
	_, resultJWKS := resultKeyJWKS(t)
	maaTok, maaKeys := realMAAFiles(t)
	for _, tc := range []struct {
		name  string
		args  []string
		check string
	}{
		{"verify", []string{"verify", "--offline", "--json", "--at", verifyAt, "--nonce", "other", verifySNPDir + "evidence-v1.json"}, "quote-nonce"},
		{"report", []string{"report", "--offline", "--json", "--at", realAt, "-f", writeTemp(t, "empty.bin", nil), "--vcek", realVCEK}, "hcl-report-format"},
		{"eventlog", []string{"eventlog", "--json", writeTemp(t, "log.bin", []byte{1, 2, 3})}, "event-log"},
		{"policy derive", []string{"policy", "derive", "--offline", "--json", "--at", verifyAt, "--nonce", "other", verifySNPDir + "evidence-v1.json"}, "quote-nonce"},
		{"maa verify", []string{"maa", "verify", "--json", "--jwks", maaKeys, "--issuer", testmaa.Issuer, "--at", maaAt, "--nonce", "other", maaTok}, "maa-nonce"},
		{"result verify", []string{"result", "verify", "--json", "--jwks", writeTemp(t, "jwks.json", resultJWKS), "--issuer", "https://v.example", writeTemp(t, "t.jwt", []byte("a.b.c"))}, "result-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitRejected, out, errOut)
			wantRejectionDoc(t, out, tc.check)
		})
	}
}

// wantRejectionDoc checks that out is the one --json rejection document:
// exactly "verified": false, "check": check and a non-empty "error".
func wantRejectionDoc(t *testing.T, out, check string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	keys := slices.Sorted(maps.Keys(doc))
	if !slices.Equal(keys, []string{"check", "error", "verified"}) {
		t.Errorf("members %v, want check, error, verified:\n%s", keys, out)
	}
	if doc["verified"] != false || doc["check"] != check {
		t.Errorf("got verified %v check %v, want false and %s", doc["verified"], doc["check"], check)
	}
	if e, _ := doc["error"].(string); e == "" {
		t.Errorf("no error message:\n%s", out)
	}
}

// TestNoTPMDeviceOneSentence: the error of a command that needs the vTPM
// on a machine without one reads as one sentence with its next step; it
// joined a second line as "...no such file or directory); (this command
// runs inside ...)".
func TestNoTPMDeviceOneSentence(t *testing.T) {
	code, out, errOut := runCLI(t, "--tpm", "/nonexistent/tpm", "quote", "--nonce", "n")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "no TPM device", "). Next: run this command inside an Azure Confidential VM (or name its TPM with --tpm); elsewhere try --emulate\n")
	if strings.Contains(errOut, "); (") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("not one sentence:\n%s", errOut)
	}
}

// TestJSONExit1QuietStdout pins the README: exit status 1 prints nothing
// on standard output, with --json too (the reason is on stderr), for each
// command that takes --json.
func TestJSONExit1QuietStdout(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"verify", "--json", "--offline", "--nonce", "x", missing},
		{"verify", "--json", "--offline", verifySNPDir + "evidence-v1.json"},         // no nonce
		{"report", "--json", "--offline", "--cache-dir", t.TempDir(), "-f", realHCL}, // vcek-missing
		{"eventlog", "--json", missing},
		{"policy", "derive", "--json", "--offline", "--nonce", "x", missing},
		{"maa", "verify", "--json", "--jwks", missing, "--issuer", "https://maa.example", missing},
		{"result", "verify", "--json", "--jwks", missing, "--issuer", "https://v.example", "a.b.c"},
		{"attest", "--json", "--server", "http://127.0.0.1:1", "--tpm", "/nonexistent/tpm"},
		{"quote", "--json", "--nonce", "n", "--tpm", "/nonexistent/tpm"},
		{"version", "--json", "extra"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitUsage || out != "" || !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestNotAzureVTPMHint: a TPM that answers but is not an Azure CVM's vTPM
// (no HCL report, no attestation key: a Trusted Launch VM, a laptop) gives
// a next step naming --emulate; before, the error ended at the TPM's
// response code. Other TPM failures get no such hint.
func TestNotAzureVTPMHint(t *testing.T) {
	g := &globals{}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for no hint
	}{
		{"no HCL report", fmt.Errorf("attester: reading the HCL report: %w",
			&vtpm.TPMError{Command: "NV_ReadPublic", Handle: vtpm.NVIndexHCLReport, Kind: vtpm.ErrIndexMissing, Err: tpm2.TPMRCHandle}),
			"Next: this TPM is not an Azure Confidential VM's vTPM"},
		{"no attestation key", &vtpm.TPMError{Command: "ReadPublic", Handle: vtpm.AKHandle, Kind: vtpm.ErrHandleMissing, Err: tpm2.TPMRCHandle},
			"or try --emulate"},
		{"silent device", &vtpm.TPMError{Command: "NV_ReadPublic", Handle: vtpm.NVIndexHCLReport, Err: io.EOF},
			"Next: the device did not answer as a TPM"},
		{"AK certificate missing", &vtpm.TPMError{Command: "NV_ReadPublic", Handle: vtpm.NVIndexAKCert, Kind: vtpm.ErrIndexMissing, Err: tpm2.TPMRCHandle}, ""},
		{"auth failure", &vtpm.TPMError{Command: "NV_Read", Handle: vtpm.NVIndexHCLReport, Kind: vtpm.ErrAuth, Err: tpm2.TPMRCAuthFail}, ""},
	} {
		got := g.describe(tc.err, exitUsage)
		if tc.want == "" {
			if strings.Contains(got, "Next:") {
				t.Errorf("%s: %q has a next step", tc.name, got)
			}
			continue
		}
		if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q lacks %q", tc.name, got, tc.want)
		}
	}
}
