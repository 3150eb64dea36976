package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// synthCase is synthetic evidence and the check that must reject it ("" =
// it must verify).
type synthCase struct {
	name string
	b    testev.Builder
	// opts adjusts the options (default: private roots only).
	opts func(o *verify.Config)
	// data replaces the evidence bytes given to verify.Evidence.
	data func(t *testing.T, ev *testev.Evidence) []byte
	// nonce replaces the nonce the verifier expects.
	nonce []byte
	want  verify.Check
	// check inspects the claims of evidence that must verify.
	check func(t *testing.T, c *verify.Claims, ev *testev.Evidence)
}

func tcbp(p snp.TCBParts) *snp.TCBParts { return &p }

func milanTCB(f func(p *snp.TCBParts)) *snp.TCBParts {
	p := testev.DefaultTCB(snp.Milan)
	f(&p)
	return &p
}

var milanChip = testev.DefaultChipID(snp.Milan)

func otherChip() *[64]byte {
	id := sha512.Sum512([]byte("another chip"))
	return &id
}

// untrustedASKChain is a Milan chain whose ARK is the trusted private ARK
// (same subject, same key) but whose ASK, also "SEV-Milan", has another
// key: an ASK that no root pins.
var untrustedASKChain = sync.OnceValues(func() (*testev.Chain, error) {
	return testev.NewChain(snp.Milan, testev.ARKKey(), testev.OtherRSAKey(), testev.OtherRSAKey())
})

func runSynth(t *testing.T, cases []synthCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.b.Build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			opts := verify.Config{Roots: testev.Roots()}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			data := ev.JSON
			if tc.data != nil {
				data = tc.data(t, ev)
			}
			nonce := ev.Nonce
			if tc.nonce != nil {
				nonce = tc.nonce
			}
			claims, err := verify.Evidence(context.Background(), data, nonce, opts)
			if tc.want != "" {
				wantCheck(t, err, tc.want)
				if claims != nil {
					t.Error("claims returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if tc.check != nil {
				tc.check(t, claims, ev)
			}
		})
	}
}

