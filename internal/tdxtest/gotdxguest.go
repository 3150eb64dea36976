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
// oracle) under opts.TrustedRoots, or the pinned Intel root when it is
// nil, opts completing the options, and fails t if go-tdx-guest prints
// anything on stdout (with TrustedRoots set it must not). Tests that call
// it must not run in parallel: it swaps os.Stdout while go-tdx-guest runs.
func GoTDXGuest(t testing.TB, raw []byte, opts tdxverify.Options) error {
	t.Helper()
	return quiet(t, &opts, func() error { return tdxverify.RawTdxQuote(raw, &opts) })
}

// GoTDXGuestQuote is GoTDXGuest for a quote go-tdx-guest has parsed
// (abi.QuoteToProto).
func GoTDXGuestQuote(t testing.TB, quote any, opts tdxverify.Options) error {
	t.Helper()
	return quiet(t, &opts, func() error { return tdxverify.TdxQuote(quote, &opts) })
}

// quiet completes opts' roots and runs verify with os.Stdout swapped for a
// pipe (restored however verify returns), failing t on any output.
func quiet(t testing.TB, opts *tdxverify.Options, verify func() error) error {
	t.Helper()
	if opts.TrustedRoots == nil {
		root, err := tdx.IntelRoot()
		if err != nil {
			t.Fatal(err)
		}
		opts.TrustedRoots = x509.NewCertPool()
		opts.TrustedRoots.AddCert(root)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdout := os.Stdout
	os.Stdout = w
	func() {
		defer func() { os.Stdout = stdout; w.Close() }()
		err = verify()
	}()
	if out, _ := io.ReadAll(r); len(out) != 0 {
		t.Fatalf("go-tdx-guest wrote to stdout: %q", out)
	}
	return err
}
