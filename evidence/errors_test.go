package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

type obj = map[string]any

func numArray(b []byte) json.RawMessage {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(int(c)))
	}
	sb.WriteByte(']')
	return json.RawMessage(sb.String())
}

func pcrs(n int, enc func([]byte) any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = enc(bytes.Repeat([]byte{byte(i)}, 32))
	}
	return out
}

func hexAny(b []byte) any { return hex.EncodeToString(b) }
func arrAny(b []byte) any { return numArray(b) }

var (
	testMsg    = append([]byte{0xff, 'T', 'C', 'G'}, make([]byte, 60)...)
	testSig    = bytes.Repeat([]byte{7}, 256)
	testReport = bytes.Repeat([]byte{1}, 100)
)

// validV0, validV0TDX and validV1 return small valid documents to mutate.
func validV0(t testing.TB) obj {
	return obj{
		"quote":  obj{"signature": numArray(testSig), "message": numArray(testMsg), "pcrs": pcrs(24, arrAny)},
		"report": numArray(testReport),
		"vcek":   string(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/vcek.pem")),
	}
}

func validV0TDX() obj {
	return obj{
		"tpm_quote":  obj{"signature": numArray(testSig), "message": numArray(testMsg), "pcrs": pcrs(24, arrAny)},
		"hcl_report": numArray(testReport),
		"td_quote":   numArray([]byte{4, 0, 2, 0}),
	}
}

func validV1() obj {
	return obj{
		"version":    1,
		"tpm_quote":  obj{"signature": hex.EncodeToString(testSig), "message": hex.EncodeToString(testMsg), "pcrs": pcrs(24, hexAny)},
		"hcl_report": base64.URLEncoding.EncodeToString(testReport),
		"vcek":       base64.URLEncoding.EncodeToString([]byte{0x30, 0x82, 1, 2, 3}),
	}
}

func marshal(t testing.TB, m obj) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeValidVariants(t *testing.T) {
	ok := map[string]func(t *testing.T) obj{
		"v0":                  func(t *testing.T) obj { return validV0(t) },
		"v0 tdx":              func(*testing.T) obj { return validV0TDX() },
		"v1":                  func(*testing.T) obj { return validV1() },
		"v0 without vcek":     func(t *testing.T) obj { m := validV0(t); delete(m, "vcek"); return m },
		"v0 null vcek":        func(t *testing.T) obj { m := validV0(t); m["vcek"] = nil; return m },
		"v0 empty vcek":       func(t *testing.T) obj { m := validV0(t); m["vcek"] = ""; return m },
		"v0 spaces in arrays": func(t *testing.T) obj { m := validV0(t); m["report"] = json.RawMessage("[ 1 ,\n 2 ,\t255 ]"); return m },
		"v0 vcek stack in white space": func(t *testing.T) obj {
			m := validV0(t) // trustee's vcek.pem: VCEK, ASK, ARK
			m["vcek"] = "\r\n " + strings.ReplaceAll(m["vcek"].(string), "-----END CERTIFICATE-----\n", "-----END CERTIFICATE-----\n\t\n") + "\n"
			return m
		},
		"v1 unpadded base64": func(*testing.T) obj {
			m := validV1()
			m["hcl_report"] = base64.RawURLEncoding.EncodeToString(testReport)
			return m
		},
		"v1 upper-case hex": func(*testing.T) obj {
			m := validV1()
			m["tpm_quote"].(obj)["message"] = strings.ToUpper(hex.EncodeToString(testMsg))
			return m
		},
		"v1 escaped hex": func(*testing.T) obj {
			m := validV1()
			m["tpm_quote"].(obj)["signature"] = json.RawMessage(`"\u0030` + hex.EncodeToString(testSig)[1:] + `"`)
			return m
		},
		"v1 no vcek":             func(*testing.T) obj { m := validV1(); delete(m, "vcek"); return m },
		"v1 empty vcek":          func(*testing.T) obj { m := validV1(); m["vcek"] = ""; return m },
		"v1 no pcrs":             func(*testing.T) obj { m := validV1(); m["tpm_quote"].(obj)["pcrs"] = []any{}; return m },
		"v1 with td_quote":       func(*testing.T) obj { m := validV1(); delete(m, "vcek"); m["td_quote"] = "BAACAA"; return m },
		"v2":                     func(*testing.T) obj { m := validV1(); m["version"] = 2; return m },
		"v1 unknown field":       func(*testing.T) obj { m := validV1(); m["future"] = obj{"x": []any{1, "y"}}; return m },
		"v0 version null":        func(t *testing.T) obj { m := validV0(t); m["version"] = nil; return m },
		"v1 pcr with 8 elements": func(*testing.T) obj { m := validV1(); m["tpm_quote"].(obj)["pcrs"] = pcrs(8, hexAny); return m },
	}
	for name, mk := range ok {
		t.Run(name, func(t *testing.T) {
			e, err := Decode(marshal(t, mk(t)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e.Quote.Message, testMsg) || !bytes.Equal(e.Quote.Signature, testSig) {
				t.Error("quote content differs")
			}
			for i, p := range e.Quote.PCRs {
				if !bytes.Equal(p, bytes.Repeat([]byte{byte(i)}, 32)) {
					t.Errorf("PCR %d = %x", i, p)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	v0 := func(f func(m obj)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { m := validV0(t); f(m); return marshal(t, m) }
	}
	v0q := func(k string, v any) func(t *testing.T) []byte {
		return v0(func(m obj) { m["quote"].(obj)[k] = v })
	}
	v1 := func(f func(m obj)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { m := validV1(); f(m); return marshal(t, m) }
	}
	v1q := func(k string, v any) func(t *testing.T) []byte {
		return v1(func(m obj) { m["tpm_quote"].(obj)[k] = v })
	}
	tdx := func(f func(m obj)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { m := validV0TDX(); f(m); return marshal(t, m) }
	}
	raw := func(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }
	pcr31 := pcrs(24, hexAny)
	pcr31[3] = hex.EncodeToString(make([]byte, 31))
	pcr33 := pcrs(24, arrAny)
	pcr33[5] = numArray(make([]byte, 33))
	pcr31a := pcrs(24, arrAny)
	pcr31a[0] = numArray(make([]byte, 31))
	pcrNum := pcrs(24, hexAny)
	pcrNum[2] = 7

	tests := []struct {
		name  string
		in    func(t *testing.T) []byte
		field string
		err   error
	}{
		{"too large", raw(`{"x":"` + strings.Repeat("a", MaxEvidenceSize) + `"}`), "document", format.ErrTooLarge},
		{"empty", raw(``), "document", format.ErrBadJSON},
		{"not JSON", raw(`{"version":1,`), "document", format.ErrBadJSON},
		{"array", raw(`[1,2]`), "document", format.ErrBadJSON},
		{"string", raw(`"x"`), "document", format.ErrBadJSON},
		{"null", raw(`null`), "document", format.ErrBadJSON},
		{"empty object", raw(`{}`), "document", ErrUnknownFormat},
		{"only report", raw(`{"report":[1]}`), "document", ErrUnknownFormat},
		{"trailing garbage", raw(`{} {}`), "document", format.ErrBadJSON},
		{"quote not object", raw(`{"quote":[1]}`), "quote", format.ErrBadJSON},
		{"tpm_quote not object", raw(`{"tpm_quote":"x"}`), "tpm_quote", format.ErrBadJSON},
		{"case-folded key", raw(`{"Quote":{}}`), "quote", strictjson.ErrCaseMismatch},
		{"case-folded key in quote", raw(`{"tpm_quote":{"Message":"00"}}`), "tpm_quote.message", strictjson.ErrCaseMismatch},
		{"upper-case version", raw(`{"VERSION":1}`), "version", strictjson.ErrCaseMismatch},
		{"duplicate version", raw(`{"version":1,"version":2}`), "version", format.ErrBadJSON},
		{"duplicate quote", raw(`{"quote":{},"quote":{}}`), "quote", format.ErrBadJSON},
		{"duplicate tpm_quote", raw(`{"tpm_quote":{},"tpm_quote":{}}`), "tpm_quote", format.ErrBadJSON},
		{"duplicate report", raw(`{"report":[1],"report":[1]}`), "report", format.ErrBadJSON},
		{"duplicate hcl_report", raw(`{"hcl_report":[1],"hcl_report":[1]}`), "hcl_report", format.ErrBadJSON},
		{"duplicate vcek", raw(`{"vcek":"","vcek":""}`), "vcek", format.ErrBadJSON},
		{"duplicate td_quote", raw(`{"td_quote":"","td_quote":""}`), "td_quote", format.ErrBadJSON},
		{"duplicate message", raw(`{"quote":{"message":[1],"message":[1]}}`), "quote.message", format.ErrBadJSON},
		{"escaped key", raw(`{"vers\u0069on":3}`), "version", format.ErrUnsupportedVersion},

		{"version 0", v1(func(m obj) { m["version"] = 0 }), "version", format.ErrUnsupportedVersion},
		{"version 3", v1(func(m obj) { m["version"] = 3 }), "version", format.ErrUnsupportedVersion},
		{"version -1", v1(func(m obj) { m["version"] = -1 }), "version", format.ErrUnsupportedVersion},
		{"version 1.0", v1(func(m obj) { m["version"] = json.RawMessage("1.0") }), "version", format.ErrUnsupportedVersion},
		{"version string", v1(func(m obj) { m["version"] = "1" }), "version", format.ErrUnsupportedVersion},
		{"version huge", v1(func(m obj) { m["version"] = json.RawMessage(strings.Repeat("9", 400)) }), "version", format.ErrUnsupportedVersion},

		{"v1 missing tpm_quote", v1(func(m obj) { delete(m, "tpm_quote") }), "tpm_quote", format.ErrMissingField},
		{"v1 missing hcl_report", v1(func(m obj) { delete(m, "hcl_report") }), "hcl_report", format.ErrMissingField},
		{"v1 empty hcl_report", v1(func(m obj) { m["hcl_report"] = "" }), "hcl_report", format.ErrMissingField},
		{"v1 empty td_quote", v1(func(m obj) { m["td_quote"] = "" }), "td_quote", format.ErrMissingField},
		{"v1 td_quote with vcek", v1(func(m obj) { m["td_quote"] = "BAACAA" }), "vcek", format.ErrUnexpectedField},
		{"v2 td_quote with vcek", v1(func(m obj) { m["version"] = 2; m["td_quote"] = "BAACAA" }), "vcek", format.ErrUnexpectedField},
		{"v1 with v0 quote", v1(func(m obj) { m["quote"] = m["tpm_quote"] }), "quote", format.ErrUnexpectedField},
		{"v1 with v0 report", v1(func(m obj) { m["report"] = numArray(testReport) }), "report", format.ErrUnexpectedField},
		{"v1 hcl_report array", v1(func(m obj) { m["hcl_report"] = numArray(testReport) }), "hcl_report", format.ErrBadJSON},
		{"v1 bad base64", v1(func(m obj) { m["hcl_report"] = "AQ!D" }), "hcl_report", format.ErrBadEncoding},
		{"v1 std base64", v1(func(m obj) { m["hcl_report"] = "+/+/" }), "hcl_report", format.ErrBadEncoding},
		{"v1 wrong padding", v1(func(m obj) { m["hcl_report"] = "AQ=" }), "hcl_report", format.ErrBadEncoding},
		{"v1 padding inside", v1(func(m obj) { m["hcl_report"] = "AQ==AQ==" }), "hcl_report", format.ErrBadEncoding},
		{"v1 non-canonical base64", v1(func(m obj) { m["hcl_report"] = "AR==" }), "hcl_report", format.ErrBadEncoding},
		{"v1 base64 escaped LF", v1(func(m obj) { m["hcl_report"] = "AQ\nID" }), "hcl_report", format.ErrBadEncoding},
		{"v1 base64 escaped CRLF padded", v1(func(m obj) { m["hcl_report"] = "\r\nAQ\r\nI=" }), "hcl_report", format.ErrBadEncoding},
		{"v1 base64 trailing CRLF", v1(func(m obj) { m["vcek"] = "MIIB\r\n" }), "vcek", format.ErrBadEncoding},
		{"v1 td_quote escaped LF", v1(func(m obj) { m["td_quote"] = "BAAC\nAA" }), "td_quote", format.ErrBadEncoding},
		{"v1 event_log escaped LF", v1(func(m obj) { m["event_log"] = "\nAAAA" }), "event_log", format.ErrBadEncoding},
		{"v1 huge hcl_report", v1(func(m obj) { m["hcl_report"] = strings.Repeat("A", 4*MaxHCLReportSize/3+8) }), "hcl_report", format.ErrTooLarge},
		{"v1 huge vcek", v1(func(m obj) { m["vcek"] = strings.Repeat("A", 4*MaxVCEKSize/3+8) }), "vcek", format.ErrTooLarge},
		{"v1 vcek number", v1(func(m obj) { m["vcek"] = 5 }), "vcek", format.ErrBadJSON},
		{"v1 missing message", v1q("message", nil), "tpm_quote.message", format.ErrMissingField},
		{"v1 missing signature", v1(func(m obj) { delete(m["tpm_quote"].(obj), "signature") }), "tpm_quote.signature", format.ErrMissingField},
		{"v1 empty signature", v1q("signature", ""), "tpm_quote.signature", format.ErrMissingField},
		{"v1 pcrs null", v1q("pcrs", nil), "tpm_quote.pcrs", format.ErrBadJSON},
		{"v1 odd hex", v1q("message", "abc"), "tpm_quote.message", format.ErrBadEncoding},
		{"v1 non-hex", v1q("message", "zz"), "tpm_quote.message", format.ErrBadEncoding},
		{"v1 message array", v1q("message", numArray(testMsg)), "tpm_quote.message", format.ErrBadJSON},
		{"v1 message too long", v1q("message", strings.Repeat("00", MaxMessageSize+1)), "tpm_quote.message", format.ErrTooLarge},
		{"v1 signature too long", v1q("signature", strings.Repeat("00", MaxSignatureSize+1)), "tpm_quote.signature", format.ErrTooLarge},
		{"v1 25 pcrs", v1q("pcrs", pcrs(25, hexAny)), "tpm_quote.pcrs", format.ErrTooLarge},
		{"v1 1000 pcrs", v1q("pcrs", pcrs(1000, hexAny)), "tpm_quote.pcrs", format.ErrTooLarge},
		{"v1 pcr 31 bytes", v1q("pcrs", pcr31), "tpm_quote.pcrs[3]", format.ErrBadLength},
		{"v1 pcr number", v1q("pcrs", pcrNum), "tpm_quote.pcrs[2]", format.ErrBadJSON},
		{"v1 pcr bad hex", v1q("pcrs", []any{strings.Repeat("x", 64)}), "tpm_quote.pcrs[0]", format.ErrBadEncoding},
		{"v1 pcrs object", v1q("pcrs", obj{"0": "x"}), "tpm_quote.pcrs", format.ErrBadJSON},

		{"v0 missing report", v0(func(m obj) { delete(m, "report") }), "report", format.ErrMissingField},
		{"v0 empty report", v0(func(m obj) { m["report"] = []any{} }), "report", format.ErrMissingField},
		{"v0 report string", v0(func(m obj) { m["report"] = "AQID" }), "report", format.ErrBadJSON},
		{"v0 with hcl_report", v0(func(m obj) { m["hcl_report"] = numArray(testReport) }), "hcl_report", format.ErrUnexpectedField},
		{"v0 with tpm_quote", v0(func(m obj) { m["tpm_quote"] = m["quote"] }), "tpm_quote", format.ErrUnexpectedField},
		{"v0 byte 256", v0(func(m obj) { m["report"] = json.RawMessage("[1,256]") }), "report", format.ErrBadByte},
		{"v0 byte 1000000", v0(func(m obj) { m["report"] = json.RawMessage("[1000000000000000000000000]") }), "report", format.ErrBadByte},
		{"v0 byte -1", v0(func(m obj) { m["report"] = json.RawMessage("[-1]") }), "report", format.ErrBadByte},
		{"v0 byte 1.5", v0(func(m obj) { m["report"] = json.RawMessage("[1.5]") }), "report", format.ErrBadByte},
		{"v0 byte 1.0", v0(func(m obj) { m["report"] = json.RawMessage("[1.0]") }), "report", format.ErrBadByte},
		{"v0 byte 1e2", v0(func(m obj) { m["report"] = json.RawMessage("[1e2]") }), "report", format.ErrBadByte},
		{"v0 byte string", v0(func(m obj) { m["report"] = json.RawMessage(`[1,"2"]`) }), "report", format.ErrBadByte},
		{"v0 byte null", v0(func(m obj) { m["report"] = json.RawMessage(`[null]`) }), "report", format.ErrBadByte},
		{"v0 byte true", v0(func(m obj) { m["report"] = json.RawMessage(`[true]`) }), "report", format.ErrBadByte},
		{"v0 nested array", v0(func(m obj) { m["report"] = json.RawMessage(`[[1]]`) }), "report", format.ErrBadByte},
		{"v0 huge report", v0(func(m obj) { m["report"] = numArray(make([]byte, MaxHCLReportSize+1)) }), "report", format.ErrTooLarge},
		{"v0 message too long", v0q("message", numArray(make([]byte, MaxMessageSize+1))), "quote.message", format.ErrTooLarge},
		{"v0 message hex", v0q("message", hex.EncodeToString(testMsg)), "quote.message", format.ErrBadJSON},
		{"v0 empty signature", v0q("signature", []any{}), "quote.signature", format.ErrMissingField},
		{"v0 pcr 33 bytes", v0q("pcrs", pcr33), "quote.pcrs[5]", format.ErrTooLarge},
		{"v0 pcr 31 bytes", v0q("pcrs", pcr31a), "quote.pcrs[0]", format.ErrBadLength},
		{"v0 pcr bad byte", v0q("pcrs", []any{json.RawMessage("[300]")}), "quote.pcrs[0]", format.ErrBadByte},
		{"v0 25 pcrs", v0q("pcrs", pcrs(25, arrAny)), "quote.pcrs", format.ErrTooLarge},
		{"v0 vcek not PEM", v0(func(m obj) { m["vcek"] = "MIIFQzCC" }), "vcek", format.ErrBadEncoding},
		{"v0 vcek no certificate", v0(func(m obj) { m["vcek"] = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})) }), "vcek", format.ErrUnexpectedValue},
		// The v0 VCEK's PEM carries nothing but CERTIFICATE blocks and white
		// space: other text or blocks would ride along unseen.
		{"v0 vcek after a key block", v0(func(m obj) {
			m["vcek"] = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})) + m["vcek"].(string)
		}), "vcek", format.ErrUnexpectedValue},
		{"v0 vcek after text", v0(func(m obj) { m["vcek"] = "VCEK:\n" + m["vcek"].(string) }), "vcek", format.ErrBadEncoding},
		{"v0 vcek then text", v0(func(m obj) { m["vcek"] = m["vcek"].(string) + "end" }), "vcek", format.ErrTrailingData},
		{"v0 vcek with a PEM header", v0(func(m obj) {
			m["vcek"] = strings.Replace(m["vcek"].(string), "-----\n", "-----\nNote: x\n\n", 1)
		}), "vcek", format.ErrBadEncoding},
		{"v0 vcek then a key block", v0(func(m obj) {
			m["vcek"] = m["vcek"].(string) + string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}))
		}), "vcek", format.ErrUnexpectedValue},
		{"v0 more than three certificates", v0(func(m obj) { m["vcek"] = m["vcek"].(string) + m["vcek"].(string) }), "vcek", format.ErrUnexpectedValue},
		{"v0 vcek empty certificate", v0(func(m obj) { m["vcek"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE"})) }), "vcek", format.ErrBadEncoding},
		{"v0 vcek huge certificate", v0(func(m obj) {
			m["vcek"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: make([]byte, MaxVCEKSize+1)}))
		}), "vcek", format.ErrTooLarge},
		{"v0 vcek huge PEM", v0(func(m obj) { m["vcek"] = strings.Repeat("x", MaxPEMSize+1) }), "vcek", format.ErrTooLarge},
		{"v0 vcek array", v0(func(m obj) { m["vcek"] = numArray([]byte{1}) }), "vcek", format.ErrBadJSON},

		{"tdx v0 missing td_quote", tdx(func(m obj) { delete(m, "td_quote") }), "td_quote", format.ErrMissingField},
		{"tdx v0 missing hcl_report", tdx(func(m obj) { delete(m, "hcl_report") }), "hcl_report", format.ErrMissingField},
		{"tdx v0 with vcek", tdx(func(m obj) { m["vcek"] = "x" }), "vcek", format.ErrUnexpectedField},
		{"tdx v0 with report", tdx(func(m obj) { m["report"] = numArray(testReport) }), "report", format.ErrUnexpectedField},
		{"tdx v0 hex quote", tdx(func(m obj) { m["tpm_quote"].(obj)["message"] = "ff" }), "tpm_quote.message", format.ErrBadJSON},
		{"tdx v0 huge td_quote", tdx(func(m obj) { m["td_quote"] = numArray(make([]byte, MaxTDQuoteSize+1)) }), "td_quote", format.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.in(t)); !testutil.IsFormatError(err, "evidence", tc.field, tc.err) {
				t.Errorf("err = %v, want evidence: %s: %v", err, tc.field, tc.err)
			}
		})
	}
}

