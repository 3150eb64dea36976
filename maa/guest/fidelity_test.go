//go:build cgo

package guest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil/cvmtest"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/maa/fakemaa"
	"github.com/snp-vtpm/snp-vtpm/maa/guest"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// claimPaths flattens a JWT payload into its member paths ("a.b",
// "keys[].kid") and each one's JSON type. What the client chose to send
// (client-payload's members) is left out; jti's type notes its length.
func claimPaths(t *testing.T, token []byte) map[string]string {
	t.Helper()
	parts := strings.Split(string(bytes.TrimSpace(token)), ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			out[prefix] = "object"
			if strings.HasSuffix(prefix, "client-payload") {
				return
			}
			for k, m := range x {
				walk(strings.TrimPrefix(prefix+"."+k, "."), m)
			}
		case []any:
			out[prefix] = "array"
			for _, m := range x {
				walk(prefix+"[]", m)
			}
		case string:
			out[prefix] = "string"
			if prefix == "jti" { // MAA's is 64 hex digits
				out[prefix] = fmt.Sprintf("string of %d", len(x))
			}
		default:
			out[prefix] = fmt.Sprintf("%T", v)
		}
	}
	walk("", v)
	delete(out, "")
	return out
}

// TestFidelityFakeMAAToken compares the member paths and JSON types of a
// fake MAA token with a real AzureGuest SNP token of December 2025
// (testdata/maa). Every path of the real token is in the fake one with the
// same type, except those listed as deliberately absent; the fake adds
// none of its own. The claims the fake adds to match (policy hash, the
// Windows boot features, Secure Boot default keys, REPORT_ID, the newer
// guest policy bits) carry what is true of the emulated CVM: checked by
// fakeClaimValues.
func TestFidelityFakeMAAToken(t *testing.T) {
	real := claimPaths(t, testutil.ReadFile(t, "maa/azureguest-snp-sharedeus2-20251215.jwt"))
	cvm := cvmtest.Start(t, nil)
	_, url := newService(t)
	in := inputs(t, cvm, []byte("fidelity"))
	token, err := guest.Attest(context.Background(), cvm.TPM(), nil, url, in)
	if err != nil {
		t.Fatal(err)
	}
	fake := claimPaths(t, token)
	fakeClaimValues(t, token, in.HCLReport)
	absent := map[string]string{
		// MAA's db and dbx validation (of the measured databases against
		// what it expects) is not reproduced: the fake claims neither
		// outcome rather than one it did not check.
		"x-ms-azurevm-dbvalidated":  "unchecked",
		"x-ms-azurevm-dbxvalidated": "unchecked",
	}
	for _, p := range slices.Sorted(maps.Keys(real)) {
		typ, ok := fake[p]
		if _, deliberate := absent[p]; deliberate {
			if ok {
				t.Errorf("%s is now in the fake token: drop it from the deliberate absences", p)
			}
			continue
		}
		if !ok || typ != real[p] {
			t.Errorf("%s: fake %q, real %q", p, typ, real[p])
		}
	}
	for p := range fake {
		if _, ok := real[p]; !ok {
			t.Errorf("%s is in the fake token only", p)
		}
	}
}

// fakeClaimValues checks the values of the claims the fake MAA gives to
// match real tokens: the hash of its own policy (in the real hash's form),
// no ELAM driver and HVCI policy 0 (the emulated log has no Windows boot
// events), Secure Boot keys that are not Azure's defaults (the emulated
// PK, KEK and db are fake certificates), and the REPORT_ID and guest
// policy bits of the CVM's own SNP report (hclBlob).
func fakeClaimValues(t *testing.T, token, hclBlob []byte) {
	t.Helper()
	keys, err := maa.EmulatedKeys()
	if err != nil {
		t.Fatal(err)
	}
	c, err := maa.Verify(context.Background(), token, maa.Config{Keys: keys, Issuer: maa.EmulatedIssuer, Nonce: []byte("fidelity"), TrustEmulated: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hcl.Parse(hclBlob)
	if err != nil {
		t.Fatal(err)
	}
	r, err := snp.ParseReport(h.SNPReport)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(fakemaa.Policy))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); c.PolicyHash != want || c.PolicyHash != fakemaa.PolicyHash() || len(c.PolicyHash) != 43 {
		t.Errorf("x-ms-policy-hash %q, want %q (43 characters, as MAA's)", c.PolicyHash, want)
	}
	if c.ELAMEnabled == nil || *c.ELAMEnabled || c.HVCIPolicy == nil || *c.HVCIPolicy != 0 ||
		c.DefaultKeysValidated == nil || *c.DefaultKeysValidated {
		t.Errorf("elam-enabled %v, hvci-policy %v, default-securebootkeysvalidated %v: want false, 0, false",
			ptr(c.ELAMEnabled), ptr(c.HVCIPolicy), ptr(c.DefaultKeysValidated))
	}
	s := c.IsolationTEE.SEVSNP
	if !bytes.Equal(s.ReportID, r.ReportID[:]) || r.ReportID == ([32]byte{}) {
		t.Errorf("x-ms-sevsnpvm-reportid %x, want the report's %x", s.ReportID, r.ReportID)
	}
	for _, b := range []struct {
		name string
		got  *bool
		mask uint64
	}{
		{"singlesocket", s.SingleSocket, snp.PolicySingle},
		{"cxl-allowed", s.CXLAllowed, snp.PolicyCXLAllow},
		{"mem-aes256-xts-required", s.MemAES256XTSRequired, snp.PolicyMemAES256XTS},
		{"rapl-disabled", s.RAPLDisabled, snp.PolicyRAPLDis},
		{"ciphertext-hiding-dram-enabled", s.CiphertextHidingDRAMEnabled, snp.PolicyCiphertextHiding},
		{"page-swap-disabled", s.PageSwapDisabled, snp.PolicyPageSwapDisable},
	} {
		if want := r.Policy&b.mask != 0; b.got == nil || *b.got != want {
			t.Errorf("x-ms-sevsnpvm-%s %v, want %v (guest policy %#x)", b.name, ptr(b.got), want, r.Policy)
		}
	}
}

// ptr formats a claim that may be absent.
func ptr[T any](p *T) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}
