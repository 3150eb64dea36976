package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
)

const (
	realHCL  = "../../testdata/trustee-az-vtpm/az-snp-vtpm/hcl-report.bin"
	realVCEK = "../../testdata/trustee-az-vtpm/az-snp-vtpm/vcek.pem"
	// VCEKs are valid for 7 years: pin the verification time.
	realAt = "2025-01-01T00:00:00Z"
)

func TestReportFileReal(t *testing.T) {
	code, out, errOut := runCLI(t, "report", "-f", realHCL, "--vcek", realVCEK, "--at", realAt, "-p")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report -p output", out, "VALID SNP REPORT from "+realHCL, "AMD (pinned)", "19752a447db501a3", "committed tcb", "key HCLAkPub", "vm unique id")
	if strings.Contains(out, "EMULATED") {
		t.Errorf("real report printed as EMULATED:\n%s", out)
	}
}

func TestReportFileJSON(t *testing.T) {
	var got struct {
		Verified bool   `json:"verified"`
		Product  string `json:"product"`
		ChipID   string `json:"chip_id"`
		Emulated bool   `json:"emulated"`
		Keys     []struct {
			Kid  string `json:"kid"`
			Bits int    `json:"bits"`
		} `json:"runtime_data_keys"`
	}
	cliJSON(t, 0, &got, "report", "-f", realHCL, "--vcek", realVCEK, "--at", realAt, "--json")
	if !got.Verified || got.Product != "Milan" || !strings.HasPrefix(got.ChipID, "19752a44") || got.Emulated {
		t.Fatalf("claims = %+v", got)
	}
	if len(got.Keys) == 0 || got.Keys[0].Kid != "HCLAkPub" || got.Keys[0].Bits != 2048 {
		t.Fatalf("runtime data keys = %+v", got.Keys)
	}
}

func TestReportFileDERVCEK(t *testing.T) {
	data, err := os.ReadFile(realVCEK)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("fixture VCEK is not PEM")
	}
	der := t.TempDir() + "/vcek.der"
	if err := os.WriteFile(der, b.Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "report", "-f", realHCL, "--vcek", der, "--at", realAt)
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, "VALID SNP REPORT") {
		t.Fatalf("summary output:\n%s", out)
	}
}

func TestReportFileOtherChip(t *testing.T) {
	code, out, errOut := runCLI(t, "report", "-f", "../../testdata/azure-cvm-tooling/hcl-report-snp.bin",
		"--vcek", "../../testdata/azure-cvm-tooling/certs.pem", "--at", realAt)
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "REJECTED") || !strings.Contains(errOut, "check failed") {
		t.Fatalf("stderr does not name the failed check:\n%s", errOut)
	}
	if strings.Contains(out, "VALID") {
		t.Fatalf("rejected report printed as valid:\n%s", out)
	}
	// --json reports the failure as JSON on stdout.
	code, out, _ = runCLI(t, "report", "-f", "../../testdata/azure-cvm-tooling/hcl-report-snp.bin",
		"--vcek", "../../testdata/azure-cvm-tooling/certs.pem", "--at", realAt, "--json")
	// The VCEK is another chip's: that is the cause named, not the
	// signature it cannot verify.
	if code != exitRejected {
		t.Fatalf("--json rejection: code %d, output %s", code, out)
	}
	wantRejectionDoc(t, out, "vcek-chip-id")
}

