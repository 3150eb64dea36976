package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// hostileChallenge answers /v1/challenge with a well-formed challenge.
func hostileChallenge(w http.ResponseWriter) {
	_ = json.NewEncoder(w).Encode(ChallengeResponse{Challenge: make([]byte, ChallengeSize), Suite: Suite})
}

// dummyGather returns evidence-shaped JSON without a TPM.
func dummyGather(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil }

// TestClientNeverFollowsRedirects: a verifier that answers /v1/attest
// (or /v1/challenge) with a redirect does not get the evidence re-posted
// elsewhere, neither to another host nor from https to http://, also when
// the caller's http.Client would follow it; the 3xx is an *APIError naming
// where it pointed, its text printable.
func TestClientNeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		hostileChallenge(w)
	}))
	defer target.Close()
	for _, tc := range []struct {
		name   string
		path   string
		status int
		tls    bool
		follow bool // the caller's client follows redirects itself
	}{
		{"attest 307 to another host", PathAttest, http.StatusTemporaryRedirect, false, false},
		{"attest 308 https to http", PathAttest, http.StatusPermanentRedirect, true, false},
		{"attest 308, caller's client follows", PathAttest, http.StatusPermanentRedirect, false, true},
		{"challenge 302", PathChallenge, http.StatusFound, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			elsewhere.Store(0)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == tc.path {
					w.Header().Set("Location", target.URL+tc.path+"?\u009b2J")
					w.WriteHeader(tc.status)
					return
				}
				hostileChallenge(w)
			})
			var ts *httptest.Server
			if tc.tls {
				ts = httptest.NewTLSServer(h)
			} else {
				ts = httptest.NewServer(h)
			}
			defer ts.Close()
			hc := ts.Client()
			if tc.follow {
				hc.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
			}
			_, err := (&Client{URL: ts.URL, HTTPClient: hc}).Attest(context.Background(), dummyGather)
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.StatusCode != tc.status {
				t.Fatalf("err = %v, want an APIError %d", err, tc.status)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("the redirect was followed: %d requests elsewhere", n)
			}
			if !strings.Contains(err.Error(), "redirected to "+target.URL) || strings.ContainsRune(err.Error(), 0x9b) {
				t.Errorf("err = %q, want the Location named, printable", err)
			}
		})
	}
}

// TestClientServerTextPrintable: an error answer's check and message, and
// a challenge's suite, are the server's text: they come out cut and with
// every control or format character escaped, so that a verifier cannot
// print over the CLI's own lines (ANSI escapes, CR, LF, RLO) or flood it.
func TestClientServerTextPrintable(t *testing.T) {
	evil := "\r\x1b[2K\x1b[1;32mattested: Milan\n\u202eVERIFIED\u009b0m\x07"
	for _, tc := range []struct {
		name string
		body string
		code int
	}{
		{"403 check and message", `{"check":` + jsonString(evil+"vcek-chain") + `,"error":` + jsonString(evil+strings.Repeat("x", 200000)) + `}`, http.StatusForbidden},
		{"500 message", `{"error":` + jsonString(evil) + `}`, http.StatusInternalServerError},
		{"200 suite", `{"challenge":"` + base64.StdEncoding.EncodeToString(make([]byte, ChallengeSize)) + `","suite":` + jsonString(evil+strings.Repeat("s", 100000)) + `}`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer ts.Close()
			_, err := (&Client{URL: ts.URL}).Attest(context.Background(), dummyGather)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if i := strings.IndexFunc(msg, func(r rune) bool {
				return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e || r == 0xfffd
			}); i >= 0 {
				t.Errorf("message carries %U at %d: %.300q", []rune(msg[i:])[0], i, msg)
			}
			if len(msg) > maxErrorMessage+600 {
				t.Errorf("message of %d bytes", len(msg))
			}
			if !strings.Contains(msg, `\x1b[2K`) {
				t.Errorf("message %q does not show the escape escaped", msg)
			}
			if tc.code == http.StatusForbidden && !errors.Is(err, ErrRejected) {
				t.Errorf("403 no longer matches ErrRejected: %v", err)
			}
		})
	}
}

