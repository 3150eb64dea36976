package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// metaFixture is a real evidence document (SPEC.md §8) with the nonce and
// configuration it verifies with.
type metaFixture struct {
	name  string
	doc   []byte
	nonce []byte
	cfg   verify.Config
	tdx   bool
}

// metaFixtures returns every real evidence fixture that verifies: trustee's
// SNP v0, v1, v2, Genoa and the assembled loose files, the 2026 cmcp
// capture (no PCR values), and trustee's TDX v0 and v1.
func metaFixtures(t *testing.T) []metaFixture {
	t.Helper()
	uncachedAt := func(at time.Time) verify.Config {
		return verify.Config{Now: at, Cache: verify.CacheConfig{Disable: true}}
	}
	var out []metaFixture
	for _, re := range realEvidences(t) {
		out = append(out, metaFixture{re.name, re.data, re.nonce, uncachedAt(testutil.FixtureTime()), false})
	}
	ev, nonce := cmcpEvidence(t)
	out = append(out, metaFixture{"cmcp", encode(t, ev), nonce, uncachedAt(time.Date(2026, 7, 21, 0, 0, 0, 0, time.UTC)), false})
	tdxNonce := quotedNonce(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json"))
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json"} {
		out = append(out, metaFixture{"tdx-" + f[9:11], testutil.ReadFile(t, tdxDir+f), tdxNonce, uncachedAt(testutil.TDXFixtureTime()), true})
	}
	return out
}

// verdict is the outcome of one verification: the check that rejected it,
// or the claims (as JSON) it verified to; bad is set for an outcome that is
// wrong whatever the input (a panic, an untyped error, claims with an error).
type verdict struct {
	check  verify.Check
	claims string
	bad    string
}

func (v verdict) String() string {
	switch {
	case v.bad != "":
		return v.bad
	case v.check != "":
		return "rejected by " + string(v.check)
	}
	return "accepted"
}

// verdictOf classifies a verification's result. With anyVersion, the
// claims' evidence_version is left out of the comparison (a converted
// document is of another format version by design).
func verdictOf(t *testing.T, c *verify.Claims, err error, anyVersion bool) verdict {
	t.Helper()
	if err != nil {
		var verr *verify.Error
		switch {
		case c != nil:
			return verdict{bad: fmt.Sprintf("claims with error %v", err)}
		case !errors.As(err, &verr) || !errors.Is(err, verify.ErrRejected) || verr.Check == "":
			return verdict{bad: fmt.Sprintf("untyped rejection %T: %v", err, err)}
		}
		return verdict{check: verr.Check}
	}
	if anyVersion {
		cc := *c
		cc.EvidenceVersion = -2
		c = &cc
	}
	return verdict{claims: testutil.JSON(t, c)}
}

// safely runs fn, turning a panic into a bad verdict.
func safely(fn func() verdict) (v verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = verdict{bad: fmt.Sprintf("PANIC: %v", r)}
		}
	}()
	return fn()
}

// verifyDoc verifies the JSON document doc with fx's nonce and configuration.
func verifyDoc(t *testing.T, fx metaFixture, doc, nonce []byte, anyVersion bool) verdict {
	return safely(func() verdict {
		c, err := newVerifier(t, fx.cfg).Evidence(context.Background(), doc, nonce)
		return verdictOf(t, c, err, anyVersion)
	})
}

// verifyEv verifies decoded evidence with fx's configuration.
func verifyEv(t *testing.T, fx metaFixture, ev *evidence.Evidence, nonce []byte) verdict {
	return safely(func() verdict {
		c, err := newVerifier(t, fx.cfg).Decoded(context.Background(), ev, nonce)
		return verdictOf(t, c, err, false)
	})
}

// jsonEdit rewrites a JSON document token by token, keeping every value's
// meaning unless str says otherwise: ws is written after every structural
// token, reverse reverses the members of every object, and str (nil: keep)
// returns the new JSON text of a string value at path (".member", "[]" for
// an array element), name that of a member name.
type jsonEdit struct {
	ws      string
	reverse bool
	str     func(path string, text []byte) []byte
	name    func(text []byte) []byte // nil: keep
}

// apply returns doc rewritten by e.
func (e jsonEdit) apply(t *testing.T, doc []byte) []byte {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	out, err := e.value(dec, "", nil)
	if err != nil {
		t.Fatalf("rewriting JSON: %v", err)
	}
	return out
}

// member is an object member: its name's JSON text and its value's.
type member struct{ name, value []byte }

