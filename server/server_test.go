package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestNonce(t *testing.T) {
	ch := bytes.Repeat([]byte{1}, ChallengeSize)
	pub := bytes.Repeat([]byte{2}, 32)
	n := Nonce(ch, pub)
	want := sha512.Sum384(append(bytes.Clone(ch), pub...))
	if !bytes.Equal(n, want[:]) || len(n) != NonceSize {
		t.Fatalf("Nonce = %x, want SHA-384(challenge‖pub) %x", n, want)
	}
	pub2 := bytes.Clone(pub)
	pub2[31] ^= 1
	if bytes.Equal(Nonce(ch, pub2), n) {
		t.Fatal("the nonce does not depend on the public key")
	}
	if NonceSize > 48 {
		t.Fatalf("NonceSize %d exceeds the vTPM qualifyingData limit", NonceSize)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a secret succeeded")
	}
	if _, err := New(Config{Secret: []byte("x"), ChallengeTTL: -time.Second}); err == nil {
		t.Error("New with a negative TTL succeeded")
	}
}

// TestChallengeTTLBounded holds that the challenge TTL, which is how long
// a flood that filled the challenge store keeps refusing everyone, is at
// most MaxChallengeTTL.
func TestChallengeTTLBounded(t *testing.T) {
	for _, tc := range []struct {
		ttl time.Duration
		ok  bool
	}{
		{0, true}, // the default
		{time.Second, true},
		{MaxChallengeTTL, true},
		{MaxChallengeTTL + time.Nanosecond, false},
		{30 * 24 * time.Hour, false},
	} {
		cfg := testConfig()
		cfg.ChallengeTTL = tc.ttl
		s, err := New(cfg)
		if tc.ok != (err == nil) {
			t.Errorf("TTL %s: New = %v, want ok %v", tc.ttl, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), MaxChallengeTTL.String()) {
			t.Errorf("TTL %s: the error does not name the bound: %v", tc.ttl, err)
		}
		if s != nil {
			_ = s.Close()
		}
	}
}

func TestSealOpenBinding(t *testing.T) {
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nonce := Nonce(make([]byte, 32), pub)
	sl, err := newSealer(pub, nonce)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sl.seal(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenSecret(priv, nonce, ct)
	if err != nil || !bytes.Equal(got, testSecret) {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	other := bytes.Clone(nonce)
	other[0] ^= 1
	if _, err := OpenSecret(priv, other, ct); err == nil {
		t.Error("the ciphertext opened under another nonce")
	}
	priv2, _, _ := GenerateKey()
	if _, err := OpenSecret(priv2, nonce, ct); err == nil {
		t.Error("the ciphertext opened with another key")
	}
	if bytes.Contains(ct, testSecret) {
		t.Error("the ciphertext contains the secret")
	}
}

func TestAttestSuccess(t *testing.T) {
	s := newServer(t, testConfig())
	ts := startHTTP(t, s)
	var gotNonce []byte
	gather := func(ctx context.Context, nonce []byte) ([]byte, error) {
		gotNonce = nonce
		return synthetic(t)(ctx, nonce)
	}
	res, err := (&Client{URL: ts.URL}).Attest(context.Background(), gather)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	if !bytes.Equal(res.Secret, testSecret) {
		t.Fatalf("secret = %q", res.Secret)
	}
	if len(gotNonce) != NonceSize {
		t.Errorf("gather got a %d-byte nonce", len(gotNonce))
	}
	c := res.Claims
	chip := testev.DefaultChipID(snp.Milan)
	if c.Product != "Milan" || !bytes.Equal(c.ChipID, chip[:]) || c.EvidenceVersion != 2 || !c.FreshReport || c.Emulated {
		t.Errorf("claims = %+v", c)
	}
	if d := testev.AzureIDKeyDigest(); c.Paravisor != verify.ParavisorAzure || !bytes.Equal(c.IDKeyDigest, d[:]) {
		t.Errorf("claims paravisor = %q %x", c.Paravisor, c.IDKeyDigest)
	}
	if c.ReportedTCB == nil || *c.ReportedTCB != testev.DefaultTCB(snp.Milan) || len(c.Measurement) != 48 {
		t.Errorf("claims TCB/measurement = %+v %x", c.ReportedTCB, c.Measurement)
	}
	if s.challenges.len() != 0 {
		t.Errorf("%d challenges outstanding after use", s.challenges.len())
	}
}

func TestAttestEvidenceAsBase64(t *testing.T) {
	s := newServer(t, testConfig())
	ts := startHTTP(t, s)
	priv, pub, _ := GenerateKey()
	ch := getChallenge(t, ts.URL)
	nonce := Nonce(ch, pub)
	ev := evidenceFor(t, nonce)
	body := mustJSON(t, map[string]string{
		"challenge":  base64.StdEncoding.EncodeToString(ch),
		"public_key": base64.StdEncoding.EncodeToString(pub),
		"evidence":   base64.RawURLEncoding.EncodeToString(ev),
	})
	status, er, data := postRaw(t, ts.URL+PathAttest, body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %+v", status, er)
	}
	var ar AttestResponse
	if err := json.Unmarshal(data, &ar); err != nil {
		t.Fatal(err)
	}
	if ar.Suite != Suite {
		t.Errorf("suite %q", ar.Suite)
	}
	secret, err := OpenSecret(priv, nonce, ar.Ciphertext)
	if err != nil || !bytes.Equal(secret, testSecret) {
		t.Fatalf("open: %q %v", secret, err)
	}
}

// attestOnce posts evidence for challenge ch and public key pub.
func attestOnce(t testing.TB, url string, ch, pub, ev []byte) (int, ErrorResponse) {
	t.Helper()
	status, er, _ := postRaw(t, url+PathAttest, mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev}))
	return status, er
}

