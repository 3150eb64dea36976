package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// The generator still produces a quote and collateral that verify under
// the chain it made (its committed output is checked by the fakeintel
// tests).
func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"fakekeys", "collateral"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(dir, "../../../../testdata/intel-collateral"); err != nil {
		t.Fatalf("run: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "quote-template.bin"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := tdx.ParseQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := q.PCKCertificates()
	if err != nil || len(certs) != 3 {
		t.Fatalf("chain: %v", err)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := q.Verify(tdx.VerifyOptions{Now: at, Root: certs[2]})
	if err != nil {
		t.Fatal(err)
	}
	c, err := pcs.LoadDir(os.DirFS(filepath.Join(dir, "collateral")))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Evaluate(q, v, pcs.Options{Now: at, Root: certs[2]}); err != nil || r.Status != pcs.UpToDate {
		t.Fatalf("Evaluate: %v %+v", err, r)
	}
}
