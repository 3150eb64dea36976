package verify_test

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// keyUsageExt is a keyUsage extension (critical, as RFC 5280 asks) whose
// bit string has the bits of ku (bit 0 = digitalSignature).
func keyUsageExt(t testing.TB, bits ...int) pkix.Extension {
	t.Helper()
	var b byte
	for _, i := range bits {
		b |= 0x80 >> i
	}
	der, err := asn1.Marshal(asn1.BitString{Bytes: []byte{b}, BitLength: 8})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: der}
}

// TestForgedVCEKCriticalExtension: a VCEK with a critical extension the
// verifier does not process is rejected (vcek-format) whatever the OID and
// product line; AMD's own extensions that the verifier does process may be
// critical, and non-critical unknown extensions are ignored.
func TestForgedVCEKCriticalExtension(t *testing.T) {
	null := []byte{5, 0}
	crit := func(oid asn1.ObjectIdentifier) []pkix.Extension {
		return []pkix.Extension{{Id: oid, Critical: true, Value: null}}
	}
	var cases []synthCase
	for _, p := range snp.Products() {
		for _, oid := range []asn1.ObjectIdentifier{
			{1, 2, 3, 4},
			{1, 3, 6, 1, 4, 1, 3704, 1, 99},   // an unknown AMD extension
			{1, 3, 6, 1, 4, 1, 3704, 1, 1},    // structVersion: AMD's, not processed
			{1, 3, 6, 1, 4, 1, 3704, 1, 3, 4}, // a reserved SPL
			{1, 3, 6, 1, 4, 1, 3704, 1, 6},    // past csp_id
			{2, 5, 29, 54},                    // inhibitAnyPolicy: Go does not process it
		} {
			cases = append(cases, synthCase{
				name: fmt.Sprintf("%s critical %s", p, oid),
				b:    testev.Builder{Product: p, VCEK: testev.VCEKTemplate{ExtraExtensions: crit(oid)}},
				want: verify.CheckVCEKFormat,
			})
		}
		cases = append(cases,
			synthCase{
				name: string(p) + " processed AMD extensions marked critical",
				b: testev.Builder{Product: p, VCEK: testev.VCEKTemplate{Critical: []asn1.ObjectIdentifier{
					snp.OIDProductName(), snp.OIDBlSPL(), snp.OIDTeeSPL(), snp.OIDSnpSPL(),
					snp.OIDUcodeSPL(), snp.OIDFmcSPL(), snp.OIDHWID(),
				}}},
			},
			synthCase{
				name: string(p) + " unknown non-critical extension",
				b:    testev.Builder{Product: p, VCEK: testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: null}}}},
			},
		)
	}
	cases = append(cases,
		synthCase{
			name: "two unknown critical extensions",
			b: testev.Builder{VCEK: testev.VCEKTemplate{ExtraExtensions: append(crit(asn1.ObjectIdentifier{1, 2, 3}),
				crit(asn1.ObjectIdentifier{1, 2, 4})...)}},
			want: verify.CheckVCEKFormat,
		},
		synthCase{
			name: "keyUsage without digitalSignature",
			b:    testev.Builder{VCEK: testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{keyUsageExt(t, 5)}}},
			want: verify.CheckVCEKFormat,
		},
		synthCase{
			name: "keyUsage with digitalSignature",
			b:    testev.Builder{VCEK: testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{keyUsageExt(t, 0)}}},
		},
		synthCase{
			name: "VLEK (csp_id extension)",
			b:    testev.Builder{VCEK: testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: snp.OIDCSPID(), Value: []byte{0x16, 1, 'x'}}}}},
			want: verify.CheckVCEKFormat,
		},
	)
	runSynth(t, cases)
}