func TestReplayRejected(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	_, pub, _ := GenerateKey()
	ch := getChallenge(t, ts.URL)
	ev := evidenceFor(t, Nonce(ch, pub))
	if status, er := attestOnce(t, ts.URL, ch, pub, ev); status != http.StatusOK {
		t.Fatalf("first use: %d %+v", status, er)
	}
	status, er := attestOnce(t, ts.URL, ch, pub, ev)
	if status != http.StatusUnauthorized || er.Check != CheckChallenge {
		t.Fatalf("replay: %d %+v, want 401 challenge", status, er)
	}
}

func TestExpiredChallenge(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Now = clock.Now
	cfg.ChallengeTTL = 30 * time.Second
	s := newServer(t, cfg)
	ts := startHTTP(t, s)
	_, pub, _ := GenerateKey()
	ch := getChallenge(t, ts.URL)
	ev := evidenceFor(t, Nonce(ch, pub))
	clock.Advance(30 * time.Second)
	status, er := attestOnce(t, ts.URL, ch, pub, ev)
	if status != http.StatusUnauthorized || er.Check != CheckChallenge {
		t.Fatalf("expired: %d %+v, want 401 challenge", status, er)
	}
	// Just inside the TTL it is accepted.
	ch = getChallenge(t, ts.URL)
	ev = evidenceFor(t, Nonce(ch, pub))
	clock.Advance(30*time.Second - time.Nanosecond)
	if status, er := attestOnce(t, ts.URL, ch, pub, ev); status != http.StatusOK {
		t.Fatalf("within TTL: %d %+v", status, er)
	}
}

func TestUnknownChallenge(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	_, pub, _ := GenerateKey()
	ch := make([]byte, ChallengeSize)
	rand.Read(ch)
	status, er := attestOnce(t, ts.URL, ch, pub, evidenceFor(t, Nonce(ch, pub)))
	if status != http.StatusUnauthorized || er.Check != CheckChallenge {
		t.Fatalf("unknown: %d %+v, want 401 challenge", status, er)
	}
}

func TestEvidenceForAnotherKeyRejected(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	_, pub, _ := GenerateKey()
	_, attackerPub, _ := GenerateKey()
	// The attester quoted the nonce of its own key; a man in the middle
	// submits the evidence with its key.
	ch := getChallenge(t, ts.URL)
	ev := evidenceFor(t, Nonce(ch, pub))
	status, er := attestOnce(t, ts.URL, ch, attackerPub, ev)
	if status != http.StatusForbidden || er.Check != string(verify.CheckNonce) {
		t.Fatalf("%d %+v, want 403 quote-nonce", status, er)
	}
}

