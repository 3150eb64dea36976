package result

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

var testTime = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const testIssuer = "https://verifier.example"

func newTestSigner(t testing.TB) *Signer {
	t.Helper()
	k, _, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return testTime }
	s.Build = "test"
	return s
}

func testAppraised(emulated bool) Appraised {
	return Appraised{
		Claims: &verify.Claims{
			Platform: verify.PlatformSNP, Product: "Genoa", ChipID: bytes.Repeat([]byte{1}, 64),
			Measurement: bytes.Repeat([]byte{2}, 48), IDKeyDigest: bytes.Repeat([]byte{3}, 48),
			Paravisor: "azure-hcl", PCRs: map[int]verify.HexBytes{0: make([]byte, 32), 7: bytes.Repeat([]byte{7}, 32)},
			Emulated: emulated,
		},
		Nonce:      []byte("nonce-of-the-exchange"),
		PolicyID:   PolicyID(&verify.Policy{}),
		PCRsPinned: []int{7, 0},
		Resource:   "db/password",
	}
}

// issued returns a signer and a token it issued for testAppraised(false).
func issued(t testing.TB) (*Signer, string) {
	t.Helper()
	s := newTestSigner(t)
	tok, _, err := s.Issue(testAppraised(false))
	if err != nil {
		t.Fatal(err)
	}
	return s, tok
}

func testConfig(s *Signer) Config {
	ks, _ := NewKeySet(s.Public())
	return Config{Keys: ks, Issuer: testIssuer, Time: testTime.Add(time.Minute), Nonce: []byte("nonce-of-the-exchange")}
}

func wantCheck(t *testing.T, err error, check Check) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Check != check || !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want check %s", err, check)
	}
}

