package main

import (
	"encoding/hex"
	"encoding/pem"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestVerifyFetchesVCEKThenOffline: evidence without its VCEK verifies with
// --kds-url (one KDS request, cached on disk), then with --offline from the
// cache alone, and with --offline and an empty cache it is rejected without
// any request.
func TestVerifyFetchesVCEKThenOffline(t *testing.T) {
	evFile, vcek, hclReport := evidenceWithoutVCEK(t)
	rep := snpReportOf(t, hclReport)
	wantPath := "/vcek/v1/Milan/" + hex.EncodeToString(rep.ChipID[:])
	var requests atomic.Int64
	kdsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != wantPath {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("blSPL") != "04" || q.Get("snpSPL") != "24" || q.Get("ucodeSPL") != "219" {
			http.Error(w, "wrong TCB "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		w.Write(vcek)
	}))
	defer kdsSrv.Close()

	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")

	code, out, errOut := runCLI(t, "verify", "--nonce", "challenge", "--kds-url", kdsSrv.URL, "--cache-dir", cache, evFile)
	wantExit(t, code, exitOK, out, errOut)
	if !strings.Contains(out, "fetched") {
		t.Errorf("output does not say the VCEK was fetched:\n%s", out)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d KDS requests, want 1", n)
	}

	code, out, errOut = runCLI(t, "verify", "--nonce", "challenge", "--offline", "--kds-url", kdsSrv.URL, "--cache-dir", cache, evFile)
	wantExit(t, code, exitOK, out, errOut)
	if n := requests.Load(); n != 1 {
		t.Fatalf("offline run made a request (%d in all)", n)
	}

	// Offline with nothing cached, nothing was learnt about the evidence:
	// exit 1 (collateral unavailable, as the README's table says), naming
	// the check and the next step.
	code, out, errOut = runCLI(t, "verify", "--nonce", "challenge", "--offline", "--kds-url", kdsSrv.URL, "--cache-dir", filepath.Join(dir, "empty"), evFile)
	wantExit(t, code, exitUsage, out, errOut)
	if !strings.Contains(errOut, "vcek-missing") {
		t.Errorf("stderr does not name vcek-missing:\n%s", errOut)
	}
	if !strings.Contains(errOut, "Next: run without --offline") {
		t.Errorf("stderr does not name the next step:\n%s", errOut)
	}
	// The report is a Milan one (version 2: no CPUID, so Genoa is tried
	// too); the message names Milan, not only the last line tried.
	if !strings.Contains(errOut, "no VCEK for Milan") {
		t.Errorf("stderr does not name the report's product line:\n%s", errOut)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("offline run with an empty cache made a request (%d in all)", n)
	}

	// A KDS that answers with another chip's VCEK: rejected, not cached.
	other, err := os.ReadFile("../../testdata/azure-cvm-tooling/certs.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(other)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(blk.Bytes) }))
	defer bad.Close()
	badCache := filepath.Join(dir, "bad")
	code, out, errOut = runCLI(t, "verify", "--nonce", "challenge", "--kds-url", bad.URL, "--cache-dir", badCache, evFile)
	wantExit(t, code, exitRejected, out, errOut)
	var cached []string
	filepath.WalkDir(badCache, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			cached = append(cached, path)
		}
		return nil
	})
	if len(cached) != 0 {
		t.Errorf("a rejected VCEK was cached: %v", cached)
	}
	// The good cache does hold the VCEK (so the offline run above used it).
	var good int
	filepath.WalkDir(cache, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			good++
		}
		return nil
	})
	if good == 0 {
		t.Error("the fetched VCEK is not in the disk cache")
	}
}