// TestReportFileVMPLPolicy: a bare SNP report requested at VMPL 2 is
// rejected by default (vmpl check) and accepted with a policy whose vmpl is
// 2 or more; the same VMPL 2 report inside an HCL report is rejected
// whatever the policy; a policy vmpl outside 0..3 is a usage error naming
// the field.
func TestReportFileVMPLPolicy(t *testing.T) {
	ev := (&testev.Builder{Version: 1, VMPL: 2}).MustBuild()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	roots := write("roots.pem", testev.ChainPEM())
	bare := write("report.bin", ev.Report)
	hclBlob := write("hcl.bin", ev.Evidence.HCLReport)
	vcek := write("vcek.der", ev.VCEKDER)
	for _, tc := range []struct {
		policy string
		file   string
		want   int
	}{
		{"", bare, exitRejected},
		{`{"vmpl":1}`, bare, exitRejected},
		{`{"vmpl":2}`, bare, 0},
		{`{"vmpl":3}`, bare, 0},
		{`{"vmpl":3}`, hclBlob, exitRejected},
		{`{"vmpl":4}`, bare, 1},
	} {
		args := []string{"report", "-f", tc.file, "--vcek", vcek, "--roots", roots, "--json"}
		if tc.policy != "" {
			args = append(args, "--policy", write("policy.json", []byte(tc.policy)))
		}
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, tc.want, out, errOut)
		switch tc.want {
		case exitRejected:
			if !strings.Contains(out, `"check": "vmpl"`) {
				t.Errorf("policy %s, %s: output does not name the vmpl check:\n%s", tc.policy, tc.file, out)
			}
		case 0:
			if !strings.Contains(out, `"vmpl": 2`) {
				t.Errorf("policy %s: claims do not say VMPL 2:\n%s", tc.policy, out)
			}
		default:
			if !strings.Contains(errOut, "vmpl") {
				t.Errorf("policy %s: error does not name the field:\n%s", tc.policy, errOut)
			}
		}
	}
}

func TestReportFileEmulatedChainNeedsTrust(t *testing.T) {
	// The fake VCEK does not match the real report, and without
	// --trust-emulated its chain is not trusted at all.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/fake.pem", fakeamd.VCEKPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "report", "-f", realHCL, "--vcek", dir+"/fake.pem")
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "vcek-chain") {
		t.Fatalf("stderr does not name vcek-chain:\n%s", errOut)
	}
}

func TestNoDevice(t *testing.T) {
	for _, args := range [][]string{
		{"--tpm", "/nonexistent", "report"},
		{"--tpm", "/nonexistent", "-p"},
		{"--tpm", "/nonexistent", "quote", "--nonce", "n"},
		{"--tpm", "/nonexistent", "evidence", "--nonce", "n"},
	} {
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, exitUsage, out, errOut)
		if !strings.Contains(errOut, "/nonexistent") || !strings.Contains(errOut, "no TPM device") {
			t.Fatalf("%v: stderr does not explain the missing device:\n%s", args, errOut)
		}
		if out != "" {
			t.Fatalf("%v: printed on stdout:\n%s", args, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--user-data", "zz"}, "--user-data"},
		{[]string{"report", "--user-data", strings.Repeat("00", 65)}, "65 bytes"},
		{[]string{"report", "-f", realHCL, "--user-data", "00"}, "cannot be used with -f"},
		{[]string{"report", "--vcek", realVCEK}, "--vcek is for -f"},
		{[]string{"report", "-f", "/nonexistent.bin"}, "nonexistent.bin"},
		{[]string{"report", "-f", realHCL, "--vcek", "/dev/null"}, "empty file"},
		{[]string{"evidence"}, "a nonce is required"},
		{[]string{"quote"}, "a nonce is required"},
		{[]string{"evidence", "--nonce", "a", "--nonce-hex", "00"}, "not both"},
		{[]string{"evidence", "--nonce", ""}, "--nonce: empty value"},
		{[]string{"quote", "--nonce-hex", ""}, "--nonce-hex: empty value"},
		// A value that is no hex says which character, an odd one how many digits.
		{[]string{"quote", "--nonce-hex", "zz"}, `--nonce-hex: "z" (character 1) is not a hex digit`},
		{[]string{"verify", "--nonce-hex", "00ag", realHCL}, `--nonce-hex: "g" (character 4) is not a hex digit`},
		{[]string{"evidence", "--nonce-hex", "abc"}, "--nonce-hex: an odd number of hex digits (3)"},
		{[]string{"report", "--user-data", "c0ffee!!"}, `--user-data: "!" (character 7) is not a hex digit`},
		{[]string{"report", "--user-data", "c0ffe"}, "--user-data: an odd number of hex digits (5)"},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		wantExit(t, code, exitUsage, out, errOut)
		if !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.want, errOut)
		}
	}
}