// TestForgedVCEKProductName: productName must be exactly a product line
// with an optional "-" letter digit stepping; any other string, even one
// starting with a product line, is rejected (vcek-format), and what real
// VCEKs carry ("Milan-B0", "Genoa") keeps verifying.
func TestForgedVCEKProductName(t *testing.T) {
	var cases []synthCase
	for _, name := range []string{
		"Milan-ZZZ-evil", "Milan-", "MilanX", "milan-B0", "milan", "MILAN-B0", "Milan-b0",
		"Milan-B", "Milan-0B", "Milan-B00", "Milan-BB", "Milan B0", "Milan-B0 ", " Milan-B0",
		"Milan-B0-B0", "Milan--B0", "Milan\x00", "Milan-B0\x00",
		"ARK-Milan", "SEV-Milan", "Naples-B0", "Genoa-ZZZ-evil", "Turin-", "-B0", "X",
	} {
		cases = append(cases, synthCase{
			name: fmt.Sprintf("%q", name),
			b:    testev.Builder{VCEK: testev.VCEKTemplate{ProductName: name}},
			want: verify.CheckVCEKFormat,
		})
	}
	for _, ok := range []struct {
		p    snp.Product
		name string
	}{
		{snp.Milan, "Milan-B0"}, {snp.Milan, "Milan-B1"}, {snp.Milan, "Milan"},
		{snp.Genoa, "Genoa"}, {snp.Genoa, "Genoa-B1"}, {snp.Genoa, "Genoa-B2"},
		{snp.Turin, "Turin-C1"}, {snp.Turin, "Turin-B0"}, {snp.Turin, "Turin"},
	} {
		cases = append(cases, synthCase{
			name: ok.name + " verifies",
			b:    testev.Builder{Product: ok.p, VCEK: testev.VCEKTemplate{ProductName: ok.name}},
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if c.Product != string(ok.p) {
					t.Errorf("product %q, want %s", c.Product, ok.p)
				}
			},
		})
	}
	runSynth(t, cases)
}

// setSignerInfo returns a MutateReport that writes SIGNER_INFO.
func setSignerInfo(v uint32) func([]byte) {
	return func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetSignerInfo:], v) }
}

// setVersion returns a MutateReport that writes the report version.
func setVersion(v uint32) func([]byte) {
	return func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetVersion:], v) }
}

// TestForgedSignerInfo: a report verified with a VCEK must say SIGNING_KEY
// = VCEK; VLEK, none and the reserved values are rejected, as are reserved
// bits. MASK_CHIP_KEY (the VCEK masked) or a zero chip id never binds, not even to a
// VCEK with a zero hwID. Every report here carries a valid VCEK signature.
func TestForgedSignerInfo(t *testing.T) {
	zero := [64]byte{}
	var cases []synthCase
	for _, p := range snp.Products() {
		cases = append(cases,
			synthCase{name: string(p) + " VLEK", b: testev.Builder{Product: p, MutateReport: setSignerInfo(snp.SigningKeyVLEK << 2)}, want: verify.CheckReportSignature},
			synthCase{name: string(p) + " VLEK on a version 2 report", b: testev.Builder{Product: p, ReportVersion: 2, MutateReport: setSignerInfo(snp.SigningKeyVLEK << 2)}, want: verify.CheckReportSignature},
			synthCase{name: string(p) + " none", b: testev.Builder{Product: p, MutateReport: setSignerInfo(snp.SigningKeyNone << 2)}, want: verify.CheckReportFormat},
			synthCase{name: string(p) + " masked zero chip, zero hwID", b: testev.Builder{Product: p, ChipID: &zero, MutateReport: setSignerInfo(snp.SignerInfoMaskChipKey)}, want: verify.CheckChipID},
			synthCase{name: string(p) + " zero chip, zero hwID", b: testev.Builder{Product: p, ChipID: &zero}, want: verify.CheckChipID},
			synthCase{name: string(p) + " mask bit with the real chip id", b: testev.Builder{Product: p, MutateReport: setSignerInfo(snp.SignerInfoMaskChipKey)}, want: verify.CheckChipID},
		)
	}
	for k := uint32(2); k <= 6; k++ {
		cases = append(cases, synthCase{name: fmt.Sprintf("reserved signing key %d", k), b: testev.Builder{MutateReport: setSignerInfo(k << 2)}, want: verify.CheckReportFormat})
	}
	for _, bit := range []uint{5, 8, 16, 31} {
		cases = append(cases, synthCase{name: fmt.Sprintf("reserved bit %d", bit), b: testev.Builder{MutateReport: setSignerInfo(1 << bit)}, want: verify.CheckReportFormat})
	}
	cases = append(cases,
		// MASK_CHIP_KEY binds to no VCEK: named before the signature.
		synthCase{name: "VLEK and mask", b: testev.Builder{MutateReport: setSignerInfo(snp.SigningKeyVLEK<<2 | snp.SignerInfoMaskChipKey)}, want: verify.CheckChipID},
		// The kind is named before the chip id: a VLEK-signed report
		// (whose chip id may be zero) given a VCEK is report-signature.
		synthCase{name: "VLEK, zero chip id", b: testev.Builder{ChipID: &zero, MutateReport: setSignerInfo(snp.SigningKeyVLEK << 2)}, want: verify.CheckReportSignature},
		synthCase{name: "all ones", b: testev.Builder{MutateReport: setSignerInfo(0xFFFFFFFF)}, want: verify.CheckReportFormat},
		synthCase{name: "VCEK verifies", b: testev.Builder{MutateReport: setSignerInfo(snp.SigningKeyVCEK)}},
	)
	runSynth(t, cases)
}

