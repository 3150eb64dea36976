package maa_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// FuzzToken checks that the token parser and the claims parser never
// panic and that every failure is an *maa.Error matching ErrRejected.
// Seeded with the three real tokens and their payloads alone, and a
// tdxvm payload.
//
// Verify runs with a key set that knows no real kid: under coverage
// instrumentation an RSA verification per input stalls the workers, and
// the signature of altered real tokens is tested by TestEveryPayloadByte.
func FuzzToken(f *testing.F) {
	for _, s := range []string{realTokenFile, windowsFile, trustedLaunch} {
		tok := testutil.ReadFile(f, s)
		f.Add(tok)
		f.Add(payloadOf(f, tok))
	}
	f.Add([]byte("e30.e30."))
	f.Add(edit(f, payloadOf(f, testutil.ReadFile(f, realTokenFile)), asTDX)) // a tdxvm payload
	cfg := realConfig(f)
	cfg.Keys = maa.KeySource(noKeys{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if tok, err := maa.Parse(data); !testutil.Rejected(t, err, maa.ErrRejected) {
			if len(tok.SigningInput) > len(data) || len(tok.Payload) > maa.MaxTokenBytes {
				t.Fatalf("parsed token out of bounds")
			}
		}
		if c, err := maa.ParseClaims(data); !testutil.Rejected(t, err, maa.ErrRejected) {
			_, _ = c.Nonce()
			_, _ = c.Audiences()
			_, _ = c.HCLAkPub()
			_ = c.Platform()
		}
		if _, err := maa.Verify(context.Background(), data, cfg); err == nil {
			t.Fatalf("a token verifies without a key: %q", data)
		} else {
			testutil.Rejected(t, err, maa.ErrRejected)
		}
	})
}

// noKeys is a KeySource without keys.
type noKeys struct{}

func (noKeys) Key(context.Context, string) (*rsa.PublicKey, error) {
	return nil, maa.ErrUnknownKid
}

// FuzzParseJWKS: ParseJWKS never panics; a rejection returns no key set
// and is an *maa.Error of CheckJWKS (the package's one error, not a
// verdict on a token: it does not match ErrRejected) with a bounded
// message; an accepted set has a usable key under some kid of the input.
func FuzzParseJWKS(f *testing.F) {
	for _, file := range []string{realJWKS, "maa/sharedeus-certs-2023.json"} {
		f.Add(testutil.ReadFile(f, file))
	}
	f.Add(maa.EmulatedJWKS())
	f.Add([]byte(`{"keys":[{"kid":"a","kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kid":"e","kty":"EC","crv":"P-256"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := maa.ParseJWKS(data)
		if err != nil {
			merr, ok := errors.AsType[*maa.Error](err)
			if ks != nil || !ok || merr.Check != maa.CheckJWKS || errors.Is(err, maa.ErrRejected) {
				t.Fatalf("key set %v, error %T: %v; want none and a %s *maa.Error", ks, err, err, maa.CheckJWKS)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		var doc struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if json.Unmarshal(data, &doc) != nil {
			t.Fatal("accepted a JWKS encoding/json cannot read")
		}
		usable := 0
		for _, k := range doc.Keys {
			if pub, err := ks.Key(context.Background(), k.Kid); err == nil && pub.N.BitLen() >= maa.MinRSABits {
				usable++
			}
		}
		if usable == 0 {
			t.Fatal("accepted a JWKS without a usable key")
		}
	})
}

// FuzzAudiences: Claims.Audiences never panics; it accepts exactly an aud
// that encoding/json reads as a string or an array of strings, non-empty,
// without an empty or repeated member, and returns those strings; any
// other aud is an *maa.Error of CheckAudience matching ErrRejected.
func FuzzAudiences(f *testing.F) {
	for _, s := range []string{`"a"`, `["a","b"]`, `["a","\u0061"]`, `[]`, `[""]`, `[1]`, `[null]`, `null`, `{}`, `1`, `"\ud800"`, `[["a"]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := maa.ParseClaims(append(append([]byte(`{"aud":`), data...), '}'))
		if err != nil || c.Audience == nil {
			return
		}
		got, err := c.Audiences()
		var one string
		var many []string
		want := many
		switch {
		case json.Unmarshal(c.Audience, &one) == nil && c.Audience.Kind() == '"':
			want = []string{one}
		case json.Unmarshal(c.Audience, &many) == nil && c.Audience.Kind() == '[':
			want = many
		}
		seen := map[string]bool{}
		for _, s := range want {
			if s == "" || seen[s] {
				want = nil
				break
			}
			seen[s] = true
		}
		if len(want) == 0 {
			if got != nil || !testutil.Rejected(t, err, maa.ErrRejected) {
				t.Fatalf("aud %s: accepted as %q", c.Audience, got)
			}
			if merr, _ := errors.AsType[*maa.Error](err); merr.Check != maa.CheckAudience {
				t.Fatalf("aud %s: check %s", c.Audience, merr.Check)
			}
			return
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("aud %s: %q, %v; want %q", c.Audience, got, err, want)
		}
	})
}