func TestRootHelp(t *testing.T) {
	code, out, errOut := runCLI(t)
	wantExit(t, code, 0, out, errOut)
	for _, want := range []string{"report", "quote", "evidence", "verify", "-p, --print"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestCertificateDER(t *testing.T) {
	vcek := fakeamd.VCEKDER()
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vcek})
	other := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fakeamd.ARKDER()})
	thim := fmt.Appendf(nil, `{"vcekCert":%q,"certificateChain":%q,"tcbm":"0","cacheControl":"86400"}`, cert, other)
	dupTHIM := fmt.Appendf(nil, `{"vcekCert":%q,"vcekCert":%q}`, cert, cert)
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
		ok   bool
	}{
		{"der", vcek, vcek, true},
		{"pem", cert, vcek, true},
		{"first certificate wins", append(append([]byte{}, cert...), other...), vcek, true},
		{"other block first", append(append([]byte{}, key...), cert...), vcek, true},
		{"pem without certificate", key, nil, false},
		{"THIM JSON", thim, vcek, true},
		{"THIM JSON with a duplicate vcekCert", dupTHIM, nil, false},
		{"garbage", []byte("not a certificate"), nil, false},
		{"oversized PEM", append(bytes.Repeat([]byte(" "), 64<<10), cert...), nil, false},
		{"empty", nil, nil, false},
	} {
		got, err := vcekFromFile(tc.in)
		if (err == nil) != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %d bytes, err %v", tc.name, len(got), err)
		}
		if tc.ok {
			if _, err := x509.ParseCertificate(got); err != nil {
				t.Errorf("%s: not a certificate: %v", tc.name, err)
			}
		}
	}
}

func TestMarkEmulated(t *testing.T) {
	ev := &evidence.Evidence{
		Version:   1,
		HCLReport: []byte{1, 2, 3},
	}
	ev.Quote.Message = []byte{4}
	ev.Quote.Signature = []byte{5}
	ev.Quote.PCRs = [][]byte{make([]byte, 32)}
	data, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	marked := markEmulated(data)
	var m map[string]any
	if err := json.Unmarshal(marked, &m); err != nil || m["emulated"] != true {
		t.Fatalf("marked evidence %s: %v", marked, err)
	}
	back, err := evidence.Decode(marked)
	if err != nil || back.Version != 1 || !bytes.Equal(back.HCLReport, ev.HCLReport) {
		t.Fatalf("Decode(marked) = %+v, %v", back, err)
	}
}

