package server

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// maaInstance stands for an MAA instance (the tokens' iss); its /certs is
// answered by the test's own JWKS server (fakeInstance).
const maaInstance = testmaa.Issuer

// newKeyDigest is the ID_KEY_DIGEST of a paravisor the server does not
// trust (a new Azure paravisor key, say).
var newKeyDigest = sha512.Sum384([]byte("a new Azure paravisor ID key"))

// untrustedBuilder builds evidence v1 of the untrusted paravisor (another
// VM's: another AK) over nonce. Its report, and so the token for it, is
// the same whatever the nonce (only the quote carries it; a refreshed
// report, v2, is new for every nonce).
func untrustedBuilder(nonce []byte, other bool) *testev.Builder {
	b := &testev.Builder{Version: 1, Nonce: nonce, IDKeyDigest: &newKeyDigest}
	if other {
		b.AK = testev.OtherRSAKey()
	}
	return b
}

// untrustedGather gathers evidence of the untrusted paravisor over the
// nonce (untrustedBuilder).
func untrustedGather(other bool) GatherFunc {
	return func(_ context.Context, nonce []byte) ([]byte, error) {
		b := untrustedBuilder(nonce, other)
		ev, err := b.Build()
		if err != nil {
			return nil, err
		}
		return ev.JSON, nil
	}
}

// fakeInstance is the JWKS server of maaInstance: it serves the test
// key's JWKS on /certs (503 while down) and counts the requests.
type fakeInstance struct {
	jwks  []byte
	down  atomic.Bool
	count atomic.Int64
	ts    *httptest.Server
}

func newFakeInstance(t *testing.T) *fakeInstance {
	f := &fakeInstance{jwks: testutil.Must(testmaa.JWKS(testev.EKKey(), "test"))(t)}
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.count.Add(1)
		if f.down.Load() || r.URL.Path != "/certs" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(f.jwks)
	}))
	t.Cleanup(f.ts.Close)
	return f
}

// client returns an HTTP client that sends every request to f, whatever
// its URL (the instance's https URL included).
func (f *fakeInstance) client() *http.Client {
	target, _ := url.Parse(f.ts.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// vouchToken mints a test-signed AzureGuest token of maaInstance for the
// untrusted paravisor's report of the default AK (other: another VM's).
func vouchToken(t *testing.T, other bool) string {
	ak := testev.AKKey()
	if other {
		ak = testev.OtherRSAKey()
	}
	ev := untrustedBuilder([]byte("any nonce"), other).MustBuild()
	claims, err := verify.Evidence(t.Context(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: verify.Policy{AllowAnyParavisor: true}})
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Split(strings.TrimSpace(string(testutil.ReadFile(t, "maa/azureguest-snp-sharedeus2-20251215.jwt"))), ".")
	base := testutil.Must(base64.RawURLEncoding.DecodeString(p[1]))(t)
	base = testutil.Must(testmaa.Edit(base, func(m map[string]any) {
		now := time.Now().Unix()
		m["iat"], m["nbf"], m["exp"] = now, now, now+3600
	}))(t)
	payload := testutil.Must(testmaa.PayloadFor(base, claims, &ak.PublicKey))(t)
	return string(testutil.Must(testmaa.Sign(testev.EKKey(), testmaa.Header("test"), payload))(t))
}

// vouchServer starts a server whose policy accepts a paravisor vouched
// for by maaInstance, fetching its JWKS from f.
func vouchServer(t *testing.T, f *fakeInstance, change func(*Config)) (string, *testutil.LogBuffer) {
	var logBuf testutil.LogBuffer
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{MAAParavisorInstance: maaInstance}})
	cfg.MAA = MAAConfig{HTTPClient: f.client(), JWKSMinRefetch: time.Millisecond}
	cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
	if change != nil {
		change(&cfg)
	}
	return startHTTP(t, newServer(t, cfg)).URL, &logBuf
}

// wantParavisorRejection fails t unless err is the server's 403
// paravisor-identity.
func wantParavisorRejection(t *testing.T, what string, err error) {
	t.Helper()
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.StatusCode != http.StatusForbidden || apiErr.Check != string(verify.CheckParavisorIdentity) {
		t.Errorf("%s: %v, want 403 paravisor-identity", what, err)
	}
}