// TestSyntheticReport covers the SNP report and VCEK checks.
func TestSyntheticReport(t *testing.T) {
	now := time.Now()
	runSynth(t, []synthCase{
		{name: "defaults verify", check: func(t *testing.T, c *verify.Claims, ev *testev.Evidence) {
			if c.Product != "Milan" || c.PinnedRoots || c.VCEKSource != "evidence" || !c.FreshReport {
				t.Errorf("claims %+v", c)
			}
			if c.ReportedTCB != c.CommittedTCB || c.CurrentTCB.Microcode != c.ReportedTCB.Microcode+1 {
				t.Errorf("TCBs reported %v committed %v current %v", c.ReportedTCB, c.CommittedTCB, c.CurrentTCB)
			}
		}},
		{name: "private chain not trusted by default roots", opts: func(o *verify.Config) { o.Roots = nil }, want: verify.CheckVCEKChain},
		{name: "private chain of another product only", opts: func(o *verify.Config) { o.Roots = testev.PrivateChain(snp.Genoa).Roots() }, want: verify.CheckVCEKChain},
		{name: "VCEK from an unpinned ASK under the trusted ARK", b: testev.Builder{}, data: func(t *testing.T, ev *testev.Evidence) []byte {
			c, err := untrustedASKChain()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.ARK.RawSubject, testev.PrivateChain(snp.Milan).ARK.RawSubject) ||
				!bytes.Equal(c.ASK.RawSubject, testev.PrivateChain(snp.Milan).ASK.RawSubject) {
				t.Fatal("the untrusted chain should look like the trusted one")
			}
			der, err := c.IssueVCEK(testev.VCEKTemplate{HWID: ev.ChipID[:], TCB: ev.ReportedTCB})
			if err != nil {
				t.Fatal(err)
			}
			ev.Evidence.VCEK = der
			return encode(t, ev.Evidence)
		}, want: verify.CheckVCEKChain},
		{name: "expired VCEK", b: testev.Builder{VCEK: testev.VCEKTemplate{NotBefore: now.AddDate(-7, 0, 0), NotAfter: now.Add(-time.Hour)}}, want: verify.CheckCertValidity},
		{name: "VCEK not yet valid", b: testev.Builder{VCEK: testev.VCEKTemplate{NotBefore: now.Add(time.Hour), NotAfter: now.AddDate(7, 0, 0)}}, want: verify.CheckCertValidity},
		{name: "expired VCEK accepted at a time it was valid", b: testev.Builder{VCEK: testev.VCEKTemplate{NotBefore: now.AddDate(-7, 0, 0), NotAfter: now.Add(-time.Hour)}},
			opts: func(o *verify.Config) { o.Now = now.AddDate(-1, 0, 0) }},
		{name: "report signed by another key", b: testev.Builder{ReportKey: testev.NewVCEKKey()}, want: verify.CheckReportSignature},
		{name: "report byte changed after signing", data: func(t *testing.T, ev *testev.Evidence) []byte {
			ev.Evidence.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement] ^= 1
			return encode(t, ev.Evidence)
		}, want: verify.CheckReportSignature},
		{name: "garbage VCEK", b: testev.Builder{VCEKDER: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}, want: verify.CheckVCEKFormat},
		{name: "Turin VCEK without fmcSPL", b: testev.Builder{Product: snp.Turin, VCEK: testev.VCEKTemplate{OmitFMC: true}}, want: verify.CheckVCEKFormat},
		{name: "VCEK of another TCB", b: testev.Builder{VCEK: testev.VCEKTemplate{TCB: *milanTCB(func(p *snp.TCBParts) { p.SNP-- })}}, want: verify.CheckVCEKTCB},
		{name: "VCEK of another chip (valid signature)", b: testev.Builder{VCEK: testev.VCEKTemplate{HWID: otherChip()[:]}}, want: verify.CheckChipID},
		{name: "report of another chip (valid signature)", b: testev.Builder{ChipID: otherChip(), VCEK: testev.VCEKTemplate{HWID: milanChip[:]}}, want: verify.CheckChipID},
		{name: "Turin chip id with bytes after the hwID", b: testev.Builder{Product: snp.Turin, MutateReport: func(r []byte) { r[snp.OffsetChipID+8] = 1 }}, want: verify.CheckChipID},
		{name: "Genoa VCEK for a Milan-CPUID v3 report", b: testev.Builder{VCEK: testev.VCEKTemplate{ProductName: "Genoa-B1"}}, want: verify.CheckProduct},
		{name: "unknown CPUID family", b: testev.Builder{CPUID: &[3]byte{0x17, 0x31, 0}}, want: verify.CheckProduct},
		{name: "version 2 report: product from the VCEK", b: testev.Builder{ReportVersion: 2}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.Product != "Milan" || c.ReportVersion != 2 {
				t.Errorf("product %s version %d", c.Product, c.ReportVersion)
			}
		}},
		{name: "version 2 Genoa report", b: testev.Builder{Product: snp.Genoa, ReportVersion: 2}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.Product != "Genoa" {
				t.Errorf("product %s", c.Product)
			}
		}},
		{name: "version 1 report", b: testev.Builder{MutateReport: func(r []byte) { binary.LittleEndian.PutUint32(r, 1) }}, want: verify.CheckReportFormat},
		{name: "signature algorithm 2", b: testev.Builder{MutateReport: func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetSignatureAlgo:], 2) }}, want: verify.CheckReportFormat},
		{name: "debug policy", b: testev.Builder{Policy: testev.DebugPolicy}, want: verify.CheckDebug},
		{name: "debug policy allowed", b: testev.Builder{Policy: testev.DebugPolicy}, opts: func(o *verify.Config) { o.Policy.AllowDebug = true },
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if !c.Debug || c.GuestPolicy != testev.DebugPolicy {
					t.Errorf("debug %v policy %#x", c.Debug, c.GuestPolicy)
				}
			}},
		{name: "migration agent allowed by the guest", b: testev.Builder{Policy: testev.DefaultPolicy | snp.PolicyMigrateMA}, want: verify.CheckGuestPolicy},
		{name: "migration agent allowed by policy", b: testev.Builder{Policy: testev.DefaultPolicy | snp.PolicyMigrateMA},
			opts: func(o *verify.Config) { o.Policy.AllowMigrationAgent = true }},
		{name: "SMT denied by policy", b: testev.Builder{}, opts: func(o *verify.Config) { o.Policy.DenySMT = true }, want: verify.CheckGuestPolicy},
		{name: "no SMT, denied by policy", b: testev.Builder{Policy: testev.DefaultPolicy &^ snp.PolicySMT},
			opts: func(o *verify.Config) { o.Policy.DenySMT = true },
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if c.SMT {
					t.Error("claims say SMT")
				}
			}},
		{name: "VMPL 1", b: testev.Builder{VMPL: 1}, want: verify.CheckVMPL},
		{name: "VMPL 3", b: testev.Builder{VMPL: 3}, opts: func(o *verify.Config) { o.Policy.AllowDebug, o.Policy.AllowUncommittedTCB = true, true }, want: verify.CheckVMPL},
		{name: "reported TCB != committed TCB", b: testev.Builder{CommittedTCB: milanTCB(func(p *snp.TCBParts) { p.Microcode += 2 })}, want: verify.CheckCommittedTCB},
		{name: "reported TCB != committed TCB allowed", b: testev.Builder{CommittedTCB: milanTCB(func(p *snp.TCBParts) { p.Microcode += 2 })},
			opts: func(o *verify.Config) { o.Policy.AllowUncommittedTCB = true },
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if c.CommittedTCB.Microcode != c.ReportedTCB.Microcode+2 {
					t.Errorf("committed %v reported %v", c.CommittedTCB, c.ReportedTCB)
				}
			}},
		{name: "current TCB lower than reported is not a committed-tcb failure", b: testev.Builder{CurrentTCB: milanTCB(func(p *snp.TCBParts) { p.Microcode -= 10 })}},
		{name: "revocation checker rejects", opts: func(o *verify.Config) { o.Revocation = revoker{errors.New("revoked by test")} }, want: verify.CheckRevocation},
		{name: "revocation checker accepts", opts: func(o *verify.Config) { o.Revocation = revoker{nil} }},
	})
}