// TestReportFileTHIMVCEK: --vcek takes the THIM JSON that Azure IMDS
// serves (the real document), and its VCEK verifies the real report it
// certifies; the same document with the VCEK of another chip is rejected.
func TestReportFileTHIMVCEK(t *testing.T) {
	const thim = "../../testdata/azure-thim/uvm_host_amd_certificate.json"
	const report = "../../testdata/azure-thim/snp_report.bin"
	code, out, errOut := runCLI(t, "report", "-f", report, "--vcek", thim, "--offline", "--json")
	wantExit(t, code, exitOK, out, errOut)
	var got struct {
		ChipID  string `json:"chip_id"`
		Product string `json:"product"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Product != "Milan" || !strings.HasPrefix(got.ChipID, "b12164b4") {
		t.Fatalf("claims %s: %v", out, err)
	}
	data, err := os.ReadFile(thim)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile("../../testdata/trustee-az-vtpm/az-snp-vtpm/vcek.pem")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(other)
	doc["vcekCert"] = string(pem.EncodeToMemory(blk))
	forged, _ := json.Marshal(doc)
	file := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(file, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "report", "-f", report, "--vcek", file, "--offline")
	wantExit(t, code, exitRejected, out, errOut)
	// Duplicate members are rejected by the strict decoder, before any verification.
	dup := append(bytes.TrimSuffix(bytes.TrimSpace(data), []byte("}")), []byte(`,"vcekCert":"x"}`)...)
	file = filepath.Join(t.TempDir(), "dup.json")
	if err := os.WriteFile(file, dup, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "report", "-f", report, "--vcek", file, "--offline")
	wantExit(t, code, exitUsage, out, errOut)
	if !strings.Contains(errOut, "duplicate") {
		t.Errorf("stderr does not name the duplicate member:\n%s", errOut)
	}
}

// TestReportTDQuote: "report --td-quote" validates a stored TD quote, alone
// or with the HCL TDX report it quotes (real Azure files); a changed byte,
// an SEV-SNP HCL report and misplaced flags fail.
func TestReportTDQuote(t *testing.T) {
	const dir = "../../testdata/trustee-az-vtpm/az-tdx-vtpm/"
	quote, hclTDX := dir+"td-quote.bin", dir+"hcl-report.bin"
	code, out, errOut := runCLI(t, "report", "--offline", "--td-quote", quote, "-f", hclTDX)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report --td-quote -f output", out, "VALID TDX REPORT (TD quote verified)", "Intel SGX Root CA (pinned)", "fmspc", "00806f050000", "6332533D-5649-4D02-8AA7-8F64B7C3EE21")
	code, out, errOut = runCLI(t, "report", "--offline", "--td-quote", quote, "--json")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report --td-quote --json output", out, `"platform": "tdx"`)

	data, err := os.ReadFile(quote)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	code, out, errOut = runCLI(t, "report", "--offline", "--td-quote", writeTemp(t, "flipped.bin", data))
	wantExit(t, code, 2, out, errOut)
	code, out, errOut = runCLI(t, "report", "--offline", "--td-quote", quote, "-f", realHCL)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "SNP HCL report with a TD quote", errOut, "hcl-report-type")
	for _, args := range [][]string{
		{"--td-quote", quote, "--user-data", "01"},
		{"--td-quote", quote, "-f", hclTDX, "--vcek", quote},
	} {
		code, out, errOut = runCLI(t, append([]string{"report"}, args...)...)
		wantExit(t, code, 1, out, errOut)
	}
}

// TestReportTDQuoteV5: "report --td-quote" validates Microsoft's real TD
// quote v5 (TDX 1.5 body) and prints its TDX 1.5 fields; its v4 quote has
// none.
func TestReportTDQuoteV5(t *testing.T) {
	const dir = "../../testdata/azure-cvm-attestation-tools/"
	code, out, errOut := runCLI(t, "report", "--offline", "--at", "2025-10-01T00:00:00Z", "--td-quote", dir+"td-quote-v5.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report --td-quote v5 output", out, "VALID TDX REPORT (TD quote verified)", "azure-hcl", "273828c4",
		"tee tcb svn 2", "0d010400000000000000000000000000", "mr servicetd")
	code, out, errOut = runCLI(t, "report", "--offline", "--at", "2025-10-01T00:00:00Z", "--td-quote", dir+"td-quote-v5.bin", "--json")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report --td-quote v5 --json output", out, `"tee_tcb_svn2": "0d010400000000000000000000000000"`, `"mr_servicetd": "000000`)
	raw, err := os.ReadFile("../../docs/verify-output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	// report prints the claims of verify's output, without "verified"
	// and with evidence_version -1 (no evidence file) and its source.
	claims := decodeNumbers(t, out).(map[string]any)
	claims["verified"], claims["evidence_version"] = true, json.Number("1")
	delete(claims, "source")
	schema := decodeNumbers(t, string(raw)).(map[string]any)
	if err := checkSchema(schema, claims, "$"); err != nil {
		t.Errorf("v5 claims break the schema: %v", err)
	}
	claims["tdx"].(map[string]any)["mr_servicetd"] = "not hex"
	if checkSchema(schema, claims, "$") == nil {
		t.Error("a non-hex mr_servicetd passes the schema")
	}
	code, out, errOut = runCLI(t, "report", "--offline", "--at", "2025-10-01T00:00:00Z", "--td-quote", dir+"td-quote-v4.bin", "--json")
	wantExit(t, code, 0, out, errOut)
	if strings.Contains(out, "tee_tcb_svn2") || strings.Contains(out, "mr_servicetd") {
		t.Errorf("v4 claims carry TDX 1.5 fields:\n%s", out)
	}
}

// TestReportFileRealVLEK: a real AWS VLEK-signed report (constellation's
// test data) verifies with its VLEK once the policy accepts its reported
// TCB below the committed one, and the output names the VLEK (not a VCEK);
// a real VLEK report whose signature does not verify is rejected naming
// the VLEK as a possible signer.
func TestReportFileRealVLEK(t *testing.T) {
	const dir = "../../testdata/constellation/"
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"allow_uncommitted_tcb": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"report", "-f", dir + "aws-vlek-report.bin", "--vcek", dir + "aws-vlek.pem", "--offline", "--at", "2025-06-01T00:00:00Z"}
	code, out, errOut := runCLI(t, args...)
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "committed-tcb") {
		t.Errorf("stderr does not name committed-tcb:\n%s", errOut)
	}
	code, out, errOut = runCLI(t, append(args, "--policy", policy)...)
	wantExit(t, code, exitOK, out, errOut)
	if !strings.Contains(out, "\n  vlek ") || strings.Contains(out, "\n  vcek ") {
		t.Errorf("output does not name the VLEK:\n%s", out)
	}
	code, out, errOut = runCLI(t, "report", "-f", dir+"vlek-report-bad-signature.bin", "--vcek", dir+"vlek-2023.pem", "--offline", "--at", "2024-01-01T00:00:00Z")
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "report-signature") || !strings.Contains(errOut, "VLEK") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// TestReportFileRealVLEKMissing: a real VLEK-signed report given without
// its VLEK is rejected (vcek-missing, exit 2: KDS serves no VLEK, so no
// source could supply it), and the message names the product line the
// VLEK must be of (from the CPUID of a version 3 report; a version 2
// report names none) and says to give the VLEK, not that a VCEK is
// expected from KDS.
func TestReportFileRealVLEKMissing(t *testing.T) {
	for _, c := range []struct{ file, line string }{
		{"trustee-snp/test-vlek-report.bin", "a Milan chip: its certificate is issued by SEV-VLEK-Milan"},
		{"constellation/aws-vlek-report.bin", "a Milan chip: its certificate is issued by SEV-VLEK-Milan"},
		{"constellation/aws-vlek-report-2023.bin", "product line not named: a version 2 report carries no CPUID"},
	} {
		code, out, errOut := runCLI(t, "report", "-f", "../../testdata/"+c.file, "--offline")
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, c.file, errOut, "vcek-missing", c.line, "its VLEK in the evidence or --vcek")
	}
}