// TestForgedGuestPolicy: a signed report whose GUEST_POLICY breaks AMD's
// ABI (bit 17, reserved and must be one, clear; a reserved bit set) is
// rejected as snp-report-format, in evidence and as a bare report; the
// policy bits ABI rev. 1.55 and 1.58 define verify from version 2 on, and
// are reserved in a version 1 report.
func TestForgedGuestPolicy(t *testing.T) {
	const azure = testev.DefaultPolicy
	v1 := func(o *verify.Config) { o.Policy.AllowUncommittedTCB = true } // version 1 has no COMMITTED_TCB
	cases := []synthCase{
		{name: "bit 17 clear", b: testev.Builder{Policy: azure &^ snp.PolicyReservedMBO}, want: verify.CheckReportFormat},
		{name: "bit 17 clear, version 2", b: testev.Builder{ReportVersion: 2, Policy: azure &^ snp.PolicyReservedMBO}, want: verify.CheckReportFormat},
		{name: "bit 17 clear, version 5", b: testev.Builder{ReportVersion: 5, Policy: azure &^ snp.PolicyReservedMBO}, want: verify.CheckReportFormat},
		{name: "bit 26", b: testev.Builder{Policy: azure | 1<<26}, want: verify.CheckReportFormat},
		{name: "bit 63", b: testev.Builder{ReportVersion: 5, Policy: azure | 1<<63}, want: verify.CheckReportFormat},
		{name: "CIPHERTEXT_HIDING on version 1", b: testev.Builder{ReportVersion: 1, Policy: azure | snp.PolicyCiphertextHiding}, opts: v1, want: verify.CheckReportFormat},
		{name: "PAGE_SWAP_DISABLE on version 1", b: testev.Builder{ReportVersion: 1, Policy: azure | snp.PolicyPageSwapDisable}, opts: v1, want: verify.CheckReportFormat},
		{name: "version 1 with the Azure policy verifies", b: testev.Builder{ReportVersion: 1}, opts: v1},
		{name: "every bit of ABI rev. 1.58, version 2", b: testev.Builder{ReportVersion: 2, Policy: snp.PolicyDefined &^ (snp.PolicyDebug | snp.PolicyMigrateMA)},
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if c.GuestPolicy != snp.PolicyDefined&^(snp.PolicyDebug|snp.PolicyMigrateMA) || c.Debug || !c.SMT {
					t.Errorf("guest policy 0x%x debug %v smt %v", c.GuestPolicy, c.Debug, c.SMT)
				}
			}},
		{name: "CIPHERTEXT_HIDING, RAPL_DIS, PAGE_SWAP_DISABLE, version 5", b: testev.Builder{ReportVersion: 5, Policy: azure | snp.PolicyCiphertextHiding | snp.PolicyRAPLDis | snp.PolicyPageSwapDisable}},
	}
	runSynth(t, cases)
	for _, tc := range cases[:5] {
		t.Run("bare report, "+tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			_, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
			wantCheck(t, err, verify.CheckReportFormat)
			if !errors.Is(err, snp.ErrGuestPolicy) {
				t.Errorf("err = %v, want snp.ErrGuestPolicy", err)
			}
		})
	}
}

