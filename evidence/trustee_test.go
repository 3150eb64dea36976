package evidence_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// The checker below is written from the sources of the Confidential
// Containers verifier and attester (not from this package):
//
//   - confidential-containers/trustee 78962cd4 (verifier last changed in
//     3b42531b), deps/verifier/src/az_snp_vtpm/{mod,compat}.rs and
//     az_tdx_vtpm/{mod,compat}.rs: an untagged enum of EvidenceV2, V1, V0;
//     V1/V2 = {version: u32 equal to 1 / 2, tpm_quote: TpmQuote,
//     hcl_report: Base64<UrlSafe>, vcek: Base64<UrlSafe>} (TDX: td_quote
//     instead of vcek); TpmQuote = {signature: Hex, message: Hex, pcrs:
//     Vec<Hex>}. No #[serde(default)], no deny_unknown_fields: every member
//     is required, null is refused, unknown members are ignored. Then
//     evaluate: extraData == report data exactly; SHA-256(pcrs[0] || ... ||
//     pcrs[n-1]) == the quote's pcrDigest; every PCR 32 bytes, PCR 8 read
//     from the list (init-data); from version 2, the runtime data's
//     "user-data" (hex) starts with the report data.
//   - serde_with 3.22 (trustee's Cargo.lock; jonasbb/serde_with
//     serde_with/src/base64.rs, hex.rs): Base64 decodes with padding
//     "indifferent" (padded or not), the URL-safe alphabet, no white space,
//     canonical trailing bits (base64 0.22); Hex decodes with the hex crate
//     (either case, even length).
//   - confidential-containers/guest-components 8246e5e0,
//     attestation-agent/attester/src/az_{snp,tdx}_vtpm/mod.rs: writes
//     version 2, lower-case hex, padded base64url, the 24 PCRs that
//     kinvolk/azure-cvm-tooling (az-cvm-vtpm 0.8.1, src/vtpm/mod.rs
//     get_quote) quotes: one SHA-256 bank, PCRs 0-23, extraData = the
//     report data unchanged.
//   - trustee kbs/src/attestation/backend.rs, coco/builtin.rs and
//     attestation-service/src/lib.rs: the report data is SHA-384 of the
//     JCS form of {"tee-pubkey","nonce","additional-evidence"}
//     (testev.TrusteeReportData).

// trusteeTEE selects the trustee verifier: its required members differ.
type trusteeTEE string

const (
	teeSNP trusteeTEE = "az-snp-vtpm"
	teeTDX trusteeTEE = "az-tdx-vtpm"
)

// trusteeAccepts returns why trustee's verifier for tee would refuse data
// (nil: it deserializes it and its quote-nonce, PCR-digest, PCR-length and
// user-data checks pass for reportData), and the names of the top-level
// members it ignores.
func trusteeAccepts(tee trusteeTEE, data, reportData []byte) (ignored []string, err error) {
	// serde_json refuses duplicate struct fields and invalid UTF-8.
	if !jsontext.Value(data).IsValid() {
		return nil, errors.New("document: not valid I-JSON (RFC 7493: duplicate names, invalid UTF-8)")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	version, err := trusteeVersion(top["version"])
	if err != nil {
		return nil, err
	}
	tq, err := trusteeQuote(top["tpm_quote"])
	if err != nil {
		return nil, err
	}
	known := []string{"version", "tpm_quote", "hcl_report"}
	hclReport, err := trusteeB64(top, "hcl_report")
	if err != nil {
		return nil, err
	}
	switch tee {
	case teeSNP:
		known = append(known, "vcek")
		_, err = trusteeB64(top, "vcek")
	case teeTDX:
		known = append(known, "td_quote")
		_, err = trusteeB64(top, "td_quote")
	}
	if err != nil {
		return nil, err
	}
	for name := range top {
		if !slices.Contains(known, name) {
			ignored = append(ignored, name)
		}
	}
	slices.Sort(ignored)
	return ignored, trusteeEvaluate(tq, version, hclReport, reportData)
}

// trusteeVersion reads "version" as serde reads a u32 (a JSON integer),
// equal to 1 or 2 (EvidenceV1 / EvidenceV2).
func trusteeVersion(raw json.RawMessage) (int, error) {
	switch string(raw) {
	case "1":
		return 1, nil
	case "2":
		return 2, nil
	}
	return 0, fmt.Errorf("version: %q is not the integer 1 or 2", raw)
}

type trusteeTPMQuote struct {
	signature, message []byte
	pcrs               [][]byte
}

// trusteeQuote reads TpmQuote: three required hex members.
func trusteeQuote(raw json.RawMessage) (*trusteeTPMQuote, error) {
	var m map[string]json.RawMessage
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, errors.New("tpm_quote: want an object")
	}
	q := new(trusteeTPMQuote)
	var err error
	if q.signature, err = trusteeHex(m["signature"], "tpm_quote.signature"); err != nil {
		return nil, err
	}
	if q.message, err = trusteeHex(m["message"], "tpm_quote.message"); err != nil {
		return nil, err
	}
	var pcrs []json.RawMessage
	if p := m["pcrs"]; len(p) == 0 || string(p) == "null" || json.Unmarshal(p, &pcrs) != nil {
		return nil, errors.New("tpm_quote.pcrs: want an array")
	}
	for i, p := range pcrs {
		b, err := trusteeHex(p, fmt.Sprintf("tpm_quote.pcrs[%d]", i))
		if err != nil {
			return nil, err
		}
		q.pcrs = append(q.pcrs, b)
	}
	return q, nil
}

