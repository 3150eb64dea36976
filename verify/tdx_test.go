package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

const tdxDir = testutil.TDXDir

const trusteeMRTD = "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b"

func tdxOpts() verify.Config { return verify.Config{Now: testutil.TDXFixtureTime()} }

// tdxWith returns trustee's v1 TDX evidence with edit applied.
func tdxWith(t *testing.T, edit func(ev *evidence.Evidence)) []byte {
	t.Helper()
	ev := decode(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json"))
	edit(ev)
	return encode(t, ev)
}

// tdxVerify verifies data with cfg and the nonce of the real evidence.
func tdxVerify(t *testing.T, data []byte, cfg verify.Config) (*verify.Claims, error) {
	t.Helper()
	nonce := quotedNonce(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json"))
	return newVerifier(t, cfg).Evidence(context.Background(), data, nonce)
}

// TestTDXRealEvidence: trustee's Azure TDX evidence v0 and v1 verify at a
// pinned time, with the TDX claims.
func TestTDXRealEvidence(t *testing.T) {
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json"} {
		t.Run(f, func(t *testing.T) {
			c, err := tdxVerify(t, testutil.ReadFile(t, tdxDir+f), tdxOpts())
			if err != nil {
				t.Fatal(err)
			}
			x := c.TDX
			if c.Platform != verify.PlatformTDX || x == nil {
				t.Fatalf("platform %q, tdx %v", c.Platform, x)
			}
			if x.MRTD.String() != trusteeMRTD || x.FMSPC.String() != "00806f050000" ||
				x.PCESVN != 11 || x.QESVN != 5 || x.TCBStatus != verify.TCBNotEvaluated {
				t.Errorf("tdx claims %+v", x)
			}
			if x.TEETCBSVN.String() != "02010600000000000000000000000000" || x.XFAM.String() != "e718060000000000" {
				t.Errorf("tee_tcb_svn %s xfam %s", x.TEETCBSVN, x.XFAM)
			}
			if c.Paravisor != verify.ParavisorAzure || c.Debug || !c.NonceChecked || len(c.PCRs) != 24 || len(c.AKPublic) == 0 || c.VMConfig == nil || !c.PinnedRoots {
				t.Errorf("paravisor %q debug %v nonce %v pcrs %d vmconfig %v", c.Paravisor, c.Debug, c.NonceChecked, len(c.PCRs), c.VMConfig)
			}
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Platform string `json:"platform"`
				TDX      struct {
					RTMR      []string `json:"rtmr"`
					TCBStatus string   `json:"tcb_status"`
					MRTD      string   `json:"mr_td"`
				} `json:"tdx"`
			}
			if err := json.Unmarshal(js, &m); err != nil || m.Platform != "tdx" || len(m.TDX.RTMR) != 4 || m.TDX.TCBStatus != "not-evaluated" || m.TDX.MRTD != trusteeMRTD {
				t.Errorf("JSON %s (%v)", js, err)
			}
		})
	}
}

// TestSNPPlatformClaim: SNP evidence says so.
func TestSNPPlatformClaim(t *testing.T) {
	re := realEvidences(t)[0]
	c, err := verify.Evidence(context.Background(), re.data, re.nonce, fixedOpts())
	if err != nil || c.Platform != verify.PlatformSNP || c.TDX != nil {
		t.Fatalf("%v %+v", err, c)
	}
}

// tdQuoteEdit edits the TD quote of trustee's TDX evidence.
type tdQuoteEdit struct {
	name string
	edit func(t *testing.T, q *tdx.Quote)
	want verify.Check
}

