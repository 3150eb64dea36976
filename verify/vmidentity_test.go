package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestVMIdentityRealEvidence: on every real Azure SNP evidence document the
// quoted PCR 6 is the firmware's measurement of the runtime data's
// vmUniqueId, and require_vm_identity accepts it.
func TestVMIdentityRealEvidence(t *testing.T) {
	all := realEvidences(t)
	if len(all) < 5 {
		t.Fatalf("%d real evidence documents, want the 5 SNP ones", len(all))
	}
	for i := range all {
		re := all[i]
		t.Run(re.name, func(t *testing.T) {
			cfg := fixedOpts()
			cfg.Policy.RequireVMIdentity = true
			c, err := verify.Evidence(context.Background(), re.data, re.nonce, cfg)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			id := c.VMIdentity
			if id == nil || !id.PCR6Bound || id.Form != verify.VMIdentityUUID || id.Architecture != "" {
				t.Fatalf("vm_identity %+v, want bound, form %s", id, verify.VMIdentityUUID)
			}
			if id.VMUniqueID != c.VMConfig.VMUniqueID || id.VMUniqueID != strings.ToUpper(id.VMUniqueID) {
				t.Errorf("vm_unique_id %q, runtime data %q", id.VMUniqueID, c.VMConfig.VMUniqueID)
			}
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := `"vm_identity":{"vm_unique_id":"` + id.VMUniqueID + `","pcr6_bound":true,"form":"uuid+separator"}`; !bytes.Contains(js, []byte(want)) {
				t.Errorf("claims JSON lacks %s", want)
			}
		})
	}
}

