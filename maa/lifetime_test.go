package maa_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestLifetime: a token must carry iat and nbf, and exp - iat and
// exp - nbf are bounded by Config.MaxLifetime (DefaultMaxLifetime when 0).
// Before, a token without iat or nbf, or valid for years, was accepted.
// Payloads are the real SEV-SNP token's (exp - iat = exp - nbf = 8 h),
// changed and re-signed with the test key, verified at realTime.
func TestLifetime(t *testing.T) {
	snpPayload := payloadOf(t, testutil.ReadFile(t, realTokenFile))
	day := int64(24 * 3600)
	set := func(kv ...any) []byte {
		return edit(t, snpPayload, func(m map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == "delete" {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
		})
	}
	cases := []struct {
		name    string
		payload []byte
		cfg     func(c *maa.Config)
		check   maa.Check
		text    string
	}{
		{"real payload, 8 h", snpPayload, nil, "", ""},
		{"real payload, a bound of exactly 8 h", snpPayload, func(c *maa.Config) { c.MaxLifetime = 8 * time.Hour }, "", ""},
		{"real payload, a bound of 8 h less 1 s", snpPayload, func(c *maa.Config) { c.MaxLifetime = 8*time.Hour - time.Second }, maa.CheckLifetime, "valid for 8h0m0s"},
		{"real payload, a bound of 1 h", snpPayload, func(c *maa.Config) { c.MaxLifetime = time.Hour }, maa.CheckLifetime, "longer than the 1h0m0s allowed"},
		{"no iat", set("iat", "delete"), nil, maa.CheckLifetime, "no iat"},
		{"iat null", set("iat", nil), nil, maa.CheckLifetime, "no iat"},
		{"iat 0", set("iat", 0), nil, maa.CheckLifetime, "no iat"},
		{"iat negative", set("iat", -1), nil, maa.CheckLifetime, "after 1970"},
		{"no nbf", set("nbf", "delete"), nil, maa.CheckLifetime, "no nbf"},
		{"nbf null", set("nbf", nil), nil, maa.CheckLifetime, "no nbf"},
		{"nbf negative", set("nbf", -1), nil, maa.CheckLifetime, "after 1970"},
		{"neither iat nor nbf", set("iat", "delete", "nbf", "delete"), nil, maa.CheckLifetime, "no iat"},
		{"exactly 24 h", set("iat", realEXP-day, "nbf", realEXP-day), nil, "", ""},
		{"24 h and 1 s", set("iat", realEXP-day-1, "nbf", realEXP-day-1), nil, maa.CheckLifetime, "24h0m1s"},
		{"exp - iat too long, nbf 8 h before exp", set("iat", realEXP-day-1), nil, maa.CheckLifetime, "longer than the 24h0m0s allowed"},
		{"exp - nbf too long, iat 8 h before exp", set("nbf", realEXP-day-1), nil, maa.CheckLifetime, "longer than the 24h0m0s allowed"},
		{"a year", set("iat", realIAT, "nbf", realIAT, "exp", realIAT+365*day), nil, maa.CheckLifetime, "8760h0m0s"},
		{"exp at the end of time", set("exp", int64(1<<63-1)), nil, maa.CheckLifetime, "longer than"},
		{"a year, with a bound of two", set("iat", realIAT, "nbf", realIAT, "exp", realIAT+365*day), func(c *maa.Config) { c.MaxLifetime = 2 * 365 * 24 * time.Hour }, "", ""},
		{"nbf after iat, both within 24 h", set("nbf", realIAT+60), nil, "", ""},
		// Valid at the verification time only through the skew: exp is
		// not after iat, so there is no validity period.
		{"exp equal to iat and nbf", set("exp", realIAT), func(c *maa.Config) { c.Time = time.Unix(realIAT, 0) }, maa.CheckLifetime, "not after"},
		{"exp before nbf", set("nbf", realIAT+30, "exp", realIAT+20), func(c *maa.Config) { c.Time = time.Unix(realIAT, 0) }, maa.CheckLifetime, "not after"},
		// The checks before are unchanged: an expired or future token is
		// named so, whatever its lifetime.
		{"expired and too long", set("iat", realIAT-365*day), func(c *maa.Config) { c.Time = time.Unix(realEXP+3600, 0) }, maa.CheckExpired, ""},
		{"no exp", set("exp", "delete", "iat", "delete"), nil, maa.CheckExpired, "no exp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token, cfg := resigned(t, tc.payload)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := maa.Verify(context.Background(), token, cfg)
			wantCheck(t, err, tc.check)
			if err != nil && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%v does not say %q", err, tc.text)
			}
		})
	}
}

// TestMaxLifetimeNegative: a negative Config.MaxLifetime is a
// configuration error, not a verdict on the token (and not "no bound").
func TestMaxLifetimeNegative(t *testing.T) {
	cfg := realConfig(t)
	cfg.MaxLifetime = -time.Second
	_, err := maa.Verify(context.Background(), testutil.ReadFile(t, realTokenFile), cfg)
	if err == nil || errors.Is(err, maa.ErrRejected) || !strings.Contains(err.Error(), "MaxLifetime") {
		t.Fatalf("error %v, want a configuration error naming MaxLifetime", err)
	}
}