// TestReportFileRealNoVCEK: real reports whose VCEK is published nowhere
// (py-snp-utils: an Azure Genoa report v3, a Milan report v5), read
// offline with nothing cached, exit 1 (nothing could be asked, not a
// verdict) naming the product line, chip and TCB of the VCEK to supply and
// the next step; given another chip's VCEK of the same line they are
// rejected as vcek-chip-id, and of another line as product-line.
func TestReportFileRealNoVCEK(t *testing.T) {
	const dir = "../../testdata/"
	for _, c := range []struct {
		report, vcek string
		exit         int
		wants        []string
	}{
		{"py-snp-utils/azure-genoa-report-v3.bin", "", exitUsage,
			[]string{"vcek-missing", "Genoa chip a7a4309a91e5be81", "bl=10 tee=0 snp=23 ucode=84", "--vcek FILE"}},
		{"py-snp-utils/milan-report-v5.bin", "", exitUsage,
			[]string{"vcek-missing", "Milan chip 177f9fae1f03c23f", "bl=4 tee=0 snp=27 ucode=222", "--vcek FILE"}},
		{"py-snp-utils/azure-genoa-report-v3.bin", "oak/genoa-vcek.der", exitRejected,
			[]string{"REJECTED: vcek-chip-id", "a7a4309a91e5be81", "d2421d976f95ce0b"}},
		{"py-snp-utils/milan-report-v5.bin", "oak/genoa-vcek.der", exitRejected,
			[]string{"REJECTED: product-line", "names Milan but the VCEK is for Genoa"}},
	} {
		args := []string{"report", "-f", dir + c.report, "--offline", "--cache-dir", t.TempDir(), "--at", "2025-09-01T00:00:00Z"}
		if c.vcek != "" {
			args = append(args, "--vcek", dir+c.vcek)
		}
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, c.exit, out, errOut)
		wantContains(t, c.report+" "+c.vcek, errOut, c.wants...)
	}
}