func TestClientRejectedError(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	gather := func(ctx context.Context, nonce []byte) ([]byte, error) {
		return evidenceFor(t, []byte("not the nonce")), nil
	}
	_, err := (&Client{URL: ts.URL}).Attest(context.Background(), gather)
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || !errors.Is(err, ErrRejected) || apiErr.Check != string(verify.CheckNonce) || apiErr.StatusCode != 403 {
		t.Fatalf("err = %#v, want an APIError 403 quote-nonce matching ErrRejected", err)
	}
	if !strings.Contains(err.Error(), "quote-nonce") {
		t.Errorf("message %q does not name the check", err)
	}
	// One sentinel for "rejected", local or remote.
	if !errors.Is(err, verify.ErrRejected) {
		t.Errorf("a 403 does not match verify.ErrRejected: %v", err)
	}
	// A network error is not a rejection.
	_, err = (&Client{URL: "http://127.0.0.1:1"}).Attest(context.Background(), gather)
	if err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("network error = %v", err)
	}
}

func TestUntrustedChainReleasesNothing(t *testing.T) {
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{}) // AMD's roots only
	ts := startHTTP(t, newServer(t, cfg))
	_, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t))
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Check != string(verify.CheckVCEKChain) {
		t.Fatalf("err = %v, want vcek-chain rejection", err)
	}
}

func TestMalformedRequests(t *testing.T) {
	s := newServer(t, testConfig())
	ts := startHTTP(t, s)
	_, pub, _ := GenerateKey()
	b64 := base64.StdEncoding.EncodeToString
	validCh := func() string { return b64(getChallenge(t, ts.URL)) }
	ev := string(evidenceFor(t, []byte("x")))
	cases := []struct {
		name string
		body string
	}{
		{"not json", `{"challenge":`},
		{"wrong type", `[]`},
		{"trailing data", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s} {}`, validCh(), b64(pub), ev)},
		{"invalid base64 challenge", fmt.Sprintf(`{"challenge":"!!!not base64","public_key":%q,"evidence":%s}`, b64(pub), ev)},
		{"short challenge", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s}`, b64([]byte("short")), b64(pub), ev)},
		{"invalid base64 key", fmt.Sprintf(`{"challenge":%q,"public_key":"@@","evidence":%s}`, validCh(), ev)},
		{"bad key size", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s}`, validCh(), b64(pub[:31]), ev)},
		{"low-order key", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s}`, validCh(), b64(make([]byte, 32)), ev)},
		{"no key", fmt.Sprintf(`{"challenge":%q,"evidence":%s}`, validCh(), ev)},
		{"no evidence", fmt.Sprintf(`{"challenge":%q,"public_key":%q}`, validCh(), b64(pub))},
		{"evidence number", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":42}`, validCh(), b64(pub))},
		{"evidence bad base64", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":"**"}`, validCh(), b64(pub))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, er, _ := postRaw(t, ts.URL+PathAttest, []byte(tc.body))
			if status != http.StatusBadRequest || er.Check != CheckRequest {
				t.Fatalf("%d %+v, want 400 request", status, er)
			}
		})
	}
	// Malformed requests do not spend challenges: the ones above are all
	// still outstanding.
	if n := s.challenges.len(); n != 8 {
		t.Errorf("%d challenges outstanding, want 8", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 4096
	s := newServer(t, cfg)
	ts := startHTTP(t, s)
	body := fmt.Sprintf(`{"challenge":"%s"}`, strings.Repeat("A", 8192))
	status, er, _ := postRaw(t, ts.URL+PathAttest, []byte(body))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %+v, want 413", status, er)
	}
	// White space after a complete object counts too.
	body = `{"challenge":"AAAA"}` + strings.Repeat(" ", 8192)
	if status, er, _ := postRaw(t, ts.URL+PathAttest, []byte(body)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("trailing space: %d %+v, want 413", status, er)
	}
}

// endless is an io.Reader that never ends, counting what was read.
type endless struct {
	n    atomic.Int64
	fill byte
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.fill
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

func TestEndlessBodyStopsAtLimit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 64 << 10
	s := newServer(t, cfg)

	// In the handler: reading stops at the limit.
	for _, prefix := range []string{`{"challenge":"`, `{"evidence":"`, ``} {
		body := &endless{fill: ' '}
		if prefix != "" {
			body.fill = 'A'
		}
		r := httptest.NewRequest(http.MethodPost, PathAttest, io.MultiReader(strings.NewReader(prefix), body))
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("prefix %q: status %d, want 413", prefix, w.Code)
		}
		if n := body.n.Load(); n > cfg.MaxBodyBytes+64<<10 {
			t.Fatalf("prefix %q: the handler read %d bytes, limit %d", prefix, n, cfg.MaxBodyBytes)
		}
	}

	// Over the network: the answer comes while the client still sends.
	ts := startHTTP(t, s)
	body := &endless{fill: 'A'}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+PathAttest, io.MultiReader(strings.NewReader(`{"challenge":"`), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("endless body over HTTP: %v (sent %d bytes)", err, body.n.Load())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	t.Logf("the client sent %d bytes before the 413 (limit %d; the rest sat in socket buffers)", body.n.Load(), cfg.MaxBodyBytes)
}