func TestDecodeTruncatedFixtures(t *testing.T) {
	for _, g := range goldens {
		b := testutil.ReadFile(t, g.file)
		for l := 0; l < len(b)-1; l += 1 + l/64 {
			if _, err := Decode(b[:l]); err == nil {
				t.Fatalf("%s[:%d] decoded", g.file, l)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	good := func() *Evidence {
		return &Evidence{Version: 2, Quote: quoteOf(testMsg, testSig, 24), HCLReport: testReport}
	}
	tests := []struct {
		name  string
		mut   func(e *Evidence)
		field string
		err   error
	}{
		{"version 3", func(e *Evidence) { e.Version = 3 }, "version", format.ErrUnsupportedVersion},
		{"version -1", func(e *Evidence) { e.Version = -1 }, "version", format.ErrUnsupportedVersion},
		{"no message", func(e *Evidence) { e.Quote.Message = nil }, "tpm_quote.message", format.ErrMissingField},
		{"no signature", func(e *Evidence) { e.Quote.Signature = []byte{} }, "tpm_quote.signature", format.ErrMissingField},
		{"no report", func(e *Evidence) { e.HCLReport = nil }, "hcl_report", format.ErrMissingField},
		{"empty vcek", func(e *Evidence) { e.VCEK = []byte{} }, "vcek", format.ErrMissingField},
		{"empty td quote", func(e *Evidence) { e.TDQuote = []byte{} }, "td_quote", format.ErrMissingField},
		{"td quote with vcek", func(e *Evidence) { e.VCEK, e.TDQuote = []byte{1}, []byte{2, 3} }, "vcek", format.ErrUnexpectedField},
		{"huge report", func(e *Evidence) { e.HCLReport = make([]byte, MaxHCLReportSize+1) }, "hcl_report", format.ErrTooLarge},
		{"huge message", func(e *Evidence) { e.Quote.Message = make([]byte, MaxMessageSize+1) }, "tpm_quote.message", format.ErrTooLarge},
		{"25 PCRs", func(e *Evidence) { e.Quote.PCRs = quoteOf(testMsg, testSig, 25).PCRs }, "tpm_quote.pcrs", format.ErrTooLarge},
		{"short PCR", func(e *Evidence) { e.Quote.PCRs[7] = e.Quote.PCRs[7][:31] }, "tpm_quote.pcrs[7]", format.ErrBadLength},
	}
	for _, tc := range tests {
		e := good()
		tc.mut(e)
		_, err := e.Encode()
		if !testutil.IsFieldError(err, tc.field, tc.err) {
			t.Errorf("%s: err = %v, want %v in %q", tc.name, err, tc.err, tc.field)
		}
	}
	e := good()
	e.TDQuote = []byte{2, 3}
	b, e2 := roundTrip(t, e)
	if !equalEvidence(e, e2) {
		t.Error("round trip with td_quote differs")
	}
	if !strings.Contains(string(b), `,"td_quote":"AgM="}`) || strings.Contains(string(b), `"vcek"`) {
		t.Errorf("encoding: %s", b)
	}
}

func TestDecodeQuoteJSONErrors(t *testing.T) {
	for in, want := range map[string]error{
		`{}`:                             format.ErrMissingField,
		`[]`:                             format.ErrBadJSON,
		`{"signature":"00","message":5}`: format.ErrBadJSON,
		`{"signature":"00","message":"00","pcrs":"x"}`:                                    format.ErrBadJSON,
		`{"signature":"0","message":"00","pcrs":[]}`:                                      format.ErrBadEncoding,
		`{"signature":[1],"message":[1],"pcrs":[[1]]}`:                                    format.ErrBadLength,
		`{"signature":[1],"message":[1],"pcrs":[` + `"` + strings.Repeat("0", 64) + `"]}`: format.ErrBadJSON,
		strings.Repeat(" ", MaxEvidenceSize+1):                                            format.ErrTooLarge,
	} {
		if _, err := DecodeQuoteJSON([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%.60s: err = %v, want %v", in, err, want)
		}
	}
	q, err := DecodeQuoteJSON([]byte(`{"signature":[1],"message":[2,3],"pcrs":[]}`))
	if err != nil || !bytes.Equal(q.Message, []byte{2, 3}) || len(q.PCRs) != 0 {
		t.Errorf("array form: %v", err)
	}
}

func quoteOf(msg, sig []byte, n int) quote.Quote {
	q := quote.Quote{Message: msg, Signature: sig}
	for i := 0; i < n; i++ {
		q.PCRs = append(q.PCRs, bytes.Repeat([]byte{byte(i)}, 32))
	}
	return q
}

// bincode encodes q in the fixed-PCR layout, or the Vec<Vec<u8>> layout.
func bincode(q *quote.Quote, vecLayout bool) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(q.Signature)))
	b = append(b, q.Signature...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(q.Message)))
	b = append(b, q.Message...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(q.PCRs)))
	for _, p := range q.PCRs {
		if vecLayout {
			b = binary.LittleEndian.AppendUint64(b, uint64(len(p)))
		}
		b = append(b, p...)
	}
	return b
}