// TestReportFileVCEKBundleOrder: --vcek FILE may be a PEM bundle with
// AMD's certificates before the VCEK (ASK, ARK, ASVK, then the VCEK: the
// order of tools that concatenate ark.pem, ask.pem and vcek.pem): the real
// Oak Genoa report verifies with either order. Its first certificate, the
// ASK, was taken for the VCEK and refused as "vcek-format: public key is
// not ECDSA P-384". A bundle of AMD's CAs alone is still refused.
func TestReportFileVCEKBundleOrder(t *testing.T) {
	dir := t.TempDir()
	amd, err := os.ReadFile("../../testdata/trustee-az-vtpm/amd-vendor-certs/genoa_ask_ark_asvk.pem")
	if err != nil {
		t.Fatal(err)
	}
	der, err := os.ReadFile("../../testdata/oak/genoa-vcek.der")
	if err != nil {
		t.Fatal(err)
	}
	vcek := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, c := range []struct {
		name   string
		bundle []byte
		exit   int
		want   string
	}{
		{"vcek-first.pem", append(append([]byte{}, vcek...), amd...), exitOK, "VALID SNP REPORT"},
		{"vcek-last.pem", append(append([]byte{}, amd...), vcek...), exitOK, "VALID SNP REPORT"},
		{"amd-only.pem", amd, exitRejected, "vcek-format"},
	} {
		file := filepath.Join(dir, c.name)
		if err := os.WriteFile(file, c.bundle, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "report", "-f", "../../testdata/oak/genoa-report.bin", "--vcek", file, "--offline", "--at", "2025-09-01T00:00:00Z")
		wantExit(t, code, c.exit, out, errOut)
		wantContains(t, c.name, out+errOut, c.want)
	}
}

// TestReportTDQuoteCollateral: "report --td-quote --collateral DIR"
// evaluates Intel's TCB status offline, as verify does (the flag was
// verify's only, though report's --pcs-url help named it): the real
// quote's platform is OutOfDate under Intel's collateral of its FMSPC.
func TestReportTDQuoteCollateral(t *testing.T) {
	const dir = "../../testdata/trustee-az-vtpm/az-tdx-vtpm/"
	args := []string{"report", "--offline", "--at", "2025-10-01T00:00:00Z", "--td-quote", dir + "td-quote.bin", "-f", dir + "hcl-report.bin"}
	code, out, errOut := runCLI(t, args...)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "report --td-quote without collateral", out, "not-evaluated")
	code, out, errOut = runCLI(t, append(args, "--collateral", "../../testdata/intel-collateral/pcs-00806f050000")...)
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "tdx-tcb-status") || !strings.Contains(errOut, "OutOfDate") {
		t.Errorf("stderr does not name tdx-tcb-status OutOfDate:\n%s", errOut)
	}
}

// TestReportHelpNamesTDX: report --help, the root's command list and -p
// say that report also reads and validates TDX (a TDX CVM, --emulate=tdx,
// --td-quote), as the README documents; they spoke of the SEV-SNP report
// only, and the usage line lacked --td-quote.
func TestReportHelpNamesTDX(t *testing.T) {
	code, out, errOut := runCLI(t, "report", "--help")
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "report --help", out, "[--td-quote QUOTE [-f HCL_REPORT]]", "Intel TDX CVM (or --emulate=tdx)", "--td-quote QUOTE validates a stored TD quote")
	code, out, errOut = runCLI(t, "--help")
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "--help", out, "Read the SEV-SNP (or TDX) report", `print the CVM's report, SEV-SNP or TDX (same as "report -p")`)
}
