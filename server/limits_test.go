package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// challengeFrom posts a challenge request from remote with the given
// X-Forwarded-For header ("" for none) and returns the recorder.
func challengeFrom(h http.Handler, remote, xff string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, PathChallenge, nil)
	r.RemoteAddr = remote
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestChallengeLimits: outstanding challenges are bounded per client (429)
// and in total (503), both with Retry-After; who a client is depends on the
// connection's address, and on X-Forwarded-For only when trusted.
func TestChallengeLimits(t *testing.T) {
	type req struct {
		remote, xff string
		want        int
	}
	tests := []struct {
		name     string
		trustXFF bool
		reqs     []req
		total    int // 0: 5
	}{
		{"one IPv4 client, any port", false, []req{
			{"192.0.2.1:1000", "", 200}, {"192.0.2.1:1001", "", 200}, {"192.0.2.1:1002", "", 429},
			{"192.0.2.2:1000", "", 200}, // another client has its own share
		}, 0},
		{"IPv6 by /64", false, []req{
			{"[2001:db8:1:2::1]:1", "", 200}, {"[2001:db8:1:2:ffff::9]:2", "", 200}, {"[2001:db8:1:2::77]:3", "", 429},
			{"[2001:db8:1:3::1]:1", "", 200},
		}, 0},
		{"IPv4-mapped IPv6 is the IPv4 client", false, []req{
			{"192.0.2.5:1", "", 200}, {"[::ffff:192.0.2.5]:2", "", 200}, {"192.0.2.5:3", "", 429},
		}, 0},
		{"X-Forwarded-For ignored by default", false, []req{
			{"198.51.100.1:1", "203.0.113.1", 200}, {"198.51.100.1:1", "203.0.113.2", 200}, {"198.51.100.1:1", "203.0.113.3", 429},
		}, 0},
		{"X-Forwarded-For trusted: last entry", true, []req{
			{"198.51.100.1:1", "203.0.113.1", 200}, {"198.51.100.1:1", "10.0.0.1, 203.0.113.1", 200},
			{"198.51.100.1:1", "203.0.113.1", 429}, {"198.51.100.1:1", "203.0.113.1, 203.0.113.2", 200},
			{"198.51.100.1:1", "garbage", 200}, {"198.51.100.1:1", "", 200}, {"198.51.100.1:1", "", 429}, // the proxy's own address
		}, 10},
		{"X-Forwarded-For trusted: an address with a port (Azure Application Gateway)", true, []req{
			{"198.51.100.1:1", "203.0.113.1:50001", 200}, {"198.51.100.1:1", "203.0.113.1:50002", 200},
			{"198.51.100.1:1", "203.0.113.1", 429}, // the same client, whatever the port
			{"198.51.100.1:1", "203.0.113.2:50001", 200}, {"198.51.100.1:1", "10.0.0.1:1, [2001:db8:1:2::1]:443", 200},
			{"198.51.100.1:1", "[2001:db8:1:2::2]:444", 200}, {"198.51.100.1:1", "2001:db8:1:2::3", 429}, // by /64
			{"198.51.100.1:1", "203.0.113.9:99999", 200}, {"198.51.100.1:1", "", 200}, {"198.51.100.1:1", "", 429}, // a bad port: the proxy's
		}, 10},
		{"total bound", false, []req{
			{"192.0.2.1:1", "", 200}, {"192.0.2.2:1", "", 200}, {"192.0.2.3:1", "", 200}, {"192.0.2.4:1", "", 200},
			{"192.0.2.5:1", "", 200}, {"192.0.2.6:1", "", 503}, {"192.0.2.1:1", "", 503},
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig()
			cfg.Now = clock.Now
			cfg.MaxClientChallenges = 2
			cfg.MaxChallenges = 5
			if tc.total != 0 {
				cfg.MaxChallenges = tc.total
			}
			cfg.TrustForwardedFor = tc.trustXFF
			s := newServer(t, cfg)
			h := s.Handler()
			for i, r := range tc.reqs {
				w := challengeFrom(h, r.remote, r.xff)
				if w.Code != r.want {
					t.Fatalf("request %d (%s, XFF %q): %d %s, want %d", i, r.remote, r.xff, w.Code, w.Body, r.want)
				}
				if w.Code != 200 {
					ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
					if err != nil || ra < 1 || ra > int(DefaultChallengeTTL/time.Second) {
						t.Errorf("request %d: Retry-After %q, want 1..%d seconds", i, w.Header().Get("Retry-After"), int(DefaultChallengeTTL/time.Second))
					}
				}
			}
			// Expired challenges are reclaimed, with their clients' counts:
			// every client may ask again.
			clock.Advance(cfg.ChallengeTTL + DefaultChallengeTTL)
			if s.challenges.evict(); s.challenges.clients() != 0 {
				t.Fatalf("%d clients tracked after every challenge expired", s.challenges.clients())
			}
			for i, r := range tc.reqs {
				if w := challengeFrom(h, r.remote, r.xff); w.Code != 200 && i < cfg.MaxChallenges {
					t.Fatalf("after expiry, request %d: %d %s", i, w.Code, w.Body)
				}
				clock.Advance(DefaultChallengeTTL)
			}
		})
	}
}

