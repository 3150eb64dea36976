package maa_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestParseJWKS: the real x5c-only JWKS parses; malformed ones fail.
func TestParseJWKS(t *testing.T) {
	ks := realKeys(t)
	if ks.Len() != 1 {
		t.Fatalf("%d keys", ks.Len())
	}
	if _, err := ks.Key(context.Background(), realKid); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Key(context.Background(), "other"); !errors.Is(err, maa.ErrUnknownKid) {
		t.Fatalf("unknown kid: %v", err)
	}
	key := testev.EKKey()
	x5c := base64.StdEncoding.EncodeToString(selfSigned(t, key))
	n := b64(key.N.Bytes())
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallX5C := base64.StdEncoding.EncodeToString(selfSigned(t, small))
	otherN := b64(testev.OtherRSAKey().N.Bytes())
	ecKey := testev.VCEKKey(snp.Milan)
	ecTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	ecX5C := base64.StdEncoding.EncodeToString(testutil.Must(x509.CreateCertificate(rand.Reader, ecTmpl, ecTmpl, &ecKey.PublicKey, ecKey))(t))
	cases := []struct {
		name, jwks string
		ok         bool
	}{
		{"x5c only", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]}]}`, true},
		{"n and e only", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"AQAB"}]}`, true},
		{"x5c with matching n, e, use, alg", `{"keys":[{"kid":"a","kty":"RSA","use":"sig","alg":"RS256","x5c":["` + x5c + `"],"n":"` + n + `","e":"AQAB"}]}`, true},
		{"x5c with other n", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"],"n":"` + otherN + `","e":"AQAB"}]}`, false},
		{"no keys", `{"keys":[]}`, false},
		{"not an object", `[]`, false},
		{"duplicate kid", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]},{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]}]}`, false},
		{"duplicate member", `{"keys":[{"kid":"a","kid":"b","kty":"RSA","x5c":["` + x5c + `"]}]}`, false},
		{"duplicate keys", `{"keys":[],"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]}]}`, false},
		{"no kid", `{"keys":[{"kty":"RSA","x5c":["` + x5c + `"]}]}`, false},
		{"EC", `{"keys":[{"kid":"a","kty":"EC","x5c":["` + x5c + `"]}]}`, false},
		{"oct (an HMAC secret)", `{"keys":[{"kid":"a","kty":"oct","k":"c2VjcmV0"}]}`, false},
		{"encryption key", `{"keys":[{"kid":"a","kty":"RSA","use":"enc","x5c":["` + x5c + `"]}]}`, false},
		{"HS256 alg", `{"keys":[{"kid":"a","kty":"RSA","alg":"HS256","x5c":["` + x5c + `"]}]}`, false},
		{"x5c not base64", `{"keys":[{"kid":"a","kty":"RSA","x5c":["***"]}]}`, false},
		{"x5c not a certificate", `{"keys":[{"kid":"a","kty":"RSA","x5c":["AAAA"]}]}`, false},
		{"x5c with an escaped line break", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c[:64] + `\n` + x5c[64:] + `"]}]}`, false},
		{"x5c ending in CR LF", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `\r\n"]}]}`, false},
		{"n with an escaped line break", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n[:64] + `\n` + n[64:] + `","e":"AQAB"}]}`, false},
		{"e with an escaped line break", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"AQ\nAB"}]}`, false},
		{"1024-bit key", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + smallX5C + `"]}]}`, false},
		{"even exponent", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"AQAA"}]}`, false},
		{"exponent 1", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"AQ"}]}`, false},
		// crypto/rsa verifies with no exponent above 2^31-1: the key is
		// set aside, not used to fail every signature.
		{"exponent 2^32-1", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"_____w"}]}`, false},
		{"exponent of 5 bytes", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"AQAAAAE"}]}`, false},
		// RFC 7518 Base64urlUInt: the minimum number of octets. A leading
		// zero octet is a second spelling of the same key: malformed.
		{"exponent with a leading zero octet", `{"keys":[{"kid":"a","kty":"RSA","n":"` + n + `","e":"AAEAAQ"}]}`, false},
		{"modulus with a leading zero octet", `{"keys":[{"kid":"a","kty":"RSA","n":"` + b64(append([]byte{0}, key.N.Bytes()...)) + `","e":"AQAB"}]}`, false},
		{"padded modulus", `{"keys":[{"kid":"a","kty":"RSA","n":"` + base64.URLEncoding.EncodeToString(key.N.Bytes()) + `","e":"AQAB"}]}`, false},
		{"key_ops without verify", `{"keys":[{"kid":"a","kty":"RSA","key_ops":["encrypt"],"x5c":["` + x5c + `"]}]}`, false},
		{"key_ops empty", `{"keys":[{"kid":"a","kty":"RSA","key_ops":[],"x5c":["` + x5c + `"]}]}`, false},
		{"key_ops with verify", `{"keys":[{"kid":"a","kty":"RSA","key_ops":["verify"],"x5c":["` + x5c + `"]}]}`, true},
		{"x5c of an EC key", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + ecX5C + `"]}]}`, false},
		{"neither", `{"keys":[{"kid":"a","kty":"RSA"}]}`, false},
		{"trailing data", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]}]} {}`, false},
		// Keys set aside beside a usable one (not fatal; never used).
		{"1024-bit key beside a usable one", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]},{"kid":"s","kty":"RSA","x5c":["` + smallX5C + `"]}]}`, true},
		{"EC key beside a usable one", `{"keys":[{"kid":"e","kty":"EC","crv":"P-256"},{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]}]}`, true},
		{"encryption key beside a usable one", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]},{"kid":"x","kty":"RSA","use":"enc","x5c":["` + x5c + `"]}]}`, true},
		{"two keys set aside", `{"keys":[{"kid":"s","kty":"RSA","x5c":["` + smallX5C + `"]},{"kid":"e","kty":"EC"}]}`, false},
		{"a set-aside key's kid repeated", `{"keys":[{"kid":"s","kty":"RSA","x5c":["` + smallX5C + `"]},{"kid":"s","kty":"RSA","x5c":["` + x5c + `"]}]}`, false},
		{"malformed key beside a usable one", `{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]},{"kid":"b","kty":"RSA","x5c":["AAAA"]}]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := maa.ParseJWKS([]byte(tc.jwks))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if merr, ok := errors.AsType[*maa.Error](err); err != nil && (!ok || merr.Check != maa.CheckJWKS || errors.Is(err, maa.ErrRejected)) {
				t.Fatalf("error %T %v, want a %s *maa.Error", err, err, maa.CheckJWKS)
			}
		})
	}
	if _, err := maa.ParseJWKS([]byte(`{"keys":[` + strings.Repeat(" ", maa.MaxJWKSBytes) + `]}`)); err == nil {
		t.Fatal("an oversized JWKS is accepted")
	}
	mixed := testutil.Must(maa.ParseJWKS([]byte(`{"keys":[{"kid":"a","kty":"RSA","x5c":["` + x5c + `"]},{"kid":"s","kty":"RSA","x5c":["` + smallX5C + `"]}]}`)))(t)
	if mixed.Len() != 1 {
		t.Errorf("%d usable keys, want 1", mixed.Len())
	}
	if _, err := mixed.Key(context.Background(), "s"); !errors.Is(err, maa.ErrRefusedKey) || errors.Is(err, maa.ErrUnknownKid) || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("the 1024-bit key: %v, want ErrRefusedKey naming its size", err)
	}
}