// trusteeString reads a required JSON string.
func trusteeString(raw json.RawMessage, field string) (string, error) {
	var s *string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || s == nil {
		return "", fmt.Errorf("%s: want a string", field)
	}
	return *s, nil
}

// trusteeHex is serde_with's Hex: the hex crate's decode (either case).
func trusteeHex(raw json.RawMessage, field string) ([]byte, error) {
	s, err := trusteeString(raw, field)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return b, nil
}

// trusteeB64 is serde_with's Base64<UrlSafe>: padded or not, canonical, no
// white space (Go's decoders skip CR and LF, the base64 crate does not).
func trusteeB64(top map[string]json.RawMessage, field string) ([]byte, error) {
	s, err := trusteeString(top[field], field)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%s: line break in base64", field)
	}
	enc := base64.RawURLEncoding.Strict()
	if strings.HasSuffix(s, "=") {
		enc = base64.URLEncoding.Strict()
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return b, nil
}

// trusteeEvaluate applies the checks of trustee's evaluate that depend on
// the document's shape (not on signatures): verify_tpm_nonce,
// verify_tpm_pcrs, get_pcrs / verify_init_data, verify_user_data.
func trusteeEvaluate(q *trusteeTPMQuote, version int, hclReport, reportData []byte) error {
	a, err := quote.Parse(q.message)
	if err != nil {
		return fmt.Errorf("tpm_quote.message: %w", err)
	}
	if !bytes.Equal(a.ExtraData, reportData) {
		return fmt.Errorf("tpm_quote.message: extraData %x is not the report data %x", a.ExtraData, reportData)
	}
	h := sha256.New()
	for _, p := range q.pcrs {
		h.Write(p)
	}
	if !bytes.Equal(h.Sum(nil), a.PCRDigest) {
		return errors.New("tpm_quote.pcrs: SHA-256 of the listed PCRs is not the quote's pcrDigest")
	}
	for i, p := range q.pcrs {
		if len(p) != 32 {
			return fmt.Errorf("tpm_quote.pcrs[%d]: %d bytes, want 32", i, len(p))
		}
	}
	if len(q.pcrs) <= 8 {
		return fmt.Errorf("tpm_quote.pcrs: %d PCRs, trustee reads PCR 8", len(q.pcrs))
	}
	if version < 2 {
		return nil
	}
	r, err := hcl.Parse(hclReport)
	if err != nil {
		return fmt.Errorf("hcl_report: %w", err)
	}
	var vd struct {
		UserData string `json:"user-data"`
	}
	if err := json.Unmarshal(r.RuntimeDataRaw, &vd); err != nil {
		return fmt.Errorf("hcl_report: runtime data: %w", err)
	}
	u, err := hex.DecodeString(vd.UserData)
	if err != nil || !bytes.HasPrefix(u, reportData) {
		return fmt.Errorf("hcl_report: user-data %q does not start with the report data", vd.UserData)
	}
	return nil
}

// trusteeFixture is a document trustee's own tests accept, with its
// report data.
type trusteeFixture struct {
	file       string
	tee        trusteeTEE
	reportData []byte
	original   bool // trustee's v1/v2 document itself (v0 is another shape)
}

func trusteeFixtures(t *testing.T) []trusteeFixture {
	t.Helper()
	v2, err := hex.DecodeString("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef")
	if err != nil {
		t.Fatal(err)
	}
	genoa, err := hex.DecodeString("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f")
	if err != nil {
		t.Fatal(err)
	}
	challenge := []byte("challenge")
	return []trusteeFixture{
		{"az-snp-vtpm/evidence-v0.json", teeSNP, challenge, false},
		{"az-snp-vtpm/evidence-v1.json", teeSNP, challenge, true},
		{"az-snp-vtpm/evidence-v2.json", teeSNP, v2, true},
		{"az-snp-vtpm/evidence-genoa.json", teeSNP, genoa, false},
		{"az-tdx-vtpm/evidence-v0.json", teeTDX, challenge, false},
		{"az-tdx-vtpm/evidence-v1.json", teeTDX, challenge, true},
	}
}