// TestAttestMAAVouched: a server whose policy names maa_paravisor_instance
// releases its secret to evidence of a paravisor it does not trust when
// the request's maa_token of that instance is for the evidence's report:
// the answer, the signed result and the audit line say maa-vouched by
// the instance. A token of another VM's report, or none, is 403
// paravisor-identity (the former naming the token's failed maa-* check).
// Before, no token reached the server and every such request was 403.
func TestAttestMAAVouched(t *testing.T) {
	f := newFakeInstance(t)
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	url, logBuf := vouchServer(t, f, func(cfg *Config) {
		cfg.Signer = testutil.Must(result.NewSigner(key, "https://verifier.test"))(t)
	})
	good := vouchToken(t, false)

	c := &Client{URL: url, MAAToken: good}
	req, priv, err := c.Request(t.Context(), untrustedGather(false))
	if err != nil {
		t.Fatal(err)
	}
	var resp AttestResponse
	if err := c.Post(t.Context(), PathAttest, mustJSON(t, req), &resp); err != nil {
		t.Fatalf("vouched: %v", err)
	}
	nonce := Nonce(req.Challenge, req.PublicKey)
	if secret, err := OpenSecret(priv, nonce, resp.Ciphertext); err != nil || string(secret) != string(testSecret) {
		t.Fatalf("vouched: secret %q, %v", secret, err)
	}
	if resp.Claims.Paravisor != verify.ParavisorVouched || resp.Claims.ParavisorVoucher != maaInstance {
		t.Errorf("claims: paravisor %q voucher %q", resp.Claims.Paravisor, resp.Claims.ParavisorVoucher)
	}
	ks := testutil.Must(result.ParseJWKS(httpGet(t, url+PathJWKS)))(t)
	rc, err := result.Verify(t.Context(), []byte(resp.Token), result.Config{Keys: ks, Issuer: "https://verifier.test", Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	if cvm := rc.Appraisal().CVM; cvm.Paravisor != verify.ParavisorVouched || cvm.ParavisorVoucher != maaInstance {
		t.Errorf("result token: paravisor %q voucher %q", cvm.Paravisor, cvm.ParavisorVoucher)
	}
	if line := logBuf.String(); !strings.Contains(line, `"msg":"secret released"`) || !strings.Contains(line, `"paravisor_voucher":"`+maaInstance+`"`) {
		t.Errorf("the audit line does not name the voucher:\n%s", line)
	}

	for name, tc := range map[string]struct {
		token string
		want  string
	}{
		"another VM's token": {vouchToken(t, true), "(the MAA token failed its maa-binding check)"},
		"no token":           {"", "paravisor-identity check failed"},
	} {
		_, err := (&Client{URL: url, MAAToken: tc.token}).Attest(t.Context(), untrustedGather(false))
		apiErr, ok := errors.AsType[*APIError](err)
		if !ok || apiErr.StatusCode != http.StatusForbidden || apiErr.Check != string(verify.CheckParavisorIdentity) || !strings.Contains(apiErr.Message, tc.want) {
			t.Errorf("%s: %v, want 403 paravisor-identity saying %q", name, err, tc.want)
		}
	}
	// The other VM's evidence with our token: the token is not for it.
	_, err = (&Client{URL: url, MAAToken: good}).Attest(t.Context(), untrustedGather(true))
	wantParavisorRejection(t, "our token for another VM's evidence", err)
	if n := f.count.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1 (cached)", n)
	}
}

// TestAttestMAATokenIgnored: a token no policy asks for (the paravisor is
// trusted, or the policy names no instance) is ignored: the secret is
// released as without it, nothing is fetched, and the claims do not say
// vouched.
func TestAttestMAATokenIgnored(t *testing.T) {
	f := newFakeInstance(t)
	good := vouchToken(t, false)
	url, _ := vouchServer(t, f, nil)
	res, err := (&Client{URL: url, MAAToken: good}).Attest(t.Context(), synthetic(t))
	if err != nil || res.Claims.Paravisor != verify.ParavisorAzure || res.Claims.ParavisorVoucher != "" {
		t.Fatalf("trusted paravisor with a token: %v, %+v", err, res)
	}
	plain, _ := vouchServer(t, f, func(cfg *Config) { cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots()}) })
	_, err = (&Client{URL: plain, MAAToken: good}).Attest(t.Context(), untrustedGather(false))
	wantParavisorRejection(t, "no maa_paravisor_instance", err)
	if n := f.count.Load(); n != 0 {
		t.Errorf("%d JWKS fetches for tokens nothing asked for", n)
	}
}

