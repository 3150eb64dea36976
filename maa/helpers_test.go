package maa_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// The real token and its instance (testdata/maa/SOURCES.md).
const (
	realTokenFile = "maa/azureguest-snp-sharedeus2-20251215.jwt"
	windowsFile   = "maa/azureguest-snp-windows-sharedweu-20230330.jwt"
	aksFile       = "maa/azureguest-snp-aks-sharedwus-20220907.jwt"
	trustedLaunch = "maa/azureguest-trustedlaunch-sharedeus2-20220414.jwt"
	realJWKS      = "maa/sharedeus2-jwks.json"
	realIssuer    = testmaa.Issuer
	realKid       = "J0pAPdfXXHqWWimgrH853wMIdh5/fLe1z6uSXYPXCa0="
	realIAT       = 1765826648
	realEXP       = realIAT + 8*3600
)

// realTime is inside the real token's lifetime: iat + 1 h.
var realTime = time.Unix(realIAT+3600, 0)

// realKeys is the real instance's JWKS.
func realKeys(t testing.TB) *maa.KeySet {
	t.Helper()
	return testutil.Must(maa.ParseJWKS(testutil.ReadFile(t, realJWKS)))(t)
}

// realConfig trusts the real instance at realTime.
func realConfig(t testing.TB) maa.Config {
	return maa.Config{Keys: realKeys(t), Issuer: realIssuer, Time: realTime}
}

// parts returns the three base64url parts of a compact token.
func parts(t testing.TB, token []byte) []string {
	t.Helper()
	p := strings.Split(strings.TrimSpace(string(token)), ".")
	if len(p) != 3 {
		t.Fatalf("%d parts", len(p))
	}
	return p
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// payloadOf returns the decoded payload of a token.
func payloadOf(t testing.TB, token []byte) []byte {
	t.Helper()
	return testutil.Must(base64.RawURLEncoding.DecodeString(parts(t, token)[1]))(t)
}

// mint signs header.payload with key (RS256), as MAA does.
func mint(t testing.TB, key *rsa.PrivateKey, header string, payload []byte) []byte {
	t.Helper()
	return testutil.Must(testmaa.Sign(key, header, payload))(t)
}

// rsHeader is an MAA-shaped header for kid.
func rsHeader(kid string) string { return testmaa.Header(kid) }

// selfSigned returns a self-signed CA:FALSE certificate for key, like MAA's.
func selfSigned(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	return testutil.Must(testmaa.SelfSigned(key))(t)
}

// jwksFor returns an MAA-shaped JWKS (x5c only) of key under kid.
func jwksFor(t testing.TB, key *rsa.PrivateKey, kid string) []byte {
	t.Helper()
	return testutil.Must(testmaa.JWKS(key, kid))(t)
}

// keySet parses a JWKS.
func keySet(t testing.TB, jwks []byte) *maa.KeySet {
	t.Helper()
	return testutil.Must(maa.ParseJWKS(jwks))(t)
}

// edit changes a payload through a generic map.
func edit(t testing.TB, payload []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	return testutil.Must(testmaa.Edit(payload, fn))(t)
}

// tee returns the x-ms-isolation-tee object of a payload map.
func tee(m map[string]any) map[string]any { return testmaa.TEE(m) }

// setTEE returns an edit that sets the isolation TEE's claim k to v.
func setTEE(k string, v any) func(m map[string]any) {
	return func(m map[string]any) { tee(m)[k] = v }
}

// wantCheck fails unless err is an *maa.Error for check; check "" wants
// no error.
func wantCheck(t testing.TB, err error, check maa.Check) {
	t.Helper()
	if check == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var merr *maa.Error
	if !errors.As(err, &merr) {
		t.Fatalf("error %v, want a %s *maa.Error", err, check)
	}
	if merr.Check != check {
		t.Fatalf("check %s (%v), want %s", merr.Check, err, check)
	}
	if check != maa.CheckJWKS && !errors.Is(err, maa.ErrRejected) {
		t.Fatalf("%v does not match ErrRejected", err)
	}
}

// tdxTEE holds the tdx_* claims of the "Sample JWT generated for TDX
// attestation" in Microsoft's attestation-token-examples page (MAA's TDX
// EAT profile claims; values as published there).
var tdxTEE = map[string]any{
	"attester_tcb_status":               "UpToDate",
	"dbgstat":                           "disabled",
	"tdx_mrconfigid":                    strings.Repeat("00", 48),
	"tdx_mrowner":                       strings.Repeat("00", 48),
	"tdx_mrownerconfig":                 strings.Repeat("00", 48),
	"tdx_mrseam":                        "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
	"tdx_mrsignerseam":                  strings.Repeat("00", 48),
	"tdx_mrtd":                          "5be56d418d33661a6c21da77c9503a07e430b35eb92a0bd042a6b3c4e79b3c82bb1c594e770d0d129a0724669f1e953f",
	"tdx_report_data":                   "93c6db49f2318387bcebdad0275e206725d948f9000d900344aa44abaef14596" + strings.Repeat("00", 32),
	"tdx_rtmr0":                         strings.Repeat("00", 48),
	"tdx_rtmr1":                         strings.Repeat("00", 48),
	"tdx_rtmr2":                         strings.Repeat("00", 48),
	"tdx_rtmr3":                         strings.Repeat("00", 48),
	"tdx_seam_attributes":               "0000000000000000",
	"tdx_seamsvn":                       3,
	"tdx_td_attributes":                 "0000000000000000",
	"tdx_td_attributes_debug":           false,
	"tdx_td_attributes_key_locker":      false,
	"tdx_td_attributes_perfmon":         false,
	"tdx_td_attributes_protection_keys": false,
	"tdx_td_attributes_septve_disable":  false,
	"tdx_tee_tcb_svn":                   "03000600000000000000000000000000",
	"tdx_xfam":                          "e718060000000000",
}

// tdxFor returns an edit that turns an AzureGuest SEV-SNP payload map
// into a tdxvm one for reportData (tdx_report_data), then applies change
// (nil: none).
func tdxFor(reportData []byte, change func(m map[string]any)) func(m map[string]any) {
	return func(m map[string]any) {
		asTDX(m)
		tee(m)["tdx_report_data"] = hex.EncodeToString(reportData)
		if change != nil {
			change(m)
		}
	}
}

// asTDX turns an AzureGuest SEV-SNP payload map into a tdxvm one: the
// x-ms-sevsnpvm-* claims go, tdxTEE's come.
func asTDX(m map[string]any) {
	t := tee(m)
	for k := range t {
		if strings.HasPrefix(k, "x-ms-sevsnpvm-") {
			delete(t, k)
		}
	}
	maps.Copy(t, tdxTEE)
	t["x-ms-attestation-type"] = "tdxvm"
}