// Real MAA /certs of sharedeus and one of its tokens (testdata/maa/SOURCES.md).
const (
	sharedeusCerts  = "maa/sharedeus-certs-2023.json"
	sharedeusSGX    = "maa/sgx-sharedeus-20230926.jwt"
	sharedeusIssuer = "https://sharedeus.eus.attest.azure.net"
	sharedeusKid    = "rFl9xM+g7TvX63y0iseZtIn20MD5SYAnGblKFasau8I="
	sharedeusWeak   = "lH/VQ9TL53cXpeFt3Vf9tiOv+rkWwV+5PbiNzgWcySQ="
)

// TestRealSharedeusCerts: MAA's real /certs of sharedeus (2023) lists a
// 1024-bit key beside two 2048-bit ones. It is read (that key set aside),
// so the instance's token is verified: its RS256 signature holds and it
// is rejected as what it is, an SGX enclave's token (maa-not-cvm); a token
// naming the 1024-bit key is maa-key (ErrRefusedKey). The same through a
// Fetcher of the instance's /certs.
func TestRealSharedeusCerts(t *testing.T) {
	certs := testutil.ReadFile(t, sharedeusCerts)
	ks := testutil.Must(maa.ParseJWKS(certs))(t)
	if ks.Len() != 2 {
		t.Errorf("%d usable keys, want 2", ks.Len())
	}
	token := testutil.ReadFile(t, sharedeusSGX)
	at := time.Unix(1695737747+3600, 0)
	_, err := maa.Verify(context.Background(), token, maa.Config{Keys: ks, Issuer: sharedeusIssuer, Time: at})
	wantCheck(t, err, maa.CheckNotCVM)

	p := parts(t, token)
	weak := []byte(b64([]byte(`{"alg":"RS256","jku":"https://sharedeus.eus.attest.azure.net/certs","kid":"`+sharedeusWeak+`","typ":"JWT"}`)) + "." + p[1] + "." + p[2])
	_, err = maa.Verify(context.Background(), weak, maa.Config{Keys: ks, Issuer: sharedeusIssuer, Time: at})
	wantCheck(t, err, maa.CheckKey)
	if !errors.Is(err, maa.ErrRefusedKey) {
		t.Errorf("%v does not match ErrRefusedKey", err)
	}

	var cur atomic.Pointer[[]byte]
	var status atomic.Int32
	cur.Store(&certs)
	srv, hits := jwksServer(t, &cur, &status)
	f := &maa.Fetcher{Instance: srv.URL, Now: func() time.Time { return at }}
	_, err = maa.Verify(context.Background(), token, maa.Config{Keys: f, Issuer: sharedeusIssuer, Time: at})
	wantCheck(t, err, maa.CheckNotCVM)
	_, err = maa.Verify(context.Background(), weak, maa.Config{Keys: f, Issuer: sharedeusIssuer, Time: at})
	wantCheck(t, err, maa.CheckKey)
	if hits.Load() != 1 {
		t.Errorf("%d fetches, want 1 (a set-aside kid is not unknown: no refetch)", hits.Load())
	}
	if _, err := ks.Key(context.Background(), sharedeusKid); err != nil {
		t.Error(err)
	}
}