func (e jsonEdit) value(dec *jsontext.Decoder, path string, out []byte) ([]byte, error) {
	switch dec.PeekKind() {
	case '{', '[':
		open, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		isObj := open.Kind() == '{'
		var ms []member
		for dec.PeekKind() != '}' && dec.PeekKind() != ']' {
			var m member
			sub := path + "[]"
			if isObj {
				name, err := dec.ReadValue()
				if err != nil {
					return nil, err
				}
				m.name = bytes.Clone(name)
				if e.name != nil {
					m.name = e.name(m.name)
				}
				unq, _ := jsontext.AppendUnquote(nil, name)
				sub = path + "." + string(unq)
			}
			if m.value, err = e.value(dec, sub, nil); err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		if e.reverse && isObj {
			slices.Reverse(ms)
		}
		return e.write(out, isObj, ms), nil
	}
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	text := bytes.Clone(v)
	if e.str != nil && v.Kind() == '"' {
		text = e.str(path, text)
	}
	return append(out, text...), nil
}

// write appends an object or array of ms, with e.ws after each token.
func (e jsonEdit) write(out []byte, isObj bool, ms []member) []byte {
	open, closing := byte('['), byte(']')
	if isObj {
		open, closing = '{', '}'
	}
	out = append(append(out, open), e.ws...)
	for i, m := range ms {
		if i > 0 {
			out = append(append(out, ','), e.ws...)
		}
		if isObj {
			out = append(append(append(out, m.name...), ':'), e.ws...)
		}
		out = append(append(out, m.value...), e.ws...)
	}
	return append(out, closing)
}

// Paths of the hex members (v1, v2) and the base64url members (v1, v2;
// the v0 "vcek" is PEM) of evidence (evidence package documentation).
var (
	hexPaths = map[string]bool{".tpm_quote.signature": true, ".tpm_quote.message": true, ".tpm_quote.pcrs[]": true}
	b64Paths = map[string]bool{".hcl_report": true, ".vcek": true, ".td_quote": true, ".event_log": true}
)

// isV1 says whether doc is v1 or v2 evidence (strings, not byte arrays).
func isV1(doc []byte) bool { return bytes.Contains(doc, []byte(`"version"`)) }

// metaTransform is a rewrite of an evidence document that keeps its meaning
// in a format we read (evidence package documentation, SPEC.md §6).
type metaTransform struct {
	name string
	// apply returns the rewritten document, or nil when the transform
	// does not apply to doc.
	apply func(t *testing.T, doc []byte) []byte
	// version is the evidence_version of the result when it differs from
	// the original's (-1: the same).
	version func(doc []byte) int
}

func sameVersion([]byte) int { return -1 }

// strEdit returns a transform of the strings at paths (all when nil),
// applicable only to v1/v2 when v1only.
func strEdit(paths map[string]bool, v1only bool, f func([]byte) []byte) func(*testing.T, []byte) []byte {
	return func(t *testing.T, doc []byte) []byte {
		if v1only && !isV1(doc) {
			return nil
		}
		return jsonEdit{str: func(path string, text []byte) []byte {
			if paths != nil && !paths[path] {
				return text
			}
			return f(text)
		}}.apply(t, doc)
	}
}

// mixedCase upper-cases every other letter of a hex string's text.
func mixedCase(text []byte) []byte {
	out := bytes.Clone(text)
	for i := range out {
		if i%2 == 0 && out[i] >= 'a' && out[i] <= 'f' {
			out[i] -= 'a' - 'A'
		}
	}
	return out
}

// unpadded strips the padding of a base64url string's text.
func unpadded(text []byte) []byte {
	body := bytes.TrimRight(text[:len(text)-1], "=")
	return append(bytes.Clone(body), '"')
}

// escaped writes the first character of a string's content as a \u escape
// and every '/' as "\/": the same string in JSON (RFC 8259 §7).
func escaped(text []byte) []byte {
	if len(text) < 3 || text[1] == '\\' {
		return text
	}
	out := fmt.Appendf(nil, `"\u%04X`, text[1])
	return append(out, bytes.ReplaceAll(text[2:], []byte("/"), []byte(`\/`))...)
}

// crlfPEM writes the line ends of a PEM string's text ("\n" escapes) as
// "\r\n": the same certificate (RFC 7468 §2: lines end in CRLF or LF).
func crlfPEM(text []byte) []byte {
	if !bytes.HasPrefix(text, []byte(`"-----BEGIN`)) {
		return text
	}
	return bytes.ReplaceAll(text, []byte(`\n`), []byte(`\r\n`))
}

func metaTransforms() []metaTransform {
	return []metaTransform{
		{"compact", func(t *testing.T, doc []byte) []byte {
			v := jsontext.Value(bytes.Clone(doc))
			if err := v.Compact(); err != nil {
				t.Fatal(err)
			}
			return v
		}, sameVersion},
		{"indented with tabs", func(t *testing.T, doc []byte) []byte {
			var b bytes.Buffer
			if err := json.Indent(&b, doc, "", "\t"); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}, sameVersion},
		{"CRLF and tab after every token", func(t *testing.T, doc []byte) []byte { return jsonEdit{ws: "\r\n\t "}.apply(t, doc) }, sameVersion},
		{"white space before and after the document", func(_ *testing.T, doc []byte) []byte {
			return slices.Concat([]byte(" \r\n\t"), doc, []byte("\r\n"))
		}, sameVersion},
		{"members reversed at every depth", func(t *testing.T, doc []byte) []byte { return jsonEdit{reverse: true}.apply(t, doc) }, sameVersion},
		{"unknown member first", func(_ *testing.T, doc []byte) []byte {
			i := bytes.IndexByte(doc, '{')
			return slices.Concat(doc[:i+1], []byte(`"x-metamorphic":{"n":[1,2.5,"s",null,true,{}]},`), doc[i+1:])
		}, sameVersion},
		{"string escapes (\\u0022-style first character, \\/)", strEdit(nil, false, escaped), sameVersion},
		{"member names escaped (\\u0076ersion)", func(t *testing.T, doc []byte) []byte { return jsonEdit{name: escaped}.apply(t, doc) }, sameVersion},
		{"v0 PEM with CRLF line ends", func(t *testing.T, doc []byte) []byte {
			if isV1(doc) {
				return nil
			}
			return strEdit(map[string]bool{".vcek": true}, false, crlfPEM)(t, doc)
		}, sameVersion},
		{"hex upper case", strEdit(hexPaths, true, bytes.ToUpper), sameVersion},
		{"hex mixed case", strEdit(hexPaths, true, mixedCase), sameVersion},
		{"base64url unpadded", strEdit(b64Paths, true, unpadded), sameVersion},
		{"unsigned zero padding one byte shorter (HCL report, TD quote)", shorterPadding, sameVersion},
		{"v0 converted to v1 (Evidence.Encode)", toV1, func([]byte) int { return 1 }},
		{"v1 written as v0 byte arrays", toV0, func([]byte) int { return 0 }},
	}
}

// shorterPadding drops one zero byte of the padding after an HCL
// report's runtime data and after a TD quote's signed data: neither is
// signed, and neither format fixes the total size (hcl.Report.Size: 0 is
// no padding; tdx.Quote.Trailing). v1 and v2 only.
func shorterPadding(t *testing.T, doc []byte) []byte {
	ev := decode(t, doc)
	if ev.Version == 0 {
		return nil
	}
	r, err := hcl.Parse(ev.HCLReport)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.HCLReport) > hcl.RuntimeDataOffset+len(r.RuntimeDataRaw) {
		ev.HCLReport = ev.HCLReport[:len(ev.HCLReport)-1]
	}
	if n := len(ev.TDQuote); n > 0 && ev.TDQuote[n-1] == 0 {
		ev.TDQuote = ev.TDQuote[:n-1]
	}
	return encode(t, ev)
}

