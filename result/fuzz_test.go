package result

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzVerify: Verify never panics, every failure is an *Error (ErrRejected)
// with a bounded message, and the only token it accepts is the one signed
// (no second encoding of the same signature or claims verifies).
func FuzzVerify(f *testing.F) {
	s, tok := issued(f)
	cfg := testConfig(s)
	f.Add([]byte(tok))
	f.Add([]byte(tok[:len(tok)-3]))
	f.Add([]byte("e30.e30.e30"))
	f.Add([]byte(tok[:len(tok)-10] + "\n" + tok[len(tok)-10:])) // a second encoding if line breaks were skipped
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Verify(context.Background(), data, cfg)
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("not a rejection: %v", err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if !bytes.Equal(bytes.TrimSpace(data), []byte(tok)) || c.Issuer != testIssuer {
			t.Fatalf("accepted another token: %q", data)
		}
	})
}

// FuzzParseJWKS: ParseJWKS never panics; every key it accepts verifies a
// token only when it is the signer's.
func FuzzParseJWKS(f *testing.F) {
	s, tok := issued(f)
	doc, _ := MarshalJWKS(s.Public())
	f.Add(doc)
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","kid":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseJWKS(data)
		if err != nil {
			return
		}
		_, err = Verify(context.Background(), []byte(tok), Config{Keys: ks, Issuer: testIssuer, Time: testTime})
		if k, kerr := ks.Key(context.Background(), s.KeyID()); kerr == nil && k.Equal(s.Public()) != (err == nil) {
			t.Fatalf("key %v, verify %v", k.Equal(s.Public()), err)
		}
	})
}

// FuzzLoadSigningKey: LoadSigningKey never panics and accepts only P-256
// keys, with a bounded error otherwise.
func FuzzLoadSigningKey(f *testing.F) {
	_, p8, _ := GenerateSigningKey()
	f.Add(p8)
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := LoadSigningKey(data)
		if err != nil {
			if len(err.Error()) > 512 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if _, err := NewSigner(k, testIssuer); err != nil {
			t.Fatalf("accepted an unusable key: %v", err)
		}
	})
}
