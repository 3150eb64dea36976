package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

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