// toV1 is the module's converter, Decode then Encode, of v0 evidence.
func toV1(t *testing.T, doc []byte) []byte {
	if isV1(doc) {
		return nil
	}
	return encode(t, decode(t, doc))
}

// toV0 writes v1 evidence in the v0 form (SPEC.md §6): byte arrays, the
// VCEK as PEM; TDX in its v0 shape. v2 is left alone: it asserts a
// refreshed report, which v0 cannot say.
func toV0(t *testing.T, doc []byte) []byte {
	ev := decode(t, doc)
	if ev.Version != 1 {
		return nil
	}
	arr := func(b []byte) []int {
		out := make([]int, len(b))
		for i, x := range b {
			out[i] = int(x)
		}
		return out
	}
	q := map[string]any{"signature": arr(ev.Quote.Signature), "message": arr(ev.Quote.Message)}
	if ev.Quote.PCRs != nil {
		pcrs := make([][]int, len(ev.Quote.PCRs))
		for i, p := range ev.Quote.PCRs {
			pcrs[i] = arr(p)
		}
		q["pcrs"] = pcrs
	}
	m := map[string]any{"quote": q, "report": arr(ev.HCLReport)}
	if ev.TDQuote != nil {
		m = map[string]any{"tpm_quote": q, "hcl_report": arr(ev.HCLReport), "td_quote": arr(ev.TDQuote)}
	} else if ev.VCEK != nil {
		m["vcek"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ev.VCEK}))
	}
	return testutil.MarshalJSON(t, m)
}