// tdQuoteEdits changes every signed region of the TD quote.
func tdQuoteEdits() []tdQuoteEdit {
	edits := []tdQuoteEdit{
		{"header.qe_svn", func(_ *testing.T, q *tdx.Quote) { q.Header.QESVN ^= 1 }, verify.CheckTDXQuoteSignature},
		{"header.pce_svn", func(_ *testing.T, q *tdx.Quote) { q.Header.PCESVN ^= 1 }, verify.CheckTDXQuoteSignature},
		{"header.user_data", func(_ *testing.T, q *tdx.Quote) { q.Header.UserData[0] ^= 1 }, verify.CheckTDXQuoteSignature},
		{"header.version", func(_ *testing.T, q *tdx.Quote) { q.Header.Version = 5 }, verify.CheckTDXQuoteFormat},
		{"signature", func(_ *testing.T, q *tdx.Quote) { q.Signature[63] ^= 1 }, verify.CheckTDXQuoteSignature},
		{"attestation key", func(_ *testing.T, q *tdx.Quote) { q.AttestationKey[0] ^= 1 }, verify.CheckTDXQEReport},
		{"QE report", func(_ *testing.T, q *tdx.Quote) { q.QEReport[0] ^= 1 }, verify.CheckTDXQEReport},
		{"QE report signature", func(_ *testing.T, q *tdx.Quote) { q.QEReportSignature[0] ^= 1 }, verify.CheckTDXQEReport},
		{"QE auth data", func(_ *testing.T, q *tdx.Quote) { q.QEAuthData[31] ^= 1 }, verify.CheckTDXQEReport},
	}
	for i := range 3 {
		edits = append(edits, tdQuoteEdit{"PCK chain certificate " + string(rune('0'+i)), func(t *testing.T, q *tdx.Quote) {
			q.PCKChain = testutil.FlipInCertificate(t, q.PCKChain, i)
		}, verify.CheckTDXPCKChain})
	}
	var probe tdx.Body
	for _, f := range probe.Fields() {
		edits = append(edits, tdQuoteEdit{"body." + f.Name, func(_ *testing.T, q *tdx.Quote) {
			for _, g := range q.Body.Fields() {
				if g.Name == f.Name {
					g.Bytes[0] ^= 1
				}
			}
		}, verify.CheckTDXQuoteSignature})
	}
	return edits
}

// TestTDXTamperedQuote: every signed region of the TD quote, changed, is
// rejected by the named check.
func TestTDXTamperedQuote(t *testing.T) {
	for _, e := range tdQuoteEdits() {
		t.Run(e.name, func(t *testing.T) {
			c, err := tdxVerify(t, e.evidence(t), tdxOpts())
			wantOutcome(t, c, err, e.want)
		})
	}
}

// evidence returns trustee's v1 TDX evidence with e applied to its TD
// quote.
func (e tdQuoteEdit) evidence(t *testing.T) []byte {
	return tdxWith(t, func(ev *evidence.Evidence) {
		q, err := tdx.ParseQuote(ev.TDQuote)
		if err != nil {
			t.Fatal(err)
		}
		e.edit(t, q)
		ev.TDQuote = q.Marshal()
	})
}

// TestTDXBinding: every TDREPORT field that the quote repeats, changed in
// the HCL report, is a tdx-binding failure (before anything is read from
// the unsigned TDREPORT).
func TestTDXBinding(t *testing.T) {
	var probe tdx.Body
	for _, f := range probe.Fields() {
		t.Run(f.Name, func(t *testing.T) {
			data := tdxWith(t, func(ev *evidence.Evidence) {
				ev.HCLReport[hcl.OffsetHardware+f.TDReportOffset+len(f.Bytes)-1] ^= 1
			})
			c, err := tdxVerify(t, data, tdxOpts())
			wantOutcome(t, c, err, verify.CheckTDXBinding)
		})
	}
}