func TestRoundTrip(t *testing.T) {
	s := newTestSigner(t)
	tok, want, err := s.Issue(testAppraised(false))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(context.Background(), []byte(tok+"\n"), testConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	a := got.Appraisal()
	if a.Status != StatusAffirming || a.CVM.Product != "Genoa" || a.CVM.Resource != "db/password" ||
		got.ID != want.ID || got.Expiry-got.IssuedAt != int64(DefaultLifetime/time.Second) ||
		len(a.CVM.PCRs) != 2 || a.CVM.PCRsPinned[0] != 0 || a.CVM.ReportedTCB == nil || !strings.HasPrefix(a.PolicyID, "sha256:") {
		t.Fatalf("claims = %+v", got)
	}
}

// TestEveryByte: changing any single byte of a token makes it fail.
func TestEveryByte(t *testing.T) {
	s, tok := issued(t)
	cfg := testConfig(s)
	for i := range len(tok) {
		for _, d := range []byte{1, 0x20, 0x80} {
			b := []byte(tok)
			b[i] ^= d
			if _, err := Verify(context.Background(), b, cfg); !errors.Is(err, ErrRejected) {
				t.Fatalf("byte %d ^ %#x: err = %v, want a rejection", i, d, err)
			}
		}
	}
}

// resign signs header and payload as given with key (for malformed tokens).
func resign(t *testing.T, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	d := sha256.Sum256([]byte(in))
	der, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := rawSignature(der)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64.EncodeToString(sig)
}

func TestRejections(t *testing.T) {
	s, tok := issued(t)
	parts := strings.Split(tok, ".")
	payload, _ := b64.DecodeString(parts[1])
	hdr := `{"alg":"ES256","kid":"` + s.KeyID() + `","typ":"JWT"}`
	other := newTestSigner(t)
	otherTok, _, _ := other.Issue(testAppraised(false))
	mac := hmac.New(sha256.New, []byte(s.KeyID()))
	hsIn := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+s.KeyID()+`"}`)) + "." + parts[1]
	mac.Write([]byte(hsIn))
	emuTok, _, _ := s.Issue(testAppraised(true))
	// High S: the same signature with S replaced by N - S still verifies
	// mathematically; Verify must refuse the second encoding.
	sig, _ := b64.DecodeString(parts[2])
	n := elliptic.P256().Params().N
	hs := new(big.Int).SetBytes(sig[32:])
	hs.Sub(n, hs)
	high := append(bytes.Clone(sig[:32]), hs.FillBytes(make([]byte, 32))...)
	withPayload := func(p string) string { return resign(t, s.key, hdr, p) }
	iat, exp := testTime.Unix(), testTime.Add(DefaultLifetime).Unix()
	claim := func(name string, v int64) string {
		old := fmt.Sprintf(`"%s":%d`, name, map[string]int64{"iat": iat, "exp": exp}[name])
		if !strings.Contains(string(payload), old) {
			t.Fatalf("the payload has no %s", old)
		}
		return strings.Replace(string(payload), old, fmt.Sprintf(`"%s":%d`, name, v), 1)
	}
	otherJWK := testutil.Must(json.Marshal(testutil.Must(PublicJWK(other.Public()))(t)))(t)
	// mutation29b: the result's submodule next to another one.
	var twoSubmods map[string]any
	if err := json.Unmarshal(payload, &twoSubmods); err != nil {
		t.Fatal(err)
	}
	sm := twoSubmods["submods"].(map[string]any)
	sm["other"] = sm[SubmodName]
	// mutation29b: iat after the verification time (nbf and exp not),
	// signatures of 31, 63 and 65 bytes, and a token, otherwise valid, over
	// MaxTokenBytes.
	lateIat := strings.Replace(claim("iat", iat+3600), fmt.Sprintf(`"exp":%d`, exp), fmt.Sprintf(`"exp":%d`, exp+3600), 1)
	big := testAppraised(false)
	big.PolicyID = strings.Repeat("p", MaxTokenBytes)
	bigTok, _, err := s.Issue(big)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token string
		cfg   func(*Config)
		check Check
	}{
		{"iat in the future", withPayload(lateIat), nil, CheckNotYetValid},
		{"signature of 31 bytes", parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[:31]), nil, CheckSignature},
		{"signature of 63 bytes", parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[:63]), nil, CheckSignature},
		{"signature of 65 bytes", parts[0] + "." + parts[1] + "." + b64.EncodeToString(append(bytes.Clone(sig), 0)), nil, CheckSignature},
		{"valid but over MaxTokenBytes", bigTok, nil, CheckFormat},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+s.KeyID()+`"}`)) + "." + parts[1] + ".", nil, CheckAlg},
		{"alg none with sig", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+s.KeyID()+`"}`)) + "." + parts[1] + "." + parts[2], nil, CheckAlg},
		{"HS256 keyed with public data", hsIn + "." + b64.EncodeToString(mac.Sum(nil)), nil, CheckAlg},
		{"RS256", resign(t, s.key, `{"alg":"RS256","kid":"`+s.KeyID()+`"}`, string(payload)), nil, CheckAlg},
		{"ES384", resign(t, s.key, `{"alg":"ES384","kid":"`+s.KeyID()+`"}`, string(payload)), nil, CheckAlg},
		{"alg es256", resign(t, s.key, `{"alg":"es256","kid":"`+s.KeyID()+`"}`, string(payload)), nil, CheckAlg},
		{"crit", resign(t, s.key, `{"alg":"ES256","kid":"`+s.KeyID()+`","crit":["exp"],"exp":1}`, string(payload)), nil, CheckFormat},
		{"unknown alg", resign(t, s.key, `{"alg":"ES999","kid":"`+s.KeyID()+`"}`, string(payload)), nil, CheckAlg},
		{"kid mismatch", resign(t, s.key, `{"alg":"ES256","kid":"`+other.KeyID()+`"}`, string(payload)), nil, CheckKey},
		{"no kid", resign(t, s.key, `{"alg":"ES256"}`, string(payload)), nil, CheckKey},
		{"jku", resign(t, s.key, `{"alg":"ES256","kid":"`+s.KeyID()+`","jku":"https://evil"}`, string(payload)), nil, CheckKey},
		{"wrong key", otherTok, nil, CheckKey},
		{"wrong key same kid", resign(t, other.key, hdr, string(payload)), nil, CheckSignature},
		{"high S", parts[0] + "." + parts[1] + "." + b64.EncodeToString(high), nil, CheckSignature},
		{"duplicate header member", resign(t, s.key, `{"alg":"ES256","alg":"ES256","kid":"`+s.KeyID()+`"}`, string(payload)), nil, CheckFormat},
		{"duplicate claim", withPayload(`{"iss":"a",` + string(payload[1:])), nil, CheckClaims},
		{"unknown claim", withPayload(`{"x":1,` + string(payload[1:])), nil, CheckClaims},
		{"trailing data", withPayload(string(payload) + `{}`), nil, CheckClaims},
		{"padding", tok + "=", nil, CheckFormat},
		{"line break in the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], nil, CheckFormat},
		{"CR LF in the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r\n" + parts[2][10:], nil, CheckFormat},
		{"bad base64url", parts[0] + "." + parts[1] + "+." + parts[2], nil, CheckFormat},
		{"four parts", tok + ".e30", nil, CheckFormat},
		{"too large", tok + strings.Repeat("A", MaxTokenBytes), nil, CheckFormat},
		{"wrong issuer", tok, func(c *Config) { c.Issuer = "https://other" }, CheckIssuer},
		{"wrong audience", tok, func(c *Config) { c.Audience = "rp" }, CheckAudience},
		{"expired", tok, func(c *Config) { c.Time = time.Unix(c0(c).Expiry, 0).Add(DefaultSkew) }, CheckExpired},
		{"not yet valid", tok, func(c *Config) { c.Time = testTime.Add(-2 * DefaultSkew) }, CheckNotYetValid},
		{"expired, no skew", tok, func(c *Config) { c.Time, c.Skew = time.Unix(c0(c).Expiry, 0), -1 }, CheckExpired},
		{"wrong nonce", tok, func(c *Config) { c.Nonce = []byte("other") }, CheckNonce},
		{"emulated not allowed", emuTok, nil, CheckStatus},
		{"wrong profile", withPayload(strings.Replace(string(payload), Profile, "tag:x", 1)), nil, CheckProfile},
		{"two submodules", withPayload(string(testutil.Must(json.Marshal(twoSubmods))(t))), nil, CheckProfile},
		{"status", withPayload(strings.Replace(string(payload), `"affirming"`, `"contraindicated"`, 1)), nil, CheckStatus},
		// A crit member is refused whatever its value (RFC 7515 forbids
		// null and []): the same signed token without it verifies.
		{"crit null", resign(t, s.key, `{"alg":"ES256","kid":"`+s.KeyID()+`","crit":null}`, string(payload)), nil, CheckFormat},
		{"crit empty", resign(t, s.key, `{"alg":"ES256","kid":"`+s.KeyID()+`","crit":[]}`, string(payload)), nil, CheckFormat},
		{"another key under our kid, its jwk and x5c", resign(t, other.key, `{"alg":"ES256","kid":"`+s.KeyID()+`","jwk":`+string(otherJWK)+`,"x5c":["AAAA"]}`, string(payload)), nil, CheckSignature},
		{"exp before iat", withPayload(claim("exp", iat-1)), func(c *Config) { c.Time = time.Unix(iat-2, 0) }, CheckExpired},
		{"no iat", withPayload(claim("iat", 0)), nil, CheckExpired},
		// mutation29b: nbf after the verification time, iat before it.
		{"nbf in the future", withPayload(strings.Replace(string(payload), fmt.Sprintf(`"nbf":%d`, iat), fmt.Sprintf(`"nbf":%d`, iat+3600), 1)), nil, CheckNotYetValid},
		{"exp a float", withPayload(strings.Replace(string(payload), fmt.Sprintf(`"exp":%d`, exp), fmt.Sprintf(`"exp":%d.5`, exp), 1)), nil, CheckClaims},
		{"exp a string", withPayload(strings.Replace(string(payload), fmt.Sprintf(`"exp":%d`, exp), fmt.Sprintf(`"exp":"%d"`, exp), 1)), nil, CheckClaims},
		{"aud an array", withPayload(`{"aud":["rp"],` + string(payload[1:])), func(c *Config) { c.Audience = "rp" }, CheckClaims},
		{"issuer with a trailing slash", tok, func(c *Config) { c.Issuer = testIssuer + "/" }, CheckIssuer},
		{"warning of real hardware, emulated trusted", withPayload(strings.Replace(string(payload), `"affirming"`, `"warning"`, 1)), func(c *Config) { c.AllowEmulated = true }, CheckStatus},
		{"warning of the emulated CVM, emulated trusted", withPayload(strings.Replace(strings.Replace(string(payload), `"emulated":false`, `"emulated":true`, 1), `"affirming"`, `"warning"`, 1)), func(c *Config) { c.AllowEmulated = true }, CheckStatus},
		{"contraindicated of real hardware, emulated trusted", withPayload(strings.Replace(string(payload), `"affirming"`, `"contraindicated"`, 1)), func(c *Config) { c.AllowEmulated = true }, CheckStatus},
		{"affirming of the emulated CVM, emulated trusted", withPayload(strings.Replace(string(payload), `"emulated":false`, `"emulated":true`, 1)), func(c *Config) { c.AllowEmulated = true }, CheckStatus},
		{"empty nonce expected", tok, func(c *Config) { c.Nonce = []byte{} }, CheckNonce},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(s)
			cfg.Keys, _ = NewKeySet(s.Public(), newTestSigner(t).Public())
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := Verify(context.Background(), []byte(tc.token), cfg)
			wantCheck(t, err, tc.check)
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
	// A token for a named audience is not for a relying party that expects
	// none (RFC 7519 4.1.3), nor for another audience; it is for its own.
	s.Audience = "rp-a"
	audTok, _, err := s.Issue(testAppraised(false))
	s.Audience = ""
	if err != nil {
		t.Fatal(err)
	}
	for _, aud := range []string{"", "rp-b"} {
		cfg := testConfig(s)
		cfg.Audience = aud
		_, err := Verify(context.Background(), []byte(audTok), cfg)
		wantCheck(t, err, CheckAudience)
	}
	audCfg := testConfig(s)
	audCfg.Audience = "rp-a"
	if _, err := Verify(context.Background(), []byte(audTok), audCfg); err != nil {
		t.Fatalf("token for rp-a verified as rp-a: %v", err)
	}
	// The CLI prints this error: it must name the flag that accepts the token.
	if _, err := Verify(context.Background(), []byte(emuTok), testConfig(s)); err == nil || !strings.Contains(err.Error(), "--trust-emulated") {
		t.Errorf("emulated token without AllowEmulated: %v, want an error naming --trust-emulated", err)
	}
	cfg := testConfig(s)
	cfg.AllowEmulated = true
	if got, err := Verify(context.Background(), []byte(emuTok), cfg); err != nil || got.Appraisal().Status != StatusContraindicated {
		t.Fatalf("emulated with AllowEmulated: %v", err)
	}
}