// TestAttestMAAJWKSUnavailable: when the instance's JWKS cannot be fetched
// (its /certs fails, or the upstream budget is spent) the answer is 503
// with Retry-After, no verdict, and nothing is cached: once the instance
// answers again the next request is vouched for.
func TestAttestMAAJWKSUnavailable(t *testing.T) {
	f := newFakeInstance(t)
	good := vouchToken(t, false)
	url, _ := vouchServer(t, f, nil)
	f.down.Store(true)
	_, err := (&Client{URL: url, MAAToken: good}).Attest(t.Context(), untrustedGather(false))
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.StatusCode != http.StatusServiceUnavailable || errors.Is(err, ErrRejected) {
		t.Fatalf("JWKS down: %v, want 503", err)
	}
	f.down.Store(false)
	time.Sleep(5 * time.Millisecond) // past JWKSMinRefetch
	if res, err := (&Client{URL: url, MAAToken: good}).Attest(t.Context(), untrustedGather(false)); err != nil || res.Claims.ParavisorVoucher != maaInstance {
		t.Fatalf("JWKS back: %v", err)
	}

	// The upstream budget spent: 503 with its Retry-After, nothing sent.
	lim := testutil.Must(collateral.NewRateLimiter(0.001, 1, nil))(t)
	if ok, _ := lim.Allow(); !ok {
		t.Fatal("a fresh limiter refused")
	}
	before := f.count.Load()
	limited, _ := vouchServer(t, f, func(cfg *Config) { cfg.MAA.Limiter = lim })
	ch, pub, ev := challenged(t, limited, untrustedGather(false))
	body := fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s,"maa_token":%q}`,
		base64.StdEncoding.EncodeToString(ch), base64.StdEncoding.EncodeToString(pub), ev, good)
	resp, err := http.Post(limited+PathAttest, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Retry-After") == "1" {
		t.Errorf("budget spent: %d, Retry-After %q; want 503 with the limiter's delay", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := f.count.Load() - before; n != 0 {
		t.Errorf("%d JWKS fetches beyond the budget", n)
	}
}

// TestAttestMAAJWKSRetryAfter: while a failed JWKS fetch is remembered
// (JWKSMinRefetch), the 503's Retry-After says how long, for the request
// whose fetch failed and for the next one, which sends no fetch.
func TestAttestMAAJWKSRetryAfter(t *testing.T) {
	f := newFakeInstance(t)
	good := vouchToken(t, false)
	url, _ := vouchServer(t, f, func(cfg *Config) { cfg.MAA.JWKSMinRefetch = time.Minute })
	f.down.Store(true)
	for i := range 2 {
		ch, pub, ev := challenged(t, url, untrustedGather(false))
		body := fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s,"maa_token":%q}`,
			base64.StdEncoding.EncodeToString(ch), base64.StdEncoding.EncodeToString(pub), ev, good)
		resp, err := http.Post(url+PathAttest, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusServiceUnavailable || ra < 50 || ra > 60 {
			t.Errorf("request %d: %d, Retry-After %q; want 503 and about 60", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if n := f.count.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1 (the failure is remembered)", n)
	}
}

// TestAttestMAAResourceJWKSDown: a resource policy that names the MAA
// instance, whose JWKS is down, is a 503 with the failure's Retry-After and
// the "verification did not complete" warning naming the resource, as the
// server policy's check is.
func TestAttestMAAResourceJWKSDown(t *testing.T) {
	f := newFakeInstance(t)
	url, logs := vouchServer(t, f, func(cfg *Config) {
		cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{AllowAnyParavisor: true}})
		cfg.MAA.JWKSMinRefetch = time.Minute
		cfg.Resources = map[string]Resource{"vouched": {Secret: []byte("pw"), Policy: &verify.Policy{MAAParavisorInstance: maaInstance}}}
	})
	f.down.Store(true)
	_, err := (&Client{URL: url, Resource: "vouched", MAAToken: vouchToken(t, false)}).Attest(t.Context(), untrustedGather(false))
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("JWKS down: %v, want 503", err)
	}
	if out := logs.String(); !strings.Contains(out, `"msg":"verification did not complete"`) || !strings.Contains(out, `"resource":"vouched"`) {
		t.Errorf("no warning naming the resource:\n%s", out)
	}
}

