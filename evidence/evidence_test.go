package evidence

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

type golden struct {
	file       string
	version    int
	msgLen     int
	vcekIssuer string // "" if no VCEK
	tdQuote    string // file the TD quote must equal, "" if none
	hclReport  string // file the HCL report must equal, "" if no such file
	nonce      string // hex of TPMS_ATTEST.extraData
}

var goldens = []golden{
	{file: "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json", version: 0, msgLen: 122, vcekIssuer: "SEV-Milan", nonce: hex.EncodeToString([]byte("challenge"))},
	{file: "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json", version: 1, msgLen: 122, vcekIssuer: "SEV-Milan", nonce: hex.EncodeToString([]byte("challenge"))},
	{file: "trustee-az-vtpm/az-snp-vtpm/evidence-v2.json", version: 2, msgLen: 161, vcekIssuer: "SEV-Milan", nonce: "982f5c6e"},
	{file: "trustee-az-vtpm/az-snp-vtpm/evidence-genoa.json", version: 0, msgLen: 161, vcekIssuer: "SEV-Genoa", nonce: "0218488b"},
	{file: "trustee-az-vtpm/az-tdx-vtpm/evidence-v0.json", version: 0, msgLen: 122, tdQuote: "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin",
		hclReport: "trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin", nonce: hex.EncodeToString([]byte("challenge"))},
	{file: "trustee-az-vtpm/az-tdx-vtpm/evidence-v1.json", version: 1, msgLen: 122, tdQuote: "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin",
		hclReport: "trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin", nonce: hex.EncodeToString([]byte("challenge"))},
}

// extraData returns TPMS_ATTEST.extraData (magic 4, type 2, qualifiedSigner TPM2B, extraData TPM2B).
func extraData(t testing.TB, msg []byte) []byte {
	t.Helper()
	if len(msg) < 10 {
		t.Fatal("short TPMS_ATTEST")
	}
	off := 6
	n := int(msg[off])<<8 | int(msg[off+1])
	off += 2 + n
	n = int(msg[off])<<8 | int(msg[off+1])
	return msg[off+2 : off+2+n]
}