type revoker struct{ err error }

func (r revoker) CheckRevoked(ctx context.Context, product string, signingKey uint32, certs ...*x509.Certificate) error {
	if product != "Milan" || signingKey != snp.SigningKeyVCEK || len(certs) != 2 || certs[0].Subject.CommonName != "SEV-Milan" || certs[1].Subject.CommonName != "SEV-VCEK" {
		return errors.New("revocation checker called with unexpected arguments")
	}
	return r.err
}

// TestSyntheticRuntimeData covers the HCL report, runtime data and AK.
func TestSyntheticRuntimeData(t *testing.T) {
	runSynth(t, []synthCase{
		{name: "report_data[32:64] not zero", b: testev.Builder{ReportDataTail: [32]byte{31: 1}}, want: verify.CheckRuntimeData},
		{name: "runtime data changed by one byte", data: func(t *testing.T, ev *testev.Evidence) []byte {
			blob := ev.Evidence.HCLReport
			i := bytes.Index(blob, []byte(`"vmUniqueId":"7`))
			if i < 0 {
				t.Fatal("vmUniqueId not found")
			}
			blob[i+len(`"vmUniqueId":"`)] = '8'
			return encode(t, ev.Evidence)
		}, want: verify.CheckRuntimeData},
		{name: "runtime data cut at variable_data_size - 1", b: testev.Builder{MutateHCL: func(b []byte) []byte {
			n := binary.LittleEndian.Uint32(b[hcl.OffsetVarDataSize:])
			binary.LittleEndian.PutUint32(b[hcl.OffsetVarDataSize:], n-1)
			binary.LittleEndian.PutUint32(b[hcl.OffsetReportSize:], hcl.RuntimeDataOffset+n-1)
			binary.LittleEndian.PutUint32(b[hcl.OffsetDataSize:], hcl.IGVMHeaderSize+n-1)
			return b
		}}, want: verify.CheckHCLFormat},
		{name: "variable_data_size beyond the blob", b: testev.Builder{MutateHCL: func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[hcl.OffsetVarDataSize:], 1<<31)
			return b
		}}, want: verify.CheckHCLFormat},
		{name: "non-zero padding", b: testev.Builder{MutateHCL: func(b []byte) []byte { b[len(b)-1] = 1; return b }}, want: verify.CheckHCLFormat},
		{name: "blob truncated into the SNP report", b: testev.Builder{MutateHCL: func(b []byte) []byte { return b[:1000] }}, want: verify.CheckHCLFormat},
		{name: "bad magic", b: testev.Builder{MutateHCL: func(b []byte) []byte { b[hcl.OffsetMagic] = 'X'; return b }}, want: verify.CheckHCLFormat},
		{name: "hash type SHA-384 declared", b: testev.Builder{MutateHCL: func(b []byte) []byte { b[hcl.OffsetHashType] = byte(hcl.HashTypeSHA384); return b }}, want: verify.CheckHCLFormat},
		{name: "runtime data not JSON", b: testev.Builder{RuntimeData: []byte("not json at all")}, want: verify.CheckHCLFormat},
		{name: "no user-data in v1", b: testev.Builder{Version: 1, OmitUserData: true}},
		{name: "older schema without EK and user-data (v1)", b: testev.Builder{Version: 1, OmitEK: true, OmitUserData: true}},
		{name: "AK listed after the EK", b: testev.Builder{EKFirst: true}, check: func(t *testing.T, c *verify.Claims, ev *testev.Evidence) {
			if len(c.AKPublic) == 0 {
				t.Error("no AK in claims")
			}
		}},
		{name: "missing AK", b: testev.Builder{OmitAK: true, QuoteKey: testev.AKKey()}, want: verify.CheckAttestationKey},
		{name: "AK with an even exponent", b: testev.Builder{RuntimeData: []byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"Ag","n":"` +
			testevAKN() + `"}]}`), Version: 1}, want: verify.CheckAttestationKey},
		{name: "two AKs", b: testev.Builder{RuntimeData: []byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"` +
			testevAKN() + `"},{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"` + testevAKN() + `"}]}`), Version: 1}, want: verify.CheckAttestationKey},
		{name: "quote signed by the EK", b: testev.Builder{QuoteKey: testev.EKKey()}, want: verify.CheckQuoteSignature},
		{name: "v1 evidence relabelled v2", b: testev.Builder{Version: 1}, data: func(t *testing.T, ev *testev.Evidence) []byte {
			ev.Evidence.Version = 2
			return encode(t, ev.Evidence)
		}, want: verify.CheckUserData},
		{name: "v2 user-data not the nonce", b: testev.Builder{UserData: bytes.Repeat([]byte{0xAB}, 64)}, want: verify.CheckUserData},
		{name: "v2 user-data with the nonce one byte off", b: testev.Builder{UserData: func() []byte {
			u := make([]byte, 64)
			copy(u, testev.DefaultNonce)
			u[len(testev.DefaultNonce)-1] ^= 1
			return u
		}()}, want: verify.CheckUserData},
		{name: "v2 without user-data", b: testev.Builder{OmitUserData: true}, want: verify.CheckUserData},
		{name: "v1 with policy RequireFreshReport and zero user-data", b: testev.Builder{Version: 1},
			opts: func(o *verify.Config) { o.Policy.RequireFreshReport = true }, want: verify.CheckUserData},
		{name: "v1 with policy RequireFreshReport and nonce user-data", b: testev.Builder{Version: 1, UserData: append([]byte(testev.DefaultNonce), make([]byte, 64-len(testev.DefaultNonce))...)},
			opts: func(o *verify.Config) { o.Policy.RequireFreshReport = true },
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if !c.FreshReport {
					t.Error("FreshReport false")
				}
			}},
		{name: "long nonce quoted as its SHA-256", b: testev.Builder{Nonce: bytes.Repeat([]byte("n"), 100)}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if len(c.Nonce) != 32 {
				t.Errorf("quoted nonce %d bytes", len(c.Nonce))
			}
		}},
	})
}