// jwksServer serves the JWKS *cur points to at /certs and counts requests.
func jwksServer(t *testing.T, cur *atomic.Pointer[[]byte], status *atomic.Int32) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/certs" {
			http.NotFound(w, r)
			return
		}
		if s := status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		_, _ = w.Write(*cur.Load())
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestFetcher: the instance's /certs is fetched once and cached; an
// unknown kid refetches once (key rotation), at most once per MinRefetch;
// a server error is CheckJWKS, not a rejection.
func TestFetcher(t *testing.T) {
	var cur atomic.Pointer[[]byte]
	var status atomic.Int32
	first := testutil.ReadFile(t, realJWKS)
	cur.Store(&first)
	srv, hits := jwksServer(t, &cur, &status)
	clock := realTime
	f := &maa.Fetcher{Instance: srv.URL + "/", Now: func() time.Time { return clock }}
	ctx := context.Background()
	token := testutil.ReadFile(t, realTokenFile)
	cfg := maa.Config{Keys: f, Issuer: realIssuer, Time: realTime}
	for range 3 {
		if _, err := maa.Verify(ctx, token, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d fetches for 3 verifications, want 1 (cache)", hits.Load())
	}
	// Rotation: a token under a new kid refetches once.
	key := testev.EKKey()
	rotated := jwksFor(t, key, "rotated")
	cur.Store(&rotated)
	newTok := mint(t, key, rsHeader("rotated"), payloadOf(t, token))
	clock = clock.Add(2 * time.Minute)
	if _, err := maa.Verify(ctx, newTok, cfg); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d fetches after rotation, want 2", hits.Load())
	}
	// An unknown kid right after: no refetch (MinRefetch), rejected.
	bad := mint(t, testev.OtherRSAKey(), rsHeader("unknown"), payloadOf(t, token))
	_, err := maa.Verify(ctx, bad, cfg)
	wantCheck(t, err, maa.CheckKey)
	if hits.Load() != 2 {
		t.Fatalf("%d fetches, want 2: an unknown kid must not refetch within MinRefetch", hits.Load())
	}
	// Later, one refetch per unknown kid, then rejected.
	clock = clock.Add(2 * time.Minute)
	_, err = maa.Verify(ctx, bad, cfg)
	wantCheck(t, err, maa.CheckKey)
	if hits.Load() != 3 {
		t.Fatalf("%d fetches, want 3", hits.Load())
	}
	// The server fails: not a rejection of the token.
	status.Store(http.StatusInternalServerError)
	clock = clock.Add(2 * time.Hour)
	_, err = maa.Verify(ctx, token, cfg)
	wantCheck(t, err, maa.CheckJWKS)
	if errors.Is(err, maa.ErrRejected) || !errors.Is(err, maa.ErrJWKSUnavailable) {
		t.Fatalf("unavailable JWKS: %v", err)
	}
	// A malformed JWKS is not a rejection of the token either (asked
	// after MinRefetch: a failure is remembered until then).
	status.Store(0)
	junk := []byte(`{"keys":[{"kid":"x"}]}`)
	cur.Store(&junk)
	clock = clock.Add(2 * time.Minute)
	before := hits.Load()
	_, err = maa.Verify(ctx, token, cfg)
	wantCheck(t, err, maa.CheckJWKS)
	if hits.Load() != before+1 {
		t.Fatalf("%d fetches, want %d", hits.Load(), before+1)
	}
}