// TestTDXRejections: the other ways TDX evidence is rejected.
func TestTDXRejections(t *testing.T) {
	otherMRTD := bytes.Repeat([]byte{0xab}, 48)
	trustee := verify.DefaultTDXParavisors()[0].Digest[:] // trustee's MRTD
	snpHCL := testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin")
	tests := []struct {
		name string
		data []byte
		cfg  func(*verify.Config)
		want verify.Check
	}{
		{"MRTD outside the policy's list", tdxWith(t, func(*evidence.Evidence) {}), func(c *verify.Config) { c.Policy.TDXMRTDs = []verify.HexBytes{otherMRTD} }, verify.CheckParavisorIdentity},
		{"MRTD in the policy's list", tdxWith(t, func(*evidence.Evidence) {}), func(c *verify.Config) { c.Policy.TDXMRTDs = []verify.HexBytes{otherMRTD, trustee} }, ""},
		{"SNP HCL report with a TD quote", tdxWith(t, func(ev *evidence.Evidence) { ev.HCLReport = snpHCL }), nil, verify.CheckReportType},
		{"TD quote truncated", tdxWith(t, func(ev *evidence.Evidence) { ev.TDQuote = ev.TDQuote[:700] }), nil, verify.CheckTDXQuoteFormat},
		{"TDREPORT type", tdxWith(t, func(ev *evidence.Evidence) { ev.HCLReport[hcl.OffsetHardware] = 0 }), nil, verify.CheckTDReportFormat},
		{"PCK expired", tdxWith(t, func(*evidence.Evidence) {}), func(c *verify.Config) { c.Now = time.Date(2030, 9, 14, 0, 0, 0, 0, time.UTC) }, verify.CheckTDXPCKChain},
		{"runtime data changed", tdxWith(t, func(ev *evidence.Evidence) {
			i := bytes.Index(ev.HCLReport, []byte(`"vmUniqueId":"`)) + len(`"vmUniqueId":"`)
			ev.HCLReport[i] = map[bool]byte{true: '1', false: '0'}[ev.HCLReport[i] == '0']
		}), nil, verify.CheckRuntimeData},
		{"TPM quote of another VM", tdxWith(t, func(ev *evidence.Evidence) {
			ev.Quote = decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")).Quote
		}), nil, verify.CheckQuoteSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tdxOpts()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c, err := tdxVerify(t, tt.data, cfg)
			wantOutcome(t, c, err, tt.want)
			var ue *verify.UntrustedParavisorError
			if tt.want == verify.CheckParavisorIdentity && (!errors.As(err, &ue) || !ue.TDX || !strings.Contains(err.Error(), "tdx_mr_tds")) {
				t.Errorf("error %v does not say how to trust an MRTD", err)
			}
		})
	}
}

// TestDefaultTDXParavisors: the default MRTDs are those of the real
// samples, and each real TDREPORT or quote carries one of them.
func TestDefaultTDXParavisors(t *testing.T) {
	ds := verify.DefaultTDXParavisors()
	if len(ds) != 8 {
		t.Fatalf("%d defaults", len(ds))
	}
	seen := map[[48]byte]bool{}
	for _, d := range ds {
		seen[d.Digest] = d.Name == verify.ParavisorAzure
	}
	ds[0].Digest[0] ^= 0xFF
	if again := verify.DefaultTDXParavisors(); again[0].Digest == ds[0].Digest || !seen[again[0].Digest] {
		t.Error("DefaultTDXParavisors shares state between calls")
	}
	for _, f := range []string{tdxDir + "hcl-report.bin", "azure-cvm-tooling/hcl-report-tdx.bin"} {
		r, err := tdx.ParseTDReport(testutil.ReadFile(t, f)[hcl.OffsetHardware : hcl.OffsetHardware+tdx.TDReportSize])
		if err != nil || !seen[r.Body.MRTD] {
			t.Errorf("%s: MRTD not a default (%v)", f, err)
		}
	}
	for _, f := range []string{"intel-collateral/azure-tdx-quote-teekit.bin", "azure-cvm-attestation-tools/td-quote-v4.bin",
		"azure-cvm-attestation-tools/td-quote-v5.bin", "ita-aztdx/td-quote.bin", "flashbots-azure-tdx/td-quote-1764662251.bin",
		"flashbots-azure-tdx/td-quote-1780922561.bin"} {
		q, err := tdx.ParseQuote(testutil.ReadFile(t, f))
		if err != nil || !seen[q.Body.MRTD] {
			t.Errorf("%s: MRTD not a default (%v)", f, err)
		}
	}
}