func TestDecodeBincodeQuote(t *testing.T) {
	q := quoteOf(testMsg, testSig, 24)
	for _, vec := range []bool{false, true} {
		got, err := DecodeBincodeQuote(bincode(&q, vec))
		if err != nil || !equalQuote(got, &q) {
			t.Errorf("vec=%v: %v", vec, err)
		}
	}
	fixed := bincode(&q, false)
	vec := bincode(&q, true)
	sigEnd := 8 + len(testSig)
	msgEnd := sigEnd + 8 + len(testMsg)
	set64 := func(b []byte, off int, v uint64) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint64(c[off:], v)
		return c
	}
	zero := quoteOf(testMsg, testSig, 0)
	tests := []struct {
		name  string
		in    []byte
		field string
		err   error
	}{
		{"empty", nil, "signature", format.ErrTruncated},
		{"short length", fixed[:7], "signature", format.ErrTruncated},
		{"signature length max", set64(fixed, 0, ^uint64(0)), "signature", format.ErrTooLarge},
		{"signature length 2^63", set64(fixed, 0, 1<<63), "signature", format.ErrTooLarge},
		{"signature too long", set64(fixed, 0, MaxSignatureSize+1), "signature", format.ErrTooLarge},
		{"signature empty", set64(fixed, 0, 0), "signature", format.ErrMissingField},
		{"signature truncated", fixed[:sigEnd-1], "signature", format.ErrTruncated},
		{"message length missing", fixed[:sigEnd+3], "message", format.ErrTruncated},
		{"message length max", set64(fixed, sigEnd, ^uint64(0)), "message", format.ErrTooLarge},
		{"message truncated", fixed[:msgEnd-1], "message", format.ErrTruncated},
		{"pcr count missing", fixed[:msgEnd], "pcrs", format.ErrTruncated},
		{"pcr count max", set64(fixed, msgEnd, ^uint64(0)), "pcrs", format.ErrTooLarge},
		{"pcr count 25", set64(fixed, msgEnd, 25), "pcrs", format.ErrTooLarge},
		{"pcr count 24 short", fixed[:len(fixed)-32], "pcrs", format.ErrTruncated},
		{"pcr count 23", set64(fixed, msgEnd, 23), "pcrs", format.ErrTrailingData},
		{"pcrs truncated", fixed[:len(fixed)-1], "pcrs", format.ErrTruncated},
		{"trailing byte", append(bytes.Clone(fixed), 0), "pcrs", format.ErrTrailingData},
		{"trailing byte vec", append(bytes.Clone(vec), 0), "pcrs", format.ErrTrailingData},
		{"vec item length 31", set64(vec, msgEnd+8+40*3, 31), "pcrs[3]", format.ErrBadLength},
		{"vec item length max", set64(vec, msgEnd+8, ^uint64(0)), "pcrs[0]", format.ErrBadLength},
		{"zero pcrs trailing", append(bincode(&zero, false), 1), "pcrs", format.ErrTrailingData},
		{"too large", make([]byte, MaxEvidenceSize+1), "quote", format.ErrTooLarge},
	}
	for _, tc := range tests {
		_, err := DecodeBincodeQuote(tc.in)
		if !testutil.IsFieldError(err, tc.field, tc.err) {
			t.Errorf("%s: err = %v, want %v in %q", tc.name, err, tc.err, tc.field)
		}
	}
	if got, err := DecodeBincodeQuote(bincode(&zero, false)); err != nil || len(got.PCRs) != 0 {
		t.Errorf("zero PCRs: %v", err)
	}
	// Every truncation of a real file fails without panicking, except one:
	// the layouts are ambiguous, and a Vec<Vec<u8>> file cut to exactly
	// count*32 PCR bytes reads as the fixed layout (with PCR values that do
	// not match the quote's pcrDigest, so verification still fails).
	b := testutil.ReadFile(t, "azure-cvm-tooling/az-cvm-vtpm-0.5.0/quote.bin")
	orig, err := DecodeBincodeQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	for l := range len(b) {
		got, err := DecodeBincodeQuote(b[:l])
		if err == nil && (l != 8+256+8+122+8+24*32 || bytes.Equal(got.PCRs[0], orig.PCRs[0])) {
			t.Fatalf("[:%d] decoded", l)
		}
	}
}