// c0 is the claims' expiry as issued at testTime.
func c0(*Config) *Claims {
	return &Claims{Expiry: testTime.Add(DefaultLifetime).Unix()}
}

func TestLoadSigningKey(t *testing.T) {
	k, p8, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(k)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsader, _ := x509.MarshalPKCS8PrivateKey(rk)
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"pkcs8", p8, true},
		{"sec1", enc("EC PRIVATE KEY", sec1), true},
		{"pkcs8 P-384", enc("PRIVATE KEY", p384der), false},
		{"pkcs8 RSA", enc("PRIVATE KEY", rsader), false},
		{"sec1 in PKCS#8 label", enc("PRIVATE KEY", sec1), false},
		{"two keys", append(bytes.Clone(p8), p8...), false},
		{"public key", enc("PUBLIC KEY", []byte{1}), false},
		{"not PEM", []byte("hello"), false},
		{"empty", nil, false},
		{"too large", append(bytes.Clone(p8), bytes.Repeat([]byte{' '}, MaxKeyFileBytes)...), false},
		// mutation31: a PEM block with headers (an encrypted or annotated
		// key) is refused, not read as a key nor as no key.
		{"PEM headers", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Comment": "x"}, Bytes: sec1}), false},
	}
	for _, tc := range cases {
		got, err := LoadSigningKey(tc.data)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if !tc.ok && got != nil {
			t.Errorf("%s: a key with the error", tc.name)
		}
		if tc.name == "PEM headers" && (err == nil || !strings.Contains(err.Error(), "encrypted or annotated")) {
			t.Errorf("%s: err = %v, want encrypted or annotated PEM", tc.name, err)
		}
		if tc.ok && !got.Equal(k) {
			t.Errorf("%s: another key", tc.name)
		}
	}
}