// TestMetamorphicEncodings: every real evidence fixture, rewritten in
// another encoding of the same meaning that the evidence formats allow
// (JSON white space and member order, string escapes, hex case, padded or
// unpadded base64url, v0 byte arrays or v1 strings), verifies to exactly
// the claims of the original (but evidence_version, for a conversion).
func TestMetamorphicEncodings(t *testing.T) {
	applied := map[string]int{}
	for _, fx := range metaFixtures(t) {
		want := verifyDoc(t, fx, fx.doc, fx.nonce, false)
		if want.claims == "" {
			t.Fatalf("%s: genuine evidence: %v", fx.name, want)
		}
		for _, tr := range metaTransforms() {
			doc := tr.apply(t, fx.doc)
			if doc == nil {
				continue
			}
			t.Run(fx.name+"/"+tr.name, func(t *testing.T) {
				if bytes.Equal(doc, fx.doc) {
					t.Skip("the transform leaves this document as it is")
				}
				applied[tr.name]++
				anyVersion := tr.version(fx.doc) >= 0
				w := want
				if anyVersion {
					w = verifyDoc(t, fx, fx.doc, fx.nonce, true)
				}
				got := verifyDoc(t, fx, doc, fx.nonce, anyVersion)
				if got != w {
					t.Fatalf("%v, want the original's claims (%v)\n got %.400s\nwant %.400s", got, w, got.claims, w.claims)
				}
				if anyVersion {
					if v := decode(t, doc).Version; v != tr.version(fx.doc) {
						t.Errorf("converted document is version %d, want %d", v, tr.version(fx.doc))
					}
				}
			})
		}
	}
	for _, tr := range metaTransforms() {
		if applied[tr.name] == 0 {
			t.Errorf("transform %q changed no fixture", tr.name)
		}
	}
}

// metaChange is an edit of real evidence (or of the nonce) that changes
// its meaning: it must be rejected, by the check named.
type metaChange struct {
	name string
	// edit changes ev in place; false: it does not apply to ev.
	edit func(t *testing.T, ev *evidence.Evidence) bool
	// nonce, when set, changes the nonce the verifier expects instead.
	nonce func(n []byte) []byte
	// want is the check of SNP evidence, wantTDX that of TDX evidence
	// ("" there: the edit does not apply to TDX).
	want, wantTDX verify.Check
	// wantJSON is the check when the edited evidence is encoded and read
	// back ("": the same as Decoded's).
	wantJSON verify.Check
}

// flipAt returns an edit that flips bit 0 of the byte off of the member
// that part selects.
func flipAt(part func(*evidence.Evidence) []byte, off func(b []byte) int) func(*testing.T, *evidence.Evidence) bool {
	return func(t *testing.T, ev *evidence.Evidence) bool {
		b := part(ev)
		if len(b) == 0 {
			return false
		}
		b[off(b)] ^= 1
		return true
	}
}

func at(n int) func([]byte) int { return func([]byte) int { return n } }

func msgPart(ev *evidence.Evidence) []byte  { return ev.Quote.Message }
func tdPart(ev *evidence.Evidence) []byte   { return ev.TDQuote }
func vcekPart(ev *evidence.Evidence) []byte { return ev.VCEK }
func middle(b []byte) int                   { return len(b) / 2 }
func last(b []byte) int                     { return len(b) - 1 }

// snpHCL is the HCL report of SNP evidence, tdxHCL that of TDX evidence.
func snpHCL(ev *evidence.Evidence) []byte {
	if ev.TDQuote != nil {
		return nil
	}
	return ev.HCLReport
}

func tdxHCL(ev *evidence.Evidence) []byte {
	if ev.TDQuote == nil {
		return nil
	}
	return ev.HCLReport
}

// inVCEKSubject is the offset of the first byte of "SEV-VCEK" (the
// subject's common name, inside the signed TBSCertificate) in der.
func inVCEKSubject(t *testing.T) func(der []byte) int {
	return func(der []byte) int {
		i := bytes.LastIndex(der, []byte("SEV-VCEK"))
		if i < 0 {
			t.Fatal("no SEV-VCEK in the VCEK")
		}
		return i + 4 // 'V' -> 'W'
	}
}