// TestVMIdentityRealTDX checks the tie on the real TDX PCR sets (whose TDX
// quote this module does not verify): PCR 6 against the HCL report's
// vmUniqueId, and a wrong id does not match.
func TestVMIdentityRealTDX(t *testing.T) {
	const dir = "trustee-az-vtpm/az-tdx-vtpm/"
	hr, err := hcl.Parse(testutil.ReadFile(t, dir+"hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	hclID := hr.RuntimeData.VMConfig.VMUniqueID
	sets := map[string][][]byte{}
	for _, name := range []string{"evidence-v0.json", "evidence-v1.json"} {
		ev, err := evidence.Decode(testutil.ReadFile(t, dir+name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := hcl.Parse(ev.HCLReport)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.RuntimeData.VMConfig.VMUniqueID != hclID {
			t.Fatalf("%s names %s, hcl-report.bin %s", name, r.RuntimeData.VMConfig.VMUniqueID, hclID)
		}
		sets[name] = ev.Quote.PCRs
	}
	q, err := evidence.DecodeQuoteJSON(testutil.ReadFile(t, dir+"tpm-quote-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	sets["tpm-quote-v1.json"] = q.PCRs
	for name, pcrs := range sets {
		if id := verify.MatchPCR6(pcrs[6], hclID); !id.PCR6Bound || id.Form != verify.VMIdentityUUID {
			t.Errorf("%s: %+v, want bound", name, id)
		}
		// The same GUID in lower case, as newer paravisors write it
		// (TestVMIdentityGUIDCase), is bound; another GUID is not.
		if id := verify.MatchPCR6(pcrs[6], strings.ToLower(hclID)); !id.PCR6Bound || id.Form != verify.VMIdentityUUID {
			t.Errorf("%s: lower-case id %+v, want bound", name, id)
		}
		if id := verify.MatchPCR6(pcrs[6], "0A0B0C0D-1111-4222-8333-444455556666"); id.PCR6Bound || id.Form != verify.VMIdentityMismatch {
			t.Errorf("%s: another id %+v, want mismatch", name, id)
		}
	}
}

// TestVMIdentitySynthetic covers the forms, the mismatch and the cases
// where the tie cannot be established, with and without the policy.
func TestVMIdentitySynthetic(t *testing.T) {
	other := testev.DefaultVMConfig()
	other.VMUniqueID = "0A0B0C0D-1111-4222-8333-444455556666"
	withPCR6 := func(id, arch string) [][]byte {
		p := testev.DefaultPCRs()
		v := hcl.PCR6(id, arch)
		p[6] = v[:]
		return p
	}
	defID := testev.DefaultVMConfig().VMUniqueID
	spelled := func(id string) *hcl.VMConfiguration {
		c := testev.DefaultVMConfig()
		c.VMUniqueID = id
		return c
	}
	require := func(o *verify.Config) { o.Policy.RequireVMIdentity = true }
	wantID := func(bound bool, form, arch string) func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
		return func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			t.Helper()
			id := c.VMIdentity
			if id == nil || id.PCR6Bound != bound || id.Form != form || id.Architecture != arch {
				t.Fatalf("vm_identity %+v, want bound %v form %s arch %q", id, bound, form, arch)
			}
		}
	}
	runSynth(t, []synthCase{
		{name: "default bound", opts: require, check: wantID(true, verify.VMIdentityUUID, "")},
		{name: "other vm config bound", b: testev.Builder{VMConfig: other}, opts: require, check: wantID(true, verify.VMIdentityUUID, "")},
		{name: "x64 arch event", b: testev.Builder{PCRs: withPCR6(defID, hcl.ArchX64)}, opts: require, check: wantID(true, verify.VMIdentityUUIDArch, hcl.ArchX64)},
		{name: "arm64 arch event", b: testev.Builder{PCRs: withPCR6(defID, hcl.ArchARM64)}, opts: require, check: wantID(true, verify.VMIdentityUUIDArch, hcl.ArchARM64)},
		{name: "another vm's PCR 6 claimed", b: testev.Builder{VMConfig: other, PCRs: testev.DefaultPCRs()}, check: wantID(false, verify.VMIdentityMismatch, "")},
		{name: "another vm's PCR 6 rejected", b: testev.Builder{VMConfig: other, PCRs: testev.DefaultPCRs()}, opts: require, want: verify.CheckVMIdentity},
		{name: "unknown arch rejected", b: testev.Builder{PCRs: withPCR6(defID, `{"MachineArchitecture": "RISCV"}`)}, opts: require, want: verify.CheckVMIdentity},
		{name: "no PCR values claimed unknown", b: testev.Builder{OmitPCRValues: true}, check: wantID(false, verify.VMIdentityUnknown, "")},
		{name: "no PCR values rejected", b: testev.Builder{OmitPCRValues: true}, opts: require, want: verify.CheckVMIdentity},
		{name: "PCR 6 not selected", b: testev.Builder{PCRSelect: []int{0, 7}}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.VMIdentity != nil {
				t.Errorf("vm_identity %+v without PCR 6 selected", c.VMIdentity)
			}
		}},
		{name: "PCR 6 not selected rejected", b: testev.Builder{PCRSelect: []int{0, 7}}, opts: require, want: verify.CheckVMIdentity},
		{name: "no vmUniqueId rejected", b: testev.Builder{VMConfig: &hcl.VMConfiguration{}}, opts: require, want: verify.CheckVMIdentity},
		// The measured string is compared exactly, but for the case of a
		// GUID the runtime data names in lower case: the firmware measures
		// it in upper case (a real Azure TDX CVM, TestVMIdentityGUIDCase).
		// Other spellings of the same GUID are other strings, never bound.
		{name: "lower-case id, upper-case PCR 6", b: testev.Builder{VMConfig: spelled(strings.ToLower(defID)), PCRs: withPCR6(defID, "")}, opts: require, check: wantID(true, verify.VMIdentityUUID, "")},
		{name: "upper-case id, lower-case PCR 6", b: testev.Builder{PCRs: withPCR6(strings.ToLower(defID), "")}, opts: require, want: verify.CheckVMIdentity},
		{name: "braced id", b: testev.Builder{VMConfig: spelled("{" + defID + "}"), PCRs: withPCR6(defID, "")}, opts: require, want: verify.CheckVMIdentity},
		{name: "braced PCR 6", b: testev.Builder{PCRs: withPCR6("{"+defID+"}", "")}, opts: require, want: verify.CheckVMIdentity},
		{name: "lower-case id, lower-case PCR 6 of another GUID", b: testev.Builder{VMConfig: spelled(strings.ToLower(defID)), PCRs: withPCR6(strings.ToLower(other.VMUniqueID), "")}, check: wantID(false, verify.VMIdentityMismatch, "")},
		{name: "id with surrounding spaces", b: testev.Builder{VMConfig: spelled(" " + defID + " "), PCRs: withPCR6(defID, "")}, opts: require, want: verify.CheckVMIdentity},
		{name: "PCR 6 in the SHA-1 bank, no PCR values", b: testev.Builder{PCRBank: quote.AlgSHA1, OmitPCRValues: true}, opts: require, want: verify.CheckVMIdentity},
	})
}

// TestVMIdentityPCR6Measurements: PCR 6 is bound only to the firmware's
// exact measurement of the runtime data's vmUniqueId, not to another
// encoding of the same id, nor to the identity among other measurements
// (the booted system can extend PCR 6 too).
func TestVMIdentityPCR6Measurements(t *testing.T) {
	defID := testev.DefaultVMConfig().VMUniqueID
	require := func(o *verify.Config) { o.Policy.RequireVMIdentity = true }
	uuid := sha256.Sum256([]byte(hcl.PCR6UUIDPrefix + defID))
	sep := sha256.Sum256([]byte{0, 0, 0, 0})
	junk := sha256.Sum256([]byte("measured by the booted system"))
	h := func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
	var utf16 []byte
	for _, r := range hcl.PCR6UUIDPrefix + defID {
		utf16 = append(utf16, byte(r), 0)
	}
	// Hyper-V's SMBIOS UUID stores the first three groups little-endian.
	g := strings.Split(defID, "-")
	swap := func(s string) string {
		b, _ := hex.DecodeString(s)
		slices.Reverse(b)
		return strings.ToUpper(hex.EncodeToString(b))
	}
	mixed := strings.Join([]string{swap(g[0]), swap(g[1]), swap(g[2]), g[3], g[4]}, "-")
	var cases []synthCase
	for _, f := range []struct {
		name    string
		digests [][]byte
	}{
		{"the identity alone, as the firmware measures it", [][]byte{uuid[:], sep[:]}},
		{"PCR 6 extended after the separator", [][]byte{uuid[:], sep[:], junk[:]}},
		{"a measurement before the identity", [][]byte{junk[:], uuid[:], sep[:]}},
		{"the identity measured twice", [][]byte{uuid[:], uuid[:], sep[:]}},
		{"the identity then another one", [][]byte{uuid[:], h([]byte(hcl.PCR6UUIDPrefix + "0A0B0C0D-1111-4222-8333-444455556666")), sep[:]}},
		{"no separator", [][]byte{uuid[:]}},
		{"the separator alone", [][]byte{sep[:]}},
		{"UTF-16LE string", [][]byte{h(utf16), sep[:]}},
		{"NUL-terminated string", [][]byte{h([]byte(hcl.PCR6UUIDPrefix + defID + "\x00")), sep[:]}},
		{"mixed-endian GUID", [][]byte{h([]byte(hcl.PCR6UUIDPrefix + mixed)), sep[:]}},
		{"no prefix", [][]byte{h([]byte(defID)), sep[:]}},
		{"the id's raw 16 bytes", [][]byte{h(mustHex(t, strings.ReplaceAll(defID, "-", ""))), sep[:]}},
	} {
		p := testev.DefaultPCRs()
		p[6] = extendAll(f.digests...)
		c := synthCase{name: f.name, b: testev.Builder{PCRs: p}, opts: require, want: verify.CheckVMIdentity}
		if len(cases) == 0 {
			c.want = ""
		}
		cases = append(cases, c)
	}
	runSynth(t, cases)
}

// extendAll returns the SHA-256 PCR value after extending zero by each
// digest in turn.
func extendAll(digests ...[]byte) []byte {
	v := make([]byte, 32)
	for _, d := range digests {
		e := hcl.Extend(v, d)
		v = e[:]
	}
	return v
}

// TestVMIdentityReportFailsClosed: a report without a quote cannot prove
// what PCR 6 or PCR 8 hold.
func TestVMIdentityReportFailsClosed(t *testing.T) {
	blob := testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin")
	vcek := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	for _, tc := range []struct {
		pol  verify.Policy
		want verify.Check
	}{
		{verify.Policy{RequireVMIdentity: true}, verify.CheckVMIdentity},
		{verify.Policy{InitDataDigest: make([]byte, 32)}, verify.CheckInitData},
	} {
		cfg := fixedOpts()
		cfg.Policy = tc.pol
		c, err := reportWith(context.Background(), blob, vcek, cfg)
		wantOutcome(t, c, err, tc.want)
	}
}

// TestInitData covers PCR 8: the real Genoa evidence (non-zero PCR 8,
// init-data unknown), real evidence with a zero PCR 8, and synthetic
// evidence that measured an init-data document.
func TestInitData(t *testing.T) {
	ctx := context.Background()
	doc := []byte("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"policy.rego\" = '''package agent_policy'''\n")
	digest := sha256.Sum256(doc)
	pcr8 := verify.InitDataPCR8(digest[:])
	if want := sha256.Sum256(append(make([]byte, 32), digest[:]...)); pcr8 != want {
		t.Fatalf("InitDataPCR8 = %x, want SHA-256(0^32 ‖ digest) = %x", pcr8, want)
	}
	for _, re := range realEvidences(t) {
		c, err := verify.Evidence(ctx, re.data, re.nonce, fixedOpts())
		if err != nil {
			t.Fatal(err)
		}
		d := c.InitData
		if d == nil || !bytes.Equal(d.PCR8, c.PCRs[8]) || d.Bound || d.Digest != nil {
			t.Fatalf("%s: init_data %+v", re.name, d)
		}
		if d.Measured != (re.name == "genoa") {
			t.Errorf("%s: measured %v (PCR 8 %x)", re.name, d.Measured, []byte(d.PCR8))
		}
		// No init-data is known for the Genoa PCR 8: any digest is refused.
		cfg := fixedOpts()
		cfg.Policy.InitDataDigest = digest[:]
		c, err = verify.Evidence(ctx, re.data, re.nonce, cfg)
		wantOutcome(t, c, err, verify.CheckInitData)
	}
	genoa := testutil.ReadFile(t, testutil.SNPDir+"evidence-genoa.json")
	c, err := verify.Evidence(ctx, genoa, quotedNonce(t, genoa), fixedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(c.InitData.PCR8); got != "16f09f1e315b0b9bc69e654df58927aad7eaffeebd92f458f1b079b44e97207f" {
		t.Errorf("genoa PCR 8 %s", got)
	}

	pcrs := testev.DefaultPCRs()
	pcrs[8] = pcr8[:]
	withDigest := func(d []byte) func(o *verify.Config) {
		return func(o *verify.Config) { o.Policy.InitDataDigest = d }
	}
	other := sha256.Sum256(append(doc, ' '))
	// withPCR8 returns the default PCRs with PCR 8 extended, from zero, by
	// each digest in turn (the booted system can extend PCR 8 too).
	withPCR8 := func(digests ...[]byte) [][]byte {
		p := testev.DefaultPCRs()
		p[8] = extendAll(digests...)
		return p
	}
	junk := sha256.Sum256([]byte("measured by the booted system"))
	runSynth(t, []synthCase{
		{name: "init-data bound", b: testev.Builder{PCRs: pcrs}, opts: withDigest(digest[:]), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			d := c.InitData
			if d == nil || !d.Bound || !d.Measured || !bytes.Equal(d.Digest, digest[:]) || !bytes.Equal(d.PCR8, pcr8[:]) {
				t.Errorf("init_data %+v", d)
			}
		}},
		{name: "other init-data", b: testev.Builder{PCRs: pcrs}, opts: withDigest(other[:]), want: verify.CheckInitData},
		{name: "digest itself in PCR 8", b: testev.Builder{PCRs: func() [][]byte { p := testev.DefaultPCRs(); p[8] = digest[:]; return p }()}, opts: withDigest(digest[:]), want: verify.CheckInitData},
		{name: "no PCR values", b: testev.Builder{PCRs: pcrs, OmitPCRValues: true}, opts: withDigest(digest[:]), want: verify.CheckInitData},
		{name: "PCR 8 not selected", b: testev.Builder{PCRs: pcrs, PCRSelect: []int{0, 6, 7}}, opts: withDigest(digest[:]), want: verify.CheckInitData},
		// PCR 8 holds E(0, digest) only if the init-data was its one and
		// only measurement: anything extended before or after voids it.
		{name: "PCR 8 extended after init-data", b: testev.Builder{PCRs: withPCR8(digest[:], junk[:])}, opts: withDigest(digest[:]), want: verify.CheckInitData},
		{name: "init-data after another measurement", b: testev.Builder{PCRs: withPCR8(junk[:], digest[:])}, opts: withDigest(digest[:]), want: verify.CheckInitData},
		{name: "init-data measured twice", b: testev.Builder{PCRs: withPCR8(digest[:], digest[:])}, opts: withDigest(digest[:]), want: verify.CheckInitData},
		{name: "PCR 8 in the SHA-1 bank, no PCR values", b: testev.Builder{PCRs: pcrs, PCRBank: quote.AlgSHA1, OmitPCRValues: true}, opts: withDigest(digest[:]), want: verify.CheckInitData},

		{name: "no PCR values claim", b: testev.Builder{PCRs: pcrs, OmitPCRValues: true}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if d := c.InitData; d == nil || d.PCR8 != nil || d.Measured || d.Bound {
				t.Errorf("init_data %+v", d)
			}
		}},
	})
}

// TestPolicyPlatformIdentityJSON reads the new policy members.
func TestPolicyPlatformIdentityJSON(t *testing.T) {
	d := strings.Repeat("ab", 32)
	p, err := verify.ParsePolicy([]byte(`{"require_vm_identity":true,"init_data_digest":"` + d + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.RequireVMIdentity || hex.EncodeToString(p.InitDataDigest) != d {
		t.Errorf("policy %+v", p)
	}
	for _, bad := range []string{
		`{"init_data_digest":"abcd"}`,
		// A SHA-384 or SHA-512 init-data digest (CoCo's init-data may name
		// either algorithm) cannot be what an Azure vTPM's PCR 8 holds:
		// CoCo's attester extends it with a SHA-256 digest only.
		`{"init_data_digest":"` + strings.Repeat("ab", 48) + `"}`,
		`{"init_data_digest":"` + strings.Repeat("ab", 64) + `"}`,
		`{"init_data_digest":"` + strings.Repeat("ab", 20) + `"}`,
		`{"init_data_digest":""}`,
		`{"init_data_digest":"` + strings.Repeat("a", 63) + `"}`,
		`{"init_data_digest":"` + strings.Repeat("zz", 32) + `"}`,
		`{"require_vm_identity":"yes"}`,
	} {
		if _, err := verify.ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	_, err = verify.ParsePolicy([]byte(`{"init_data_digest":"` + strings.Repeat("ab", 48) + `"}`))
	if err == nil || !strings.Contains(err.Error(), "init_data_digest: 48 bytes") || !strings.Contains(err.Error(), "SHA-384 or SHA-512") {
		t.Errorf("a SHA-384 digest: %v, want the error to say why it is refused", err)
	}
}

// TestInitDataClaimJSON: the init_data claim tells an unknown PCR 8 (the
// evidence carries no PCR values) from a zero one; "measured": false alone
// said both.
func TestInitDataClaimJSON(t *testing.T) {
	digest := sha256.Sum256([]byte("init-data"))
	bound := verify.InitDataPCR8(digest[:])
	withPCR8 := func(v []byte) [][]byte {
		p := testev.DefaultPCRs()
		p[8] = v
		return p
	}
	def := hex.EncodeToString(testev.DefaultPCRs()[8])
	for _, tc := range []struct {
		name   string
		b      testev.Builder
		digest []byte
		want   string
	}{
		{"no PCR values", testev.Builder{OmitPCRValues: true}, nil, `{"state":"unknown","measured":false,"bound":false}`},
		{"zero PCR 8", testev.Builder{PCRs: withPCR8(make([]byte, 32))}, nil, `{"pcr8":"` + strings.Repeat("00", 32) + `","state":"zero","measured":false,"bound":false}`},
		{"measured PCR 8", testev.Builder{}, nil, `{"pcr8":"` + def + `","state":"measured","measured":true,"bound":false}`},
		{"bound PCR 8", testev.Builder{PCRs: withPCR8(bound[:])}, digest[:], `{"pcr8":"` + hex.EncodeToString(bound[:]) + `","state":"bound","measured":true,"digest":"` + hex.EncodeToString(digest[:]) + `","bound":true}`},
		{"PCR 8 not selected", testev.Builder{PCRSelect: []int{0, 6, 7}}, nil, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.b.Build()
			if err != nil {
				t.Fatal(err)
			}
			cfg := verify.Config{Roots: testev.Roots()}
			cfg.Policy.InitDataDigest = tc.digest
			c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(c.InitData)
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != tc.want {
				t.Errorf("init_data %s\nwant      %s", js, tc.want)
			}
		})
	}
}

// TestPlatformIdentityRejectionSaysWhy: each way require_vm_identity and
// init_data_digest fail names its cause: no vmUniqueId in the runtime
// data (with or without a vm-configuration), PCR 6 or 8 not selected, no
// PCR values, a value that is not the measurement.
func TestPlatformIdentityRejectionSaysWhy(t *testing.T) {
	ctx := context.Background()
	noID := testev.DefaultVMConfig()
	noID.VMUniqueID = ""
	vm := func(p *verify.Policy) { p.RequireVMIdentity = true }
	initData := func(p *verify.Policy) { p.InitDataDigest = bytes.Repeat([]byte{7}, 32) }
	for _, tc := range []struct {
		name   string
		b      testev.Builder
		policy func(*verify.Policy)
		check  verify.Check
		why    string
	}{
		{"empty vmUniqueId", testev.Builder{VMConfig: noID}, vm, verify.CheckVMIdentity, "names no vmUniqueId"},
		{"empty vm-configuration", testev.Builder{VMConfig: &hcl.VMConfiguration{}}, vm, verify.CheckVMIdentity, "names no vmUniqueId"},
		{"PCR 6 not selected", testev.Builder{PCRSelect: []int{0, 7}}, vm, verify.CheckVMIdentity, "does not hold PCR 6"},
		{"no PCR values for PCR 6", testev.Builder{OmitPCRValues: true}, vm, verify.CheckVMIdentity, "carries no PCR values"},
		{"another PCR 6", testev.Builder{PCRs: testev.DefaultPCRs(), VMConfig: otherVMConfig()}, vm, verify.CheckVMIdentity, "not the firmware's measurement"},
		{"PCR 8 not selected", testev.Builder{PCRSelect: []int{0, 7}}, initData, verify.CheckInitData, "does not hold PCR 8"},
		{"no PCR values for PCR 8", testev.Builder{OmitPCRValues: true}, initData, verify.CheckInitData, "carries no PCR values"},
		{"another PCR 8", testev.Builder{}, initData, verify.CheckInitData, "PCR 8 is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			cfg := verify.Config{Roots: ev.Roots()}
			tc.policy(&cfg.Policy)
			_, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg)
			wantCheck(t, err, tc.check)
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("err = %v, want it to say %q", err, tc.why)
			}
		})
	}
}

// otherVMConfig is a vm-configuration naming another VM than the default PCR 6 measures.
func otherVMConfig() *hcl.VMConfiguration {
	c := testev.DefaultVMConfig()
	c.VMUniqueID = "0A0B0C0D-1111-4222-8333-444455556666"
	return c
}

// TestVMIdentityGUIDCase: Azure's firmware measures the vmUniqueId GUID in
// upper case, and a real Azure TDX CVM's runtime data (flashbots, 2025)
// names it in lower case: the upper-case measurement of the same GUID is
// bound (it was "NOT BOUND", and require_vm_identity refused the VM).
// Only a GUID is case-folded, and only to upper case.
func TestVMIdentityGUIDCase(t *testing.T) {
	const lower, upper = "bdd43904-dbf8-4337-8b91-3adba92c5ebd", "BDD43904-DBF8-4337-8B91-3ADBA92C5EBD"
	pcr := func(id, arch string) []byte { p := hcl.PCR6(id, arch); return p[:] }
	for _, c := range []struct {
		name, id string
		pcr6     []byte
		bound    bool
		form     string
	}{
		{"lower-case id, upper-case measurement", lower, pcr(upper, ""), true, verify.VMIdentityUUID},
		{"lower-case id, upper-case measurement with the architecture", lower, pcr(upper, hcl.ArchX64), true, verify.VMIdentityUUIDArch},
		{"lower-case id measured as is", lower, pcr(lower, ""), true, verify.VMIdentityUUID},
		{"upper-case id, upper-case measurement", upper, pcr(upper, ""), true, verify.VMIdentityUUID},
		{"upper-case id, lower-case measurement", upper, pcr(lower, ""), false, verify.VMIdentityMismatch},
		{"another GUID in upper case", lower, pcr("0A0B0C0D-1111-4222-8333-444455556666", ""), false, verify.VMIdentityMismatch},
		{"not a GUID: not case-folded", "vm-abc", pcr("VM-ABC", ""), false, verify.VMIdentityMismatch},
		{"a GUID with a non-hex letter: not case-folded", "bdd43904-dbf8-4337-8b91-3adba92c5ebg", pcr("BDD43904-DBF8-4337-8B91-3ADBA92C5EBG", ""), false, verify.VMIdentityMismatch},
	} {
		got := verify.MatchPCR6(c.pcr6, c.id)
		if got.PCR6Bound != c.bound || got.Form != c.form || got.VMUniqueID != c.id {
			t.Errorf("%s: %+v, want bound %v form %s", c.name, got, c.bound, c.form)
		}
	}
}