// TestTrusteeAcceptsOurEncoding: every trustee test vector, read by Decode
// and written by Encode (v0 as v1), is a document trustee's verifier
// accepts with the same report data, ignoring no member; the trustee v1/v2
// documents themselves pass the same checker (it describes what trustee
// accepts), and TrusteeCompatible agrees.
func TestTrusteeAcceptsOurEncoding(t *testing.T) {
	for _, f := range trusteeFixtures(t) {
		t.Run(f.file, func(t *testing.T) {
			in := testutil.ReadFile(t, "trustee-az-vtpm/"+f.file)
			if f.original {
				if ignored, err := trusteeAccepts(f.tee, in, f.reportData); err != nil || ignored != nil {
					t.Fatalf("the checker refuses trustee's own vector: ignored %v, %v", ignored, err)
				}
			}
			ev, err := evidence.Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			ignored, err := trusteeAccepts(f.tee, out, f.reportData)
			if err != nil || ignored != nil {
				t.Fatalf("trustee refuses our encoding: ignored %v, %v\n%.300s", ignored, err, out)
			}
			if err := ev.TrusteeCompatible(); err != nil {
				t.Fatalf("TrusteeCompatible: %v", err)
			}
		})
	}
}

// TestTrusteeNonceBinding: evidence built for trustee's report data (the
// SHA-384 of the canonical runtime data, 48 bytes) quotes it unchanged, and
// version 2 carries it at the start of user-data: trustee accepts both
// versions. The canonical form is checked against trustee's own vector
// (attestation-service/src/lib.rs test of parse_runtime_data).
func TestTrusteeNonceBinding(t *testing.T) {
	got, err := testev.TrusteeDigest(map[string]any{"b": 1, "a": "test", "c": map[string]any{"d": "e"}})
	if err != nil || hex.EncodeToString(got) != "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3" {
		t.Fatalf("TrusteeDigest of trustee's vector = %x, %v", got, err)
	}
	rd, err := testev.TrusteeReportData("kbs-challenge-nonce", testev.TrusteeTEEPubKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rd) != quote.MaxQualifyingData || !bytes.Equal(quote.ExpectedExtraData(rd), rd) {
		t.Fatalf("trustee's %d-byte report data is not quoted unchanged", len(rd))
	}
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprint("v", version), func(t *testing.T) {
			e := (&testev.Builder{Version: version, Nonce: rd}).MustBuild()
			ignored, err := trusteeAccepts(teeSNP, e.JSON, rd)
			if err != nil || ignored != nil {
				t.Fatalf("trustee refuses: ignored %v, %v", ignored, err)
			}
			if _, err := trusteeAccepts(teeSNP, e.JSON, rd[:47]); err == nil {
				t.Fatal("the checker accepts another report data")
			}
			if err := e.Evidence.TrusteeCompatible(); err != nil {
				t.Fatalf("TrusteeCompatible: %v", err)
			}
		})
	}
}