// TestChallengeFloodFromOneClient: 100 000 challenge requests from one
// client hold at most MaxClientChallenges challenges; the heap does not
// grow with the number of requests.
func TestChallengeFloodFromOneClient(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	s := newServer(t, testConfig())
	h := s.Handler()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var ok, limited int
	start := time.Now()
	for range n {
		switch w := challengeFrom(h, "192.0.2.9:4444", ""); w.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d challenge requests from one client in %v: %d issued, %d refused (429); outstanding %d; heap %+d bytes (%.1f KiB), %d total allocations",
		n, elapsed.Round(time.Millisecond), ok, limited, s.challenges.len(), growth, float64(growth)/1024, after.Mallocs-before.Mallocs)
	if ok != DefaultMaxClientChallenges || limited != n-ok {
		t.Errorf("issued %d, refused %d; want %d issued", ok, limited, DefaultMaxClientChallenges)
	}
	if got := s.challenges.len(); got != DefaultMaxClientChallenges {
		t.Errorf("outstanding %d, want %d", got, DefaultMaxClientChallenges)
	}
	if got := s.challenges.clients(); got != 1 {
		t.Errorf("clients tracked %d, want 1", got)
	}
	// 64 challenges are a few KiB; allow for the runtime's own noise.
	if growth > 256<<10 {
		t.Errorf("heap grew by %d bytes for %d requests from one client", growth, n)
	}
	runtime.KeepAlive(s)
}

// fakeKDS is an AMD KDS that knows no chip: it counts requests and answers
// every one with status after delay.
type fakeKDS struct {
	srv      *httptest.Server
	requests atomic.Int64
	status   atomic.Int64
}

