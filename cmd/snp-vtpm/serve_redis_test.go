package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/rrproxy"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// Two "serve --redis" processes (in-process runs) share one real Redis: a
// challenge from one is spent at the other, once.
func TestServeRedisTwoReplicas(t *testing.T) {
	r := testutil.StartRedis(t)
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	args := []string{"--secret-file", secretFile, "--roots", roots, "--offline", "--redis", r.URL, "--redis-prefix", "cli-test:"}
	a, b := startServe(t, args...), startServe(t, args...)

	req, priv, err := (&server.Client{URL: a.url}).Request(context.Background(), syntheticGather)
	if err != nil {
		t.Fatalf("challenge at A: %v\n%s", err, a.stderr)
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var resp server.AttestResponse
	if err := (&server.Client{URL: b.url}).Post(context.Background(), server.PathAttest, body, &resp); err != nil {
		t.Fatalf("attest at B: %v\n%s", err, b.stderr)
	}
	if got, err := server.OpenSecret(priv, server.Nonce(req.Challenge, req.PublicKey), resp.Ciphertext); err != nil || string(got) != cliSecret {
		t.Fatalf("secret %q, %v", got, err)
	}
	err = (&server.Client{URL: a.url}).Post(context.Background(), server.PathAttest, body, &resp)
	if apiErr, ok := errors.AsType[*server.APIError](err); !ok || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay at A: %v", err)
	}
	for _, s := range []*serving{a, b} {
		hr, err := http.Get(s.url + server.PathReady)
		if err != nil {
			t.Fatal(err)
		}
		hr.Body.Close()
		if hr.StatusCode != 200 {
			t.Errorf("/readyz = %d", hr.StatusCode)
		}
	}
	// Redis down: 503, readiness false, liveness true.
	r.Stop()
	for _, s := range []*serving{a, b} {
		cr, err := http.Post(s.url+server.PathChallenge, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		cr.Body.Close()
		if cr.StatusCode != http.StatusServiceUnavailable || cr.Header.Get("Retry-After") == "" {
			t.Errorf("challenge with Redis down: %d, Retry-After %q", cr.StatusCode, cr.Header.Get("Retry-After"))
		}
		for path, want := range map[string]int{server.PathReady: 503, server.PathHealth: 200} {
			hr, err := http.Get(s.url + path)
			if err != nil {
				t.Fatal(err)
			}
			hr.Body.Close()
			if hr.StatusCode != want {
				t.Errorf("%s with Redis down = %d, want %d", path, hr.StatusCode, want)
			}
		}
	}
	for _, s := range []*serving{a, b} {
		if code := s.stop(); code != exitOK {
			t.Errorf("serve exited with %d:\n%s", code, s.stderr)
		}
		log := s.stderr.String()
		if !strings.Contains(log, "challenges in Redis") || strings.Contains(log, cliSecret[:10]) {
			t.Errorf("log:\n%s", log)
		}
	}
}

// serve starts when Redis is down (readiness says so) and serves once it
// comes up.
func TestServeRedisStartsBeforeRedis(t *testing.T) {
	r := testutil.StartRedis(t)
	r.Stop()
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--offline", "--redis", r.URL)
	if !strings.Contains(s.stderr.String(), "Redis not reachable yet") {
		t.Errorf("no warning:\n%s", s.stderr)
	}
	if _, err := (&server.Client{URL: s.url}).Attest(context.Background(), syntheticGather); err == nil {
		t.Fatal("attested with Redis down")
	}
	r.Start()
	res, err := (&server.Client{URL: s.url}).Attest(context.Background(), syntheticGather)
	if err != nil || string(res.Secret) != cliSecret {
		t.Fatalf("after Redis came up: %v\n%s", err, s.stderr)
	}
}

func TestServeRedisUsageErrors(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	for _, tc := range []struct {
		name, url, prefix, want string
	}{
		{"scheme", "http://h:1", "p:", "scheme"},
		{"bad db, password kept out", "redis://:hunter2@h:1/x", "p:", "invalid Redis URL"},
		{"empty prefix", "redis://h:1/0", "", "--redis-prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--redis", tc.url, "--redis-prefix", tc.prefix)
			wantExit(t, code, exitUsage, out, errOut)
			if !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "hunter2") {
				t.Errorf("stderr (want %q, no password):\n%s", tc.want, errOut)
			}
		})
	}
}