// testevAKN is the base64url modulus of the shared AK.
func testevAKN() string {
	return hcl.NewRSAJWK(hcl.KidAK, nil, &testev.AKKey().PublicKey).N
}

// TestSyntheticQuote covers the quote checks.
func TestSyntheticQuote(t *testing.T) {
	pcrs := testev.DefaultPCRs()
	runSynth(t, []synthCase{
		{name: "wrong nonce", nonce: []byte("another nonce"), want: verify.CheckNonce},
		{name: "nonce is a prefix of the quoted one", nonce: testev.DefaultNonce[:len(testev.DefaultNonce)-1], want: verify.CheckNonce},
		{name: "empty expected nonce", nonce: []byte{}, want: verify.CheckNonce},
		{name: "extraData differs", b: testev.Builder{ExtraData: []byte("replayed")}, want: verify.CheckNonce},
		{name: "changed PCR value", data: func(t *testing.T, ev *testev.Evidence) []byte {
			ev.Evidence.Quote.PCRs[7][0] ^= 1
			return encode(t, ev.Evidence)
		}, want: verify.CheckPCRDigest},
		{name: "changed unselected PCR value is ignored", b: testev.Builder{PCRSelect: []int{0, 7}}, data: func(t *testing.T, ev *testev.Evidence) []byte {
			ev.Evidence.Quote.PCRs[4][0] ^= 1
			return encode(t, ev.Evidence)
		}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if _, ok := c.PCRs[4]; ok {
				t.Error("unselected PCR 4 in claims")
			}
		}},
		{name: "selection lies: 8 selected, 24 hashed", b: testev.Builder{PCRSelect: []int{0, 1, 2, 3, 4, 5, 6, 7}, DigestPCRs: seq(24)}, want: verify.CheckPCRDigest},
		{name: "selection lies: PCRs hashed out of order", b: testev.Builder{DigestPCRs: append([]int{1, 0}, seq(24)[2:]...)}, want: verify.CheckPCRDigest},
		{name: "SHA-1 bank selected", b: testev.Builder{PCRBank: quote.AlgSHA1}, want: verify.CheckQuoteFormat},
		{name: "empty SHA-1 selection after the SHA-256 one", b: testev.Builder{ExtraSelections: []quote.PCRSelection{{Hash: quote.AlgSHA1}}}},
		{name: "SHA-1 PCR selected after the SHA-256 ones", b: testev.Builder{ExtraSelections: []quote.PCRSelection{{Hash: quote.AlgSHA1, PCRs: []int{0}}}}, want: verify.CheckQuoteFormat},
		{name: "PCR 24 selected", b: testev.Builder{PCRSelect: []int{0}, ExtraSelections: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: []int{24}}}}, want: verify.CheckQuoteFormat},
		{name: "only PCRs 0 and 7 selected", b: testev.Builder{PCRSelect: []int{0, 7}}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			keys := make([]int, 0, len(c.PCRs))
			for k := range c.PCRs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, []int{0, 7}) || !bytes.Equal(c.PCRs[0], pcrs[0]) || !bytes.Equal(c.PCRs[7], pcrs[7]) {
				t.Errorf("PCRs %v", c.PCRs)
			}
		}},
		{name: "no PCR selected", b: testev.Builder{PCRSelect: []int{}}, want: verify.CheckQuoteFormat},
		{name: "PCR selected but not supplied", data: func(t *testing.T, ev *testev.Evidence) []byte {
			ev.Evidence.Quote.PCRs = ev.Evidence.Quote.PCRs[:20]
			return encode(t, ev.Evidence)
		}, want: verify.CheckQuoteFormat},
		{name: "bad magic", b: testev.Builder{MutateQuote: func(m []byte) []byte { m[quote.OffsetMagic] = 0; return m }}, want: verify.CheckQuoteFormat},
		{name: "attestation type certify", b: testev.Builder{MutateQuote: func(m []byte) []byte { m[quote.OffsetType+1] = 0x17; return m }}, want: verify.CheckQuoteFormat},
		{name: "trailing byte", b: testev.Builder{MutateQuote: func(m []byte) []byte { return append(m, 0) }}, want: verify.CheckQuoteFormat},
		{name: "message truncated", b: testev.Builder{MutateQuote: func(m []byte) []byte { return m[:len(m)-1] }}, want: verify.CheckQuoteFormat},
		{name: "quote signed by another VM's AK", b: testev.Builder{QuoteKey: testev.OtherRSAKey()}, want: verify.CheckQuoteSignature},
		{name: "message changed after signing", data: func(t *testing.T, ev *testev.Evidence) []byte {
			a, err := quote.Parse(ev.Evidence.Quote.Message)
			if err != nil {
				t.Fatal(err)
			}
			a.QualifiedSigner[len(a.QualifiedSigner)/2] ^= 1
			if ev.Evidence.Quote.Message, err = a.Marshal(); err != nil {
				t.Fatal(err)
			}
			return encode(t, ev.Evidence)
		}, want: verify.CheckQuoteSignature},
		{name: "signature truncated", data: func(t *testing.T, ev *testev.Evidence) []byte {
			ev.Evidence.Quote.Signature = ev.Evidence.Quote.Signature[1:]
			return encode(t, ev.Evidence)
		}, want: verify.CheckQuoteSignature},
	})
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestSyntheticPolicy covers Policy.
func TestSyntheticPolicy(t *testing.T) {
	pcrs := testev.DefaultPCRs()
	m := sha512.Sum384([]byte("another measurement"))
	def := fakeamd.DefaultMeasurement() // the builder's default
	pol := func(f func(p *verify.Policy)) func(o *verify.Config) {
		return func(o *verify.Config) { f(&o.Policy) }
	}
	runSynth(t, []synthCase{
		{name: "min TCB met", opts: pol(func(p *verify.Policy) { p.MinTCB = tcbp(testev.DefaultTCB(snp.Milan)) })},
		{name: "min TCB: microcode below", opts: pol(func(p *verify.Policy) { p.MinTCB = milanTCB(func(p *snp.TCBParts) { p.Microcode++ }) }), want: verify.CheckMinTCB},
		{name: "min TCB: SNP below", opts: pol(func(p *verify.Policy) { p.MinTCB = milanTCB(func(p *snp.TCBParts) { p.SNP++ }) }), want: verify.CheckMinTCB},
		{name: "min TCB: the higher current TCB does not count", opts: pol(func(p *verify.Policy) { p.MinTCB = milanTCB(func(p *snp.TCBParts) { p.Microcode++ }) }),
			b: testev.Builder{CurrentTCB: milanTCB(func(p *snp.TCBParts) { p.Microcode += 50 })}, want: verify.CheckMinTCB},
		{name: "measurement allowed", b: testev.Builder{Measurement: &m}, opts: pol(func(p *verify.Policy) { p.Measurements = []verify.HexBytes{def[:], m[:]} })},
		{name: "measurement not allowed", opts: pol(func(p *verify.Policy) { p.Measurements = []verify.HexBytes{m[:]} }), want: verify.CheckMeasurement},
		{name: "PCR value required and equal", opts: pol(func(p *verify.Policy) { p.PCRs = map[int]verify.HexBytes{7: pcrs[7], 0: pcrs[0]} })},
		{name: "PCR value required and different", opts: pol(func(p *verify.Policy) { p.PCRs = map[int]verify.HexBytes{7: pcrs[6]} }), want: verify.CheckPCRPolicy},
		{name: "required PCR not selected", b: testev.Builder{PCRSelect: []int{0, 7}},
			opts: pol(func(p *verify.Policy) { p.PCRs = map[int]verify.HexBytes{4: pcrs[4]} }), want: verify.CheckPCRPolicy},
		{name: "product allowed", opts: pol(func(p *verify.Policy) { p.Products = []string{"Genoa", "Milan"} })},
		{name: "product not allowed", opts: pol(func(p *verify.Policy) { p.Products = []string{"Genoa", "Turin"} }), want: verify.CheckProduct},
	})
}