func TestJWKS(t *testing.T) {
	s := newTestSigner(t)
	doc, err := MarshalJWKS(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ks.Key(context.Background(), s.KeyID()); err != nil || !k.Equal(s.Public()) {
		t.Fatalf("key: %v", err)
	}
	j, _ := PublicJWK(s.Public())
	bad := []struct {
		name string
		doc  string
	}{
		{"empty", `{"keys":[]}`},
		{"kid not thumbprint", strings.Replace(string(doc), j.Kid, "other", 1)},
		{"duplicate kid", `{"keys":[` + strings.TrimSuffix(strings.TrimPrefix(string(doc), `{"keys":[`), `]}`) + `,` + strings.TrimSuffix(strings.TrimPrefix(string(doc), `{"keys":[`), `]}`) + `]}`},
		{"duplicate member", strings.Replace(string(doc), `"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1)},
		{"unknown member", strings.Replace(string(doc), `"kty":"EC"`, `"kty":"EC","d":"x"`, 1)},
		{"RSA", strings.Replace(string(doc), `"kty":"EC"`, `"kty":"RSA"`, 1)},
		{"P-384", strings.Replace(string(doc), `"P-256"`, `"P-384"`, 1)},
		{"alg HS256", strings.Replace(string(doc), `"ES256"`, `"HS256"`, 1)},
		{"not on curve", strings.Replace(string(doc), j.Y, j.X, 1)},
		{"trailing", string(doc) + "{}"},
		{"line break in x", jwksOf(t, func(k *JWK) { k.X = k.X[:10] + "\n" + k.X[10:] })},
		{"CR LF after y", jwksOf(t, func(k *JWK) { k.Y += "\r\n" })},
	}
	for _, tc := range bad {
		if _, err := ParseJWKS([]byte(tc.doc)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// jwksOf returns a JWKS of a new signer's key edited by edit, whose kid
// is the thumbprint of the edited key (so that only the edit is wrong).
func jwksOf(t *testing.T, edit func(*JWK)) string {
	t.Helper()
	j, err := PublicJWK(newTestSigner(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	edit(&j)
	j.Kid = j.Thumbprint()
	doc, err := json.Marshal(struct {
		Keys []JWK `json:"keys"`
	}{[]JWK{j}})
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// TestThumbprintRFC7638 checks the thumbprint against RFC 7638's method on
// an RFC 7517 appendix A.1 EC key (the kid printed there is not a
// thumbprint, so the expected value was computed from the RFC's rule).
func TestThumbprintRFC7638(t *testing.T) {
	j := JWK{Kty: "EC", Crv: "P-256", X: "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", Y: "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`))
	if got, want := j.Thumbprint(), b64.EncodeToString(sum[:]); got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
	j.Kid = j.Thumbprint()
	if _, err := j.publicKey(); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyIDAsDocumented: ear.appraisal-policy-id is what
// docs/remote-attestation.md says, so that a relying party can compute
// it: SHA-256 of each policy's JSON followed by a newline, in order.
func TestPolicyIDAsDocumented(t *testing.T) {
	server := &verify.Policy{Products: []string{"Milan"}}
	extra := &verify.Policy{PCRs: map[int]verify.HexBytes{7: bytes.Repeat([]byte{7}, 32)}}
	js := func(p *verify.Policy) string { return string(testutil.Must(json.Marshal(p))(t)) }
	for _, tc := range []struct {
		pols []*verify.Policy
		doc  string
	}{
		{[]*verify.Policy{server}, js(server) + "\n"},
		{[]*verify.Policy{server, extra}, js(server) + "\n" + js(extra) + "\n"},
		{[]*verify.Policy{extra, server}, js(extra) + "\n" + js(server) + "\n"},
	} {
		if got, want := PolicyID(tc.pols...), fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tc.doc))); got != want {
			t.Errorf("PolicyID of %q = %s, want %s", tc.doc, got, want)
		}
	}
	if PolicyID(server) == PolicyID(server, extra) {
		t.Error("an extra policy does not change the id")
	}
}

