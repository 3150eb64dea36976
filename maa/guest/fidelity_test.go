//go:build cgo

package guest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil/cvmtest"
	"github.com/snp-vtpm/snp-vtpm/maa/guest"
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
// none of its own.
func TestFidelityFakeMAAToken(t *testing.T) {
	real := claimPaths(t, testutil.ReadFile(t, "maa/azureguest-snp-sharedeus2-20251215.jwt"))
	cvm := cvmtest.Start(t, nil)
	_, url := newService(t)
	token, err := guest.Attest(context.Background(), cvm.TPM(), nil, url, inputs(t, cvm, []byte("fidelity")))
	if err != nil {
		t.Fatal(err)
	}
	fake := claimPaths(t, token)
	tee := "x-ms-isolation-tee."
	absent := map[string]string{
		// The fake MAA runs no attestation policy.
		"x-ms-policy-hash": "no policy",
		// It does not evaluate the Secure Boot databases against
		// Microsoft's, nor Windows' boot features: it claims nothing it
		// did not check.
		"x-ms-azurevm-dbvalidated":                     "unchecked",
		"x-ms-azurevm-dbxvalidated":                    "unchecked",
		"x-ms-azurevm-default-securebootkeysvalidated": "unchecked",
		"x-ms-azurevm-elam-enabled":                    "unchecked",
		"x-ms-azurevm-hvci-policy":                     "unchecked",
		// Guest policy bits MAA added in 2025, and REPORT_ID: package maa's
		// typed claims do not model them (verify.Claims has no report id).
		tee + "x-ms-sevsnpvm-ciphertext-hiding-dram-enabled": "not modelled",
		tee + "x-ms-sevsnpvm-cxl-allowed":                    "not modelled",
		tee + "x-ms-sevsnpvm-mem-aes256-xts-required":        "not modelled",
		tee + "x-ms-sevsnpvm-page-swap-disabled":             "not modelled",
		tee + "x-ms-sevsnpvm-rapl-disabled":                  "not modelled",
		tee + "x-ms-sevsnpvm-singlesocket":                   "not modelled",
		tee + "x-ms-sevsnpvm-reportid":                       "not modelled",
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
