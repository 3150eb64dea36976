package guest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestPostRefusesDowngrade: an MAA instance (https) that redirects the
// AzureGuest POST to http:// does not get the document re-sent in the
// clear; an error answer is quoted cut and escaped.
func TestPostRefusesDowngrade(t *testing.T) {
	var plain atomic.Int64
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain.Add(1)
	}))
	defer plainSrv.Close()
	inst := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("error") != "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("\x1b[2J\r\nVERIFIED" + strings.Repeat("x", 1<<19)))
			return
		}
		http.Redirect(w, r, plainSrv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer inst.Close()
	req := &Request{Info: &maa.AttestationInfo{AttestationProtocolVersion: maa.ProtocolVersion}}
	_, err := req.Post(context.Background(), inst.Client(), inst.URL)
	if !errors.Is(err, ErrService) || !errors.Is(err, httpget.ErrInsecureRedirect) || plain.Load() != 0 {
		t.Errorf("err = %v, %d requests over http; want the redirect refused", err, plain.Load())
	}
	// The instance URL with a query that makes the fake answer 400.
	_, err = req.Post(context.Background(), inst.Client(), inst.URL+"/x?error=1#")
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\r\n") || len(err.Error()) > 2000 {
		t.Errorf("error answer quoted as %d bytes: %.200q", len(err.Error()), err)
	}
}