// TestForgedTCBReserved: a signed report whose CURRENT, COMMITTED or
// LAUNCH TCB has a byte set that its product line's layout reserves is
// snp-report-format after the signature (the claims would show parts that
// hide it); REPORTED_TCB's reserved bytes never match the VCEK (vcek-tcb).
// A byte that holds a part (Turin's TEE in byte 2) verifies.
func TestForgedTCBReserved(t *testing.T) {
	xorByte := func(off int) func([]byte) { return func(r []byte) { r[off] ^= 0x10 } }
	uncommitted := func(o *verify.Config) { o.Policy.AllowUncommittedTCB = true }
	var cases []synthCase
	for _, p := range snp.Products() {
		rsv := 2 // Milan and Genoa: bytes 2 to 5
		if p == snp.Turin {
			rsv = 6 // bytes 4 to 6
		}
		cases = append(cases,
			synthCase{name: fmt.Sprintf("%s CURRENT_TCB byte %d", p, rsv), b: testev.Builder{Product: p, MutateReport: xorByte(snp.OffsetCurrentTCB + rsv)}, want: verify.CheckReportFormat},
			synthCase{name: fmt.Sprintf("%s COMMITTED_TCB byte 5", p), b: testev.Builder{Product: p, MutateReport: xorByte(snp.OffsetCommittedTCB + 5)}, opts: uncommitted, want: verify.CheckReportFormat},
			synthCase{name: fmt.Sprintf("%s LAUNCH_TCB byte 4", p), b: testev.Builder{Product: p, MutateReport: xorByte(snp.OffsetLaunchTCB + 4)}, want: verify.CheckReportFormat},
			synthCase{name: fmt.Sprintf("%s REPORTED_TCB byte 4", p), b: testev.Builder{Product: p, MutateReport: xorByte(snp.OffsetReportedTCB + 4)}, want: verify.CheckVCEKTCB},
			synthCase{name: fmt.Sprintf("%s VLEK, CURRENT_TCB byte 5", p), b: testev.Builder{Product: p, VCEK: testev.VCEKTemplate{VLEK: true}, MutateReport: xorByte(snp.OffsetCurrentTCB + 5)}, want: verify.CheckReportFormat},
			synthCase{name: fmt.Sprintf("%s CURRENT_TCB microcode verifies", p), b: testev.Builder{Product: p, MutateReport: xorByte(snp.OffsetCurrentTCB + 7)}},
		)
	}
	cases = append(cases,
		synthCase{name: "Turin CURRENT_TCB byte 2 (TEE) verifies", b: testev.Builder{Product: snp.Turin, MutateReport: xorByte(snp.OffsetCurrentTCB + 2)},
			check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if c.CurrentTCB.TEE != c.ReportedTCB.TEE^0x10 {
					t.Errorf("current TCB %s, reported %s", c.CurrentTCB, c.ReportedTCB)
				}
			}},
		synthCase{name: "version 1 Milan, CURRENT_TCB byte 3", b: testev.Builder{ReportVersion: 1, MutateReport: xorByte(snp.OffsetCurrentTCB + 3)}, opts: uncommitted, want: verify.CheckReportFormat},
	)
	runSynth(t, cases)
	ev := (&testev.Builder{MutateReport: xorByte(snp.OffsetCurrentTCB + 3)}).MustBuild()
	_, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
	wantCheck(t, err, verify.CheckReportFormat)
	if !errors.Is(err, snp.ErrTCBReserved) {
		t.Errorf("bare report: err = %v, want snp.ErrTCBReserved", err)
	}
}

// TestForgedReportVersion: versions outside 2..5 (the AMD ABI's newest is
// 5) are rejected as snp-report-format, signed or not; 2 to 5 verify.
func TestForgedReportVersion(t *testing.T) {
	var cases []synthCase
	for _, v := range []uint32{0, 1, 6, 7, 0x100, 0x80000000, 0xFFFFFFFF} {
		cases = append(cases, synthCase{
			name: fmt.Sprintf("version %#x", v),
			b:    testev.Builder{MutateReport: setVersion(v)},
			want: verify.CheckReportFormat,
		})
	}
	for _, v := range []uint32{2, 3, 4, 5} {
		cases = append(cases, synthCase{name: fmt.Sprintf("version %d verifies", v), b: testev.Builder{ReportVersion: v}})
	}
	runSynth(t, cases)
}

