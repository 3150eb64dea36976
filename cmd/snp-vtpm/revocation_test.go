package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestReportVLEKRevocation: with --check-revocation a real AWS VLEK-signed
// report's ASVK is looked up in AMD's VLEK CRL (/vlek/v1/Milan/crl) first:
// a CRL that AMD's pinned ARK did not sign, or no CRL at all, means
// revocation could not be checked (exit 1, naming the revocation check),
// never a pass and never a verdict on the report, and the VCEK CRL is
// then not asked.
func TestReportVLEKRevocation(t *testing.T) {
	const dir = "../../testdata/constellation/"
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"allow_uncommitted_tcb": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ark := snp.DefaultRoots().Chains(snp.Milan)[0].ARK
	forged, err := fakepki.CRL(ark, testev.OtherRSAKey(), nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		crl  []byte   // nil: 404
		want []string // in stderr
	}{
		{"CRL not signed by AMD's ARK", forged, []string{"revocation", "VLEK CRL", "not signed by the pinned ARK"}},
		{"no CRL", nil, []string{"revocation", "/vlek/v1/Milan/crl", "404"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				if r.URL.Path != "/vlek/v1/Milan/crl" || tc.crl == nil {
					http.NotFound(w, r)
					return
				}
				w.Write(tc.crl)
			}))
			defer srv.Close()
			code, out, errOut := runCLI(t, "report", "-f", dir+"aws-vlek-report.bin", "--vcek", dir+"aws-vlek.pem", "--at", "2025-06-01T00:00:00Z",
				"--policy", policy, "--check-revocation", "--kds-url", srv.URL, "--cache-dir", t.TempDir(), "--timeout", "20s")
			wantExit(t, code, exitUsage, out, errOut)
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) == 0 || slices.ContainsFunc(paths, func(p string) bool { return p != "/vlek/v1/Milan/crl" }) {
				t.Errorf("KDS asked for %q, want the VLEK CRL only", paths)
			}
		})
	}
}