// TestDecodeStrictJSON: every class of malformed JSON is rejected, at the top
// level, nested, and inside members the decoder otherwise ignores.
func TestDecodeStrictJSON(t *testing.T) {
	v1 := string(marshal(t, validV1()))
	body := v1[1 : len(v1)-1] // the members, without braces
	tests := []struct {
		name  string
		in    string
		field string
		kind  error
	}{
		{"duplicate top level", `{` + body + `,"hcl_report":"AQ=="}`, "hcl_report", strictjson.ErrDuplicateKey},
		{"duplicate escaped", `{` + body + `,"hcl_\u0072eport":"AQ=="}`, "hcl_report", strictjson.ErrDuplicateKey},
		{"duplicate in quote", `{"version":1,"tpm_quote":{"signature":"00","signature":"00"}}`, "tpm_quote.signature", strictjson.ErrDuplicateKey},
		{"duplicate unknown", `{"x":1,` + body + `,"x":2}`, "x", strictjson.ErrDuplicateKey},
		{"duplicate inside unknown", `{` + body + `,"future":{"a":[{"k":1,"k":1}]}}`, "future.a[0].k", strictjson.ErrDuplicateKey},
		{"duplicate inside unknown of quote", `{"version":1,"tpm_quote":{"x":{"y":1,"y":1}}}`, "tpm_quote.x.y", strictjson.ErrDuplicateKey},
		{"invalid UTF-8 in unknown string", "{" + body + ",\"note\":\"\xff\"}", "note", strictjson.ErrInvalidUTF8},
		{"invalid UTF-8 in hcl_report", "{\"version\":1,\"hcl_report\":\"AQ\xc0\"}", "hcl_report", strictjson.ErrInvalidUTF8},
		{"invalid UTF-8 in key", "{" + body + ",\"k\xe2\x28\xa1\":1}", "document", strictjson.ErrInvalidUTF8},
		{"trailing object", v1 + ` {}`, "document", strictjson.ErrTrailingData},
		{"trailing garbage", v1 + `x`, "document", strictjson.ErrTrailingData},
		{"too deep unknown", `{` + body + `,"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "document", strictjson.ErrTooDeep},
		{"case variant", `{` + body + `,"Hcl_Report":"AQ=="}`, "hcl_report", strictjson.ErrCaseMismatch},
		{"syntax", `{` + body + `,}`, "document", strictjson.ErrSyntax},
		// audit13: forms that decode to the same document or hide bad text.
		{"byte order mark", "\xef\xbb\xbf" + v1, "document", strictjson.ErrSyntax},
		{"lone high surrogate escaped in unknown", `{` + body + `,"note":"\ud800"}`, "note", strictjson.ErrInvalidUTF8},
		{"lone low surrogate escaped in unknown", `{` + body + `,"note":"a\udc00"}`, "note", strictjson.ErrInvalidUTF8},
		{"surrogates reversed", `{` + body + `,"note":"\udc00\ud800"}`, "note", strictjson.ErrInvalidUTF8},
		{"lone surrogate escaped in a key", `{` + body + `,"\ud800":1}`, "document", strictjson.ErrInvalidUTF8},
		{"lone surrogate escaped in hcl_report", `{"version":1,"hcl_report":"AQ\ud800"}`, "hcl_report", strictjson.ErrInvalidUTF8},
		{"duplicate tpm_quote escaped", `{` + body + `,"tpm_\u0071uote":{}}`, "tpm_quote", strictjson.ErrDuplicateKey},
		{"duplicate version fully escaped", `{` + body + `,"\u0076\u0065\u0072\u0073\u0069\u006f\u006e":1}`, "version", strictjson.ErrDuplicateKey},
		{"duplicate version escaped after it", `{"\u0076ersion":1,` + body + `}`, "version", strictjson.ErrDuplicateKey},
		{"case variant escaped", `{` + body + `,"\u0056ersion":1}`, "version", strictjson.ErrCaseMismatch},
		{"second document", v1 + v1, "document", strictjson.ErrTrailingData},
		{"NUL after the document", v1 + "\x00", "document", strictjson.ErrTrailingData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, dec := range []func([]byte) (*Evidence, error){Decode, NewDecoder(8, 1<<20).Decode} {
				_, err := dec([]byte(tc.in))
				if !testutil.IsFieldError(err, tc.field, tc.kind) {
					t.Fatalf("err = %v, want %v in %q", err, tc.kind, tc.field)
				}
				if tc.kind != strictjson.ErrCaseMismatch && !errors.Is(err, format.ErrBadJSON) {
					t.Errorf("%v does not wrap format.ErrBadJSON", err)
				}
			}
		})
	}
	// Too large: the evidence bound, before any decoding.
	_, err := Decode([]byte(`{"x":"` + strings.Repeat("a", MaxEvidenceSize) + `"}`))
	if !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	// DecodeQuoteJSON uses the same decoder.
	for in, kind := range map[string]error{
		`{"signature":"00","signature":"00"}`:   strictjson.ErrDuplicateKey,
		"{\"signature\":\"0\xff\"}":             strictjson.ErrInvalidUTF8,
		`{"signature":"00","message":"00"} {}`:  strictjson.ErrTrailingData,
		`{"Signature":"00"}`:                    strictjson.ErrCaseMismatch,
		`{"x":` + strings.Repeat("[", 80) + `}`: strictjson.ErrTooDeep,
	} {
		if _, err := DecodeQuoteJSON([]byte(in)); !errors.Is(err, kind) {
			t.Errorf("DecodeQuoteJSON(%.40q): %v, want %v", in, err, kind)
		}
	}
}

// TestDecoderMemory checks the Decoder on documents whose HCL report and
// VCEK text it remembers, in other places and with other neighbours: its
// results are always Decode's.
func TestDecoderMemory(t *testing.T) {
	v1 := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	e, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(100, 1<<24)
	got, err := d.Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 0 {
		t.Fatalf("Decode remembered %d fields", d.Len())
	}
	d.Remember(got)
	if d.Len() != 2 {
		t.Fatalf("Remember kept %d fields, want 2", d.Len())
	}
	var w map[string]json.RawMessage
	if err := json.Unmarshal(v1, &w); err != nil {
		t.Fatal(err)
	}
	hclTok, vcekTok := string(w["hcl_report"]), string(w["vcek"])
	quote := string(w["tpm_quote"])
	docs := []string{
		string(v1),
		`{"version":2,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + vcekTok + `,"vcek":` + hclTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + hclTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `,"hcl_report":` + hclTok + `}`,
		`{"version":3,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `}x`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok[:len(hclTok)-1] + `\u0041"` + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok[:len(hclTok)-1] + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":"` + hclTok[:len(hclTok)-1] + `,"vcek":` + vcekTok + `}`,
		`{"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"td_quote":` + vcekTok + `}`,
		`{"quote":` + quote + `,"report":` + hclTok + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `,"x":` + hclTok + `}`,
	}
	for _, doc := range docs {
		sameAsDecode(t, d, []byte(doc))
	}
	// The memory's bytes are what Decode gives.
	got, err = d.Decode(v1)
	if err != nil || !reflect.DeepEqual(stripMemo(got), stripMemo(e)) {
		t.Fatalf("remembered decode differs: %v", err)
	}
	if !got.memo.hclFromMemo || !got.memo.vcekFromMemo {
		t.Error("the remembered fields were decoded again")
	}
}

// stripMemo returns e without its memo state, for comparisons.
func stripMemo(e *Evidence) *Evidence {
	if e == nil {
		return nil
	}
	c := *e
	c.memo = memoState{}
	return &c
}

// sameAsDecode checks that d.Decode(b) gives Decode(b).
func sameAsDecode(t *testing.T, d *Decoder, b []byte) {
	t.Helper()
	want, wantErr := Decode(b)
	got, gotErr := d.Decode(b)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("Decoder.Decode(%.80q) error %v, Decode %v", b, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(stripMemo(got), stripMemo(want)) {
		t.Fatalf("Decoder.Decode(%.80q) differs from Decode", b)
	}
}

// TestDecoderMatchesDecode: random single-byte changes of real evidence
// decode the same with and without a Decoder that remembers the originals.
func TestDecoderMatchesDecode(t *testing.T) {
	d := NewDecoder(100, 1<<24)
	for _, g := range goldens {
		b := testutil.ReadFile(t, g.file)
		if e, err := d.Decode(b); err == nil {
			d.Remember(e)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte(`"\{}[],:0-+.eEtfnu= ` + "\x00\x1f\x7f\xff")
	for _, g := range goldens {
		b := testutil.ReadFile(t, g.file)
		for range 300 {
			m := bytes.Clone(b)
			m[rng.IntN(len(m))] = special[rng.IntN(len(special))]
			sameAsDecode(t, d, m)
		}
		for l := 0; l < len(b); l += 1 + l/16 {
			sameAsDecode(t, d, b[:l])
		}
	}
}

// TestDecoderRemembersOnlyWhatItIsGiven: Decode alone never fills the
// memory, whatever it decodes; Remember fills it within its bounds.
func TestDecoderRemembersOnlyWhatItIsGiven(t *testing.T) {
	d := NewDecoder(3, 1<<20)
	for i := range 20 {
		e := &Evidence{Version: 1, HCLReport: []byte{byte(i), 1, 2}, VCEK: []byte{byte(i), 3}, Quote: smallQuote()}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		before := d.Len()
		got, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != before {
			t.Fatalf("Decode alone remembered %d fields", d.Len()-before)
		}
		d.Remember(got)
	}
	if n := d.Len(); n != 3 {
		t.Fatalf("%d entries, want the bound 3", n)
	}
	d = NewDecoder(100, 100)
	for i := range 20 {
		e := &Evidence{Version: 1, HCLReport: bytes.Repeat([]byte{byte(i)}, 30), Quote: smallQuote()}
		b, _ := e.Encode()
		got, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		d.Remember(got)
		if d.m.bytes > 100 {
			t.Fatalf("%d bytes", d.m.bytes)
		}
	}
	// v2 HCL reports and escaped text are never remembered; v0 has nothing to remember.
	d = NewDecoder(100, 1<<20)
	v2 := &Evidence{Version: 2, HCLReport: []byte{1, 2, 3}, Quote: smallQuote()}
	b, _ := v2.Encode()
	got, _ := d.Decode(b)
	d.Remember(got)
	esc := []byte(`{"version":1,"tpm_quote":{"signature":"01","message":"02","pcrs":[]},"hcl_report":"\u0041QID","vcek":"AQ\u003d\u003d"}`)
	got, err := d.Decode(esc)
	if err != nil {
		t.Fatal(err)
	}
	d.Remember(got)
	d.Remember(nil)
	if d.Len() != 0 {
		t.Fatalf("remembered %d fields", d.Len())
	}
	// v0: the HCL report's byte array and the VCEK's PEM text, as written.
	for _, file := range []string{"trustee-az-vtpm/az-snp-vtpm/evidence-v0.json", "trustee-az-vtpm/az-tdx-vtpm/evidence-v0.json"} {
		d = NewDecoder(100, 1<<20)
		data := testutil.ReadFile(t, file)
		v0, err := d.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		d.Remember(v0)
		again, err := d.Decode(data)
		if err != nil || !again.memo.hclFromMemo || !again.memo.pcrsFromMemo || !equalEvidence(v0, again) {
			t.Fatalf("%s: not found again: %v", file, err)
		}
		if v0.VCEK != nil && !again.memo.vcekFromMemo {
			t.Fatalf("%s: VCEK not found again", file)
		}
		// The same bytes in another format (v1's base64) are not the v0 text.
		v1 := *v0
		v1.Version = 1
		enc, err := v1.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if other, err := d.Decode(enc); err != nil || other.memo.hclFromMemo || other.memo.vcekFromMemo || other.memo.pcrsFromMemo {
			t.Fatalf("%s: v1 form found in the v0 memory: %v", file, err)
		}
	}
	// Unpadded and padded text are remembered as written.
	for _, doc := range []string{
		`{"version":1,"tpm_quote":{"signature":"01","message":"02","pcrs":[]},"hcl_report":"AQI","vcek":"AQI="}`,
	} {
		got, err := d.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		d.Remember(got)
		again, err := d.Decode([]byte(doc))
		if err != nil || !again.memo.hclFromMemo || !again.memo.vcekFromMemo {
			t.Fatalf("%s not found again: %v", doc, err)
		}
	}
}

func smallQuote() quote.Quote {
	return quote.Quote{Signature: []byte{1}, Message: []byte{2}, PCRs: [][]byte{make([]byte, PCRSize)}}
}

// TestByteValue covers the element rules of v0 byte arrays.
func TestByteValue(t *testing.T) {
	for in, want := range map[string][]byte{
		`{"quote":{"signature":[1],"message":[0],"pcrs":[]},"report":[ 255 , 0,1 ]}`:             {255, 0, 1},
		"{\"quote\":{\"signature\":[1],\"message\":[0],\"pcrs\":[]},\"report\":[\n1,\r\n\t2\n]}": {1, 2},
	} {
		e, err := Decode([]byte(in))
		if err != nil || !bytes.Equal(e.HCLReport, want) {
			t.Errorf("%q: %v %v", in, e, err)
		}
	}
	for _, el := range []string{`256`, `-0`, `1e0`, `0.0`, `"1"`, `[]`, `{}`, `true`, `null`, `1000`} {
		in := `{"quote":{"signature":[1],"message":[0],"pcrs":[]},"report":[1,` + el + `]}`
		if _, err := Decode([]byte(in)); !errors.Is(err, format.ErrBadByte) {
			t.Errorf("%s: %v", el, err)
		}
	}
}

// TestDecodeLongPCRHex: a v1 PCR of more than 64 hex digits (33 bytes, or
// far more) is ErrBadLength naming the PCR, checked before any digit is
// decoded into the 32-byte value; so is DecodeQuoteJSON's.
func TestDecodeLongPCRHex(t *testing.T) {
	for _, n := range []int{33, 64, 1000} {
		p := pcrs(24, hexAny)
		p[3] = hex.EncodeToString(make([]byte, n))
		m := validV1()
		m["tpm_quote"].(obj)["pcrs"] = p
		_, err := Decode(marshal(t, m))
		if !testutil.IsFieldError(err, "tpm_quote.pcrs[3]", format.ErrBadLength) {
			t.Errorf("%d-byte PCR: err = %v, want ErrBadLength in tpm_quote.pcrs[3]", n, err)
		}
		_, err = DecodeQuoteJSON(marshal(t, m["tpm_quote"].(obj)))
		if !testutil.IsFieldError(err, "quote.pcrs[3]", format.ErrBadLength) {
			t.Errorf("DecodeQuoteJSON, %d-byte PCR: err = %v, want ErrBadLength in quote.pcrs[3]", n, err)
		}
	}
}

// TestDecodeVersionQuotedShort: an unsupported version is quoted in the
// error cut to 20 characters, however long the number the document holds.
func TestDecodeVersionQuotedShort(t *testing.T) {
	m := validV1()
	long := "3" + strings.Repeat("0", 5000)
	m["version"] = json.RawMessage(long)
	_, err := Decode(marshal(t, m))
	if !testutil.IsFieldError(err, "version", format.ErrUnsupportedVersion) || !strings.Contains(err.Error(), long[:20]+"...") || len(err.Error()) > 200 {
		t.Errorf("err = %.300v, want ErrUnsupportedVersion quoting %s...", err, long[:20])
	}
}

// TestDecodeQuoteJSONTooLarge: DecodeQuoteJSON refuses a document over
// MaxEvidenceSize as ErrTooLarge of the quote, before reading it.
func TestDecodeQuoteJSONTooLarge(t *testing.T) {
	_, err := DecodeQuoteJSON([]byte(`{"x":"` + strings.Repeat("a", MaxEvidenceSize) + `"}`))
	if !testutil.IsFieldError(err, "quote", format.ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge of quote", err)
	}
}

// TestV0VCEKChain: the certificates a v0 "vcek" stacks after the VCEK
// (trustee's vcek.pem: VCEK, ASK, ARK) are kept in VCEKChain for the
// verifier to check (they were dropped, so nothing could); a lone VCEK has
// none. Encode writes the VCEK alone; a VCEKChain beside a TD quote is
// refused like a VCEK; and a Decoder neither remembers a stacked VCEK nor
// returns one without its chain.
func TestV0VCEKChain(t *testing.T) {
	stack := testutil.PEMBlocks(t, testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/vcek.pem"), "CERTIFICATE")
	if len(stack) != 3 {
		t.Fatalf("vcek.pem holds %d certificates, want 3", len(stack))
	}
	doc := marshal(t, validV0(t))
	e, err := Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.VCEK, stack[0]) || !reflect.DeepEqual(e.VCEKChain, stack[1:]) {
		t.Fatalf("VCEK %d bytes, VCEKChain %d certificates: want the stack's first and the two after it", len(e.VCEK), len(e.VCEKChain))
	}
	lone := validV0(t)
	lone["vcek"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: stack[0]}))
	e1, err := Decode(marshal(t, lone))
	if err != nil {
		t.Fatal(err)
	}
	if e1.VCEKChain != nil {
		t.Errorf("a lone VCEK: VCEKChain %d certificates, want none", len(e1.VCEKChain))
	}
	empty := validV0(t)
	empty["vcek"] = lone["vcek"].(string) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE"}))
	if _, err := Decode(marshal(t, empty)); !errors.Is(err, format.ErrBadEncoding) {
		t.Errorf("an empty CERTIFICATE block after the VCEK: %v, want ErrBadEncoding", err)
	}

	enc, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.VCEK, e.VCEK) || back.VCEKChain != nil {
		t.Errorf("encoded and decoded again: VCEKChain %d certificates, want the VCEK alone", len(back.VCEKChain))
	}

	tdx := Evidence{Version: 1, Quote: e.Quote, HCLReport: e.HCLReport, TDQuote: []byte{4, 0, 2, 0}, VCEKChain: e.VCEKChain}
	if err := tdx.CheckPlatformMembers(); !errors.Is(err, format.ErrUnexpectedField) {
		t.Errorf("VCEKChain beside a TD quote: CheckPlatformMembers %v, want ErrUnexpectedField", err)
	}

	d := NewDecoder(100, 1<<24)
	got, err := d.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	d.Remember(got)
	if got, err = d.Decode(doc); err != nil {
		t.Fatal(err)
	}
	if got.memo.vcekFromMemo || !reflect.DeepEqual(got.VCEKChain, e.VCEKChain) {
		t.Errorf("decoded again with the Decoder: VCEK from memory %v, VCEKChain %d certificates", got.memo.vcekFromMemo, len(got.VCEKChain))
	}
	sameAsDecode(t, d, doc)
}

// TestMalformedJSONOnce: JSON that ends early is "malformed JSON" once in
// the error: the strict decoder's error is one already, and was wrapped in
// a second.
func TestMalformedJSONOnce(t *testing.T) {
	_, err := Decode([]byte("{"))
	if !errors.Is(err, format.ErrBadJSON) || strings.Count(err.Error(), "malformed JSON") != 1 {
		t.Errorf("err = %v, want malformed JSON, said once", err)
	}
}