// editRuntimeData rewrites the HCL report's runtime data with f (the
// report itself, signed, is kept: only the hash binds the runtime data).
func editRuntimeData(f func(t *testing.T, rd []byte) []byte) func(*testing.T, *evidence.Evidence) bool {
	return func(t *testing.T, ev *evidence.Evidence) bool {
		r, err := hcl.Parse(ev.HCLReport)
		if err != nil {
			t.Fatal(err)
		}
		rd := f(t, bytes.Clone(r.RuntimeDataRaw))
		if bytes.Equal(rd, r.RuntimeDataRaw) {
			t.Fatal("runtime data edit changed nothing")
		}
		r.RuntimeDataRaw = rd
		if ev.HCLReport, err = r.Marshal(); err != nil {
			t.Fatal(err)
		}
		return true
	}
}

// flipUserData changes one character of the runtime data's "user-data"
// (a digit's bit 0, a letter's case): the JSON stays valid.
func flipUserData(t *testing.T, rd []byte) []byte {
	i := bytes.Index(rd, []byte(`"user-data":"`))
	if i < 0 {
		t.Fatal("no user-data in the runtime data")
	}
	i += len(`"user-data":"`)
	if rd[i] >= '0' && rd[i] <= '9' {
		rd[i] ^= 1
	} else {
		rd[i] ^= 0x20
	}
	return rd
}

// editPCRs returns an edit of the PCR values (false when there are none).
func editPCRs(f func(pcrs [][]byte) [][]byte) func(*testing.T, *evidence.Evidence) bool {
	return func(_ *testing.T, ev *evidence.Evidence) bool {
		if ev.Quote.PCRs == nil {
			return false
		}
		ev.Quote.PCRs = f(ev.Quote.PCRs)
		return true
	}
}

// swapDiffering swaps the values of the first two PCRs that differ.
func swapDiffering(pcrs [][]byte) [][]byte {
	for j := 1; j < len(pcrs); j++ {
		if !bytes.Equal(pcrs[0], pcrs[j]) {
			pcrs[0], pcrs[j] = pcrs[j], pcrs[0]
			return pcrs
		}
	}
	panic("all PCRs equal")
}

// truncate returns an edit cutting one byte off the member part selects.
func truncate(part func(*evidence.Evidence) *[]byte) func(*testing.T, *evidence.Evidence) bool {
	return func(_ *testing.T, ev *evidence.Evidence) bool {
		p := part(ev)
		if len(*p) == 0 {
			return false
		}
		*p = (*p)[:len(*p)-1]
		return true
	}
}

// truncateSigned returns an edit cutting the member part selects to one
// byte less than end(member): the end of what it says (the unsigned zero
// padding after it may be shorter, TestMetamorphicEncodings).
func truncateSigned(part func(*evidence.Evidence) *[]byte, end func(*testing.T, []byte) int) func(*testing.T, *evidence.Evidence) bool {
	return func(t *testing.T, ev *evidence.Evidence) bool {
		p := part(ev)
		if len(*p) == 0 {
			return false
		}
		*p = (*p)[:end(t, *p)-1]
		return true
	}
}

// signedEnd is the end of a TD quote without the zero bytes Azure appends
// (tdx.Quote.Trailing).
func signedEnd(_ *testing.T, q []byte) int { return len(bytes.TrimRight(q, "\x00")) }

// encodeLoose writes ev as v1/v2 JSON as it is, sizes unchecked
// (Evidence.Encode refuses PCRs of another size): what an attester could
// send.
func encodeLoose(t *testing.T, ev *evidence.Evidence) []byte {
	b64 := base64.URLEncoding.EncodeToString
	q := map[string]any{"signature": hex.EncodeToString(ev.Quote.Signature), "message": hex.EncodeToString(ev.Quote.Message)}
	if ev.Quote.PCRs != nil {
		pcrs := make([]string, len(ev.Quote.PCRs))
		for i, p := range ev.Quote.PCRs {
			pcrs[i] = hex.EncodeToString(p)
		}
		q["pcrs"] = pcrs
	}
	m := map[string]any{"version": max(ev.Version, 1), "tpm_quote": q, "hcl_report": b64(ev.HCLReport)}
	if ev.VCEK != nil {
		m["vcek"] = b64(ev.VCEK)
	}
	if ev.TDQuote != nil {
		m["td_quote"] = b64(ev.TDQuote)
	}
	return testutil.MarshalJSON(t, m)
}

