package maa_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// emulatedKey is the emulated MAA's committed PUBLIC TEST KEY
// (maa/fakemaa/key.pem): anyone can sign with it.
func emulatedKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile("fakemaa/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("fakemaa/key.pem: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// joinJWKS returns one JWKS with the keys of each of sets.
func joinJWKS(t *testing.T, sets ...[]byte) []byte {
	t.Helper()
	var all []json.RawMessage
	for _, s := range sets {
		var j struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(s, &j); err != nil {
			t.Fatal(err)
		}
		all = append(all, j.Keys...)
	}
	return testutil.Must(json.Marshal(map[string]any{"keys": all}))(t)
}

// emulatedToken signs payload, its iss set to iss, with the emulated MAA's
// key under its kid.
func emulatedToken(t *testing.T, payload []byte, iss string) []byte {
	t.Helper()
	payload = edit(t, payload, func(m map[string]any) { m["iss"] = iss })
	return mint(t, emulatedKey(t), rsHeader(maa.EmulatedKid()), payload)
}

// TestEmulatedKeyNamesNoRealInstance: a token signed by the emulated MAA's
// public test key verifies only with TrustEmulated and only as
// EmulatedIssuer; with TrustEmulated and keys that hold the test key
// (alone, or next to an instance's key), a token of that key naming a
// real instance is rejected (maa-issuer): it would otherwise pass as that
// instance's.
func TestEmulatedKeyNamesNoRealInstance(t *testing.T) {
	payload := payloadOf(t, testutil.ReadFile(t, realTokenFile))
	emulated := testutil.Must(maa.EmulatedKeys())(t)
	mixed := keySet(t, joinJWKS(t, maa.EmulatedJWKS(), testutil.ReadFile(t, realJWKS)))
	for _, tc := range []struct {
		name   string
		iss    string
		keys   maa.KeySource
		issuer string
		trust  bool
		check  maa.Check
	}{
		{"emulated, trusted", maa.EmulatedIssuer, emulated, maa.EmulatedIssuer, true, ""},
		{"emulated, not trusted", maa.EmulatedIssuer, emulated, maa.EmulatedIssuer, false, maa.CheckKey},
		{"real iss, trusted emulated keys", realIssuer, emulated, realIssuer, true, maa.CheckIssuer},
		{"real iss, real and emulated keys", realIssuer, mixed, realIssuer, true, maa.CheckIssuer},
		{"real iss, not trusted", realIssuer, mixed, realIssuer, false, maa.CheckKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := maa.Config{Keys: tc.keys, Issuer: tc.issuer, Time: realTime, TrustEmulated: tc.trust}
			c, err := maa.Verify(context.Background(), emulatedToken(t, payload, tc.iss), cfg)
			wantCheck(t, err, tc.check)
			if tc.check == "" && c.Issuer != maa.EmulatedIssuer {
				t.Errorf("iss %q", c.Issuer)
			}
		})
	}
}

// TestEmulatedIssuerNeedsTrust (mutation29b): a token naming the emulated
// MAA's issuer is refused (maa-issuer, ErrEmulated) without TrustEmulated
// even when signed by a key that is not the emulated MAA's and the
// configured issuer is EmulatedIssuer itself: that issuer vouches for no
// real VM whoever signs for it.
func TestEmulatedIssuerNeedsTrust(t *testing.T) {
	payload := edit(t, payloadOf(t, testutil.ReadFile(t, realTokenFile)), func(m map[string]any) { m["iss"] = maa.EmulatedIssuer })
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint("trust ", trust), func(t *testing.T) {
			token, cfg := resigned(t, payload)
			cfg.Issuer, cfg.TrustEmulated = maa.EmulatedIssuer, trust
			_, err := maa.Verify(context.Background(), token, cfg)
			if !trust {
				wantCheck(t, err, maa.CheckIssuer)
				if !errors.Is(err, maa.ErrEmulated) {
					t.Fatalf("%v, want ErrEmulated", err)
				}
				return
			}
			if e, ok := errors.AsType[*maa.Error](err); ok && e.Check == maa.CheckIssuer {
				t.Fatalf("trusted: %v", err)
			}
		})
	}
}