// TestForgedBareReport: the bare-report path (verify.Report) applies the
// same rules.
func TestForgedBareReport(t *testing.T) {
	zero := [64]byte{}
	tests := []struct {
		name string
		b    testev.Builder
		want verify.Check
	}{
		{"defaults verify", testev.Builder{}, ""},
		{"version 0xffffffff", testev.Builder{MutateReport: setVersion(0xFFFFFFFF)}, verify.CheckReportFormat},
		{"VLEK", testev.Builder{MutateReport: setSignerInfo(snp.SigningKeyVLEK << 2)}, verify.CheckReportSignature},
		{"masked chip", testev.Builder{ChipID: &zero, MutateReport: setSignerInfo(snp.SignerInfoMaskChipKey)}, verify.CheckChipID},
		{"forged product name", testev.Builder{VCEK: testev.VCEKTemplate{ProductName: "Milan-ZZZ-evil"}}, verify.CheckVCEKFormat},
		{"critical extension", testev.Builder{VCEK: testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}}}, verify.CheckVCEKFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			claims, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
			wantOutcome(t, claims, err, tc.want)
		})
	}
}

// TestForgedErrorsTyped: the rejections carry the snp sentinels.
func TestForgedErrorsTyped(t *testing.T) {
	tests := []struct {
		name string
		b    testev.Builder
		want error
	}{
		{"critical extension", testev.Builder{VCEK: testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}}}, snp.ErrCriticalExtension},
		{"product name", testev.Builder{VCEK: testev.VCEKTemplate{ProductName: "Milan-ZZZ-evil"}}, snp.ErrProductName},
		{"VLEK", testev.Builder{MutateReport: setSignerInfo(snp.SigningKeyVLEK << 2)}, snp.ErrSigningKey},
		{"none", testev.Builder{MutateReport: setSignerInfo(snp.SigningKeyNone << 2)}, snp.ErrSigningKey},
		{"version", testev.Builder{MutateReport: setVersion(6)}, snp.ErrReportVersion},
		{"guest policy bit 17", testev.Builder{Policy: testev.DefaultPolicy &^ snp.PolicyReservedMBO}, snp.ErrGuestPolicy},
		{"masked chip", testev.Builder{MutateReport: setSignerInfo(snp.SignerInfoMaskChipKey)}, snp.ErrChipID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
			if !errors.Is(err, tc.want) || !errors.Is(err, verify.ErrRejected) {
				t.Fatalf("err = %v, want %v and ErrRejected", err, tc.want)
			}
		})
	}
}

// TestPolicyProductNameStrict: policy `products` go through the same strict
// snp.ParseProduct as VCEKs, and the error names the field.
func TestPolicyProductNameStrict(t *testing.T) {
	for _, name := range []string{"Milan-ZZZ-evil", "Milan-", "MilanX", "milan-B0", "Genoa-b1", "Turin-C10"} {
		_, err := verify.ParsePolicy([]byte(`{"products":["` + name + `"]}`))
		if err == nil || !errors.Is(err, snp.ErrProductName) || !strings.Contains(err.Error(), "products") {
			t.Errorf("products [%q]: err = %v, want an error naming products", name, err)
		}
	}
	for _, name := range []string{"Milan", "Milan-B0", "Genoa", "Turin-C1"} {
		if _, err := verify.ParsePolicy([]byte(`{"products":["` + name + `"]}`)); err != nil {
			t.Errorf("products [%q]: %v", name, err)
		}
	}
}