// TestSyntheticTurin checks Turin evidence: 8-byte hwID, fmcSPL, the Turin
// TCB layout and CPUID family 0x1A, under a private Turin chain only.
func TestSyntheticTurin(t *testing.T) {
	turin := testev.DefaultTCB(snp.Turin)
	runSynth(t, []synthCase{
		{name: "verifies", b: testev.Builder{Product: snp.Turin}, opts: func(o *verify.Config) { o.Roots = testev.PrivateChain(snp.Turin).Roots() },
			check: func(t *testing.T, c *verify.Claims, ev *testev.Evidence) {
				if c.Product != "Turin" || c.ReportedTCB != turin || c.ReportedTCB.FMC == 0 {
					t.Errorf("product %s TCB %+v", c.Product, c.ReportedTCB)
				}
				if !bytes.Equal(c.ChipID[:8], ev.ChipID[:8]) || !bytes.Equal(c.ChipID[8:], make([]byte, 56)) {
					t.Errorf("chip id %x", []byte(c.ChipID))
				}
			}},
		{name: "min TCB on fmc", b: testev.Builder{Product: snp.Turin}, opts: func(o *verify.Config) {
			min := turin
			min.FMC++
			o.Policy.MinTCB = &min
		}, want: verify.CheckMinTCB},
		{name: "VCEK of another FMC level", b: testev.Builder{Product: snp.Turin, VCEK: testev.VCEKTemplate{TCB: func() snp.TCBParts { p := turin; p.FMC++; return p }()}}, want: verify.CheckVCEKTCB},
		{name: "Turin evidence against Milan roots", b: testev.Builder{Product: snp.Turin}, opts: func(o *verify.Config) { o.Roots = testev.PrivateChain(snp.Milan).Roots() }, want: verify.CheckVCEKChain},
	})
}