// jsonString is s as a JSON string (control characters as \u escapes).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestClientHostileAnswers: bodies over the bound (also chunked, and in
// error answers), a 200 that is an error document, and a body that drips
// slowly are refused, and the context bounds the whole exchange.
func TestClientHostileAnswers(t *testing.T) {
	big := strings.Repeat("a", maxResponseBytes)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    func(error) bool
	}{
		{"200 over the bound, chunked", func(w http.ResponseWriter, r *http.Request) {
			for range 3 {
				_, _ = w.Write([]byte(big[:maxResponseBytes/2+1]))
				w.(http.Flusher).Flush()
			}
		}, func(err error) bool { return strings.Contains(err.Error(), "larger than") }},
		{"error answer over the bound", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"` + big + `"}`))
		}, func(err error) bool {
			return strings.Contains(err.Error(), "larger than") && !errors.Is(err, ErrRejected)
		}},
		{"200 with an error body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"error":"ok really","check":"none"}`))
		}, func(err error) bool { return errors.Is(err, strictjson.ErrUnknownMember) }},
		{"slow drip", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"challenge":"`))
			for i := 0; i < 600 && r.Context().Err() == nil; i++ {
				w.(http.Flusher).Flush()
				_, _ = w.Write([]byte("A"))
				time.Sleep(50 * time.Millisecond)
			}
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.handler)
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := (&Client{URL: ts.URL}).Attest(ctx, dummyGather)
			if err == nil || !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestClientPlainHTTPToTLSServer: a Client given http:// for a verifier
// that serves TLS (serve --tls-cert) gets Go's 400 "Client sent an HTTP
// request to an HTTPS server"; the *APIError says to use https:// instead
// of a bare "400 Bad Request". A 400 of any other text, or one over TLS,
// says nothing of the kind.
func TestClientPlainHTTPToTLSServer(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hostileChallenge(w) }))
	defer tlsSrv.Close()
	plain400 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad request", http.StatusBadRequest)
	}))
	defer plain400.Close()
	for _, tc := range []struct {
		name     string
		url      string
		wantHint bool
	}{
		{"http:// to a TLS verifier", strings.Replace(tlsSrv.URL, "https://", "http://", 1), true},
		{"another 400", plain400.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Client{URL: tc.url}).Attest(context.Background(), dummyGather)
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.StatusCode != http.StatusBadRequest {
				t.Fatalf("err = %v, want an APIError 400", err)
			}
			if got := strings.Contains(err.Error(), "use its https:// URL"); got != tc.wantHint {
				t.Errorf("err = %q: https hint %v, want %v", err, got, tc.wantHint)
			}
		})
	}
}

// TestClientRefusesBadChallenge: a challenge of any other size than
// ChallengeSize, or of another HPKE suite, ends the exchange before any
// evidence is gathered: the nonce the evidence would be bound to is not
// the protocol's, and the evidence is never posted.
func TestClientRefusesBadChallenge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		suite string
		want  string
	}{
		{"empty", 0, Suite, "challenge is 0 bytes"},
		{"one short", ChallengeSize - 1, Suite, "want 32"},
		{"one long", ChallengeSize + 1, Suite, "want 32"},
		{"other suite", ChallengeSize, "DHKEM(P-256)", "HPKE suite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attests atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != PathChallenge {
					attests.Add(1)
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				_ = json.NewEncoder(w).Encode(ChallengeResponse{Challenge: make([]byte, tc.size), Suite: tc.suite})
			}))
			defer ts.Close()
			gathered := false
			_, err := (&Client{URL: ts.URL}).Attest(context.Background(), func(context.Context, []byte) ([]byte, error) {
				gathered = true
				return []byte(`{}`), nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if gathered || attests.Load() != 0 {
				t.Errorf("gathered %v, %d attest requests after a bad challenge", gathered, attests.Load())
			}
		})
	}
}