func newFakeKDS(t testing.TB, status int, delay time.Duration) *fakeKDS {
	f := &fakeKDS{}
	f.status.Store(int64(status))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		time.Sleep(delay)
		w.WriteHeader(int(f.status.Load()))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// kdsOptions is a Verifier fetching VCEKs from k through a collateral
// chain set up as `snp-vtpm serve` sets it up (memory, no retries, a token
// bucket); the chain marks the errors that are no verdict.
func kdsOptions(t testing.TB, k *fakeKDS, limiter *collateral.RateLimiter) (*verify.Verifier, *collateral.Chain) {
	chain := &collateral.Chain{
		Sources: []collateral.Source{&collateral.Memory{}, &collateral.KDS{Client: &kds.Client{BaseURL: k.srv.URL, MaxRetries: -1}}},
		Limiter: limiter,
	}
	return testVerifier(verify.Config{Roots: testev.Roots(), VCEKGetter: chain}), chain
}

// unknownChipAttest posts an attestation whose evidence carries no VCEK
// and names chip (unknown to the KDS); reportVersion 2 has no CPUID, so
// the product line is unknown too.
func unknownChipAttest(t testing.TB, s *Server, chip byte, reportVersion uint32) *httptest.ResponseRecorder {
	t.Helper()
	_, pub, _ := GenerateKey()
	// Each call is its own client: under load, many calls may hold their
	// challenge while building evidence, and the per-client bound is not
	// what these tests are about.
	k, _, _, err := s.challenges.issue(fmt.Sprintf("%x", pub[:8]))
	if err != nil {
		t.Fatal(err)
	}
	var id [64]byte
	id[0], id[63] = 0xC0, chip
	ev, err := (&testev.Builder{Nonce: Nonce(k[:], pub), OmitVCEK: true, ChipID: &id, ReportVersion: reportVersion}).Build()
	if err != nil {
		t.Fatal(err)
	}
	body := mustJSON(t, &AttestRequest{Challenge: k[:], PublicKey: pub, Evidence: ev.JSON})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, PathAttest, bytes.NewReader(body)))
	if w.Code == http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"ciphertext"`)) {
		t.Fatalf("a secret was released for an unknown chip: %d %s", w.Code, w.Body)
	}
	return w
}

// TestUnknownChipUpstreamRequests: one attestation naming an unknown chip
// makes exactly one upstream request per candidate certificate (one for a
// report naming its product line, Milan and Genoa for a v2 report; only
// Milan when KDS is down, since the source failed, not the candidate), a
// repeat within the back-off none, and the answer is a rejection (403)
// when KDS says the chip is unknown, 503 with Retry-After when KDS is down.
func TestUnknownChipUpstreamRequests(t *testing.T) {
	tests := []struct {
		name          string
		kdsStatus     int
		reportVersion uint32
		candidates    int64
		status        int
	}{
		{"unknown chip, Milan report", http.StatusNotFound, 3, 1, http.StatusForbidden},
		{"unknown chip, v2 report without CPUID", http.StatusNotFound, 2, 2, http.StatusForbidden},
		{"KDS down", http.StatusServiceUnavailable, 3, 1, http.StatusServiceUnavailable},
		// A source that is down is not asked for the second candidate.
		{"KDS down, v2 report", http.StatusBadGateway, 2, 1, http.StatusServiceUnavailable},
		{"KDS rate limiting", http.StatusTooManyRequests, 3, 1, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKDS(t, tc.kdsStatus, 0)
			lim, err := collateral.NewRateLimiter(1, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig()
			cfg.Verifier, _ = kdsOptions(t, k, lim)
			s := newServer(t, cfg)
			for round := range 3 {
				start := time.Now()
				w := unknownChipAttest(t, s, 1, tc.reportVersion)
				got := k.requests.Load()
				t.Logf("round %d: %d %s; upstream requests so far %d; %v", round, w.Code, strings.TrimSpace(w.Body.String()), got, time.Since(start).Round(time.Millisecond))
				if w.Code != tc.status {
					t.Fatalf("round %d: status %d, want %d", round, w.Code, tc.status)
				}
				if w.Code == http.StatusForbidden && !strings.Contains(w.Body.String(), string(verify.CheckVCEKMissing)) {
					t.Errorf("round %d: rejection does not name %s", round, verify.CheckVCEKMissing)
				}
				if w.Code == http.StatusServiceUnavailable {
					ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
					if err != nil || ra < 1 || ra > int(collateral.DefaultTransientNegativeTTL/time.Second) {
						t.Errorf("round %d: Retry-After %q", round, w.Header().Get("Retry-After"))
					}
				}
				if got != tc.candidates {
					t.Fatalf("round %d: %d upstream requests in all, want %d (one per candidate certificate, repeats answered by the negative cache)", round, got, tc.candidates)
				}
			}
		})
	}
}

// TestKDSDownRetryAfterFirst: KDS down with Retry-After 120 s: the first
// attestation, whose VCEK fetch failed, is answered 503 with Retry-After
// 120 (the back-off the failure is remembered for), as are those that
// come within it (without a request). The first one was told 1 s, and a
// client that retried then got 503 again for two minutes.
func TestKDSDownRetryAfterFirst(t *testing.T) {
	k := &fakeKDS{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.requests.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(k.srv.Close)
	cfg := testConfig()
	cfg.Verifier, _ = kdsOptions(t, k, nil)
	s := newServer(t, cfg)
	for round := range 3 {
		w := unknownChipAttest(t, s, 3, 3)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "120" {
			t.Errorf("round %d: %d, Retry-After %q; want 503, 120", round, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if n := k.requests.Load(); n != 1 {
		t.Errorf("%d KDS requests, want 1", n)
	}
}

// TestUnknownChipConcurrentAttests: 100 concurrent attestations for one
// unknown chip make one upstream request per candidate certificate.
func TestUnknownChipConcurrentAttests(t *testing.T) {
	for _, rv := range []uint32{3, 2} {
		t.Run(fmt.Sprint("report version ", rv), func(t *testing.T) {
			k := newFakeKDS(t, http.StatusNotFound, 50*time.Millisecond)
			cfg := testConfig()
			var kc *collateral.Chain
			cfg.Verifier, kc = kdsOptions(t, k, nil)
			const n = 100
			// Every attestation comes from one client and holds its
			// challenge while KDS answers: all n are outstanding at once.
			cfg.MaxClientChallenges = n
			s := newServer(t, cfg)
			codes := make([]int, n)
			var wg sync.WaitGroup
			start := time.Now()
			for i := range n {
				wg.Go(func() { codes[i] = unknownChipAttest(t, s, 9, rv).Code })
			}
			wg.Wait()
			want := int64(1)
			if rv == 2 {
				want = 2
			}
			st := kc.Stats()
			t.Logf("%d concurrent attestations for an unknown chip in %v: %d upstream request(s); %d calls answered by the negative cache, the others shared the fetch",
				n, time.Since(start).Round(time.Millisecond), k.requests.Load(), st.NegativeHits)
			for i, c := range codes {
				if c != http.StatusForbidden {
					t.Fatalf("attestation %d: %d, want 403", i, c)
				}
			}
			if got := k.requests.Load(); got != want {
				t.Fatalf("upstream requests = %d, want %d", got, want)
			}
		})
	}
}

// TestUpstreamBudget: beyond the token bucket an attestation that needs a
// fetch is answered 503 with Retry-After, at once, with nothing sent
// upstream and no secret; it is not a rejection.
func TestUpstreamBudget(t *testing.T) {
	k := newFakeKDS(t, http.StatusNotFound, 0)
	lim, err := collateral.NewRateLimiter(0.1, 1, nil) // one now, the next in 10 s
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Verifier, _ = kdsOptions(t, k, lim)
	s := newServer(t, cfg)
	if w := unknownChipAttest(t, s, 1, 3); w.Code != http.StatusForbidden {
		t.Fatalf("first unknown chip: %d %s", w.Code, w.Body)
	}
	for chip := byte(2); chip < 6; chip++ {
		start := time.Now()
		w := unknownChipAttest(t, s, chip, 3)
		var er ErrorResponse
		_ = json.Unmarshal(w.Body.Bytes(), &er)
		if w.Code != http.StatusServiceUnavailable || er.Check != "" {
			t.Fatalf("chip %d over the budget: %d %s, want 503 and no failed check", chip, w.Code, w.Body)
		}
		ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || ra < 1 || ra > 10 {
			t.Errorf("Retry-After %q, want 1..10", w.Header().Get("Retry-After"))
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refusal took %v: it queued", d)
		}
	}
	if got := k.requests.Load(); got != 1 {
		t.Fatalf("upstream requests = %d, want 1", got)
	}
	if m := scrape(t, s.Handler()); !strings.Contains(m, `snp_vtpm_attestations_total{reason="unavailable",result="error"} 4`) {
		t.Errorf("metrics do not count 4 unavailable attestations:\n%s", m)
	}
}

// TestRevocationSourceDown: with revocation checking, a CRL source that is
// down ends the attestation with 503 and Retry-After, not a 403 rejection,
// and no secret.
func TestRevocationSourceDown(t *testing.T) {
	down := fmt.Errorf("%w: KDS answered 503", verify.ErrCertificateUnavailable)
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Revocation: revocationFunc(func() error { return down })})
	ts := startHTTP(t, newServer(t, cfg))
	res, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t))
	apiErr, ok := errors.AsType[*APIError](err)
	if res != nil || !ok || apiErr.StatusCode != http.StatusServiceUnavailable || errors.Is(err, ErrRejected) {
		t.Fatalf("Attest = %v, %v; want a 503 that is not a rejection", res, err)
	}
}

// revocationFunc is a verify.RevocationChecker answering f().
type revocationFunc func() error

func (f revocationFunc) CheckRevoked(context.Context, string, uint32, ...*x509.Certificate) error {
	return f()
}