// padded returns b zero-padded to 64 bytes.
func padded(b []byte) []byte {
	u := make([]byte, 64)
	copy(u, b)
	return u
}

// withTail returns the quoted nonce zero-padded to 64 bytes, then with
// byte i set to v: the nonce plus bytes of the attacker's choice.
func withTail(nonce []byte, i int, v byte) []byte {
	u := padded(quote.ExpectedExtraData(nonce))
	u[i] = v
	return u
}

// TestUserDataExact checks that v2 user-data (and user-data under
// RequireFreshReport) must equal all 64 bytes the attester writes: the
// quoted nonce zero-padded, not merely start with it.
func TestUserDataExact(t *testing.T) {
	long := bytes.Repeat([]byte("L"), 100) // quoted as its SHA-256
	n48 := bytes.Repeat([]byte{0x5A}, 48)
	fresh := func(o *verify.Config) { o.Policy.RequireFreshReport = true }
	runSynth(t, []synthCase{
		{name: "exact: default nonce", b: testev.Builder{UserData: padded(testev.DefaultNonce)}},
		{name: "exact: 48-byte nonce", b: testev.Builder{Nonce: n48}},
		{name: "exact: long nonce (SHA-256)", b: testev.Builder{Nonce: long, UserData: padded(quote.ExpectedExtraData(long))}},
		{name: "byte after the nonce", b: testev.Builder{UserData: withTail(testev.DefaultNonce, len(testev.DefaultNonce), 1)}, want: verify.CheckUserData},
		{name: "last byte", b: testev.Builder{UserData: withTail(testev.DefaultNonce, 63, 0x80)}, want: verify.CheckUserData},
		{name: "48-byte nonce, last byte", b: testev.Builder{Nonce: n48, UserData: withTail(n48, 63, 1)}, want: verify.CheckUserData},
		{name: "long nonce, byte after its SHA-256", b: testev.Builder{Nonce: long, UserData: withTail(long, 32, 0xFF)}, want: verify.CheckUserData},
		{name: "long nonce, user-data is the raw nonce prefix", b: testev.Builder{Nonce: long, UserData: long[:64]}, want: verify.CheckUserData},
		{name: "first byte", b: testev.Builder{UserData: withTail(testev.DefaultNonce, 0, 'x')}, want: verify.CheckUserData},
		{name: "v1 RequireFreshReport exact", b: testev.Builder{Version: 1, UserData: padded(testev.DefaultNonce)}, opts: fresh},
		{name: "v1 RequireFreshReport byte after the nonce", b: testev.Builder{Version: 1, UserData: withTail(testev.DefaultNonce, 40, 7)}, opts: fresh, want: verify.CheckUserData},
		{name: "v1 RequireFreshReport last byte", b: testev.Builder{Version: 1, UserData: withTail(testev.DefaultNonce, 63, 1)}, opts: fresh, want: verify.CheckUserData},
	})
}

