package maa_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestRealToken is the golden test: the real AzureGuest token from an
// SEV-SNP CVM verifies with the real signing certificate at iat + 1 h, and
// its claims are typed.
func TestRealToken(t *testing.T) {
	cfg := realConfig(t)
	cfg.Nonce = []byte("midnight-srs")
	c, err := maa.Verify(context.Background(), testutil.ReadFile(t, realTokenFile), cfg)
	if err != nil {
		t.Fatalf("the real token is rejected: %v", err)
	}
	s := c.IsolationTEE.SEVSNP
	got := map[string]any{
		"iss": c.Issuer, "iat": c.IssuedAt, "exp": c.Expiry, "type": c.AttestationType,
		"tee": c.IsolationTEE.AttestationType, "compliance": c.IsolationTEE.ComplianceStatus,
		"vmid": c.VMID, "measurement": s.LaunchMeasurement.String(), "idkey": s.IDKeyDigest.String()[:8],
		"ucode": *s.MicrocodeSVN, "snpfw": *s.SNPFwSVN, "bl": *s.BootloaderSVN, "tee-svn": *s.TEESVN,
		"guestsvn": *s.GuestSVN, "vmpl": *s.VMPL, "family": s.FamilyID.String(), "reportdata": s.ReportData.String()[:8],
		"vmUniqueId": c.IsolationTEE.Runtime.VMConfiguration.VMUniqueID, "pcrs": len(c.AttestedPCRs),
	}
	want := map[string]any{
		"iss": realIssuer, "iat": int64(realIAT), "exp": int64(realEXP), "type": "azurevm",
		"tee": "sevsnpvm", "compliance": "azure-compliant-cvm",
		"vmid":        "ABD9EA99-D837-4F68-AD3E-C87C88006AFA",
		"measurement": "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e",
		"idkey":       "942fd93e", "ucode": uint8(219), "snpfw": uint8(24), "bl": uint8(4), "tee-svn": uint8(0),
		"guestsvn": uint32(10), "vmpl": uint32(0), "family": "02212000000000000000000000000000", "reportdata": "a62ad271",
		"vmUniqueId": "ABD9EA99-D837-4F68-AD3E-C87C88006AFA", "pcrs": 8,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if n, ok := c.Nonce(); !ok || n != "bWlkbmlnaHQtc3Jz" {
		t.Errorf("nonce %q %v", n, ok)
	}
	ak, err := c.HCLAkPub()
	if err != nil || ak.N.BitLen() != 2048 || ak.E != 65537 {
		t.Errorf("HCLAkPub: %v", err)
	}
}

// TestNonceEncodings: the claim is the base64 of our nonce bytes.
func TestNonceEncodings(t *testing.T) {
	token := testutil.ReadFile(t, realTokenFile)
	for _, tc := range []struct {
		nonce []byte
		ok    bool
	}{
		{[]byte("midnight-srs"), true},
		{nil, true},
		{[]byte("midnight-srt"), false},
		{[]byte("bWlkbmlnaHQtc3Jz"), false}, // the claim itself is not the nonce
		{[]byte{}, false},
	} {
		cfg := realConfig(t)
		cfg.Nonce = tc.nonce
		_, err := maa.Verify(context.Background(), token, cfg)
		if tc.ok && err != nil {
			t.Errorf("nonce %q: %v", tc.nonce, err)
		}
		if !tc.ok {
			wantCheck(t, err, maa.CheckNonce)
		}
	}
}

// TestForgeries: every forged or altered token fails with the named check.
func TestForgeries(t *testing.T) {
	real := testutil.ReadFile(t, realTokenFile)
	p := parts(t, real)
	payload := payloadOf(t, real)
	certDER := x509Cert(t)
	pkix, _ := x509.MarshalPKIXPublicKey(mustCert(t, certDER).PublicKey)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	hs := func(key []byte) []byte {
		in := b64([]byte(`{"alg":"HS256","kid":"`+realKid+`","typ":"JWT"}`)) + "." + p[1]
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return []byte(in + "." + b64(m.Sum(nil)))
	}
	withHeader := func(h string, sig string) []byte {
		return []byte(b64([]byte(h)) + "." + p[1] + "." + sig)
	}
	flipped := func(i int) []byte {
		b := []byte(string(payload))
		b[i] ^= 0x01
		return []byte(p[0] + "." + b64(b) + "." + p[2])
	}
	other := testev.OtherRSAKey()
	sig, _ := base64.RawURLEncoding.DecodeString(p[2])
	compact := strings.Join(p, ".")
	cases := []struct {
		name  string
		token []byte
		check maa.Check
	}{
		{"alg none, no signature", withHeader(`{"alg":"none","kid":"`+realKid+`"}`, ""), maa.CheckAlg},
		{"alg none, real signature", withHeader(`{"alg":"none","kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"alg None", withHeader(`{"alg":"None","kid":"`+realKid+`"}`, ""), maa.CheckAlg},
		{"alg rs256", withHeader(`{"alg":"rs256","kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"alg PS256", withHeader(`{"alg":"PS256","kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"alg RS512", withHeader(`{"alg":"RS512","kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"alg ES256", withHeader(`{"alg":"ES256","kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"no alg", withHeader(`{"kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"HS256 keyed with the certificate DER", hs(certDER), maa.CheckAlg},
		{"HS256 keyed with the certificate PEM", hs(certPEM), maa.CheckAlg},
		{"HS256 keyed with the PKIX public key", hs(pkix), maa.CheckAlg},
		{"another key under the same kid", mint(t, other, rsHeader(realKid), payload), maa.CheckSignature},
		{"another key, its jku and embedded jwk", mint(t, other, `{"alg":"RS256","kid":"attacker","jku":"https://evil.example/certs","jwk":{"kty":"RSA"}}`, payload), maa.CheckKey},
		{"one byte of the payload changed (iss)", flipped(strings.Index(string(payload), "sharedeus2")), maa.CheckSignature},
		{"one byte of the payload changed (tee type)", flipped(strings.Index(string(payload), "sevsnpvm")), maa.CheckSignature},
		{"one byte of the payload changed (first)", flipped(0), maa.CheckSignature},
		{"one byte of the payload changed (last)", flipped(len(payload) - 1), maa.CheckSignature},
		{"signature truncated", []byte(p[0] + "." + p[1] + "." + b64(sig[:len(sig)-3])), maa.CheckSignature},
		{"signature zero", []byte(p[0] + "." + p[1] + "." + b64(make([]byte, len(sig)))), maa.CheckSignature},
		{"no kid", withHeader(`{"alg":"RS256"}`, p[2]), maa.CheckKey},
		{"crit", withHeader(`{"alg":"RS256","kid":"`+realKid+`","crit":["b64"],"b64":false}`, p[2]), maa.CheckFormat},
		// A crit member is refused whatever its value: null and [] (which
		// RFC 7515 forbids) too.
		{"crit null", withHeader(`{"alg":"RS256","kid":"`+realKid+`","crit":null,"b64":false}`, p[2]), maa.CheckFormat},
		{"crit empty", withHeader(`{"alg":"RS256","kid":"`+realKid+`","crit":[]}`, p[2]), maa.CheckFormat},
		// The key comes from the JWKS by kid only: x5u, x5c and jwk naming
		// the signer's own key change nothing.
		{"another key under the real kid, its x5c, x5u and jwk", mint(t, other, `{"alg":"RS256","kid":"`+realKid+`","x5u":"https://evil.example/cert.pem","x5c":["`+base64.StdEncoding.EncodeToString(selfSigned(t, other))+`"],"jwk":{"kty":"RSA","n":"`+b64(other.N.Bytes())+`","e":"AQAB"}}`, payload), maa.CheckSignature},
		{"typ null", withHeader(`{"alg":"RS256","kid":"`+realKid+`","typ":null}`, p[2]), maa.CheckSignature},
		{"typ jwt in lower case", withHeader(`{"alg":"RS256","kid":"`+realKid+`","typ":"jwt"}`, p[2]), maa.CheckFormat},
		{"alg in capitals beside none", withHeader(`{"alg":"none","ALG":"RS256","kid":"`+realKid+`"}`, p[2]), maa.CheckAlg},
		{"alg duplicated through an escape", withHeader(`{"alg":"RS256","\u0061lg":"none","kid":"`+realKid+`"}`, p[2]), maa.CheckFormat},
		{"duplicate alg", withHeader(`{"alg":"none","alg":"RS256","kid":"`+realKid+`"}`, p[2]), maa.CheckFormat},
		{"typ JWE", withHeader(`{"alg":"RS256","kid":"`+realKid+`","typ":"JOSE+JSON"}`, p[2]), maa.CheckFormat},
		{"JSON serialization", []byte(`{"payload":"` + p[1] + `","protected":"` + p[0] + `","signature":"` + p[2] + `"}`), maa.CheckFormat},
		{"padding", []byte(p[0] + "=." + p[1] + "." + p[2]), maa.CheckFormat},
		{"four parts", []byte(string(real) + ".x"), maa.CheckFormat},
		{"standard base64", []byte(strings.ReplaceAll(string(real), "_", "/")), maa.CheckFormat},
		{"empty", nil, maa.CheckFormat},
		// Go's base64 decoder skips CR and LF even in Strict mode: a line
		// break inside the signature must not give a second encoding.
		{"line break in the signature", []byte(p[0] + "." + p[1] + "." + p[2][:20] + "\n" + p[2][20:]), maa.CheckFormat},
		{"CR LF in the signature", []byte(p[0] + "." + p[1] + "." + p[2][:20] + "\r\n" + p[2][20:]), maa.CheckFormat},
		{"line break in the header", []byte(p[0][:8] + "\n" + p[0][8:] + "." + p[1] + "." + p[2]), maa.CheckFormat},
		{"ASCII white space around the token", []byte(" \t" + compact + "\r\n"), ""},
		// Only ASCII white space is ignored: U+00A0 or U+0085 around the
		// token would be a second encoding of it.
		{"a no-break space after the token", []byte(compact + "\u00a0"), maa.CheckFormat},
		{"a next line before the token", []byte("\u0085" + compact), maa.CheckFormat},
		{"a space inside the payload", []byte(p[0] + "." + p[1][:10] + " " + p[1][10:] + "." + p[2]), maa.CheckFormat},
		{"empty signature", []byte(p[0] + "." + p[1] + "."), maa.CheckSignature},
		{"larger than MaxTokenBytes", []byte(p[0] + "." + p[1] + strings.Repeat("A", maa.MaxTokenBytes) + "." + p[2]), maa.CheckFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := maa.Verify(context.Background(), tc.token, realConfig(t))
			wantCheck(t, err, tc.check)
		})
	}
}

// TestEveryPayloadByte: a one-bit change at any of many payload offsets
// fails the signature, never anything later.
func TestEveryPayloadByte(t *testing.T) {
	real := testutil.ReadFile(t, realTokenFile)
	p := parts(t, real)
	payload := payloadOf(t, real)
	for i := 0; i < len(payload); i += 37 {
		b := []byte(string(payload))
		b[i] ^= 0x20
		_, err := maa.Verify(context.Background(), []byte(p[0]+"."+b64(b)+"."+p[2]), realConfig(t))
		wantCheck(t, err, maa.CheckSignature)
	}
}

// TestTimeAndIssuer: exp, nbf and iss at the configured time, with the
// documented skew.
func TestTimeAndIssuer(t *testing.T) {
	token := testutil.ReadFile(t, realTokenFile)
	cases := []struct {
		name   string
		at     time.Time
		issuer string
		skew   time.Duration
		check  maa.Check
	}{
		{"inside", realTime, realIssuer, 0, ""},
		{"issuer with trailing slash", realTime, realIssuer + "/", 0, ""},
		{"just issued", time.Unix(realIAT, 0), realIssuer, 0, ""},
		{"nbf within the skew", time.Unix(realIAT-59, 0), realIssuer, 0, ""},
		{"not yet valid", time.Unix(realIAT-61, 0), realIssuer, 0, maa.CheckNotYetValid},
		{"not yet valid without skew", time.Unix(realIAT-1, 0), realIssuer, -1, maa.CheckNotYetValid},
		{"exp within the skew", time.Unix(realEXP+59, 0), realIssuer, 0, ""},
		{"expired", time.Unix(realEXP+61, 0), realIssuer, 0, maa.CheckExpired},
		{"expired at exp without skew", time.Unix(realEXP, 0), realIssuer, -1, maa.CheckExpired},
		{"expired now", time.Time{}, realIssuer, 0, maa.CheckExpired},
		{"other instance", realTime, "https://sharedweu.weu.attest.azure.net", 0, maa.CheckIssuer},
		{"http scheme", realTime, "http://sharedeus2.eus2.attest.azure.net", 0, maa.CheckIssuer},
		{"prefix", realTime, "https://sharedeus2.eus2.attest.azure", 0, maa.CheckIssuer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := maa.Config{Keys: realKeys(t), Issuer: tc.issuer, Time: tc.at, Skew: tc.skew}
			_, err := maa.Verify(context.Background(), token, cfg)
			wantCheck(t, err, tc.check)
		})
	}
}

// resigned re-signs a payload with the test MAA key (testev.EKKey) under
// kid "test", returning the token and the config that trusts that key.
func resigned(t *testing.T, payload []byte) ([]byte, maa.Config) {
	t.Helper()
	key := testev.EKKey()
	cfg := maa.Config{Keys: keySet(t, jwksFor(t, key, "test")), Issuer: realIssuer, Time: realTime}
	return mint(t, key, rsHeader("test"), payload), cfg
}

// TestClaimsPolicy: the default policy on real payloads re-signed with a
// test key, and on single-claim changes of the real SEV-SNP payload.
func TestClaimsPolicy(t *testing.T) {
	snpPayload := payloadOf(t, testutil.ReadFile(t, realTokenFile))
	cases := []struct {
		name    string
		payload []byte
		check   maa.Check
		text    string
	}{
		{"real payload", snpPayload, "", ""},
		{"Trusted Launch", edit(t, payloadOf(t, testutil.ReadFile(t, trustedLaunch)), func(m map[string]any) {
			m["exp"] = realEXP
			m["nbf"], m["iat"] = realIAT, realIAT
		}), maa.CheckNotCVM, "not a confidential VM"},
		{"not azurevm", edit(t, snpPayload, func(m map[string]any) { m["x-ms-attestation-type"] = "sevsnpvm" }), maa.CheckNotCVM, ""},
		{"sgx", edit(t, snpPayload, setTEE("x-ms-attestation-type", "sgx")), maa.CheckNotCVM, "not an SEV-SNP or TDX"},
		{"tdxvm", edit(t, snpPayload, asTDX), "", ""},
		{"tdxvm without its tdx claims", edit(t, snpPayload, setTEE("x-ms-attestation-type", "tdxvm")), maa.CheckDebug, "tdx_td_attributes_debug is absent"},
		{"tdxvm debug", edit(t, snpPayload, func(m map[string]any) { asTDX(m); tee(m)["tdx_td_attributes_debug"] = true }), maa.CheckDebug, "tdx_td_attributes_debug"},
		{"tdxvm dbgstat enabled", edit(t, snpPayload, func(m map[string]any) { asTDX(m); tee(m)["dbgstat"] = "enabled" }), maa.CheckDebug, "dbgstat"},
		{"tdxvm mrtd not hex", edit(t, snpPayload, func(m map[string]any) { asTDX(m); tee(m)["tdx_mrtd"] = "zz" }), maa.CheckClaims, ""},
		{"tdxvm seamsvn a string", edit(t, snpPayload, func(m map[string]any) { asTDX(m); tee(m)["tdx_seamsvn"] = "3" }), maa.CheckClaims, ""},
		{"tdxvm not compliant", edit(t, snpPayload, func(m map[string]any) { asTDX(m); tee(m)["x-ms-compliance-status"] = "azure-non-compliant" }), maa.CheckNotCVM, ""},
		{"not compliant", edit(t, snpPayload, setTEE("x-ms-compliance-status", "azure-non-compliant")), maa.CheckNotCVM, ""},
		{"no compliance", edit(t, snpPayload, func(m map[string]any) { delete(tee(m), "x-ms-compliance-status") }), maa.CheckNotCVM, ""},
		{"secure boot off", edit(t, snpPayload, func(m map[string]any) { m["secureboot"] = false }), maa.CheckSecureBoot, ""},
		{"secure boot absent", edit(t, snpPayload, func(m map[string]any) { delete(m, "secureboot") }), maa.CheckSecureBoot, ""},
		{"vm-configuration secure boot off", edit(t, snpPayload, func(m map[string]any) {
			tee(m)["x-ms-runtime"].(map[string]any)["vm-configuration"].(map[string]any)["secure-boot"] = false
		}), maa.CheckSecureBoot, ""},
		{"debuggable", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-is-debuggable", true)), maa.CheckDebug, ""},
		// Below VMPL 0 the guest, not the paravisor, chose REPORT_DATA:
		// HCLAkPub and every TPM claim would be its own.
		{"vmpl 2", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-vmpl", 2)), maa.CheckVMPL, "is 2, want 0"},
		{"vmpl absent", edit(t, snpPayload, func(m map[string]any) { delete(tee(m), "x-ms-sevsnpvm-vmpl") }), maa.CheckVMPL, "absent"},
		{"tdxvm has no vmpl", edit(t, snpPayload, func(m map[string]any) { asTDX(m); delete(tee(m), "x-ms-sevsnpvm-vmpl") }), "", ""},
		{"kernel debug", edit(t, snpPayload, func(m map[string]any) { m["x-ms-azurevm-kerneldebug-enabled"] = true }), maa.CheckDebug, ""},
		{"boot debug", edit(t, snpPayload, func(m map[string]any) { m["x-ms-azurevm-bootdebug-enabled"] = true }), maa.CheckDebug, ""},
		{"hypervisor debug absent", edit(t, snpPayload, func(m map[string]any) { delete(m, "x-ms-azurevm-hypervisordebug-enabled") }), maa.CheckDebug, ""},
		{"debuggers enabled", edit(t, snpPayload, func(m map[string]any) { m["x-ms-azurevm-debuggersdisabled"] = false }), maa.CheckDebug, ""},
		{"no exp", edit(t, snpPayload, func(m map[string]any) { delete(m, "exp") }), maa.CheckExpired, ""},
		{"iat in the future", edit(t, snpPayload, func(m map[string]any) { m["iat"] = realIAT + 7200 }), maa.CheckNotYetValid, ""},
		{"svn is a string", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-guestsvn", "10")), maa.CheckClaims, ""},
		{"svn over 255", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-microcode-svn", 256)), maa.CheckClaims, ""},
		{"measurement not hex", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-launchmeasurement", "zz")), maa.CheckClaims, ""},
		{"duplicate claim", []byte(strings.Replace(string(snpPayload), `"iss":`, `"iss":"https://evil.example","iss":`, 1)), maa.CheckClaims, ""},
		{"duplicate nested claim", []byte(strings.Replace(string(snpPayload), `"x-ms-sevsnpvm-is-debuggable":false`, `"x-ms-sevsnpvm-is-debuggable":true,"x-ms-sevsnpvm-is-debuggable":false`, 1)), maa.CheckClaims, ""},
		{"not JSON", []byte("not json"), maa.CheckClaims, ""},
		{"duplicate claim through an escape", []byte(strings.Replace(string(snpPayload), `"iss":`, `"\u0069ss":"https://evil.example","iss":`, 1)), maa.CheckClaims, "duplicate"},
		{"duplicate nonce through an escape", []byte(strings.Replace(string(snpPayload), `"nonce":`, `"\u006eonce":"x","nonce":`, 1)), maa.CheckClaims, "duplicate"},
		{"invalid UTF-8", []byte(strings.Replace(string(snpPayload), `"jti":"`, "\"jti\":\"\xff", 1)), maa.CheckClaims, "UTF-8"},
		{"nested too deep", []byte(strings.Replace(string(snpPayload), `"jti":`, `"x":`+strings.Repeat("[", 20)+strings.Repeat("]", 20)+`,"jti":`, 1)), maa.CheckClaims, "deep"},
		{"byte order mark", append([]byte("\xef\xbb\xbf"), snpPayload...), maa.CheckClaims, ""},
		{"exp a float", edit(t, snpPayload, func(m map[string]any) { m["exp"] = float64(realEXP) + 0.5 }), maa.CheckClaims, "exp"},
		{"exp in exponent form", []byte(strings.Replace(string(snpPayload), `"exp":1765855448`, `"exp":1.765855448e9`, 1)), maa.CheckClaims, "exp"},
		{"exp a string", edit(t, snpPayload, func(m map[string]any) { m["exp"] = "1765855448" }), maa.CheckClaims, "exp"},
		{"exp beyond int64", []byte(strings.Replace(string(snpPayload), `"exp":1765855448`, `"exp":9223372036854775808`, 1)), maa.CheckClaims, "exp"},
		{"exp null", edit(t, snpPayload, func(m map[string]any) { m["exp"] = nil }), maa.CheckExpired, "no exp"},
		{"exp negative", edit(t, snpPayload, func(m map[string]any) { m["exp"] = -1 }), maa.CheckExpired, ""},
		{"nbf at the end of time", edit(t, snpPayload, func(m map[string]any) { m["nbf"] = int64(1<<63 - 1) }), maa.CheckNotYetValid, ""},
		{"iss with a trailing slash", edit(t, snpPayload, func(m map[string]any) { m["iss"] = realIssuer + "/" }), maa.CheckIssuer, ""},
		{"iss in capitals", edit(t, snpPayload, func(m map[string]any) { m["iss"] = strings.ToUpper(realIssuer) }), maa.CheckIssuer, ""},
		{"iss null", edit(t, snpPayload, func(m map[string]any) { m["iss"] = nil }), maa.CheckIssuer, ""},
		{"aud", edit(t, snpPayload, func(m map[string]any) { m["aud"] = "https://other-relying-party.example" }), maa.CheckAudience, "other-relying-party"},
		{"aud an array", edit(t, snpPayload, func(m map[string]any) { m["aud"] = []string{"a", "b"} }), maa.CheckAudience, ""},
		{"aud null", edit(t, snpPayload, func(m map[string]any) { m["aud"] = nil }), maa.CheckAudience, ""},
		{"aud a number", edit(t, snpPayload, func(m map[string]any) { m["aud"] = 1 }), maa.CheckAudience, ""},
		{"iss of another instance", edit(t, snpPayload, func(m map[string]any) { m["iss"] = "https://sharedweu.weu.attest.azure.net" }), maa.CheckIssuer, ""},
		{"is-debuggable null", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-is-debuggable", nil)), maa.CheckDebug, "absent"},
		{"is-debuggable 0", edit(t, snpPayload, setTEE("x-ms-sevsnpvm-is-debuggable", 0)), maa.CheckClaims, ""},
		{"is-debuggable absent", edit(t, snpPayload, func(m map[string]any) { delete(tee(m), "x-ms-sevsnpvm-is-debuggable") }), maa.CheckDebug, "absent"},
		// A nested JWT (the real token as the payload, the trusted key
		// signing only the envelope) is no claims set.
		{"nested JWT as a JSON string", []byte(strconv.Quote(strings.TrimSpace(string(testutil.ReadFile(t, realTokenFile))))), maa.CheckClaims, ""},
		{"nested JWT in compact form", bytes.TrimSpace(testutil.ReadFile(t, realTokenFile)), maa.CheckClaims, ""},
		// Claims the policy reads, hidden in the client payload (which MAA
		// echoes as the attester sent it), say nothing.
		{"policy claims only in x-ms-runtime", edit(t, snpPayload, func(m map[string]any) {
			delete(m, "secureboot")
			m["x-ms-runtime"].(map[string]any)["secureboot"] = true
		}), maa.CheckSecureBoot, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token, cfg := resigned(t, tc.payload)
			_, err := maa.Verify(context.Background(), token, cfg)
			wantCheck(t, err, tc.check)
			if err != nil && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%v does not say %q", err, tc.text)
			}
		})
	}
}

// TestWindowsToken: the real Windows SEV-SNP token's claims (another
// instance, protocol 2.0) pass the policy once re-signed with a test key.
func TestWindowsToken(t *testing.T) {
	c := verifyResignedReal(t, windowsFile, "https://sharedweu.weu.attest.azure.net", "ADE0101")
	if *c.IsolationTEE.MicrocodeSVN != 115 || c.VMID != "70F5CE9A-2BDC-4B6B-8401-E9B964D3AEB7" {
		t.Errorf("claims %+v", c.IsolationTEE.SEVSNP)
	}
	// The unsigned real tokens do not verify with the sharedeus2 key.
	for _, f := range []string{windowsFile, trustedLaunch, aksFile} {
		_, err := maa.Verify(context.Background(), testutil.ReadFile(t, f), realConfig(t))
		wantCheck(t, err, maa.CheckKey)
	}
}

func x509Cert(t *testing.T) []byte {
	t.Helper()
	b, _ := pem.Decode(testutil.ReadFile(t, "maa/sharedeus2-signing-cert.pem"))
	if b == nil {
		t.Fatal("no PEM")
	}
	return b.Bytes
}

func mustCert(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAKSToken: the real AzureGuest token of an AKS SEV-SNP CVM node
// (sharedwus, 2022-09-07, Ubuntu 18.04, protocol 2.0; an old-schema runtime
// data whose HCLAkPub says key_ops "encrypt") passes the policy once
// re-signed with a test key, its claims read; as published it is maa-key
// under the sharedeus2 key (TestWindowsToken; no sharedwus key is public here).
func TestAKSToken(t *testing.T) {
	c := verifyResignedReal(t, aksFile, "https://sharedwus.wus.attest.azure.net", "1234")
	s := c.IsolationTEE
	if *s.MicrocodeSVN != 93 || c.VMID != "D3FD4B09-37A3-40D5-8F2A-EA80762213CC" ||
		hex.EncodeToString(s.SEVSNP.IDKeyDigest) != "57486a447ec0f1958002a22a06b7673b9fd27d11e1c6527498056054c5fa92d23c50f9de44072760fe2b6fb89740b696" {
		t.Errorf("claims vm %q %+v", c.VMID, s.SEVSNP)
	}
}

// verifyResignedReal verifies the payload of the real token file, its
// lifetime moved to the reference token's and re-signed with the test
// key, as a token of issuer carrying nonce; it fails t on an error.
func verifyResignedReal(t *testing.T, file, issuer, nonce string) *maa.Claims {
	t.Helper()
	payload := edit(t, payloadOf(t, testutil.ReadFile(t, file)), func(m map[string]any) {
		m["exp"], m["nbf"], m["iat"] = realEXP, realIAT, realIAT
	})
	token, cfg := resigned(t, payload)
	cfg.Issuer, cfg.Nonce = issuer, []byte(nonce)
	c, err := maa.Verify(context.Background(), token, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNonceClaim: Nonce reads the client payload's nonce string only: no
// x-ms-runtime, no client payload, no nonce, or a nonce that is not a
// JSON string is none (not a panic).
func TestNonceClaim(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    string
		ok      bool
	}{
		{`{"x-ms-runtime":{"client-payload":{"nonce":"abc"}}}`, "abc", true},
		{`{"x-ms-runtime":{"client-payload":{"nonce":"a\u0062c"}}}`, "abc", true},
		{`{}`, "", false},
		{`{"x-ms-runtime":{}}`, "", false},
		{`{"x-ms-runtime":{"client-payload":{"other":"abc"}}}`, "", false},
		{`{"x-ms-runtime":{"client-payload":{"nonce":5}}}`, "", false},
		{`{"x-ms-runtime":{"client-payload":{"nonce":null}}}`, "", false},
	} {
		c, err := maa.ParseClaims([]byte(tc.payload))
		if err != nil {
			t.Fatalf("%s: %v", tc.payload, err)
		}
		if n, ok := c.Nonce(); n != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.payload, n, ok, tc.want, tc.ok)
		}
	}
}