// resigned returns trustee's TDX evidence whose TD quote (with edit
// applied to it) is signed by a self-made Intel-like chain, and that
// chain's root.
func resigned(t *testing.T, edit func(q *tdx.Quote)) ([]byte, *x509.Certificate) {
	f := tdxtest.New(t)
	return resignedBy(t, f, edit), f.Root
}

// resignedBy returns trustee's TDX evidence whose TD quote (with edit
// applied to it) is signed by f.
func resignedBy(t *testing.T, f *tdxtest.FakeIntel, edit func(q *tdx.Quote)) []byte {
	return tdxWith(t, func(ev *evidence.Evidence) {
		q, err := tdx.ParseQuote(ev.TDQuote)
		if err != nil {
			t.Fatal(err)
		}
		edit(q)
		f.Sign(t, q)
		ev.TDQuote = q.Marshal()
	})
}

// TestTDXSelfMadeRoot: a TD quote under a root with Intel's subject but
// another key is rejected by tdx-pck-chain; trusted (a test hook), the
// same evidence verifies, so the pinned root is what rejected it.
func TestTDXSelfMadeRoot(t *testing.T) {
	data, root := resigned(t, func(*tdx.Quote) {})
	c, err := tdxVerify(t, data, tdxOpts())
	wantOutcome(t, c, err, verify.CheckTDXPCKChain)
	c, err = verifyUnder(t, tdxOpts(), root, data)
	if err != nil || c.PinnedRoots {
		t.Fatalf("under its own root: %v (pinned %v)", err, c != nil && c.PinnedRoots)
	}
}

// TestTDXDebug: a TD with TDATTRIBUTES.DEBUG is rejected by debug-policy
// unless the policy allows debugging (then the claims say so).
func TestTDXDebug(t *testing.T) {
	data, root := resignedTDAttributes(t, func(a *[8]byte) { a[0] |= 1 })
	checkDebugPolicy(t, data, root, verify.CheckDebug, true, []byte{1, 0, 0, 0, 0, 0, 0, 0})
}

// verifyUnder verifies data with cfg, trusting root instead of Intel's
// pinned root.
func verifyUnder(t *testing.T, cfg verify.Config, root *x509.Certificate, data []byte) (*verify.Claims, error) {
	t.Helper()
	v := newVerifier(t, cfg)
	verify.SetTDXRootForTest(v, root)
	return v.Evidence(context.Background(), data, quotedNonce(t, data))
}

// resignedTDAttributes returns trustee's TDX evidence whose TD quote and
// TDREPORT both have their TDATTRIBUTES edited by edit (the TDREPORT must
// say the same, or tdx-binding rejects first), the quote signed again by
// a self-made chain, and that chain's root.
func resignedTDAttributes(t *testing.T, edit func(a *[8]byte)) ([]byte, *x509.Certificate) {
	t.Helper()
	data, root := resigned(t, func(q *tdx.Quote) { edit(&q.Body.TDAttributes) })
	ev := decode(t, data)
	edit((*[8]byte)(ev.HCLReport[hcl.OffsetHardware+512:]))
	return encode(t, ev), root
}

// checkDebugPolicy verifies data under root with allow_debug off, wanting
// the outcome want ("" for verified), and on, wanting it verified with
// claims whose Debug is debug and whose TDAttributes are attrs.
func checkDebugPolicy(t *testing.T, data []byte, root *x509.Certificate, want verify.Check, debug bool, attrs []byte) {
	t.Helper()
	for _, allow := range []bool{false, true} {
		cfg := tdxOpts()
		cfg.Policy.AllowDebug = allow
		c, err := verifyUnder(t, cfg, root, data)
		if !allow {
			wantOutcome(t, c, err, want)
			continue
		}
		if err != nil || c.Debug != debug || !bytes.Equal(c.TDX.TDAttributes, attrs) {
			t.Fatalf("allow_debug: %v, claims %+v", err, c)
		}
	}
}