// TestHashTypeStrict checks that only SHA-256 binds the runtime data, even
// when REPORT_DATA is exactly the declared other hash of it.
func TestHashTypeStrict(t *testing.T) {
	rd := []byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"` + testevAKN() + `"}]}`)
	sum512 := sha512.Sum512(rd)
	sum384 := sha512.Sum384(rd)
	sum256 := sha256.Sum256(rd)
	setRD := func(v []byte) func(r []byte) {
		return func(r []byte) {
			clear(r[snp.OffsetReportData:snp.OffsetMeasurement])
			copy(r[snp.OffsetReportData:], v)
		}
	}
	setHash := func(h uint32) func(b []byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[hcl.OffsetHashType:], h); return b }
	}
	runSynth(t, []synthCase{
		{name: "SHA-256 verifies", b: testev.Builder{Version: 1, RuntimeData: rd}},
		{name: "SHA-512 fully bound", b: testev.Builder{Version: 1, RuntimeData: rd, MutateReport: setRD(sum512[:]), MutateHCL: setHash(3)}, want: verify.CheckHCLFormat},
		{name: "SHA-384 fully bound", b: testev.Builder{Version: 1, RuntimeData: rd, MutateReport: setRD(sum384[:]), MutateHCL: setHash(2)}, want: verify.CheckHCLFormat},
		{name: "SHA-256 with a tail", b: testev.Builder{Version: 1, RuntimeData: rd, MutateReport: setRD(append(sum256[:], 1))}, want: verify.CheckRuntimeData},
		{name: "hash type 0", b: testev.Builder{Version: 1, RuntimeData: rd, MutateHCL: setHash(0)}, want: verify.CheckHCLFormat},
	})
}

// TestUserDataFullWidthNonce: without a nonce to check (AllowNoNonce), a
// quote's extraData may fill all 64 bytes of user-data: v2 evidence whose
// user-data is exactly that extraData verifies (not fresh); one byte of it
// changed is CheckUserData.
func TestUserDataFullWidthNonce(t *testing.T) {
	ctx := context.Background()
	extra := bytes.Repeat([]byte{0x5a}, 64)
	for _, tc := range []struct {
		name string
		user []byte
		ok   bool
	}{
		{"equal", extra, true},
		{"last byte differs", append(bytes.Clone(extra[:63]), 0x5b), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := (&testev.Builder{ExtraData: extra, UserData: tc.user}).MustBuild()
			claims, err := verify.Evidence(ctx, ev.JSON, nil, verify.Config{Roots: ev.Roots(), AllowNoNonce: true})
			if !tc.ok {
				wantCheck(t, err, verify.CheckUserData)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims.FreshReport || claims.NonceChecked || !bytes.Equal(claims.Nonce, extra) {
				t.Errorf("fresh %v, nonce checked %v, nonce %x", claims.FreshReport, claims.NonceChecked, []byte(claims.Nonce))
			}
		})
	}
}

// TestHCLReportTypeLies: the IGVM header's report type is not signed, so
// a sender can label an SNP report anything. A type other than SNP is the
// wrong hardware report type, hcl-report-type, whether it names TDX (no
// TD quote given), VBS, TVM, Invalid or no known type (the last four were
// hcl-report-format, though SECURITY.md lists a VBS report passed as SNP
// under hcl-report-type); the header's other fields are its format.
func TestHCLReportTypeLies(t *testing.T) {
	set := func(off int, v uint32) func(b []byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	}
	var cases []synthCase
	for _, typ := range []hcl.ReportType{hcl.ReportTypeInvalid, hcl.ReportTypeVBS, hcl.ReportTypeTVM, hcl.ReportTypeTDX, 5, 0xffffffff} {
		cases = append(cases, synthCase{name: "report type " + typ.String(), b: testev.Builder{MutateHCL: set(hcl.OffsetReportType, uint32(typ))}, want: verify.CheckReportType})
	}
	cases = append(cases,
		synthCase{name: "header version 2 (real on newer hosts)", b: testev.Builder{MutateHCL: set(hcl.OffsetHeaderVersion, 2)}},
		synthCase{name: "header version 3", b: testev.Builder{MutateHCL: set(hcl.OffsetHeaderVersion, 3)}, want: verify.CheckHCLFormat},
		synthCase{name: "request type 1", b: testev.Builder{MutateHCL: set(hcl.OffsetRequestType, 1)}, want: verify.CheckHCLFormat},
		synthCase{name: "status 1", b: testev.Builder{MutateHCL: set(hcl.OffsetStatus, 1)}, want: verify.CheckHCLFormat},
		synthCase{name: "IGVM version 2", b: testev.Builder{MutateHCL: set(hcl.OffsetIGVMVersion, 2)}, want: verify.CheckHCLFormat},
		// The IGVM version is checked first: a type behind a bad version
		// is not read.
		synthCase{name: "IGVM version 2, type VBS", b: testev.Builder{MutateHCL: func(b []byte) []byte {
			return set(hcl.OffsetReportType, uint32(hcl.ReportTypeVBS))(set(hcl.OffsetIGVMVersion, 2)(b))
		}}, want: verify.CheckHCLFormat},
		synthCase{name: "report_size one more", b: testev.Builder{MutateHCL: func(b []byte) []byte {
			return set(hcl.OffsetReportSize, binary.LittleEndian.Uint32(b[hcl.OffsetReportSize:])+1)(b)
		}}, want: verify.CheckHCLFormat},
		synthCase{name: "variable_data_size one less", b: testev.Builder{MutateHCL: func(b []byte) []byte {
			return set(hcl.OffsetVarDataSize, binary.LittleEndian.Uint32(b[hcl.OffsetVarDataSize:])-1)(b)
		}}, want: verify.CheckHCLFormat},
	)
	runSynth(t, cases)
}
