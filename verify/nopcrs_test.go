package verify_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// pcrPolicyOpts returns fixedOpts with a policy that pins PCR 0 to v.
func pcrPolicyOpts(v []byte) verify.Config {
	o := fixedOpts()
	o.Policy.PCRs = map[int]verify.HexBytes{0: v}
	return o
}

// TestNoPCRValues: every real evidence document with its "pcrs" removed
// (older trustee bundles) verifies: the quote's signature and nonce are
// checked, the claims say the PCR values are unknown and still report the
// signed selection and digest; a policy that pins a PCR fails with
// pcr-policy; the same document with PCRs keeps today's claims.
func TestNoPCRValues(t *testing.T) {
	ctx := context.Background()
	for _, re := range realEvidences(t) {
		t.Run(re.name, func(t *testing.T) {
			full, err := verify.Evidence(ctx, re.data, re.nonce, fixedOpts())
			if err != nil {
				t.Fatal(err)
			}
			if full.PCRValues != verify.PCRValuesPresent || len(full.PCRs) != 24 || len(full.PCRDigest) != 32 {
				t.Fatalf("with PCRs: pcr_values %q, %d PCRs, digest %x", full.PCRValues, len(full.PCRs), []byte(full.PCRDigest))
			}
			data := testutil.DropPCRs(t, re.data)
			c, err := verify.Evidence(ctx, data, re.nonce, fixedOpts())
			if err != nil {
				t.Fatalf("evidence without PCR values rejected: %v", err)
			}
			if c.PCRs != nil || c.PCRValues != verify.PCRValuesAbsent {
				t.Errorf("PCRs %v, pcr_values %q; want nil and %q", c.PCRs, c.PCRValues, verify.PCRValuesAbsent)
			}
			if !bytes.Equal(c.PCRDigest, full.PCRDigest) || !slices.EqualFunc(c.PCRSelection, full.PCRSelection, func(a, b verify.PCRBank) bool {
				return a.Hash == b.Hash && slices.Equal(a.PCRs, b.PCRs)
			}) {
				t.Errorf("selection %v digest %x, want %v %x", c.PCRSelection, []byte(c.PCRDigest), full.PCRSelection, []byte(full.PCRDigest))
			}
			if !c.NonceChecked || !bytes.Equal(c.Nonce, full.Nonce) || !bytes.Equal(c.ChipID, full.ChipID) || c.FreshReport != full.FreshReport {
				t.Errorf("claims differ from the full evidence's beyond the PCRs")
			}
			checkNoPCRJSON(t, c)

			// The nonce and the signature are still checked.
			_, err = verify.Evidence(ctx, data, []byte("another nonce"), fixedOpts())
			wantCheck(t, err, verify.CheckNonce)
			ev := decode(t, data)
			ev.Quote.Signature = slices.Clone(ev.Quote.Signature)
			ev.Quote.Signature[10] ^= 1
			_, err = newVerifier(t, fixedOpts()).Decoded(ctx, ev, re.nonce)
			wantCheck(t, err, verify.CheckQuoteSignature)

			// A policy that pins PCRs cannot be met, even with the true value.
			_, err = verify.Evidence(ctx, data, re.nonce, pcrPolicyOpts(full.PCRs[0]))
			wantCheck(t, err, verify.CheckPCRPolicy)
			if msg := err.Error(); !strings.Contains(msg, "carries no PCR values") || !strings.Contains(msg, hex.EncodeToString(full.PCRDigest)) {
				t.Errorf("pcr-policy message %q does not say the values are absent and name the digest", msg)
			}
			// The full evidence meets that policy.
			if _, err := verify.Evidence(ctx, re.data, re.nonce, pcrPolicyOpts(full.PCRs[0])); err != nil {
				t.Errorf("full evidence fails the PCR policy: %v", err)
			}
		})
	}
}

// checkNoPCRJSON checks the JSON form of claims without PCR values.
func checkNoPCRJSON(t *testing.T, c *verify.Claims) {
	t.Helper()
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["pcrs"]; ok {
		t.Error(`JSON has "pcrs" for unknown PCR values`)
	}
	if string(m["pcr_values"]) != `"absent"` || string(m["pcr_digest"]) != `"`+hex.EncodeToString(c.PCRDigest)+`"` {
		t.Errorf("JSON pcr_values %s pcr_digest %s", m["pcr_values"], m["pcr_digest"])
	}
	var sel []struct {
		Hash string `json:"hash"`
		PCRs []int  `json:"pcrs"`
	}
	if err := json.Unmarshal(m["pcr_selection"], &sel); err != nil || len(sel) != 1 || sel[0].Hash != "sha256" || len(sel[0].PCRs) != 24 {
		t.Errorf("JSON pcr_selection %s", m["pcr_selection"])
	}
}

// TestNoPCRValuesSynthetic: synthetic evidence (v1, v2, every product line)
// whose quote carries no PCR values, under forged variants.
func TestNoPCRValuesSynthetic(t *testing.T) {
	other := testev.EKKey() // an RSA key that is not the AK
	tests := []struct {
		name string
		b    testev.Builder
		opts *verify.Config
		want verify.Check // "" = verifies with PCR values absent
	}{
		{name: "v1", b: testev.Builder{Version: 1, OmitPCRValues: true}},
		{name: "v2", b: testev.Builder{Version: 2, OmitPCRValues: true}},
		{name: "genoa", b: testev.Builder{Product: "Genoa", OmitPCRValues: true}},
		{name: "two PCRs selected", b: testev.Builder{PCRSelect: []int{0, 7}, OmitPCRValues: true}},
		{name: "quote signed by another key", b: testev.Builder{QuoteKey: other, OmitPCRValues: true}, want: verify.CheckQuoteSignature},
		{name: "replayed extraData", b: testev.Builder{ExtraData: []byte("replayed"), OmitPCRValues: true}, want: verify.CheckNonce},
		{name: "trailing byte in TPMS_ATTEST", b: testev.Builder{OmitPCRValues: true, MutateQuote: func(m []byte) []byte { return append(m, 0) }}, want: verify.CheckQuoteFormat},
		{name: "policy pins a PCR", b: testev.Builder{OmitPCRValues: true}, opts: &verify.Config{Policy: verify.Policy{PCRs: map[int]verify.HexBytes{7: testev.DefaultPCRs()[7]}}}, want: verify.CheckPCRPolicy},
		{name: "policy pins a PCR, values present", b: testev.Builder{}, opts: &verify.Config{Policy: verify.Policy{PCRs: map[int]verify.HexBytes{7: testev.DefaultPCRs()[7]}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.b.MustBuild()
			opts := tc.opts
			if opts == nil {
				opts = &verify.Config{}
			}
			opts.Roots = e.Roots()
			c, err := verify.Evidence(context.Background(), e.JSON, e.Nonce, *opts)
			if tc.want != "" {
				wantCheck(t, err, tc.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantValues := verify.PCRValuesAbsent
			if !tc.b.OmitPCRValues {
				wantValues = verify.PCRValuesPresent
			}
			if c.PCRValues != wantValues || (c.PCRs == nil) != tc.b.OmitPCRValues || len(c.PCRDigest) != 32 || len(c.PCRSelection) != 1 {
				t.Errorf("pcr_values %q PCRs %v digest %x selection %v", c.PCRValues, c.PCRs, []byte(c.PCRDigest), c.PCRSelection)
			}
		})
	}
}