// TestTDXMeasurementIsMRTD: a TDX CVM's token names its launch
// measurement, the MRTD (as documented, and as serve's answer does): the
// verified claims keep it in TDX.MRTD, and the token's "measurement" was
// empty, so a relying party could not tell which paravisor (MRTD) the
// affirming result was for.
func TestTDXMeasurementIsMRTD(t *testing.T) {
	s := newTestSigner(t)
	a := testAppraised(false)
	mrtd := bytes.Repeat([]byte{0x4d}, 48)
	a.Claims = &verify.Claims{Platform: verify.PlatformTDX, Paravisor: "azure-hcl", TDX: &verify.TDXClaims{MRTD: mrtd, TCBStatus: verify.TCBNotEvaluated}}
	tok, _, err := s.Issue(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(context.Background(), []byte(tok), testConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	cvm := got.Appraisal().CVM
	if !bytes.Equal(cvm.Measurement, mrtd) || cvm.Platform != verify.PlatformTDX || cvm.ReportedTCB != nil || len(cvm.IDKeyDigest) != 0 {
		t.Fatalf("TDX token's CVM claims = %+v, want measurement %x (the MRTD)", cvm, mrtd)
	}
	// SEV-SNP tokens keep the report's MEASUREMENT.
	snpTok, _, err := s.Issue(testAppraised(false))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Verify(context.Background(), []byte(snpTok), testConfig(s)); err != nil || !bytes.Equal(got.Appraisal().CVM.Measurement, bytes.Repeat([]byte{2}, 48)) {
		t.Fatalf("SEV-SNP token: %v, %+v", err, got)
	}
}

// TestResourceExpected: a relying party that guards one resource
// (Config.Resource) refuses a result the same verifier issued for another
// resource, or for its single secret; every resource shares the issuer,
// key and audience, so nothing else tells them apart. Without
// Config.Resource any resource passes, as before.
func TestResourceExpected(t *testing.T) {
	s := newTestSigner(t)
	issue := func(resource string) []byte {
		a := testAppraised(false)
		a.Resource = resource
		tok, _, err := s.Issue(a)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(tok)
	}
	for _, tc := range []struct {
		name, issued, want string
		ok                 bool
	}{
		{"its resource", "db/password", "db/password", true},
		{"no resource expected", "db/password", "", true},
		{"another resource", "db/readonly", "db/password", false},
		{"a prefix of it", "db", "db/password", false},
		{"the single secret", "", "db/password", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(s)
			cfg.Resource = tc.want
			_, err := Verify(context.Background(), issue(tc.issued), cfg)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCheck(t, err, CheckResource)
		})
	}
}

// TestLoadSigningKeyNamesCertificate: a certificate chain given as the
// signing key is named as a CERTIFICATE block; a chain of several
// certificates was refused as "data after the PEM block (one key per
// file)", which sent the reader looking for a second key.
func TestLoadSigningKeyNamesCertificate(t *testing.T) {
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})
	_, err := LoadSigningKey(append(bytes.Clone(cert), cert...))
	if err == nil || !strings.Contains(err.Error(), "PEM block \"CERTIFICATE\", want PRIVATE KEY (PKCS#8) or EC PRIVATE KEY (SEC1)") {
		t.Errorf("err = %v", err)
	}
}
