package imds

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const thimFixture = "../testdata/azure-thim/uvm_host_amd_certificate.json"

func readFixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(thimFixture)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// thimServer serves body with status for requests that carry "Metadata: true"
// and answers 400 otherwise, like IMDS does.
func thimServer(t *testing.T, status int, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Metadata") != "true" {
			http.Error(w, `{"error":"Bad request. Required metadata header not specified"}`, http.StatusBadRequest)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestCertificationRealTHIM(t *testing.T) {
	srv, hits := thimServer(t, http.StatusOK, readFixture(t))
	c := &Client{URL: srv.URL}
	cert, err := c.Certification(context.Background())
	if err != nil {
		t.Fatalf("Certification: %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("requests = %d, want 1", hits.Load())
	}
	if cert.TCBM != "7308000000000003" {
		t.Errorf("TCBM = %q", cert.TCBM)
	}
	tcb, err := cert.TCB()
	if err != nil || tcb != 0x7308000000000003 {
		t.Errorf("TCB() = %#x, %v", tcb, err)
	}
	if len(cert.Chain) != 2 {
		t.Fatalf("chain has %d certs, want 2", len(cert.Chain))
	}
	if got := cert.Chain[0].Subject.CommonName; got != "SEV-Milan" {
		t.Errorf("chain[0] CN = %q, want SEV-Milan", got)
	}
	if got := cert.Chain[1].Subject.CommonName; got != "ARK-Milan" {
		t.Errorf("chain[1] CN = %q, want ARK-Milan", got)
	}
	if cert.CacheControl != "86400" {
		t.Errorf("CacheControl = %q", cert.CacheControl)
	}
	if !strings.HasPrefix(cert.VCEKPEM, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("VCEKPEM not PEM")
	}
	vcek, err := certs.ParsePEM([]byte(cert.VCEKPEM))
	if err != nil {
		t.Fatal(err)
	}
	if got := vcek[0].Subject.CommonName; got != "SEV-VCEK" {
		t.Errorf("VCEK CN = %q, want SEV-VCEK", got)
	}
	if string(vcek[0].Raw) != string(cert.VCEK) {
		t.Errorf("VCEK DER differs from the PEM")
	}
	// The VCEK is signed by the ASK of the chain (information only, but it must be the real one).
	if err := vcek[0].CheckSignatureFrom(cert.Chain[0]); err != nil {
		t.Errorf("VCEK not signed by chain[0]: %v", err)
	}
}

func TestCertificationMissingHeaderRejected(t *testing.T) {
	// The client must send "Metadata: true"; prove the server rejects requests without it.
	srv, _ := thimServer(t, http.StatusOK, readFixture(t))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("request without header: status %d, want 400", resp.StatusCode)
	}
	// A client that strips the header is rejected with a typed error.
	strip := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Del("Metadata")
		return http.DefaultTransport.RoundTrip(r)
	})}
	_, err = (&Client{URL: srv.URL, HTTPClient: strip}).Certification(context.Background())
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusBadRequest {
		t.Fatalf("err = %v, want *HTTPError 400", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCertificationErrors(t *testing.T) {
	good := readFixture(t)
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	with := func(key string, v any) []byte {
		m := map[string]any{}
		for k, val := range doc {
			m[k] = val
		}
		if v == nil {
			delete(m, key)
		} else {
			m[key] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	vcekPEM := doc["vcekCert"].(string)
	chainPEM := doc["certificateChain"].(string)
	tests := []struct {
		name       string
		status     int
		body       []byte
		wantStatus int    // >0: want *HTTPError with this status
		wantField  string // != "": want *FormatError for this field
		wantIs     error
	}{
		{name: "404", status: 404, body: []byte("nope"), wantStatus: 404, wantIs: ErrNotFound},
		{name: "500", status: 500, body: []byte("oops"), wantStatus: 500},
		{name: "garbage JSON", status: 200, body: []byte("{\"vcekCert\": [1,2"), wantField: "body"},
		{name: "not JSON", status: 200, body: []byte("<html>hello</html>"), wantField: "body"},
		{name: "empty body", status: 200, body: nil, wantField: "body"},
		{name: "JSON null", status: 200, body: []byte("null"), wantField: "vcekCert"},
		{name: "wrong type", status: 200, body: []byte(`{"vcekCert": 42}`), wantField: "body"},
		{name: "empty vcekCert", status: 200, body: with("vcekCert", ""), wantField: "vcekCert"},
		{name: "missing vcekCert", status: 200, body: with("vcekCert", nil), wantField: "vcekCert"},
		{name: "truncated PEM", status: 200, body: with("vcekCert", vcekPEM[:len(vcekPEM)/2]), wantField: "vcekCert"},
		{name: "PEM of garbage", status: 200, body: with("vcekCert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), wantField: "vcekCert"},
		{name: "wrong PEM type", status: 200, body: with("vcekCert", strings.ReplaceAll(vcekPEM, "CERTIFICATE", "PRIVATE KEY")), wantField: "vcekCert"},
		{name: "two VCEKs", status: 200, body: with("vcekCert", vcekPEM+vcekPEM), wantField: "vcekCert"},
		{name: "truncated chain", status: 200, body: with("certificateChain", chainPEM[:len(chainPEM)-100]), wantField: "certificateChain"},
		{name: "bad tcbm", status: 200, body: with("tcbm", "zz08000000000003"), wantField: "tcbm"},
		{name: "long tcbm", status: 200, body: with("tcbm", "73080000000000030000"), wantField: "tcbm"},
		{name: "oversized body", status: 200, body: []byte(`{"vcekCert":"` + strings.Repeat("A", MaxBodySize) + `"}`), wantField: "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := thimServer(t, tc.status, tc.body)
			cert, err := (&Client{URL: srv.URL}).Certification(context.Background())
			if err == nil {
				t.Fatalf("no error, got %+v", cert)
			}
			if tc.wantStatus != 0 {
				var herr *HTTPError
				if !errors.As(err, &herr) || herr.StatusCode != tc.wantStatus || herr.URL != srv.URL {
					t.Fatalf("err = %v, want *HTTPError{%s, %d}", err, srv.URL, tc.wantStatus)
				}
			}
			if tc.wantField != "" {
				var ferr *FormatError
				if !errors.As(err, &ferr) || ferr.Field != tc.wantField {
					t.Fatalf("err = %v, want *FormatError{Field: %q}", err, tc.wantField)
				}
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
		})
	}
}

func TestCertificationOptionalFields(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(readFixture(t), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		edit      func(m map[string]any)
		wantChain int
		wantCC    string
	}{
		{name: "no chain", edit: func(m map[string]any) { delete(m, "certificateChain") }, wantChain: 0, wantCC: "86400"},
		{name: "numeric cacheControl", edit: func(m map[string]any) { m["cacheControl"] = 3600 }, wantChain: 2, wantCC: "3600"},
		{name: "no cacheControl", edit: func(m map[string]any) { delete(m, "cacheControl") }, wantChain: 2, wantCC: ""},
		{name: "unknown fields", edit: func(m map[string]any) { m["future"] = map[string]any{"x": 1} }, wantChain: 2, wantCC: "86400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range doc {
				m[k] = v
			}
			tc.edit(m)
			b, _ := json.Marshal(m)
			cert, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.Chain) != tc.wantChain || cert.CacheControl != tc.wantCC {
				t.Errorf("chain %d cacheControl %q, want %d %q", len(cert.Chain), cert.CacheControl, tc.wantChain, tc.wantCC)
			}
		})
	}
}

// TestSilentIMDSTimeout: a silent IMDS is the context's error, promptly,
// for every endpoint.
func TestSilentIMDSTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"certification", func(ctx context.Context) error {
			_, err := (&Client{URL: srv.URL}).Certification(ctx)
			return err
		}},
		{"td quote", func(ctx context.Context) error {
			_, err := (&Client{TDQuoteURL: srv.URL}).TDQuote(ctx, make([]byte, 1024))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tc.call(ctx)
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("call took %v, want prompt return after the deadline", elapsed)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestCertificationConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Client{URL: url}).Certification(context.Background())
	if err == nil {
		t.Fatal("no error from a closed server")
	}
}

func TestDefaults(t *testing.T) {
	c := &Client{}
	if c.url() != DefaultURL {
		t.Errorf("url = %q", c.url())
	}
	hc := c.httpClient()
	if hc.Timeout != DefaultTimeout {
		t.Errorf("timeout = %v", hc.Timeout)
	}
	if hc != c.httpClient() {
		t.Errorf("default client not reused")
	}
	if tr, ok := hc.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Errorf("default transport must not use a proxy")
	}
}

func TestParseNeverPanics(t *testing.T) {
	good := readFixture(t)
	for i := 0; i <= len(good); i += 61 {
		_, _ = Parse(good[:i])
	}
	for _, s := range []string{"", "{}", "[]", `{"vcekCert":null}`, `{"vcekCert":"-----BEGIN CERTIFICATE-----"}`, "\x00\xff"} {
		_, _ = Parse([]byte(s))
	}
}
