package result

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
)

// TestFetchJWKS: the fetched JWKS verifies the signer's tokens; a body
// over MaxJWKSBytes, a document that is no JWKS, a 404 and a redirect from
// https to http give no keys.
func TestFetchJWKS(t *testing.T) {
	s, tok := issued(t)
	jwks, err := MarshalJWKS(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			_, _ = w.Write(append(jwks, '\n'))
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte(" "), MaxJWKSBytes+1))
		case "/notjwks":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/.well-known/jwks.json", http.StatusFound))
	defer tlsSrv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ks, err := FetchJWKS(ctx, nil, plain.URL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(s)
	cfg.Keys = ks
	if _, err := Verify(ctx, []byte(tok), cfg); err != nil {
		t.Fatalf("token with the fetched keys: %v", err)
	}
	for _, tc := range []struct {
		name string
		hc   *http.Client
		url  string
		want error // nil: any error
		text string
	}{
		{"too large", nil, plain.URL + "/big", httpget.ErrTooLarge, ""},
		{"not a JWKS", nil, plain.URL + "/notjwks", nil, "JWKS from"},
		{"404", nil, plain.URL + "/missing", httpget.ErrNotFound, ""},
		{"https to http", tlsSrv.Client(), tlsSrv.URL + "/.well-known/jwks.json", httpget.ErrInsecureRedirect, ""},
	} {
		ks, err := FetchJWKS(ctx, tc.hc, tc.url)
		if err == nil || ks != nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, %v; want an error matching %v", tc.name, ks, err, tc.want)
		}
	}
}
