package tdxtest

import (
	"crypto/x509"
	"io"
	"os"
	"testing"

	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// GoTDXGuest verifies the raw quote with go-tdx-guest (the differential
// oracle) under the pinned Intel root, opts completing the options, and
// fails t if go-tdx-guest prints anything on stdout (with TrustedRoots set
// it must not). Tests that call it must not run in parallel: it swaps
// os.Stdout while go-tdx-guest runs.
func GoTDXGuest(t testing.TB, raw []byte, opts tdxverify.Options) error {
	t.Helper()
	root, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	opts.TrustedRoots = x509.NewCertPool()
	opts.TrustedRoots.AddCert(root)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = tdxverify.RawTdxQuote(raw, &opts)
	os.Stdout = stdout
	w.Close()
	if out, _ := io.ReadAll(r); len(out) != 0 {
		t.Fatalf("go-tdx-guest wrote to stdout: %q", out)
	}
	return err
}
