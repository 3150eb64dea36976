package maa_test

import (
	"context"
	"crypto/rsa"
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