// TestTDXModuleNotIntels: TDX evidence whose signed TD quote body, and
// the TDREPORT it is bound to, name a TDX module that is not Intel's
// production module (MRSIGNERSEAM or SEAMATTRIBUTES not zero) is rejected
// by tdx-module without Intel's collateral: the quote's signatures hold,
// the binding holds, and this used to verify.
func TestTDXModuleNotIntels(t *testing.T) {
	for _, tt := range []struct {
		field string
		at    int // the byte of the field to set
		want  verify.Check
	}{
		{"MRSIGNERSEAM", 0, verify.CheckTDXModule},
		{"MRSIGNERSEAM", 47, verify.CheckTDXModule},
		{"SEAMATTRIBUTES", 0, verify.CheckTDXModule},
		{"MRSEAM", 0, ""}, // Intel's TCB status to judge, with collateral
	} {
		t.Run(fmt.Sprintf("%s[%d]", tt.field, tt.at), func(t *testing.T) {
			tdOff := -1
			data, root := resigned(t, func(q *tdx.Quote) {
				for _, f := range q.Body.Fields() {
					if f.Name == tt.field {
						f.Bytes[tt.at] ^= 0x5a
						tdOff = f.TDReportOffset + tt.at
					}
				}
			})
			if tdOff < 0 {
				t.Fatalf("no field %s", tt.field)
			}
			// The TDREPORT must say the same, or tdx-binding rejects.
			ev := decode(t, data)
			ev.HCLReport[hcl.OffsetHardware+tdOff] ^= 0x5a
			data = encode(t, ev)
			c, err := verifyUnder(t, tdxOpts(), root, data)
			wantOutcome(t, c, err, tt.want)
		})
	}
}

// TestTDXRogueQuotingEnclave: TDX evidence whose TD quote is signed by an
// attestation key that the PCK certified for an enclave other than Intel's
// TD quoting enclave (or for Intel's in DEBUG mode) is rejected by
// tdx-qe-identity, without Intel's collateral too: such an enclave can
// sign a quote of any TD body (Azure's MRTD, the REPORTDATA of runtime
// data naming its own AK). Signed by a self-made chain trusted as the
// root, so that the QE report's content is all that differs.
func TestTDXRogueQuotingEnclave(t *testing.T) {
	tests := []struct {
		name string
		edit func(q *tdx.Quote)
		want verify.Check
	}{
		{"Intel's TD QE", func(*tdx.Quote) {}, ""},
		{"enclave of another signer", func(q *tdx.Quote) { q.QEReport[128+31] ^= 1 }, verify.CheckTDXQEIdentity},
		{"Intel's SGX QE (ISVPRODID 1)", func(q *tdx.Quote) { q.QEReport[256] = 1 }, verify.CheckTDXQEIdentity},
		{"Intel's TD QE in DEBUG mode", func(q *tdx.Quote) { q.QEReport[48] |= 2 }, verify.CheckTDXQEIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, root := resigned(t, tt.edit)
			for _, allowDebug := range []bool{false, true} {
				cfg := tdxOpts()
				cfg.Policy.AllowDebug = allowDebug // the TD's debug policy, not the QE's
				c, err := verifyUnder(t, cfg, root, data)
				wantOutcome(t, c, err, tt.want)
			}
		})
	}
}