// TestAudience: with Config.Audience the token's aud must name it (a
// string, or an array of distinct non-empty strings); without it any aud
// is refused. Before, every token naming an aud was refused, so a relying
// party whose custom MAA policy emits its aud could not verify its tokens.
func TestAudience(t *testing.T) {
	snpPayload := payloadOf(t, testutil.ReadFile(t, realTokenFile))
	const rp = "https://rp.example"
	aud := func(v any) []byte { return edit(t, snpPayload, func(m map[string]any) { m["aud"] = v }) }
	// raw puts aud, as JSON text, before iss.
	raw := func(js string) []byte {
		return []byte(strings.Replace(string(snpPayload), `"iss":`, `"aud":`+js+`,"iss":`, 1))
	}
	cases := []struct {
		name     string
		payload  []byte
		audience string
		check    maa.Check
		text     string
	}{
		{"a string equal to it", aud(rp), rp, "", ""},
		{"an array of it", aud([]string{rp}), rp, "", ""},
		{"an array naming it among others", aud([]string{"https://other.example", rp}), rp, "", ""},
		{"escaped in the token", raw(`"https:\/\/rp.example"`), rp, "", ""},
		{"no aud, one expected", snpPayload, rp, maa.CheckAudience, "names no aud"},
		{"another audience", aud("https://other.example"), rp, maa.CheckAudience, "other.example"},
		{"an array without it", aud([]string{"https://other.example", "https://third.example"}), rp, maa.CheckAudience, "not"},
		{"a trailing slash", aud(rp + "/"), rp, maa.CheckAudience, ""},
		{"expected with a trailing slash", aud(rp), rp + "/", maa.CheckAudience, ""},
		{"in capitals", aud(strings.ToUpper(rp)), rp, maa.CheckAudience, ""},
		{"a prefix of it", aud(rp[:len(rp)-1]), rp, maa.CheckAudience, ""},
		{"an empty string", aud(""), rp, maa.CheckAudience, "empty string"},
		{"an empty array", aud([]string{}), rp, maa.CheckAudience, "empty array"},
		{"an array with an empty string", aud([]string{rp, ""}), rp, maa.CheckAudience, "empty string"},
		{"it twice", aud([]string{rp, rp}), rp, maa.CheckAudience, "twice"},
		{"it twice, once escaped", raw(`["https://rp.example","https:\/\/rp.example"]`), rp, maa.CheckAudience, "twice"},
		{"an array with a number", aud([]any{rp, 1}), rp, maa.CheckAudience, "not a string"},
		{"an array with null", aud([]any{rp, nil}), rp, maa.CheckAudience, "not a string"},
		{"an array in the array", aud([]any{rp, []string{rp}}), rp, maa.CheckAudience, "not a string"},
		{"an object", aud(map[string]any{rp: true}), rp, maa.CheckAudience, "want a string or an array"},
		{"null", aud(nil), rp, maa.CheckAudience, "want a string or an array"},
		{"a number", aud(1), rp, maa.CheckAudience, "want a string or an array"},
		{"true", aud(true), rp, maa.CheckAudience, "want a string or an array"},
		{"duplicate aud members", []byte(strings.Replace(string(snpPayload), `"iss":`, `"aud":"https://evil.example","aud":"`+rp+`","iss":`, 1)), rp, maa.CheckClaims, "duplicate"},
		// Without an audience configured, any aud is refused as before.
		{"none expected, a string", aud(rp), "", maa.CheckAudience, "no audience is expected"},
		{"none expected, an array", aud([]string{rp}), "", maa.CheckAudience, "no audience is expected"},
		{"none expected, an empty array", aud([]string{}), "", maa.CheckAudience, "no audience is expected"},
		{"none expected, none", snpPayload, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token, cfg := resigned(t, tc.payload)
			cfg.Audience = tc.audience
			_, err := maa.Verify(context.Background(), token, cfg)
			wantCheck(t, err, tc.check)
			if err != nil && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%v does not say %q", err, tc.text)
			}
		})
	}
}

// TestAudiences: Claims.Audiences reads aud as RFC 7519 allows and refuses
// the rest with CheckAudience.
func TestAudiences(t *testing.T) {
	cases := []struct {
		aud  string
		want []string
	}{
		{``, nil},
		{`"a"`, []string{"a"}},
		{`["a"]`, []string{"a"}},
		{`["b","a"]`, []string{"b", "a"}},
		{` [ "a" , "\u0062" ] `, []string{"a", "b"}},
		{`[]`, nil},
		{`[""]`, nil},
		{`["a","a"]`, nil},
		{`["a","\u0061"]`, nil},
		{`[1]`, nil},
		{`[null]`, nil},
		{`null`, nil},
		{`{}`, nil},
		{`1`, nil},
		{`false`, nil},
	}
	for _, tc := range cases {
		payload := `{}`
		if tc.aud != "" {
			payload = `{"aud":` + tc.aud + `}`
		}
		c, err := maa.ParseClaims([]byte(payload))
		if err != nil {
			t.Fatalf("%s: %v", tc.aud, err)
		}
		got, err := c.Audiences()
		switch {
		case tc.want == nil && tc.aud != "":
			wantCheck(t, err, maa.CheckAudience)
			if got != nil {
				t.Errorf("%s: %q with an error", tc.aud, got)
			}
		case err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want):
			t.Errorf("%s: %q %v, want %q", tc.aud, got, err, tc.want)
		}
	}
}