// TestEmulatedTokenBindsNoRealEvidence: a token of the emulated MAA,
// minted for evidence verified under a chain that is not the emulated
// CVM's, verifies (TrustEmulated) but does not bind (maa-binding).
func TestEmulatedTokenBindsNoRealEvidence(t *testing.T) {
	ours := verifiedEvidence(t, &testev.Builder{})
	if ours.Emulated {
		t.Fatal("testev evidence claims to be emulated")
	}
	ak := &testev.AKKey().PublicKey
	payload := testutil.Must(testmaa.PayloadFor(payloadOf(t, testutil.ReadFile(t, realTokenFile)), ours, ak))(t)
	token := emulatedToken(t, payload, maa.EmulatedIssuer)
	emulated := testutil.Must(maa.EmulatedKeys())(t)
	c, err := maa.Verify(context.Background(), token, maa.Config{Keys: emulated, Issuer: maa.EmulatedIssuer, Time: realTime, TrustEmulated: true})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, maa.Bind(c, ours), maa.CheckBinding)
	// The same claims minted by another key (the test MAA's) bind: only
	// the emulated issuer is refused.
	real, cfg := tokenFor(t, ours, ak, nil)
	rc, err := maa.Verify(context.Background(), real, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, maa.Bind(rc, ours), "")
}

// TestBindEmulatedBothOrNeither: a token binds evidence only when both
// are the emulated CVM's or neither is: the emulated MAA's token never
// binds real evidence, and a real instance's token (here the test MAA's)
// never binds evidence of the emulated CVM (here testev's chain marked
// Emulated, as --trust-emulated marks fakeamd's), which anyone can forge
// with the public keys to match a real token's report data and AK.
func TestBindEmulatedBothOrNeither(t *testing.T) {
	real := verifiedEvidence(t, &testev.Builder{})
	ev := (&testev.Builder{}).MustBuild()
	emuChain := testev.PrivateChain(snp.Milan).SNPChain()
	emuChain.Emulated = true
	emu, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: (&snp.Roots{}).Add(emuChain)})
	if err != nil || !emu.Emulated || real.Emulated {
		t.Fatalf("evidence: emulated %v (err %v), real one emulated %v", emu != nil && emu.Emulated, err, real.Emulated)
	}
	ak := &testev.AKKey().PublicKey
	emulatedKeys := testutil.Must(maa.EmulatedKeys())(t)
	tokenOf := func(t *testing.T, ev *verify.Claims, emulated bool) *maa.Claims {
		payload := testutil.Must(testmaa.PayloadFor(payloadOf(t, testutil.ReadFile(t, realTokenFile)), ev, ak))(t)
		if !emulated {
			tok, cfg := tokenFor(t, ev, ak, nil)
			return testutil.Must(maa.Verify(context.Background(), tok, cfg))(t)
		}
		tok := emulatedToken(t, payload, maa.EmulatedIssuer)
		return testutil.Must(maa.Verify(context.Background(), tok, maa.Config{Keys: emulatedKeys, Issuer: maa.EmulatedIssuer, Time: realTime, TrustEmulated: true}))(t)
	}
	for _, tc := range []struct {
		name          string
		ev            *verify.Claims
		emulatedToken bool
		check         maa.Check
	}{
		{"real token, real evidence", real, false, ""},
		{"emulated token, emulated evidence", emu, true, ""},
		{"emulated token, real evidence", real, true, maa.CheckBinding},
		{"real token, emulated evidence", emu, false, maa.CheckBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tokenOf(t, tc.ev, tc.emulatedToken)
			if c.Emulated() != tc.emulatedToken {
				t.Errorf("Claims.Emulated() = %v", c.Emulated())
			}
			wantCheck(t, maa.Bind(c, tc.ev), tc.check)
		})
	}
}

// TestEmulatedInstanceNeverVouches: a policy cannot name the emulated MAA
// as the instance whose tokens vouch for a paravisor.
func TestEmulatedInstanceNeverVouches(t *testing.T) {
	for _, in := range []string{maa.EmulatedIssuer, maa.EmulatedIssuer + "/"} {
		if _, err := verify.ParsePolicy([]byte(`{"maa_paravisor_instance":"` + in + `"}`)); err == nil {
			t.Errorf("policy naming %s accepted", in)
		}
	}
}
