package tdxtest

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// PCKCRLIssuerChainFile is the file of a fake PCS's files that it sends
// in the SGX-PCK-CRL-Issuer-Chain header (testdata keeps Intel's).
const PCKCRLIssuerChainFile = "pckcrl-issuer-chain.pem"

// FakePCS is an Intel PCS v4 (and PCCS, for the root CA CRL) that serves
// the files of a collateral directory with Intel's headers: the TCB info
// of an FMSPC and the TD QE identity with the TCB signing chain, the PCK
// CRLs (ca=platform|processor) with PCKCRLIssuerChainFile, and the root
// CA CRL as hex, as a PCCS does. Anything else is 404. Issuer chains are
// percent-encoded as Intel's PCS does (EncodeIssuerChain), or sent as
// plain PEM after SetPlainChains (a PCCS).
type FakePCS struct {
	// Server is the test server; its URL is the PCS base URL.
	*httptest.Server

	mu    sync.Mutex
	files map[string][]byte
	hook  func(w http.ResponseWriter, r *http.Request, n int64) bool
	paths map[string]int
	plain bool
	total atomic.Int64
}

// EncodeIssuerChain percent-encodes a PEM chain as Intel's PCS does in its
// issuer-chain headers (as JavaScript's encodeURIComponent: everything
// but A-Z a-z 0-9 and -_.!~*'() as %XX, upper-case hex; so a space is
// %20, a newline %0A, "+" %2B, "/" %2F, "=" %3D).
func EncodeIssuerChain(pemChain []byte) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range pemChain {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', strings.IndexByte("-_.!~*'()", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// SetPlainChains makes the server send issuer chains as plain PEM, as a
// PCCS may (HTTP turns the newlines into spaces).
func (f *FakePCS) SetPlainChains(plain bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plain = plain
}

// RealCollateralFiles reads the regular files of Intel's real collateral
// (testutil.IntelCollateralDir) by name.
func RealCollateralFiles(t testing.TB) map[string][]byte {
	t.Helper()
	return testutil.RegularFiles(t, testutil.IntelCollateral())
}

// NewFakePCS serves files (by the names of tdx/pcs.LoadDir plus
// PCKCRLIssuerChainFile) until the test ends.
func NewFakePCS(t testing.TB, files map[string][]byte) *FakePCS {
	f := &FakePCS{files: files, paths: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// SetHook installs h, asked first for every request (n counts requests
// from 1); it answers the request itself by returning true.
func (f *FakePCS) SetHook(h func(w http.ResponseWriter, r *http.Request, n int64) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// SetFile replaces a served file.
func (f *FakePCS) SetFile(name string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[name] = b
}

// Requests returns the number of requests received.
func (f *FakePCS) Requests() int64 { return f.total.Load() }

// PathRequests returns the number of requests for a URL path.
func (f *FakePCS) PathRequests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[path]
}

func (f *FakePCS) serve(w http.ResponseWriter, r *http.Request) {
	n := f.total.Add(1)
	f.mu.Lock()
	f.paths[r.URL.Path]++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, n) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	var body []byte
	var header, chain string
	switch r.URL.Path {
	case "/tdx/certification/v4/tcb":
		body, header, chain = f.files["tcbinfo-tdx-"+strings.ToLower(q.Get("fmspc"))+".json"], "TCB-Info-Issuer-Chain", "tcb-signing-chain.pem"
	case "/tdx/certification/v4/qe/identity":
		body, header, chain = f.files["qeidentity-tdx.json"], "SGX-Enclave-Identity-Issuer-Chain", "tcb-signing-chain.pem"
	case "/sgx/certification/v4/pckcrl":
		if q.Get("encoding") == "der" {
			body, header, chain = f.files["pckcrl-"+q.Get("ca")+".der"], "SGX-PCK-CRL-Issuer-Chain", PCKCRLIssuerChainFile
		}
	case "/sgx/certification/v4/rootcacrl":
		if b := f.files["rootcacrl.der"]; b != nil {
			body = []byte(hex.EncodeToString(b))
		}
	}
	if body == nil {
		http.NotFound(w, r)
		return
	}
	if header != "" {
		v := EncodeIssuerChain(f.files[chain])
		if f.plain {
			v = string(f.files[chain])
		}
		w.Header().Set(header, v)
	}
	_, _ = w.Write(body)
}

// RealQuote parses the real TD quote in the testdata file rel and
// verifies it under Intel's pinned root at testutil.TDXFixtureTime.
func RealQuote(t testing.TB, rel string) (*tdx.Quote, *tdx.Verified) {
	t.Helper()
	q, err := tdx.ParseQuote(testutil.ReadFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	v, err := q.Verify(tdx.VerifyOptions{Now: testutil.TDXFixtureTime()})
	if err != nil {
		t.Fatal(err)
	}
	return q, v
}