// TestMaskedChipNotFetched: evidence without a VCEK whose report says
// MASK_CHIP_KEY (the VCEK masked) or carries a zero chip id (MASK_CHIP_ID)
// is rejected by vcek-chip-id before any certificate source is asked; so
// is a Turin report whose CHIP_ID has a byte set after its 8-byte hwID.
func TestMaskedChipNotFetched(t *testing.T) {
	zero := [64]byte{}
	for _, tc := range []struct {
		name string
		b    testev.Builder
	}{
		{"masked", testev.Builder{OmitVCEK: true, ChipID: &zero, MutateReport: setSignerInfo(snp.SignerInfoMaskChipKey)}},
		{"mask bit, chip id present", testev.Builder{OmitVCEK: true, MutateReport: setSignerInfo(snp.SignerInfoMaskChipKey)}},
		{"zero chip id", testev.Builder{OmitVCEK: true, ChipID: &zero}},
		{"zero Turin chip id", testev.Builder{Product: snp.Turin, OmitVCEK: true, ChipID: &zero}},
		// Turin's CHIP_ID is its 8-byte hwID then zeros: a byte set after it
		// names no VCEK (a VCEK carried in the evidence is vcek-chip-id too).
		{"Turin chip id with a byte after the hwID", testev.Builder{Product: snp.Turin, OmitVCEK: true, MutateReport: func(r []byte) { r[snp.OffsetChipID+8] = 1 }}},
		{"Turin chip id with the last byte set", testev.Builder{Product: snp.Turin, OmitVCEK: true, MutateReport: func(r []byte) { r[snp.OffsetChipID+63] = 0x80 }}},
		{"Turin hwID zero, a byte after it set", testev.Builder{Product: snp.Turin, OmitVCEK: true, ChipID: &zero, MutateReport: func(r []byte) { r[snp.OffsetChipID+8] = 1 }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			calls := 0
			opts := verify.Config{Roots: testev.Roots(), VCEKGetter: verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
				calls++
				return ev.VCEKDER, nil
			})}
			_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, opts)
			wantCheck(t, err, verify.CheckChipID)
			if calls != 0 {
				t.Errorf("certificate source asked %d times", calls)
			}
		})
	}
}

