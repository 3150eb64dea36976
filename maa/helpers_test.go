package maa_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// The real token and its instance (testdata/maa/SOURCES.md).
const (
	realTokenFile = "maa/azureguest-snp-sharedeus2-20251215.jwt"
	windowsFile   = "maa/azureguest-snp-windows-sharedweu-20230330.jwt"
	trustedLaunch = "maa/azureguest-trustedlaunch-sharedeus2-20220414.jwt"
	realJWKS      = "maa/sharedeus2-jwks.json"
	realIssuer    = "https://sharedeus2.eus2.attest.azure.net"
	realKid       = "J0pAPdfXXHqWWimgrH853wMIdh5/fLe1z6uSXYPXCa0="
	realIAT       = 1765826648
	realEXP       = realIAT + 8*3600
)

// realTime is inside the real token's lifetime: iat + 1 h.
var realTime = time.Unix(realIAT+3600, 0)

func realKeys(t testing.TB) *maa.KeySet {
	t.Helper()
	ks, err := maa.ParseJWKS(testutil.ReadFile(t, realJWKS))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

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
	b, err := base64.RawURLEncoding.DecodeString(parts(t, token)[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mint signs header.payload with key (RS256), as MAA does.
func mint(t testing.TB, key *rsa.PrivateKey, header string, payload []byte) []byte {
	t.Helper()
	in := b64([]byte(header)) + "." + b64(payload)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return []byte(in + "." + b64(sig))
}

// rsHeader is an MAA-shaped header for kid.
func rsHeader(kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "jku": realIssuer + "/certs", "kid": kid, "typ": "JWT"})
	return string(h)
}

// selfSigned returns a self-signed CA:FALSE certificate for key, like MAA's.
func selfSigned(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: realIssuer},
		NotBefore:             time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2050, 12, 31, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// jwksFor returns an MAA-shaped JWKS (x5c only) of key under kid.
func jwksFor(t testing.TB, key *rsa.PrivateKey, kid string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kid": kid, "kty": "RSA", "x5c": []string{base64.StdEncoding.EncodeToString(selfSigned(t, key))},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keySet(t testing.TB, jwks []byte) *maa.KeySet {
	t.Helper()
	ks, err := maa.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// edit decodes a payload into a generic map, lets fn change it and
// encodes it again.
func edit(t testing.TB, payload []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tee returns the x-ms-isolation-tee object of a payload map.
func tee(m map[string]any) map[string]any { return m["x-ms-isolation-tee"].(map[string]any) }

// wantCheck fails unless err is an *maa.Error for check.
func wantCheck(t testing.TB, err error, check maa.Check) {
	t.Helper()
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