// Offsets of MRTD in a TDREPORT (REPORTMACSTRUCT 256, TEE_TCB_INFO 239,
// reserved 17, then TDINFO: ATTRIBUTES, XFAM, MRTD) and in a TD quote (the
// 48-byte header, then the body: TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM,
// SEAMATTRIBUTES, TDATTRIBUTES, XFAM, MRTD).
const (
	tdReportMRTD = 256 + 239 + 17 + 8 + 8
	tdQuoteMRTD  = 48 + 16 + 48 + 48 + 8 + 8 + 8
)

func metaChanges(t *testing.T) []metaChange {
	hclRef := func(ev *evidence.Evidence) *[]byte { return &ev.HCLReport }
	pcr := func(i int) func(*evidence.Evidence) *[]byte {
		return func(ev *evidence.Evidence) *[]byte { return &ev.Quote.PCRs[i] }
	}
	dropLast := func(n []byte) []byte { return n[:len(n)-1] }
	return []metaChange{
		{name: "SNP report body: one bit of MEASUREMENT", want: verify.CheckReportSignature,
			edit: flipAt(snpHCL, at(hcl.OffsetHardware+snp.OffsetMeasurement))},
		{name: "SNP report body: one bit of REPORT_DATA", want: verify.CheckReportSignature,
			edit: flipAt(snpHCL, at(hcl.OffsetHardware+snp.OffsetReportData))},
		{name: "TDREPORT: one bit of MRTD", wantTDX: verify.CheckTDXBinding,
			edit: flipAt(tdxHCL, at(hcl.OffsetHardware+tdReportMRTD))},
		{name: "TD quote body: one bit of MRTD", wantTDX: verify.CheckTDXQuoteSignature, edit: flipAt(tdPart, at(tdQuoteMRTD))},
		{name: "quote message: one bit in the middle", want: verify.CheckQuoteSignature, wantTDX: verify.CheckQuoteSignature,
			edit: flipAt(msgPart, middle)},
		{name: "quote message: one bit of the PCR digest", want: verify.CheckQuoteSignature, wantTDX: verify.CheckQuoteSignature,
			edit: flipAt(msgPart, last)},
		{name: "runtime data: one character of user-data", want: verify.CheckRuntimeData, wantTDX: verify.CheckRuntimeData,
			edit: editRuntimeData(flipUserData)},
		{name: "runtime data: members reversed (same JSON, other bytes)", want: verify.CheckRuntimeData, wantTDX: verify.CheckRuntimeData,
			edit: editRuntimeData(func(t *testing.T, rd []byte) []byte { return jsonEdit{reverse: true}.apply(t, rd) })},
		{name: "runtime data: re-indented (same JSON, other bytes)", want: verify.CheckRuntimeData, wantTDX: verify.CheckRuntimeData,
			edit: editRuntimeData(func(t *testing.T, rd []byte) []byte { return jsonEdit{ws: "\n"}.apply(t, rd) })},
		{name: "VCEK TBSCertificate: one bit of the subject", want: verify.CheckVCEKChain, edit: flipAt(vcekPart, inVCEKSubject(t))},
		{name: "two PCR values swapped", want: verify.CheckPCRDigest, wantTDX: verify.CheckPCRDigest, edit: editPCRs(swapDiffering)},
		{name: "selected PCR 23 dropped", want: verify.CheckQuoteFormat, wantTDX: verify.CheckQuoteFormat,
			edit: editPCRs(func(p [][]byte) [][]byte { return p[:len(p)-1] })},
		{name: "PCR 0 of the SHA-1 bank (20 bytes)", want: verify.CheckQuoteFormat, wantTDX: verify.CheckQuoteFormat,
			wantJSON: verify.CheckEvidenceFormat, edit: editPCRs(func(p [][]byte) [][]byte { p[0] = p[0][:20]; return p })},
		{name: "PCR 0 of the SHA-384 bank (48 bytes)", want: verify.CheckQuoteFormat, wantTDX: verify.CheckQuoteFormat,
			wantJSON: verify.CheckEvidenceFormat, edit: editPCRs(func(p [][]byte) [][]byte { p[0] = append(p[0], make([]byte, 16)...); return p })},
		{name: "nonce: last byte plus one", want: verify.CheckNonce, wantTDX: verify.CheckNonce,
			nonce: func(n []byte) []byte { n[len(n)-1]++; return n }},
		{name: "nonce: one byte short", want: verify.CheckNonce, wantTDX: verify.CheckNonce, nonce: dropLast},
		{name: "nonce: one byte more", want: verify.CheckNonce, wantTDX: verify.CheckNonce,
			nonce: func(n []byte) []byte { return append(n, 0) }},
		{name: "truncated: HCL report, into its runtime data", want: verify.CheckHCLFormat, wantTDX: verify.CheckHCLFormat,
			edit: truncateSigned(hclRef, func(t *testing.T, b []byte) int {
				r, err := hcl.Parse(b)
				if err != nil {
					t.Fatal(err)
				}
				return hcl.RuntimeDataOffset + len(r.RuntimeDataRaw)
			})},
		{name: "truncated: quote message", want: verify.CheckQuoteFormat, wantTDX: verify.CheckQuoteFormat,
			edit: truncate(func(ev *evidence.Evidence) *[]byte { return &ev.Quote.Message })},
		{name: "truncated: quote signature", want: verify.CheckQuoteSignature, wantTDX: verify.CheckQuoteSignature,
			edit: truncate(func(ev *evidence.Evidence) *[]byte { return &ev.Quote.Signature })},
		{name: "truncated: VCEK", want: verify.CheckVCEKFormat, edit: truncate(func(ev *evidence.Evidence) *[]byte { return &ev.VCEK })},
		{name: "truncated: PCR 5", want: verify.CheckQuoteFormat, wantTDX: verify.CheckQuoteFormat, wantJSON: verify.CheckEvidenceFormat,
			edit: func(t *testing.T, ev *evidence.Evidence) bool { return ev.Quote.PCRs != nil && truncate(pcr(5))(t, ev) }},
		{name: "truncated: TD quote, into its signed data", wantTDX: verify.CheckTDXQuoteFormat,
			edit: truncateSigned(func(ev *evidence.Evidence) *[]byte { return &ev.TDQuote }, signedEnd)},
	}
}