// TestFetcherNeverFollowsTokenURLs: a token whose jku and x5u name a
// server holding its signer's key is rejected (maa-key) by a Fetcher of
// the instance, and that server is never asked.
func TestFetcherNeverFollowsTokenURLs(t *testing.T) {
	real := testutil.ReadFile(t, realJWKS)
	var cur, evil atomic.Pointer[[]byte]
	var status atomic.Int32
	cur.Store(&real)
	attacker := testev.OtherRSAKey()
	evilJWKS := jwksFor(t, attacker, "attacker")
	evil.Store(&evilJWKS)
	srv, _ := jwksServer(t, &cur, &status)
	evilSrv, evilHits := jwksServer(t, &evil, &status)
	f := &maa.Fetcher{Instance: srv.URL, Now: func() time.Time { return realTime }}
	cfg := maa.Config{Keys: f, Issuer: realIssuer, Time: realTime}
	payload := payloadOf(t, testutil.ReadFile(t, realTokenFile))
	for _, kid := range []string{"attacker", realKid} {
		hdr := `{"alg":"RS256","kid":"` + kid + `","jku":"` + evilSrv.URL + `/certs","x5u":"` + evilSrv.URL + `/cert.pem"}`
		_, err := maa.Verify(context.Background(), mint(t, attacker, hdr, payload), cfg)
		want := map[string]maa.Check{"attacker": maa.CheckKey, realKid: maa.CheckSignature}[kid]
		wantCheck(t, err, want)
	}
	if evilHits.Load() != 0 {
		t.Fatalf("the server the token's jku and x5u name was asked %d times", evilHits.Load())
	}
}