// checkQuote checks a quote against the AK of an HCL report: signature,
// and pcrDigest (the last 32 bytes of the message, all 24 PCRs selected).
func checkQuote(t testing.TB, q *quote.Quote, ak *rsa.PublicKey) {
	t.Helper()
	d := sha256.Sum256(q.Message)
	if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, d[:], q.Signature); err != nil {
		t.Errorf("quote signature: %v", err)
	}
	h := sha256.New()
	for _, p := range q.PCRs {
		h.Write(p)
	}
	if !bytes.Equal(h.Sum(nil), q.Message[len(q.Message)-32:]) {
		t.Error("PCR values do not match the quote's pcrDigest")
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(filepath.Base(filepath.Dir(g.file))+"/"+filepath.Base(g.file), func(t *testing.T) {
			e, err := Decode(testutil.ReadFile(t, g.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if e.Version != g.version {
				t.Errorf("Version = %d, want %d", e.Version, g.version)
			}
			q := e.Quote
			if len(q.Message) != g.msgLen || len(q.Signature) != 256 || len(q.PCRs) != 24 {
				t.Errorf("quote: message %d, signature %d, %d PCRs", len(q.Message), len(q.Signature), len(q.PCRs))
			}
			if !bytes.HasPrefix(q.Message, []byte{0xff, 'T', 'C', 'G', 0x80, 0x18}) {
				t.Errorf("message is not a TPMS_ATTEST quote: %x", q.Message[:6])
			}
			if got := hex.EncodeToString(extraData(t, q.Message)); !strings.HasPrefix(got, g.nonce) {
				t.Errorf("nonce = %s, want prefix %s", got, g.nonce)
			}
			for i, p := range q.PCRs {
				if len(p) != 32 || cap(p) != 32 {
					t.Errorf("PCR %d: len %d cap %d", i, len(p), cap(p))
				}
			}
			// PCR 17..22 are all 0xFF on Azure.
			if !bytes.Equal(q.PCRs[17], bytes.Repeat([]byte{0xff}, 32)) {
				t.Errorf("PCR17 = %x", q.PCRs[17])
			}
			if len(e.HCLReport) != 2600 {
				t.Errorf("HCL report is %d bytes", len(e.HCLReport))
			}
			if g.hclReport != "" && !bytes.Equal(e.HCLReport, testutil.ReadFile(t, g.hclReport)) {
				t.Errorf("HCL report differs from %s", g.hclReport)
			}
			r, err := hcl.Parse(e.HCLReport)
			if err != nil {
				t.Fatalf("hcl.Parse: %v", err)
			}
			if err := r.CheckBinding(); err != nil {
				t.Error(err)
			}
			ak, err := r.RuntimeData.AK()
			if err != nil {
				t.Fatal(err)
			}
			checkQuote(t, &q, ak)
			if g.version == 2 && !bytes.HasPrefix(r.RuntimeData.UserData, extraData(t, q.Message)) {
				t.Error("v2: user-data does not start with the nonce")
			}

			if g.vcekIssuer == "" {
				if e.VCEK != nil {
					t.Error("unexpected VCEK")
				}
			} else {
				cert, err := x509.ParseCertificate(e.VCEK)
				if err != nil {
					t.Fatalf("VCEK: %v", err)
				}
				if cert.Subject.CommonName != "SEV-VCEK" || cert.Issuer.CommonName != g.vcekIssuer {
					t.Errorf("VCEK subject %q issuer %q", cert.Subject.CommonName, cert.Issuer.CommonName)
				}
			}
			if g.tdQuote == "" {
				if e.TDQuote != nil {
					t.Error("unexpected TD quote")
				}
			} else if !bytes.Equal(e.TDQuote, testutil.ReadFile(t, g.tdQuote)) {
				t.Errorf("TD quote differs from %s", g.tdQuote)
			}
		})
	}
}

// v0 and v1 SNP evidence come from the same VM (same VCEK, same AK, same
// runtime data) but are two captures: the SNP reports differ only in their
// (randomised ECDSA) signature, and the quotes differ.
func TestV0V1SameVM(t *testing.T) {
	v0 := decodeFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json")
	v1 := decodeFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	const sigStart, sigEnd = hcl.OffsetHardware + snp.SignedSize, hcl.OffsetHardware + snp.ReportSize // SNP report signature in the HCL report
	if !bytes.Equal(v0.HCLReport[:sigStart], v1.HCLReport[:sigStart]) || !bytes.Equal(v0.HCLReport[sigEnd:], v1.HCLReport[sigEnd:]) {
		t.Error("HCL reports differ outside the SNP signature")
	}
	if bytes.Equal(v0.HCLReport[sigStart:sigEnd], v1.HCLReport[sigStart:sigEnd]) {
		t.Error("expected two distinct SNP report signatures")
	}
	if !bytes.Equal(v0.VCEK, v1.VCEK) {
		t.Error("VCEKs differ (v0 PEM vs v1 DER)")
	}
	if bytes.Equal(v0.Quote.Message, v1.Quote.Message) {
		t.Error("expected two distinct quotes")
	}
	if !bytes.Equal(extraData(t, v0.Quote.Message), extraData(t, v1.Quote.Message)) {
		t.Error("nonces differ")
	}
	// vcek.pem belongs to hcl-report.bin (chip 19752a44), another VM.
	vcek := testutil.PEMBlocks(t, testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/vcek.pem"), "CERTIFICATE")[0]
	if bytes.Equal(vcek, v0.VCEK) {
		t.Error("evidence VCEK unexpectedly equals vcek.pem")
	}
}

// TDX v0 and v1 carry the same quote, report and TD quote; the quote is
// also in tpm-quote-v1.json and quote.bin.
func TestTDXFormatsAgree(t *testing.T) {
	v0 := decodeFile(t, "trustee-az-vtpm/az-tdx-vtpm/evidence-v0.json")
	v1 := decodeFile(t, "trustee-az-vtpm/az-tdx-vtpm/evidence-v1.json")
	qj, err := DecodeQuoteJSON(testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/tpm-quote-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	qb, err := DecodeBincodeQuote(testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	v0.Version = 1
	if !equalEvidence(v0, v1) {
		t.Error("TDX v0 and v1 differ")
	}
	if !equalQuote(&v0.Quote, qj) || !equalQuote(qj, qb) {
		t.Error("TDX quotes differ")
	}
}

func TestQuoteFixtures(t *testing.T) {
	snp, err := hcl.Parse(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := snp.RuntimeData.AK()

	qj, err := DecodeQuoteJSON(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/tpm-quote-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(qj.Message) != 122 || len(qj.Signature) != 256 || len(qj.PCRs) != 24 || string(extraData(t, qj.Message)) != "challenge" {
		t.Errorf("tpm-quote-v1.json: %d/%d/%d", len(qj.Message), len(qj.Signature), len(qj.PCRs))
	}
	if hex.EncodeToString(qj.PCRs[0]) != "f3a7e99a5f819a034386bce753a48a73cfdaa0bea0ecfc124bedbf5a8c4799be" {
		t.Errorf("PCR0 = %x", qj.PCRs[0])
	}
	checkQuote(t, qj, ak)

	// quote.bin holds the same quote as tpm-quote-v1.json.
	qb, err := DecodeBincodeQuote(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !equalQuote(qb, qj) {
		t.Error("quote.bin != tpm-quote-v1.json")
	}
	// tpm-quote.msg/.sig is a different quote, not signed by this AK.
	msg := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/tpm-quote.msg")
	sig := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/tpm-quote.sig")
	if bytes.Equal(msg, qb.Message) || bytes.Equal(sig, qb.Signature) {
		t.Error("tpm-quote.msg unexpectedly equals quote.bin")
	}
	if string(extraData(t, msg)) != "challenge" || len(sig) != 256 {
		t.Error("tpm-quote.msg: unexpected content")
	}

	// Both bincode layouts of the azure-cvm-tooling quotes, with their AKs.
	for _, dir := range []string{"azure-cvm-tooling", "azure-cvm-tooling/az-cvm-vtpm-0.5.0"} {
		q, err := DecodeBincodeQuote(testutil.ReadFile(t, dir+"/quote.bin"))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(q.PCRs) != 24 || len(q.Signature) != 256 || string(extraData(t, q.Message)) != "challenge" {
			t.Errorf("%s: %d PCRs", dir, len(q.PCRs))
		}
		checkQuote(t, q, testutil.RSAPublicKey(t, dir+"/akpub.pem"))
	}
}

func equalQuote(a, b *quote.Quote) bool {
	// No "pcrs" (nil: values unknown) is not an empty list.
	if !bytes.Equal(a.Message, b.Message) || !bytes.Equal(a.Signature, b.Signature) || len(a.PCRs) != len(b.PCRs) || (a.PCRs == nil) != (b.PCRs == nil) {
		return false
	}
	for i := range a.PCRs {
		if !bytes.Equal(a.PCRs[i], b.PCRs[i]) {
			return false
		}
	}
	return true
}

func equalEvidence(a, b *Evidence) bool {
	return a.Version == b.Version && equalQuote(&a.Quote, &b.Quote) && bytes.Equal(a.HCLReport, b.HCLReport) &&
		bytes.Equal(a.VCEK, b.VCEK) && bytes.Equal(a.TDQuote, b.TDQuote) &&
		(a.VCEK == nil) == (b.VCEK == nil) && (a.TDQuote == nil) == (b.TDQuote == nil) &&
		bytes.Equal(a.EventLog, b.EventLog) && (a.EventLog == nil) == (b.EventLog == nil)
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, g := range goldens {
		t.Run(filepath.Base(filepath.Dir(g.file))+"/"+filepath.Base(g.file), func(t *testing.T) {
			e := decodeFile(t, g.file)
			enc, e2 := roundTrip(t, e)
			if !json.Valid(enc) {
				t.Fatal("Encode output is not valid JSON")
			}
			want := *e
			if want.Version == 0 {
				want.Version = 1
			}
			if !equalEvidence(&want, e2) {
				t.Error("Decode(Encode(e)) != e")
			}
			enc2, err := e2.Encode()
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Errorf("Encode not stable: %v", err)
			}
			// The v1/v2 wire format: the keys and encodings of the spec.
			var w struct {
				Version  int `json:"version"`
				TPMQuote struct {
					Signature, Message string
					PCRs               []string
				} `json:"tpm_quote"`
				HCLReport string  `json:"hcl_report"`
				VCEK      *string `json:"vcek"`
			}
			if err := json.Unmarshal(enc, &w); err != nil {
				t.Fatal(err)
			}
			if w.Version != want.Version || len(w.TPMQuote.PCRs) != 24 || w.TPMQuote.Message != hex.EncodeToString(e.Quote.Message) ||
				!strings.HasSuffix(w.HCLReport, "=") == (len(e.HCLReport)%3 != 0) || (w.VCEK != nil) != (e.VCEK != nil) {
				t.Errorf("unexpected wire form: %.200s", enc)
			}
		})
	}
	// v1 and v2 keep their version.
	e, _ := Decode(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v2.json"))
	enc, _ := e.Encode()
	if !bytes.HasPrefix(enc, []byte(`{"version":2,"tpm_quote":{"signature":"0ca0ab25`)) {
		t.Errorf("v2 encoding starts %.60s", enc)
	}
}

// TestDecodeWithoutPCRs: every real evidence document (v0, v1, v2, TDX)
// with "pcrs" removed decodes to the same evidence with Quote.PCRs nil,
// and Encode writes it back without "pcrs".
func TestDecodeWithoutPCRs(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			full := decodeFile(t, g.file)
			e, err := Decode(testutil.DropPCRs(t, testutil.ReadFile(t, g.file)))
			if err != nil {
				t.Fatalf("no-PCR evidence rejected: %v", err)
			}
			if e.Quote.PCRs != nil {
				t.Fatalf("PCRs %v, want nil (unknown)", e.Quote.PCRs)
			}
			if e.Version != full.Version || !bytes.Equal(e.Quote.Message, full.Quote.Message) ||
				!bytes.Equal(e.Quote.Signature, full.Quote.Signature) || !bytes.Equal(e.HCLReport, full.HCLReport) ||
				!bytes.Equal(e.VCEK, full.VCEK) || !bytes.Equal(e.TDQuote, full.TDQuote) {
				t.Fatal("dropping pcrs changed another field")
			}
			enc, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(enc, []byte(`"pcrs"`)) {
				t.Fatalf("Encode wrote pcrs for unknown PCR values: %.120s", enc)
			}
			back, err := Decode(enc)
			if err != nil || back.Quote.PCRs != nil || !bytes.Equal(back.Quote.Message, e.Quote.Message) {
				t.Fatalf("Decode(Encode(e)): %v", err)
			}
		})
	}
}

// TestPCRsPresence: absent, empty and null "pcrs" are three different
// things: unknown (nil), an empty list (non-nil), an error.
func TestPCRsPresence(t *testing.T) {
	msg := `"message":"ff544347","signature":"01"`
	tests := []struct {
		name    string
		quote   string
		wantNil bool
		wantErr error
	}{
		{"absent", `{` + msg + `}`, true, nil},
		{"empty", `{` + msg + `,"pcrs":[]}`, false, nil},
		{"null", `{` + msg + `,"pcrs":null}`, false, format.ErrBadJSON},
		{"object", `{` + msg + `,"pcrs":{}}`, false, format.ErrBadJSON},
		{"duplicate", `{` + msg + `,"pcrs":[],"pcrs":[]}`, false, format.ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := DecodeQuoteJSON([]byte(tc.quote))
			if testutil.WantError(t, err, tc.wantErr) {
				return
			}
			if (q.PCRs == nil) != tc.wantNil || len(q.PCRs) != 0 {
				t.Fatalf("PCRs %v, want nil %v", q.PCRs, tc.wantNil)
			}
			doc := []byte(`{"version":1,"tpm_quote":` + tc.quote + `,"hcl_report":"AA=="}`)
			e, err := Decode(doc)
			if err != nil || (e.Quote.PCRs == nil) != tc.wantNil {
				t.Fatalf("Decode: %v, PCRs %v", err, e)
			}
		})
	}
}

// decodeFile decodes the evidence fixture at rel (relative to testdata/),
// failing t if it does not decode.
func decodeFile(t testing.TB, rel string) *Evidence {
	t.Helper()
	e, err := Decode(testutil.ReadFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// roundTrip encodes e and decodes the result, failing t if either fails.
func roundTrip(t testing.TB, e *Evidence) ([]byte, *Evidence) {
	t.Helper()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, got
}

// TestTrusteeSelectionIndices: trustee reads "pcrs" as PCRs 0-23 in order,
// so a quote whose one SHA-256 bank selects 24 PCRs other than 0-23 (PCR 24
// in place of 23, with a 4-byte bitmap) is refused; 0-23 is accepted.
func TestTrusteeSelectionIndices(t *testing.T) {
	for _, tc := range []struct {
		last int
		ok   bool
	}{{23, true}, {24, false}} {
		idx := make([]int, 0, 24)
		for i := range 23 {
			idx = append(idx, i)
		}
		a := quote.Attest{QualifiedSigner: make([]byte, 34), ExtraData: []byte("n"), PCRDigest: make([]byte, 32),
			Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: append(idx, tc.last), Size: 4}}}
		msg, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		values := make([][]byte, 24)
		for i := range values {
			values[i] = make([]byte, PCRSize)
		}
		e := &Evidence{Version: 1, Quote: quote.Quote{Message: msg, Signature: testSig, PCRs: values}, HCLReport: testReport, VCEK: []byte{0x30}}
		if err := e.TrusteeCompatible(); (err == nil) != tc.ok {
			t.Errorf("PCRs 0-22 and %d: TrusteeCompatible = %v, want accepted %v", tc.last, err, tc.ok)
		}
	}
}