// TestMetamorphicMeaningChanges: every real evidence fixture with one
// change of meaning (one bit in each signed or bound region, PCR values
// swapped, dropped or of another bank, another nonce, runtime data whose
// bytes differ though its JSON means the same, each variable-length member
// cut short) is rejected, by the check that names the change, both as
// decoded evidence and encoded and read back.
func TestMetamorphicMeaningChanges(t *testing.T) {
	applied := map[string]int{}
	for _, fx := range metaFixtures(t) {
		for _, mc := range metaChanges(t) {
			want := mc.want
			if fx.tdx {
				want = mc.wantTDX
			}
			ev, nonce := decode(t, fx.doc), bytes.Clone(fx.nonce)
			if want == "" || (mc.edit != nil && !mc.edit(t, ev)) {
				continue
			}
			if mc.nonce != nil {
				nonce = mc.nonce(nonce)
			}
			applied[mc.name]++
			t.Run(fx.name+"/"+mc.name, func(t *testing.T) {
				if got := verifyEv(t, fx, ev, nonce); got.check != want {
					t.Errorf("decoded: %v, want a rejection by %s", got, want)
				}
				wantJSON := want
				if mc.wantJSON != "" {
					wantJSON = mc.wantJSON
				}
				if got := verifyDoc(t, fx, encodeLoose(t, ev), nonce, false); got.check != wantJSON {
					t.Errorf("encoded: %v, want a rejection by %s", got, wantJSON)
				}
			})
		}
	}
	for _, mc := range metaChanges(t) {
		if applied[mc.name] == 0 {
			t.Errorf("change %q applied to no fixture", mc.name)
		}
	}
}

// TestMetamorphicStrictness: encodings that the formats do not allow,
// though a lenient reader could take them for the same bytes, are
// rejected as evidence-format (the evidence package documentation:
// "base64url ... must be canonical", line breaks rejected; "version" 1 or
// 2; v0 byte arrays of integers "without fraction, exponent or sign").
func TestMetamorphicStrictness(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, doc []byte) []byte
	}{
		{"standard base64 alphabet (+/) instead of base64url", strEdit(b64Paths, true, func(s []byte) []byte {
			return []byte(strings.NewReplacer("-", "+", "_", "/").Replace(string(s)))
		})},
		{"base64url with a line break", strEdit(map[string]bool{".hcl_report": true}, true, func(s []byte) []byte {
			return slices.Concat(s[:77], []byte(`\n`), s[77:])
		})},
		{"version 1.0", func(_ *testing.T, doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"version":1`), []byte(`"version":1.0`), 1)
		}},
		{"version as a string", func(_ *testing.T, doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"version":1`), []byte(`"version":"1"`), 1)
		}},
		{"v0 byte written 1e0", func(_ *testing.T, doc []byte) []byte {
			return bytes.Replace(toV0(t, doc), []byte(`"message":[255,`), []byte(`"message":[255e0,`), 1)
		}},
	}
	for _, fx := range metaFixtures(t) {
		ev := decode(t, fx.doc)
		if ev.Version != 1 {
			continue
		}
		compact := encode(t, ev)
		for _, c := range cases {
			t.Run(fx.name+"/"+c.name, func(t *testing.T) {
				doc := c.edit(t, compact)
				if bytes.Equal(doc, compact) {
					t.Fatal("the edit changed nothing")
				}
				if got := verifyDoc(t, fx, doc, fx.nonce, false); got.check != verify.CheckEvidenceFormat {
					t.Errorf("%v, want a rejection by %s", got, verify.CheckEvidenceFormat)
				}
			})
		}
	}
}

