package main

import (
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
)

// TestMAAVerifyLifetimeAudience: "maa verify" bounds the token's validity
// period (--max-lifetime, default 24h; iat and nbf required: maa-lifetime)
// and accepts an aud only when --audience names it (maa-audience); each
// rejection exits 2 with its "(expected: ...)", a bad --max-lifetime is a
// usage error. Payloads are the real token's (8 h), re-signed with the
// test key.
func TestMAAVerifyLifetimeAudience(t *testing.T) {
	const iat, rp = 1765826648, "https://rp.example"
	tok, jwks := realMAAFiles(t)
	signed := func(fn func(m map[string]any)) (token, jwks string) {
		p, err := testmaa.Edit(payloadOf(t, maaToken), fn)
		if err != nil {
			t.Fatal(err)
		}
		return testSigned(t, p)
	}
	noIat, noIatJWKS := signed(func(m map[string]any) { delete(m, "iat") })
	year, yearJWKS := signed(func(m map[string]any) { m["exp"] = iat + 365*24*3600 })
	audTok, audJWKS := signed(func(m map[string]any) { m["aud"] = rp })
	audArr, audArrJWKS := signed(func(m map[string]any) { m["aud"] = []string{"https://other.example", rp} })
	audDup, audDupJWKS := signed(func(m map[string]any) { m["aud"] = []string{rp, rp} })
	const lifetimeExpected = "(expected: iat and nbf present and exp at most --max-lifetime"
	base := []string{"maa", "verify", "--issuer", testmaa.Issuer, "--at", maaAt}
	cases := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"real token, 8 h", []string{"--jwks", jwks, tok}, 0, []string{"VERIFIED", "lifetime"}},
		{"real token, --max-lifetime 8h", []string{"--jwks", jwks, "--max-lifetime", "8h", tok}, 0, []string{"VERIFIED"}},
		{"real token, --max-lifetime 7h59m59s", []string{"--jwks", jwks, "--max-lifetime", "7h59m59s", tok}, 2, []string{"REJECTED: maa-lifetime", "valid for 8h0m0s", lifetimeExpected}},
		{"--max-lifetime 0", []string{"--jwks", jwks, "--max-lifetime", "0", tok}, 1, []string{"--max-lifetime 0s: want a positive duration"}},
		{"--max-lifetime negative", []string{"--jwks", jwks, "--max-lifetime", "-1h", tok}, 1, []string{"--max-lifetime"}},
		{"no iat", []string{"--jwks", noIatJWKS, noIat}, 2, []string{"REJECTED: maa-lifetime", "no iat", lifetimeExpected}},
		{"valid a year", []string{"--jwks", yearJWKS, year}, 2, []string{"REJECTED: maa-lifetime", "8760h0m0s", lifetimeExpected}},
		{"valid a year, --max-lifetime 9000h", []string{"--jwks", yearJWKS, "--max-lifetime", "9000h", year}, 0, []string{"VERIFIED"}},
		{"aud, no --audience", []string{"--jwks", audJWKS, audTok}, 2, []string{"REJECTED: maa-audience", "no audience is expected", "(expected: a token that names no aud"}},
		{"aud, --audience", []string{"--jwks", audJWKS, "--audience", rp, audTok}, 0, []string{"VERIFIED", "audience", rp}},
		{"aud array, --audience", []string{"--jwks", audArrJWKS, "--audience", rp, audArr}, 0, []string{"VERIFIED"}},
		{"aud, another --audience", []string{"--jwks", audJWKS, "--audience", "https://other.example", audTok}, 2, []string{"REJECTED: maa-audience", "with --audience, an aud"}},
		{"aud twice, --audience", []string{"--jwks", audDupJWKS, "--audience", rp, audDup}, 2, []string{"REJECTED: maa-audience", "twice"}},
		{"no aud, --audience", []string{"--jwks", jwks, "--audience", rp, tok}, 2, []string{"REJECTED: maa-audience", "names no aud"}},
		{"aud, --audience, --json", []string{"--jwks", audJWKS, "--audience", rp, "--json", audTok}, 0, []string{`"verified": true`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBin(t, nil, append(base, tc.args...)...)
			wantExit(t, code, tc.code, out, errOut)
			wantContains(t, "output", out+errOut, tc.wants...)
			if tc.code == 0 && !strings.Contains(tc.name, "json") && strings.Contains(strings.Join(tc.args, " "), "--audience") {
				wantContains(t, "stdout", out, "audience       "+rp)
			}
		})
	}
}