// TestTrusteeRefuses: evidence this package writes and reads but trustee
// refuses: TrusteeCompatible names the member that trustee's checker
// trips on, in a *TrusteeError that matches ErrTrusteeIncompatible and
// not format.ErrMalformed (the evidence is well formed: Decode reads it).
// An event log is an ignored extra member (no deny_unknown_fields), not a
// refusal.
func TestTrusteeRefuses(t *testing.T) {
	rd, err := testev.TrusteeReportData("kbs-challenge-nonce", testev.TrusteeTEEPubKey, "")
	if err != nil {
		t.Fatal(err)
	}
	subset := []int{0, 1, 2, 3, 4, 5, 6, 7}
	for _, tc := range []struct {
		name      string
		b         testev.Builder
		mutate    func(e *evidence.Evidence)
		field     string // "": accepted
		reason    string // in TrusteeError.Reason
		checkerAt string // the member trustee's checker names
		ignored   []string
	}{
		{name: "complete", b: testev.Builder{}},
		{name: "event log", b: testev.Builder{}, mutate: func(e *evidence.Evidence) { e.EventLog = []byte{1, 2, 3} }, ignored: []string{"event_log"}},
		{name: "no VCEK", b: testev.Builder{OmitVCEK: true}, field: "vcek", reason: "without the VCEK", checkerAt: "vcek"},
		{name: "no PCR values", b: testev.Builder{OmitPCRValues: true}, field: "tpm_quote.pcrs", reason: "no PCR values", checkerAt: "tpm_quote.pcrs"},
		{name: "quote over PCRs 0-7", b: testev.Builder{PCRSelect: subset}, field: "tpm_quote.message", reason: "SHA-256 PCRs 0-23", checkerAt: "tpm_quote.pcrs"},
		{name: "8 PCR values", b: testev.Builder{PCRSelect: subset}, mutate: func(e *evidence.Evidence) { e.Quote.PCRs = e.Quote.PCRs[:8] },
			field: "tpm_quote.pcrs", reason: "8 PCR values, want 24", checkerAt: "tpm_quote.pcrs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			b.Nonce = rd
			e := b.MustBuild()
			if tc.mutate != nil {
				tc.mutate(e.Evidence)
			}
			data, err := e.Evidence.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := evidence.Decode(data); err != nil {
				t.Fatalf("Decode refuses what Encode wrote: %v", err)
			}
			ignored, checkerErr := trusteeAccepts(teeSNP, data, rd)
			err = e.Evidence.TrusteeCompatible()
			if tc.field == "" {
				if checkerErr != nil || err != nil || !slices.Equal(ignored, tc.ignored) {
					t.Fatalf("checker: ignored %v, %v; TrusteeCompatible: %v; want accepted, ignoring %v", ignored, checkerErr, err, tc.ignored)
				}
				return
			}
			if checkerErr == nil || !strings.HasPrefix(checkerErr.Error(), tc.checkerAt+":") {
				t.Fatalf("trustee's checker: %v, want a refusal at %s", checkerErr, tc.checkerAt)
			}
			te, ok := errors.AsType[*evidence.TrusteeError](err)
			if !ok || te.Member != tc.field || !strings.Contains(te.Reason, tc.reason) || !errors.Is(err, evidence.ErrTrusteeIncompatible) {
				t.Fatalf("TrusteeCompatible: %v, want a *TrusteeError at %s (%q) matching ErrTrusteeIncompatible", err, tc.field, tc.reason)
			}
			if errors.Is(err, format.ErrMalformed) {
				t.Fatalf("TrusteeCompatible: %v matches format.ErrMalformed, but the evidence is well formed", err)
			}
			if !strings.HasPrefix(err.Error(), "evidence: "+tc.field+": refused by trustee's Azure vTPM verifier: ") {
				t.Fatalf("TrusteeCompatible: %q does not name the member", err)
			}
		})
	}
}

// TestTrusteeErrorCause: a quote message that does not parse is refused
// by trustee and is malformed too: the *TrusteeError carries the quote's
// parse error as its cause, so both errors.Is hold.
func TestTrusteeErrorCause(t *testing.T) {
	e := (&testev.Builder{}).MustBuild().Evidence
	e.Quote.Message = []byte{0xff, 0x54, 0x43}
	err := e.TrusteeCompatible()
	te, ok := errors.AsType[*evidence.TrusteeError](err)
	if !ok || te.Member != "tpm_quote.message" || te.Err == nil {
		t.Fatalf("TrusteeCompatible: %v, want a *TrusteeError at tpm_quote.message with a cause", err)
	}
	if !errors.Is(err, evidence.ErrTrusteeIncompatible) || !errors.Is(err, format.ErrMalformed) || !errors.Is(err, format.ErrTruncated) {
		t.Fatalf("TrusteeCompatible: %v, want ErrTrusteeIncompatible, format.ErrMalformed and the quote's kind", err)
	}
}

// TestTrusteeCheckerRefuses keeps the checker honest: documents that differ
// from an accepted one in one way serde or trustee's evaluate refuses.
func TestTrusteeCheckerRefuses(t *testing.T) {
	rd := []byte("challenge")
	good := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	hclB64 := doc["hcl_report"].(string)
	pcr0 := doc["tpm_quote"].(map[string]any)["pcrs"].([]any)[0].(string)
	for _, tc := range []struct {
		name, old, new string
	}{
		{"version as a string", `"version": 1`, `"version": "1"`},
		{"version 3", `"version": 1`, `"version": 3`},
		{"vcek null", `"vcek": "`, `"vcek": null, "x": "`},
		{"vcek renamed", `"vcek"`, `"VCEK"`},
		{"standard base64", hclB64[:8], "+/+/+/+/"},
		{"line break in base64", hclB64[:8], hclB64[:4] + `\n` + hclB64[4:8]},
		{"31-byte PCR", pcr0, pcr0[:62]},
		{"duplicate member", `"version": 1`, `"version": 1, "version": 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tc.old)) {
				t.Fatalf("%q not in the vector", tc.old)
			}
			bad := bytes.Replace(good, []byte(tc.old), []byte(tc.new), 1)
			if _, err := trusteeAccepts(teeSNP, bad, rd); err == nil {
				t.Fatal("the checker accepts it")
			}
		})
	}
}