func TestMethodNotAllowed(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, PathAttest, "POST"},
		{http.MethodPut, PathChallenge, "POST"},
		{http.MethodPost, PathHealth, "GET, HEAD"},
		{http.MethodDelete, PathMetrics, "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var er ErrorResponse
		err = json.NewDecoder(resp.Body).Decode(&er)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || err != nil || er.Error == "" {
			t.Errorf("%s %s: %d %+v %v, want a JSON 405", tc.method, tc.path, resp.StatusCode, er, err)
		}
		if got := strings.Join(resp.Header.Values("Allow"), ", "); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	resp, err := http.Get(ts.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unknown path: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestUnusedChallengesEvicted(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	const n = 10_000
	cfg.Now = clock.Now
	cfg.ChallengeTTL = time.Minute
	cfg.MaxClientChallenges = n // all from httptest's one address
	s := newServer(t, cfg)
	h := s.Handler()
	seen := make(map[string]bool, n)
	for i := range n {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, PathChallenge, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("challenge %d: %d %s", i, w.Code, w.Body)
		}
		var cr ChallengeResponse
		if err := json.Unmarshal(w.Body.Bytes(), &cr); err != nil || len(cr.Challenge) != ChallengeSize {
			t.Fatalf("challenge %d: %v %s", i, err, w.Body)
		}
		seen[string(cr.Challenge)] = true
		if i == n/2 {
			clock.Advance(30 * time.Second) // the second half expires later
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct challenges out of %d", len(seen), n)
	}
	if got := s.challenges.len(); got != n {
		t.Fatalf("outstanding %d, want %d", got, n)
	}
	if !strings.Contains(scrape(t, h), "snp_vtpm_challenges_outstanding 10000\n") {
		t.Error("the outstanding gauge does not say 10000")
	}
	clock.Advance(30 * time.Second) // the first half (0..5000) has expired
	if got := s.challenges.evict(); got != n/2+1 {
		t.Errorf("evicted %d, want %d", got, n/2+1)
	}
	clock.Advance(30 * time.Second)
	if got := s.challenges.len(); got != 0 {
		t.Fatalf("outstanding %d after the TTL, want 0", got)
	}
	st := s.challenges
	st.mu.Lock()
	mapLen, listLen := len(st.byKey), st.order.Len()
	st.mu.Unlock()
	if mapLen != 0 || listLen != 0 {
		t.Fatalf("store holds %d map entries and %d list entries after eviction", mapLen, listLen)
	}
	if !strings.Contains(scrape(t, h), "snp_vtpm_challenges_outstanding 0\n") {
		t.Error("the outstanding gauge does not say 0")
	}
}

func TestJanitorEvicts(t *testing.T) {
	cfg := testConfig()
	cfg.ChallengeTTL = 50 * time.Millisecond // janitor every 100 ms
	cfg.MaxClientChallenges = 100
	s := newServer(t, cfg)
	for range 100 {
		if _, _, _, err := s.challenges.issue("192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	_, done, cancel := serveLoopback(t, s)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := s.challenges
		st.mu.Lock()
		n := len(st.byKey) // without evicting, unlike len()
		st.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the janitor left %d expired challenges", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChallengeCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxChallenges = 5
	s := newServer(t, cfg)
	ts := startHTTP(t, s)
	var chs [][]byte
	for range 5 {
		chs = append(chs, getChallenge(t, ts.URL))
	}
	resp, err := http.Post(ts.URL+PathChallenge, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var er ErrorResponse
	json.NewDecoder(resp.Body).Decode(&er)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || er.Error == "" {
		t.Fatalf("6th challenge: %d Retry-After=%q %+v, want 503 (the server is full)", resp.StatusCode, resp.Header.Get("Retry-After"), er)
	}
	// Using one frees a slot.
	_, pub, _ := GenerateKey()
	if status, er := attestOnce(t, ts.URL, chs[0], pub, evidenceFor(t, Nonce(chs[0], pub))); status != 200 {
		t.Fatalf("attest: %d %+v", status, er)
	}
	getChallenge(t, ts.URL)
	if !strings.Contains(scrape(t, s.Handler()), `snp_vtpm_challenges_refused_total{limit="total"} 1`+"\n") {
		t.Error("refusals not counted")
	}
}

func TestHealthz(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	resp, err := http.Get(ts.URL + PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body["status"] != "ok" {
		t.Fatalf("healthz: %d %v %v", resp.StatusCode, body, err)
	}
}

func scrape(t testing.TB, h http.Handler) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, PathMetrics, nil))
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	return w.Body.String()
}

func TestMetrics(t *testing.T) {
	s := newServer(t, testConfig())
	ts := startHTTP(t, s)
	c := &Client{URL: ts.URL}
	if _, err := c.Attest(context.Background(), synthetic(t)); err != nil {
		t.Fatal(err)
	}
	bad := func(ctx context.Context, nonce []byte) ([]byte, error) { return evidenceFor(t, []byte("other")), nil }
	for range 2 {
		if _, err := c.Attest(context.Background(), bad); !errors.Is(err, ErrRejected) {
			t.Fatalf("want rejection, got %v", err)
		}
	}
	m := scrape(t, s.Handler())
	for _, want := range []string{
		`snp_vtpm_attestations_total{reason="quote-nonce",result="rejected"} 2`,
		`snp_vtpm_attestations_total{reason="none",result="success"} 1`,
		`snp_vtpm_attestation_duration_seconds_count{result="success"} 1`,
		`snp_vtpm_challenges_issued_total 3`,
		`snp_vtpm_challenges_outstanding 0`,
		`go_goroutines`,
		// The Verifier's caches: each document's VCEK was looked up (each
		// is a new test chip's), only the one that verified is held.
		`snp_vtpm_verify_cache_entries{cache="vcek"} 1`,
		`snp_vtpm_verify_cache_misses_total{cache="vcek"} 3`,
		`snp_vtpm_verify_cache_hits_total{cache="vcek"} 0`,
		`snp_vtpm_verify_cache_entries{cache="hcl"} 0`,
		`snp_vtpm_verify_cache_bytes{cache="report"} 0`,
		`snp_vtpm_verify_cache_misses_total{cache="evidence"}`,
	} {
		if !strings.Contains(m, want+"\n") && !strings.Contains(m, want+" ") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Registries are per server: a second server starts from zero.
	s2 := newServer(t, testConfig())
	if strings.Contains(scrape(t, s2.Handler()), `result="rejected"`) {
		t.Error("a new server shares metrics with another")
	}
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	var logBuf testutil.LogBuffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newServer(t, cfg)
	ts := startHTTP(t, s)
	priv, pub, _ := GenerateKey()
	ch := getChallenge(t, ts.URL)
	nonce := Nonce(ch, pub)
	ev := evidenceFor(t, nonce)
	status, _, data := postRaw(t, ts.URL+PathAttest, mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev}))
	if status != 200 {
		t.Fatalf("attest: %d", status)
	}
	var ar AttestResponse
	json.Unmarshal(data, &ar)
	if got, err := OpenSecret(priv, nonce, ar.Ciphertext); err != nil || !bytes.Equal(got, testSecret) {
		t.Fatal("secret not released")
	}
	// and a rejection
	ch2 := getChallenge(t, ts.URL)
	if status, _ := attestOnce(t, ts.URL, ch2, pub, ev); status != http.StatusForbidden {
		t.Fatalf("rejection: %d", status)
	}
	logs := logBuf.Bytes()
	privBytes, _ := priv.Bytes()
	for name, needle := range map[string][]byte{
		"secret":             testSecret,
		"secret hex":         []byte(hex.EncodeToString(testSecret)),
		"secret base64":      []byte(base64.StdEncoding.EncodeToString(testSecret)),
		"secret part":        testSecret[:12],
		"public key base64":  []byte(base64.StdEncoding.EncodeToString(pub)),
		"private key base64": []byte(base64.StdEncoding.EncodeToString(privBytes)),
		"private key hex":    []byte(hex.EncodeToString(privBytes)),
		"evidence":           ev[:40],
		"ciphertext base64":  []byte(base64.StdEncoding.EncodeToString(ar.Ciphertext)[:20]),
	} {
		if bytes.Contains(logs, needle) {
			t.Errorf("the log contains the %s", name)
		}
	}
	// The lines are there, with what operators need.
	lines := logLines(t, logs, "request")
	if len(lines) != 4 {
		t.Fatalf("%d access log lines, want 4", len(lines))
	}
	last := lines[3]
	for _, k := range []string{"method", "path", "status", "duration", "remote"} {
		if _, ok := last[k]; !ok {
			t.Errorf("access log line lacks %q: %v", k, last)
		}
	}
	if last["check"] != "quote-nonce" || last["status"] != float64(403) || last["path"] != PathAttest {
		t.Errorf("rejection line = %v", last)
	}
	if _, ok := lines[1]["check"]; ok || lines[1]["status"] != float64(200) {
		t.Errorf("success line = %v", lines[1])
	}
}

func TestConcurrentReplaysOneWins(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	_, pub, _ := GenerateKey()
	ch := getChallenge(t, ts.URL)
	body := mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: evidenceFor(t, Nonce(ch, pub))})
	const n = 32
	ok, denied := replayConcurrently(t, ts.URL, body, n)
	if ok != 1 || denied != n-1 {
		t.Fatalf("%d successes and %d denials, want 1 and %d", ok, denied, n-1)
	}
}