// gatedJWKS serves the real JWKS at /certs once gate is closed (or
// failing with status when it is not 0), counting requests.
func gatedJWKS(t *testing.T, gate <-chan struct{}, status int) (*httptest.Server, *atomic.Int32) {
	jwks := testutil.ReadFile(t, realJWKS)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// waitHits waits until the server has seen n requests.
func waitHits(t *testing.T, hits *atomic.Int32, n int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); hits.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests, want %d", hits.Load(), n)
		}
	}
}

// TestFetcherSharesFetch: callers that arrive while a fetch runs wait for
// it and share its answer (one request for all), a waiter's own context
// ends its wait at once, and no lock is held over the network.
func TestFetcherSharesFetch(t *testing.T) {
	gate := make(chan struct{})
	srv, hits := gatedJWKS(t, gate, 0)
	f := &maa.Fetcher{Instance: srv.URL, Now: func() time.Time { return realTime }}
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f.Key(context.Background(), realKid)
			errs <- err
		}()
	}
	waitHits(t, hits, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := f.Key(ctx, realKid); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter with a deadline: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a waiter's deadline took %v", d)
	}
	if got := f.Fetches(); got != 1 {
		t.Fatalf("%d fetches while one runs, want 1", got)
	}
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests for %d callers, want 1", hits.Load(), n+1)
	}
}

// TestFetcherRemembersFailure: a failed fetch answers every caller for
// MinRefetch without asking the instance again (known or unknown kid);
// then one new fetch.
func TestFetcherRemembersFailure(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	srv, hits := gatedJWKS(t, gate, http.StatusServiceUnavailable)
	clock := realTime
	f := &maa.Fetcher{Instance: srv.URL, Now: func() time.Time { return clock }}
	for i, kid := range []string{realKid, "a", "b", "c", realKid} {
		_, err := f.Key(context.Background(), kid)
		wantCheck(t, err, maa.CheckJWKS)
		if !errors.Is(err, maa.ErrJWKSUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
		// Each caller learns how long the failure is remembered: the
		// whole minute for the one whose fetch failed, then what is left.
		re, ok := errors.AsType[*maa.RetryError](err)
		if want := time.Minute - time.Duration(i)*10*time.Second; !ok || re.RetryDelay() != want {
			t.Fatalf("call %d: %v (%T), want a RetryError of %v", i, err, err, want)
		}
		clock = clock.Add(10 * time.Second)
	}
	clock = realTime
	if hits.Load() != 1 {
		t.Fatalf("%d requests for 5 calls within MinRefetch, want 1", hits.Load())
	}
	clock = clock.Add(time.Minute)
	_, err := f.Key(context.Background(), realKid)
	wantCheck(t, err, maa.CheckJWKS)
	if hits.Load() != 2 {
		t.Fatalf("%d requests after MinRefetch, want 2", hits.Load())
	}
}

// TestFetcherRunnerCancelled: when the caller running a fetch gives up, a
// caller waiting for it fetches again under its own context; the
// cancellation is not remembered as a failure of the instance.
func TestFetcherRunnerCancelled(t *testing.T) {
	gate := make(chan struct{})
	srv, hits := gatedJWKS(t, gate, 0)
	f := &maa.Fetcher{Instance: srv.URL, Now: func() time.Time { return realTime }}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := f.Key(ctx, realKid)
		first <- err
	}()
	waitHits(t, hits, 1)
	second := make(chan error, 1)
	go func() {
		_, err := f.Key(context.Background(), realKid)
		second <- err
	}()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("runner: %v", err)
	}
	waitHits(t, hits, 2)
	close(gate)
	if err := <-second; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if _, err := f.Key(context.Background(), realKid); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests, want 2", hits.Load())
	}
}

// TestFetcherContext: a cancelled context stops the fetch with the
// context's error.
func TestFetcherContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	f := &maa.Fetcher{Instance: srv.URL}
	_, err := f.Key(ctx, realKid)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
}
