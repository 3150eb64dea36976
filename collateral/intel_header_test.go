package collateral

import (
	"context"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// capturedAt is inside the validity of the captured headers' TCB signing
// certificate (2018-05-21..2025-05-21) and of the TCB info and QE identity
// served with them (2023-06-18..2023-07-08).
var capturedAt = time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)

// TestIssuerChainHeaderGolden decodes issuer-chain header values exactly
// as Intel's PCS sent them (testdata/intel-collateral/pcs-headers, see
// SOURCES.md): two certificates each, the signer then the pinned Intel
// SGX Root CA, the signer verifying under it (a "+" of the base64 read as
// a space would break both). The fake PCS encodes the decoded chain back
// to the byte-identical value, so it sends Intel's form. The TCB info
// and QE identity served with these headers verify with them.
func TestIssuerChainHeaderGolden(t *testing.T) {
	root, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, signer string }{
		{"tcb-info-issuer-chain.txt", "Intel SGX TCB Signing"},
		{"sgx-enclave-identity-issuer-chain.txt", "Intel SGX TCB Signing"},
		{"sgx-pck-crl-issuer-chain.txt", tdx.PlatformCACN},
	} {
		raw := string(testutil.ReadFile(t, "intel-collateral/pcs-headers/"+tc.file))
		if !strings.Contains(raw, "%2B") || !strings.Contains(raw, "%0A") || strings.ContainsAny(raw, "+\n ") {
			t.Fatalf("%s is not in Intel's encoded form", tc.file)
		}
		chain, err := DecodeIssuerChainHeader(raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		cs, err := certs.ParsePEM(chain)
		if err != nil || len(cs) != 2 || cs[0].Subject.CommonName != tc.signer || !cs[1].Equal(root) {
			t.Fatalf("%s: %d certificates, %v", tc.file, len(cs), err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(root)
		if _, err := cs[0].Verify(x509.VerifyOptions{Roots: pool, CurrentTime: capturedAt, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
		if got := tdxtest.EncodeIssuerChain(chain); got != raw {
			t.Errorf("%s: the fake PCS's encoding differs from Intel's:\n%.120s\n%.120s", tc.file, got, raw)
		}
		// The unencoded forms a PCCS may send, and "+" left unencoded.
		for name, v := range map[string]string{
			"plain PEM":        string(chain),
			"plain, one line":  strings.ReplaceAll(string(chain), "\n", " "),
			"+ not encoded":    strings.ReplaceAll(raw, "%2B", "+"),
			"lower-case %-hex": strings.ReplaceAll(raw, "%2F", "%2f"),
		} {
			if got, err := DecodeIssuerChainHeader(v); err != nil || string(got) != string(chain) {
				t.Errorf("%s, %s: %v", tc.file, name, err)
			}
		}
		// What a query decoder would make of it must not pass.
		q, _ := url.QueryUnescape(strings.ReplaceAll(raw, "%2B", "+"))
		if _, err := DecodeIssuerChainHeader(q); err == nil {
			t.Errorf("%s: a chain with spaces for '+' decoded", tc.file)
		}
	}
	tcbChain, _ := DecodeIssuerChainHeader(string(testutil.ReadFile(t, "intel-collateral/pcs-headers/tcb-info-issuer-chain.txt")))
	body := testutil.ReadFile(t, "intel-collateral/pcs-headers/tcbinfo-tdx-50806f000000.json")
	if _, _, err := pcs.CheckTCBInfo(body, tcbChain, [6]byte{0x50, 0x80, 0x6f}, pcs.Options{Now: capturedAt}); err != nil {
		t.Errorf("Intel's TCB info with Intel's header: %v", err)
	}
	qeChain, _ := DecodeIssuerChainHeader(string(testutil.ReadFile(t, "intel-collateral/pcs-headers/sgx-enclave-identity-issuer-chain.txt")))
	if _, _, err := pcs.CheckQEIdentity(testutil.ReadFile(t, "intel-collateral/pcs-headers/qeidentity-tdx.json"), qeChain, pcs.Options{Now: capturedAt}); err != nil {
		t.Errorf("Intel's QE identity with Intel's header: %v", err)
	}
}

// TestIssuerChainHeaderBad: what is not a chain of PEM certificates is an
// error.
func TestIssuerChainHeaderBad(t *testing.T) {
	good := tdxtest.EncodeIssuerChain(testutil.ReadFile(t, "intel-collateral/pcs-00806f050000/tcb-signing-chain.pem"))
	for name, v := range map[string]string{
		"empty":          "",
		"bad escape":     good[:40] + "%G1" + good[40:],
		"trailing text":  good + "x",
		"leading text":   "x" + good,
		"no end":         strings.TrimSuffix(good, "-----END%20CERTIFICATE-----%0A"),
		"bad base64":     strings.Replace(good, "MII", "M*I", 1),
		"other PEM type": strings.ReplaceAll(good, "CERTIFICATE", "PRIVATE%20KEY"),
		"not X.509":      tdxtest.EncodeIssuerChain([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
		"too many":       strings.Repeat(good, 5),
		"too long":       strings.Repeat("%20", maxHeaderChain/3+1),
	} {
		if _, err := DecodeIssuerChainHeader(v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestIntelPCCSPlainHeaders: a PCCS that sends the issuer chains as plain
// PEM (newlines turned into spaces by HTTP) serves collateral that
// verifies.
func TestIntelPCCSPlainHeaders(t *testing.T) {
	q, v := teekit(t)
	fake := newFakePCS(t)
	fake.SetPlainChains(true)
	c, err := newIntel(fake.URL, t.TempDir()).TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
	if err != nil {
		t.Fatal(err)
	}
	wantUpToDate(t, c, q, v)
}

// FuzzDecodeIssuerChainHeader: no panic; what decodes is PEM
// certificates only, and decodes to itself again.
func FuzzDecodeIssuerChainHeader(f *testing.F) {
	f.Add(tdxtest.EncodeIssuerChain([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")))
	f.Add(string(testutil.ReadFile(f, "intel-collateral/pcs-headers/tcb-info-issuer-chain.txt")))
	f.Add("-----BEGIN CERTIFICATE----- MIIB -----END CERTIFICATE-----")
	f.Add("%")
	f.Fuzz(func(t *testing.T, v string) {
		out, err := DecodeIssuerChainHeader(v)
		if err != nil {
			return
		}
		again, err := DecodeIssuerChainHeader(string(out))
		if err != nil || string(again) != string(out) {
			t.Fatalf("%q decoded to %q, which does not decode to itself: %v", v, out, err)
		}
	})
}