func TestSlowClientDisconnected(t *testing.T) {
	cfg := testConfig()
	cfg.ReadHeaderTimeout = 200 * time.Millisecond
	s := newServer(t, cfg)
	ln, done, cancel := serveLoopback(t, s)
	defer func() {
		cancel()
		<-done
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Le"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	elapsed := time.Since(start)
	if err == nil {
		// net/http answers 400 before closing; then the next read ends.
		if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 4")) {
			t.Fatalf("got %q, want the connection closed", buf[:n])
		}
		_, err = io.ReadAll(conn)
		if err == nil {
			err = io.EOF
		}
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept a stalled client for %v", elapsed)
	}
	if elapsed < 150*time.Millisecond {
		t.Errorf("disconnected after %v, before the header timeout", elapsed)
	}
	t.Logf("stalled client disconnected after %v (%v)", elapsed, err)
}

func TestGracefulShutdown(t *testing.T) {
	built := (&testev.Builder{OmitVCEK: true, Nonce: []byte("placeholder")}).MustBuild()
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{
		Roots: testev.Roots(),
		VCEKGetter: verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
			once.Do(func() { close(entered) })
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return built.VCEKDER, r.Validate(built.VCEKDER)
		}),
	})
	s := newServer(t, cfg)
	ln, done, cancel := serveLoopback(t, s)
	defer cancel()
	url := "http://" + ln.Addr().String()

	type result struct {
		res *Result
		err error
	}
	got := make(chan result, 1)
	go func() {
		gather := func(ctx context.Context, nonce []byte) ([]byte, error) {
			ev, err := (&testev.Builder{OmitVCEK: true, Nonce: nonce}).Build()
			if err != nil {
				return nil, err
			}
			return ev.JSON, nil
		}
		r, err := (&Client{URL: url}).Attest(context.Background(), gather)
		got <- result{r, err}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached verification")
	}
	cancel() // SIGTERM
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	// No new connections once shutting down.
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts connections during shutdown")
	}
	close(release)
	r := <-got
	if r.err != nil || !bytes.Equal(r.res.Secret, testSecret) {
		t.Fatalf("in-flight request: %v", r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestShutdownDeadline(t *testing.T) {
	cfg := testConfig()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	block := make(chan struct{})
	defer close(block)
	entered := make(chan struct{})
	cfg.Verifier = testVerifier(verify.Config{
		Roots: testev.Roots(),
		VCEKGetter: verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
			close(entered)
			<-block
			return nil, errors.New("never")
		}),
	})
	s := newServer(t, cfg)
	ln, done, cancel := serveLoopback(t, s)
	go (&Client{URL: "http://" + ln.Addr().String()}).Attest(context.Background(), func(ctx context.Context, nonce []byte) ([]byte, error) {
		ev, err := (&testev.Builder{OmitVCEK: true, Nonce: nonce}).Build()
		if err != nil {
			return nil, err
		}
		return ev.JSON, nil
	})
	<-entered
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Serve = %v, want a shutdown deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve ignored its shutdown deadline")
	}
}