// TestAttestMAATokenMalformed: a maa_token of the wrong type or shape is
// 400 request, before the challenge is spent.
func TestAttestMAATokenMalformed(t *testing.T) {
	f := newFakeInstance(t)
	url, _ := vouchServer(t, f, nil)
	long := strings.Repeat("a", MaxMAATokenBytes) + ".b.c"
	for name, tok := range map[string]string{
		"empty": `""`, "number": `7`, "array": `["a.b.c"]`, "two parts": `"a.b"`, "space": `"a.b.c d"`,
		"padding": `"a.b.c=="`, "empty part": `"a..c"`, "too long": `"` + long + `"`,
	} {
		ch, pub, ev := challenged(t, url, untrustedGather(false))
		body := fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s,"maa_token":%s}`,
			base64.StdEncoding.EncodeToString(ch), base64.StdEncoding.EncodeToString(pub), ev, tok)
		code, er, _ := postRaw(t, url+PathAttest, []byte(body))
		if code != http.StatusBadRequest || er.Check != CheckRequest {
			t.Errorf("%s: %d %+v, want 400 request", name, code, er)
		}
		// The challenge was not spent: the same request without the
		// token gets as far as the verdict.
		body = fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s}`,
			base64.StdEncoding.EncodeToString(ch), base64.StdEncoding.EncodeToString(pub), ev)
		if code, er, _ := postRaw(t, url+PathAttest, []byte(body)); code != http.StatusForbidden || er.Check != string(verify.CheckParavisorIdentity) {
			t.Errorf("%s, then without the token: %d %+v, want 403 paravisor-identity", name, code, er)
		}
	}
}

// TestAttestMAAPinnedOffline: an instance whose JWKS is pinned
// (MAAConfig.Keys) is never fetched, also offline; offline without pinned
// keys, New refuses a policy naming an instance.
func TestAttestMAAPinnedOffline(t *testing.T) {
	f := newFakeInstance(t)
	ks := testutil.Must(maa.ParseJWKS(f.jwks))(t)
	url, _ := vouchServer(t, f, func(cfg *Config) {
		cfg.MAA.Offline, cfg.MAA.Keys = true, map[string]*maa.KeySet{maaInstance: ks}
	})
	res, err := (&Client{URL: url, MAAToken: vouchToken(t, false)}).Attest(t.Context(), untrustedGather(false))
	if err != nil || res.Claims.ParavisorVoucher != maaInstance || f.count.Load() != 0 {
		t.Fatalf("pinned JWKS: %v, %d fetches", err, f.count.Load())
	}
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{MAAParavisorInstance: maaInstance}})
	cfg.MAA.Offline = true
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), maaInstance) {
		t.Fatalf("offline without pinned keys: %v", err)
	}
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	strings.Reader
	closed atomic.Int64
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// TestLimitedTransportRefusal: a request the limiter refuses is not sent,
// fails with ErrUpstreamLimited, and its body is closed (as an
// http.RoundTripper must, also on error); within the budget it goes
// through.
func TestLimitedTransportRefusal(t *testing.T) {
	var sent atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { sent.Add(1) }))
	defer ts.Close()
	lim, err := collateral.NewRateLimiter(1e-9, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := limitedTransport{base: ts.Client().Transport, lim: lim}
	for i, want := range []int64{1, 1} {
		body := &closeCounter{Reader: *strings.NewReader("body")}
		req, err := http.NewRequest(http.MethodPost, ts.URL, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if i == 0 {
			if err != nil {
				t.Fatalf("within the budget: %v", err)
			}
			resp.Body.Close()
		} else if !errors.Is(err, collateral.ErrUpstreamLimited) {
			t.Fatalf("over the budget: %v, want ErrUpstreamLimited", err)
		}
		if sent.Load() != want || body.closed.Load() == 0 {
			t.Errorf("request %d: %d sent (want %d), body closed %d times", i, sent.Load(), want, body.closed.Load())
		}
	}
}