// Three "serve --redis" replicas behind a round-robin proxy, each with its
// own disk cache, attested concurrently by VMs of one chip that no replica
// has seen, whose evidence carries no VCEK: between them they ask KDS once,
// and the metrics say where the others got it.
func TestServeFleetOneKDSRequest(t *testing.T) {
	r := testutil.StartRedis(t)
	var chip [64]byte
	copy(chip[:], "fleet test chip: unseen by every replica")
	vcek := (&testev.Builder{ChipID: &chip}).MustBuild().VCEKDER
	var kdsRequests atomic.Int64
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		kdsRequests.Add(1)
		time.Sleep(50 * time.Millisecond) // the replicas' misses overlap
		if req.URL.Path != "/vcek/v1/Milan/"+hex.EncodeToString(chip[:]) {
			http.NotFound(w, req)
			return
		}
		w.Write(vcek)
	}))
	defer kds.Close()

	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	var replicas []*serving
	var urls []string
	for range 3 {
		s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--kds-url", kds.URL,
			"--cache-dir", filepath.Join(t.TempDir(), "cache"), "--redis", r.URL, "--redis-prefix", "fleet-test:",
			"--trust-forwarded-for", "--upstream-retries", "0")
		replicas = append(replicas, s)
		urls = append(urls, s.url)
	}
	p, err := rrproxy.New(urls)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	gather := func(_ context.Context, nonce []byte) ([]byte, error) {
		ev, err := (&testev.Builder{Nonce: nonce, ChipID: &chip, OmitVCEK: true}).Build()
		if err != nil {
			return nil, err
		}
		return ev.JSON, nil
	}
	const attesters = 9
	var wg sync.WaitGroup
	errs := make(chan error, attesters)
	for range attesters {
		wg.Go(func() {
			res, err := (&server.Client{URL: front.URL}).Attest(context.Background(), gather)
			if err == nil && string(res.Secret) != cliSecret {
				err = context.Canceled
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("attestation through the proxy: %v", err)
		}
	}
	if n := kdsRequests.Load(); n != 1 {
		t.Errorf("%d KDS requests from the fleet, want 1", n)
	}
	var hits float64
	for _, s := range replicas {
		hits += metric(t, s.url, "snp_vtpm_kds_fleet_hits_total")
	}
	if hits < 2 {
		t.Errorf("%v certificates from the fleet cache, want at least 2 (the replicas that did not fetch)", hits)
	}
	if served := p.Served(); served[0] == 0 || served[1] == 0 || served[2] == 0 {
		t.Errorf("proxy spread %v", served)
	}
}

// metric returns the value of an unlabelled metric of serve's /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	if _, err := io.Copy(&sb, res.Body); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestServeRedisWarnsOfOwnIssuer: serve --redis --signing-key without
// --issuer warns that the replicas' tokens would name different issuers;
// with --issuer it does not.
func TestServeRedisWarnsOfOwnIssuer(t *testing.T) {
	r := testutil.StartRedis(t)
	args := []string{"--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--redis", r.URL, "--redis-prefix", "cli-issuer:",
		"--signing-key", filepath.Join(t.TempDir(), "k.pem"), "--dev"}
	for _, tc := range []struct {
		extra []string
		warn  bool
	}{{nil, true}, {[]string{"--issuer", "https://fleet.test"}, false}} {
		s := startServe(t, append(args, tc.extra...)...)
		s.stop()
		if got := strings.Contains(s.stderr.String(), "must share --issuer"); got != tc.warn {
			t.Errorf("%v: warning %v, want %v:\n%s", tc.extra, got, tc.warn, s.stderr)
		}
	}
}