// TestTDXUnderDebug: a TD with any bit of TDATTRIBUTES 7:0 set (Intel's
// "TD under debug" group: DEBUG, the reserved future debug flags, and in
// TDX 1.5 host profiling of the TD) is rejected by debug-policy unless the
// policy allows debugging; the other attributes (Azure's SEPT_VE_DISABLE)
// are not. Only DEBUG itself makes the claims say debug.
func TestTDXUnderDebug(t *testing.T) {
	tests := []struct {
		name  string
		attrs [8]byte // little-endian TDATTRIBUTES
		want  verify.Check
		debug bool
	}{
		{"SEPT_VE_DISABLE (Azure's)", [8]byte{3: 0x10}, "", false},
		{"DEBUG", [8]byte{0: 1}, verify.CheckDebug, true},
		{"reserved TUD flag (bit 1)", [8]byte{0: 1 << 1}, verify.CheckDebug, false},
		{"reserved TUD flag (bit 3)", [8]byte{0: 1 << 3}, verify.CheckDebug, false},
		{"PERF_PROF (bit 5)", [8]byte{0: 1 << 5, 3: 0x10}, verify.CheckDebug, false},
		{"bit 7", [8]byte{0: 1 << 7}, verify.CheckDebug, false},
		{"PERFMON (bit 63)", [8]byte{7: 0x80}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, root := resignedTDAttributes(t, func(a *[8]byte) { *a = tt.attrs })
			checkDebugPolicy(t, data, root, tt.want, tt.debug, tt.attrs[:])
		})
	}
}

// TestForge30TDXEvidenceWithVCEK: TDX evidence names its hardware report's
// signer by its TD quote; a "vcek" member (an SEV-SNP member) beside it is
// evidence of the other platform's shape.
func TestForge30TDXEvidenceWithVCEK(t *testing.T) {
	snpVCEK := decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")).VCEK
	for name, vcek := range map[string][]byte{
		"a real SEV-SNP VCEK": snpVCEK,
		"garbage":             bytes.Repeat([]byte("attacker bytes "), 1000),
	} {
		t.Run(name, func(t *testing.T) {
			// Encode refuses to write it: the member is added to the text.
			real := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
			i := bytes.LastIndexByte(real, '}')
			data := append(append(bytes.Clone(real[:i]), `,"vcek":"`+base64.URLEncoding.EncodeToString(vcek)+`"`...), real[i:]...)
			v := newVerifier(t, tdxOpts())
			nonce := quotedNonce(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json"))
			_, err := v.Evidence(context.Background(), data, nonce)
			wantCheck(t, err, verify.CheckEvidenceFormat)
			if s := v.Stats().Evidence; s.Entries != 0 {
				t.Fatalf("the decoder remembers %d fields (%d bytes) of rejected evidence", s.Entries, s.Bytes)
			}
		})
	}
}

// TestDecodedTDXEvidenceWithVCEK: Decoded, given an Evidence the caller
// built with a TD quote and a VCEK, refuses it as Decode refuses the
// document (evidence-format, the same *format.Error naming vcek); it
// verified before, the VCEK read by nothing. Without the VCEK the same
// evidence verifies.
func TestDecodedTDXEvidenceWithVCEK(t *testing.T) {
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	nonce := quotedNonce(t, data)
	ev := decode(t, data)
	v := newVerifier(t, tdxOpts())
	if _, err := v.Decoded(context.Background(), ev, nonce); err != nil {
		t.Fatalf("the TDX evidence without a VCEK: %v", err)
	}
	ev.VCEK = decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")).VCEK
	_, err := v.Decoded(context.Background(), ev, nonce)
	wantCheck(t, err, verify.CheckEvidenceFormat)
	fe, ok := errors.AsType[*format.Error](err)
	if !ok || fe.Field != "vcek" || !errors.Is(err, format.ErrUnexpectedField) {
		t.Fatalf("err = %v, want the *format.Error of vcek (unexpected field)", err)
	}
	// The document with both members: Decode's error, the same one.
	i := bytes.LastIndexByte(data, '}')
	doc := append(append(bytes.Clone(data[:i]), `,"vcek":"`+base64.URLEncoding.EncodeToString(ev.VCEK)+`"`...), data[i:]...)
	if _, derr := v.Evidence(context.Background(), doc, nonce); derr == nil || derr.Error() != err.Error() {
		t.Fatalf("Decoded: %v\nEvidence: %v", err, derr)
	}
}