func TestChallengeStoreMemoryBounded(t *testing.T) {
	clock := newFakeClock()
	st := newChallengeStore(time.Minute, DefaultMaxChallenges, DefaultMaxChallenges, clock.Now)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range DefaultMaxChallenges {
		if _, _, _, err := st.issue("192.0.2.1"); err != nil {
			t.Fatalf("challenge %d: %v", i, err)
		}
	}
	if _, _, _, err := st.issue("192.0.2.2"); !errors.Is(err, errTooManyChallenges) {
		t.Fatalf("challenge beyond the cap: %v", err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / DefaultMaxChallenges
	t.Logf("%d outstanding challenges: %.0f bytes each, %.1f MiB in all", DefaultMaxChallenges, per, per*DefaultMaxChallenges/(1<<20))
	if per > 400 {
		t.Errorf("%.0f bytes per challenge", per)
	}
	clock.Advance(time.Minute)
	if _, _, _, err := st.issue("192.0.2.1"); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := st.len(); n != 1 {
		t.Fatalf("%d outstanding after expiry, want 1", n)
	}
	runtime.KeepAlive(st)
}

// BenchmarkAttest measures the server's side of one attestation (verify
// synthetic v2 evidence, spend the challenge, seal), in the handler, without
// the network. Evidence building is excluded.
func BenchmarkAttest(b *testing.B) {
	s := newServer(b, testConfig())
	h := s.Handler()
	_, pub, _ := GenerateKey()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		k, _, _, err := s.challenges.issue("")
		if err != nil {
			b.Fatal(err)
		}
		body := mustJSON(b, &AttestRequest{Challenge: k[:], PublicKey: pub, Evidence: evidenceFor(b, Nonce(k[:], pub))})
		b.StartTimer()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, PathAttest, bytes.NewReader(body)))
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// TestInFlightBytesBounded: the bytes of attestation requests received and
// held at once are bounded (Config.MaxInFlightBytes): a request that would
// pass the bound is 503 with Retry-After and nothing spent; the bytes are
// counted as they arrive (an unfinished body holds what it sent, not what
// it announced) and given back when its request ends.
func TestInFlightBytesBounded(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 64 << 10
	cfg.MaxInFlightBytes = 100 << 10
	s := newServer(t, cfg)
	ts := startHTTP(t, s)
	waitHeld := func(pred func(int64) bool) int64 {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if n := s.inFlight.Load(); pred(n) {
				return n
			} else if time.Now().After(deadline) {
				t.Fatalf("%d bytes held", n)
			}
		}
	}
	// A slow client: 60 KiB sent of a body that announces 64 KiB.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+PathAttest, pr)
	req.ContentLength = 64 << 10
	slow := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	sent := 60 << 10
	if _, err := pw.Write([]byte(`{"challenge":"` + strings.Repeat("A", sent-14))); err != nil {
		t.Fatal(err)
	}
	if n := waitHeld(func(n int64) bool { return n >= int64(sent) }); n > 64<<10 {
		t.Fatalf("%d bytes held for %d received", n, sent)
	}
	// Another request of 50 KiB would pass the bound.
	big := `{"challenge":"` + strings.Repeat("A", 50<<10) + `"}`
	resp, err := http.Post(ts.URL+PathAttest, "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the bound: %d, Retry-After %q; want 503, 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A small one still fits (and is judged: a malformed request).
	if status, er, _ := postRaw(t, ts.URL+PathAttest, []byte(`{"challenge":"AAAA"}`)); status != http.StatusBadRequest {
		t.Fatalf("small request: %d %+v, want 400", status, er)
	}
	// The slow client ends; every byte is given back.
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-slow
	waitHeld(func(n int64) bool { return n == 0 })
	resp, err = http.Post(ts.URL+PathAttest, "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("after the slow client: %d, want 400", resp.StatusCode)
	}
	if _, err := New(Config{Secret: testSecret, MaxBodyBytes: 2 << 20, MaxInFlightBytes: 1 << 20}); err == nil {
		t.Fatal("MaxInFlightBytes below MaxBodyBytes accepted")
	}
}