// reportClaims are the claims of a verified SNP report that every stored
// form of it (HCL report, 1204 and 1184 bytes) must agree on.
func reportClaims(c *verify.Claims) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s %s chip %x meas %x rd %x tcb %+v vmpl %d debug %v paravisor %s", c.Product, c.SigningKey,
		[]byte(c.ChipID), []byte(c.Measurement), []byte(c.ReportData), c.ReportedTCB, c.VMPL, c.Debug, c.Paravisor)
}

// TestMetamorphicReportForms: a real report verifies the same in each
// stored form Verifier.Report reads: the HCL report, its bytes 32..1236
// (the SNP report and IGVM request header: the 1204-byte form), and the
// 1184-byte SNP report alone. The 1204- and 1184-byte forms give identical
// claims; the HCL form the same report claims; a rejection is by the same
// check. A 1204-byte form whose header says TDX is hcl-report-format.
func TestMetamorphicReportForms(t *testing.T) {
	type form struct{ name, hcl, cert string }
	forms := []form{
		{"trustee hcl-report.bin", testutil.SNPDir + "hcl-report.bin", testutil.SNPDir + "vcek.pem"},
		{"signal-svr2 HCL report", "signal-svr2/azure-hcl-report.bin", "signal-svr2/azure-vcek.der"},
		{"azure-cvm-tooling HCL report, another chip's VCEK", "azure-cvm-tooling/hcl-report-snp.bin", "azure-cvm-tooling/certs.pem"},
		{"genxt-confido HCL report, no VCEK", "genxt-confido/hcl-report.bin", ""},
		{"azure-guest-attestation 2022 HCL report, no VCEK", "azure-guest-attestation/hcl-report-2022.bin", ""},
	}
	cfg := verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Disable: true}}
	v := newVerifier(t, cfg)
	check := func(t *testing.T, blob, vcek []byte) (verdict, string) {
		c, err := v.Report(context.Background(), blob, vcek)
		return verdictOf(t, c, err, false), reportClaims(c)
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			blob, vcek := testutil.ReadFile(t, f.hcl), certDER(t, f.cert)
			whole, wholeClaims := check(t, blob, vcek)
			stored, storedClaims := check(t, blob[hcl.OffsetHardware:hcl.RuntimeDataOffset], vcek)
			bare, bareClaims := check(t, blob[hcl.OffsetHardware:hcl.OffsetHardware+snp.ReportSize], vcek)
			if whole.bad != "" || stored != bare || whole.check != bare.check || wholeClaims != bareClaims || storedClaims != bareClaims {
				t.Fatalf("HCL %v, 1204 bytes %v, 1184 bytes %v\n%s\n%s\n%s", whole, stored, bare, wholeClaims, storedClaims, bareClaims)
			}
			tdxHeader := bytes.Clone(blob[hcl.OffsetHardware:hcl.RuntimeDataOffset])
			tdxHeader[hcl.OffsetReportType-hcl.OffsetHardware] = byte(hcl.ReportTypeTDX)
			if got, _ := check(t, tdxHeader, vcek); got.check != verify.CheckHCLFormat {
				t.Errorf("1204 bytes whose header says TDX: %v", got)
			}
		})
	}
	// constellation's 1204-byte file is the stored form of a report whose HCL report is not there.
	stored := testutil.ReadFile(t, "constellation/azure-snp-report-1204.bin")
	vcek := certDER(t, "constellation/azure-vcek-thim.der")
	a, ac := check(t, stored, vcek)
	b, bc := check(t, stored[:snp.ReportSize], vcek)
	if a.claims == "" || a != b || ac != bc {
		t.Errorf("constellation 1204 bytes %v, 1184 bytes %v", a, b)
	}
}