// TestV0VCEKStack: a v0 "vcek" may stack the VCEK's chain after it, as
// trustee's vcek.pem does (VCEK, ASK, ARK), but nothing signs what
// follows the VCEK, so it must be exactly the chain that verified the
// VCEK, in order; anything else is vcek-chain (before, any two blocks of
// the sender's choice rode along: AMD's certificates in another order,
// the VCEK again, another product line's ASK, or kilobytes of text
// labelled CERTIFICATE). A Go caller's Evidence.VCEKChain is held to the
// same, with the ASVK in the ASK's place for a VLEK.
func TestV0VCEKStack(t *testing.T) {
	raw := testutil.ReadFile(t, testutil.SNPDir+"evidence-v0.json")
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	vcek := doc["vcek"].(string)
	block := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	milan := testutil.PEMBlocks(t, testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem"), "CERTIFICATE")
	genoa := testutil.PEMBlocks(t, testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/genoa_ask_ark_asvk.pem"), "CERTIFICATE")
	ask, ark, asvk := block(milan[0]), block(milan[1]), block(milan[2])
	garbage := block([]byte(strings.Repeat("attacker's bytes ", 256)))
	for _, tc := range []struct {
		name string
		pem  string
		want verify.Check
	}{
		{"VCEK alone", vcek, ""},
		{"VCEK, ASK, ARK", vcek + ask + ark, ""},
		{"VCEK, ASK", vcek + ask, ""},
		{"VCEK, ARK, ASK", vcek + ark + ask, verify.CheckVCEKChain},
		{"VCEK, ARK", vcek + ark, verify.CheckVCEKChain},
		{"VCEK, ASVK, ARK", vcek + asvk + ark, verify.CheckVCEKChain},
		{"VCEK, ASK, ASK", vcek + ask + ask, verify.CheckVCEKChain},
		{"VCEK, VCEK", vcek + vcek, verify.CheckVCEKChain},
		{"VCEK, Genoa's ASK and ARK", vcek + block(genoa[0]) + block(genoa[1]), verify.CheckVCEKChain},
		{"VCEK, ASK, then text labelled CERTIFICATE", vcek + ask + garbage, verify.CheckVCEKChain},
		{"VCEK, text labelled CERTIFICATE twice", vcek + garbage + garbage, verify.CheckVCEKChain},
		{"VCEK, ASK, ARK, ASVK", vcek + ask + ark + asvk, verify.CheckEvidenceFormat},
		{"ASK, VCEK", ask + vcek, verify.CheckVCEKFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc["vcek"] = tc.pem
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			// One Verifier for two calls: the second may not skip the
			// check through a cache or the evidence decoder's memory.
			v := newVerifier(t, fixedOpts())
			for range 2 {
				c, err := v.Evidence(context.Background(), b, []byte("challenge"))
				wantOutcome(t, c, err, tc.want)
			}
		})
	}

	// A VLEK's chain is its ASVK, then the ARK.
	ev := (&testev.Builder{VCEK: testev.VCEKTemplate{VLEK: true}}).MustBuild()
	c := testev.PrivateChain(snp.Milan)

	// The rejection names the certificates, not where the verifier's roots
	// come from: serve tells the client a vcek-chain failure in full, and
	// the path of its --roots file is the operator's configuration.
	t.Run("rejection does not name the roots' source", func(t *testing.T) {
		const where = "roots file /etc/operator/private-roots.pem"
		mine := *testev.Roots().Chains(snp.Milan)[0]
		mine.Source = where
		e := *ev.Evidence
		e.VCEKChain = [][]byte{c.ARK.Raw, c.ASVK.Raw}
		v := newVerifier(t, verify.Config{Roots: testev.Roots().Replace(&mine)})
		_, err := v.Decoded(context.Background(), &e, ev.Nonce)
		wantCheck(t, err, verify.CheckVCEKChain)
		if strings.Contains(err.Error(), "private-roots") {
			t.Errorf("err = %v: names the roots' source", err)
		}
	})
	// Nor does a VCEK whose signature the configured ASK does not verify.
	t.Run("bad VCEK signature does not name the roots' source", func(t *testing.T) {
		mine := *testev.Roots().Chains(snp.Milan)[0]
		mine.Source = "roots file /etc/operator/private-roots.pem"
		v1 := (&testev.Builder{}).MustBuild()
		e := *v1.Evidence
		e.VCEK = bytes.Clone(e.VCEK)
		e.VCEK[len(e.VCEK)-1] ^= 1 // the last byte of the ASK's signature
		v := newVerifier(t, verify.Config{Roots: testev.Roots().Replace(&mine)})
		_, err := v.Decoded(context.Background(), &e, v1.Nonce)
		wantCheck(t, err, verify.CheckVCEKChain)
		if strings.Contains(err.Error(), "private-roots") || !strings.Contains(err.Error(), "configured roots") {
			t.Errorf("err = %v: names the roots' source, or not which roots", err)
		}
	})
	for _, tc := range []struct {
		name  string
		chain [][]byte
		want  verify.Check
	}{
		{"VLEK, ASVK, ARK", [][]byte{c.ASVK.Raw, c.ARK.Raw}, ""},
		{"VLEK, ASVK", [][]byte{c.ASVK.Raw}, ""},
		{"VLEK, ASK, ARK", [][]byte{c.ASK.Raw, c.ARK.Raw}, verify.CheckVCEKChain},
		{"VLEK, ASVK, ARK, ARK", [][]byte{c.ASVK.Raw, c.ARK.Raw, c.ARK.Raw}, verify.CheckVCEKChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *ev.Evidence
			e.VCEKChain = tc.chain
			v := newVerifier(t, verify.Config{Roots: testev.Roots()})
			claims, err := v.Decoded(context.Background(), &e, ev.Nonce)
			wantOutcome(t, claims, err, tc.want)
		})
	}
}

// TestValidateVCEKSignerKind: ValidateVCEK (the Validate of a
// VCEKRequest, which certificate sources run before they cache) refuses a
// VCEK for a report whose SIGNER_INFO names the VLEK, as report-signature,
// and accepts it for the report it signed.
func TestValidateVCEKSignerKind(t *testing.T) {
	cfg := verify.Config{Roots: testev.Roots()}
	for _, tc := range []struct {
		name string
		b    testev.Builder
		want verify.Check
	}{
		{"SIGNER_INFO VCEK", testev.Builder{}, ""},
		{"SIGNER_INFO VLEK", testev.Builder{MutateReport: setSignerInfo(snp.SigningKeyVLEK << 2)}, verify.CheckReportSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			r, err := snp.ParseReport(ev.Report)
			if err != nil {
				t.Fatal(err)
			}
			err = verify.ValidateVCEK(cfg, r, snp.Milan, ev.VCEKDER)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateVCEK of the report's own VCEK: %v", err)
				}
				return
			}
			wantCheck(t, err, tc.want)
		})
	}
}
