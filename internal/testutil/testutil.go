// Package testutil loads the module's real fixtures (testdata/) for tests:
// one reader, one PEM splitter and one JSON edit shared by the packages'
// tests instead of a copy in each. Of the module it imports only package
// format (which imports nothing of it and has no internal tests), so any
// package's internal tests may use it.
package testutil

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// SNPDir is the folder of trustee's real Azure SEV-SNP vTPM evidence,
// relative to testdata/.
const SNPDir = "trustee-az-vtpm/az-snp-vtpm/"

// FixtureTime is inside the validity period of every real VCEK fixture
// (the earliest ends 2030-01-01, the latest starts 2025-01-24).
func FixtureTime() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }

// TDXDir is the folder of trustee's real Azure TDX vTPM evidence,
// relative to testdata/.
const TDXDir = "trustee-az-vtpm/az-tdx-vtpm/"

// IntelCollateralDir is the folder of Intel's real collateral for the
// Azure TD quotes' FMSPC 00806f050000, relative to testdata/: current at
// RegularFiles reads the regular files at the top of fsys, by name.
func RegularFiles(t testing.TB, fsys fs.FS) map[string][]byte {
	t.Helper()
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		if e.Type().IsRegular() {
			files[e.Name()] = Must(fs.ReadFile(fsys, e.Name()))(t)
		}
	}
	return files
}

// TDXFixtureTime.
const IntelCollateralDir = "intel-collateral/pcs-00806f050000/"

// IntelCollateral returns Intel's real collateral (IntelCollateralDir) as
// a file system, the form tdx/pcs.LoadDir reads.
func IntelCollateral() fs.FS { return os.DirFS(filepath.Join(Dir(), IntelCollateralDir)) }

// TDXFixtureTime is when the real TD quotes' PCK chains are valid and so
// is Intel's collateral for their FMSPC (testdata/intel-collateral).
func TDXFixtureTime() time.Time { return time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC) }

// Dir returns the module's testdata directory.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "testdata"
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// ReadFile returns the fixture at rel (relative to testdata/), failing t
// if it cannot be read.
func ReadFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PEMBlocks returns the bytes of every PEM block of type typ in b, failing
// t if there is none.
func PEMBlocks(t testing.TB, b []byte, typ string) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == typ {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no PEM %s block", typ)
	}
	return out
}

// AMDCertFiles returns the fixtures (relative to testdata/) that hold
// real AMD certificates: trustee's Milan and Genoa VCEKs and AMD's
// ASK/ARK/ASVK chains of Milan, Genoa and Turin, and azure-cvm-tooling's
// VCEK chain.
func AMDCertFiles() []string {
	return []string{
		SNPDir + "vcek.pem", SNPDir + "vcek-genoa.pem",
		"trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem", "trustee-az-vtpm/amd-vendor-certs/genoa_ask_ark_asvk.pem",
		"trustee-az-vtpm/amd-vendor-certs/turin_ask_ark_asvk.pem", "azure-cvm-tooling/certs.pem",
	}
}

// BincodeQuoteFiles returns the fixtures (relative to testdata/) that hold
// real TPM quotes in the Rust tooling's bincode layouts: azure-cvm-tooling's
// two and trustee's SEV-SNP and TDX ones.
func BincodeQuoteFiles() []string {
	return []string{
		"azure-cvm-tooling/quote.bin", "azure-cvm-tooling/az-cvm-vtpm-0.5.0/quote.bin",
		"trustee-az-vtpm/az-snp-vtpm/quote.bin", "trustee-az-vtpm/az-tdx-vtpm/quote.bin",
	}
}

// Certificates returns every certificate of the PEM fixture at rel
// (relative to testdata/), failing t if there is none or one does not
// parse.
func Certificates(t testing.TB, rel string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, der := range PEMBlocks(t, ReadFile(t, rel), "CERTIFICATE") {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		out = append(out, c)
	}
	return out
}

// RSAPublicKey returns the RSA key of the PEM public key (PKIX) fixture at
// rel (relative to testdata/), failing t if its first block is missing,
// does not parse or is not an RSA key.
func RSAPublicKey(t testing.TB, rel string) *rsa.PublicKey {
	t.Helper()
	blk, _ := pem.Decode(ReadFile(t, rel))
	if blk == nil {
		t.Fatalf("%s: no PEM", rel)
		return nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("%s: a %T, not an RSA key", rel, k)
	}
	return pub
}

// FlipInCertificate returns the PEM chain with one byte near the end (in
// the signature) of certificate i changed, every block re-encoded.
func FlipInCertificate(t testing.TB, chain []byte, i int) []byte {
	t.Helper()
	var out []byte
	n := 0
	for blk, rest := pem.Decode(chain); blk != nil; blk, rest = pem.Decode(rest) {
		if n == i {
			blk.Bytes[len(blk.Bytes)-2] ^= 1
		}
		out = append(out, pem.EncodeToMemory(blk)...)
		n++
	}
	if n <= i {
		t.Fatalf("no certificate %d in the chain (%d)", i, n)
	}
	return out
}

// DropPCRs returns the evidence (or quote) JSON document doc with the "pcrs"
// member of its quote object ("quote" in v0, "tpm_quote" otherwise, or the
// document itself for a bare quote) removed, as older attesters send it.
// Other members keep their values; member order is not kept.
func DropPCRs(t testing.TB, doc []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	key := ""
	for _, k := range []string{"quote", "tpm_quote"} {
		if _, ok := m[k]; ok {
			key = k
		}
	}
	if key == "" {
		return dropMember(t, m, "pcrs")
	}
	var q map[string]json.RawMessage
	if err := json.Unmarshal(m[key], &q); err != nil {
		t.Fatal(err)
	}
	m[key] = dropMember(t, q, "pcrs")
	return MarshalJSON(t, m)
}

func dropMember(t testing.TB, m map[string]json.RawMessage, name string) []byte {
	t.Helper()
	if _, ok := m[name]; !ok {
		t.Fatalf("no %q member to drop", name)
	}
	delete(m, name)
	return MarshalJSON(t, m)
}

// JSON returns v marshalled with encoding/json, failing t on error: the
// canonical form tests compare values in.
func JSON(t testing.TB, v any) string {
	t.Helper()
	return string(MarshalJSON(t, v))
}

// MarshalJSON returns v marshalled with encoding/json, failing t on error.
func MarshalJSON(t testing.TB, v any) []byte {
	t.Helper()
	return Marshal(t, json.Marshal, v)
}

// Marshal returns v encoded by marshal (json.Marshal, asn1.Marshal, ...),
// failing t on error.
func Marshal(t testing.TB, marshal func(any) ([]byte, error), v any) []byte {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Must returns a function that returns v, failing its t on err, for a
// call that returns a value and an error: testutil.Must(f(x))(t).
func Must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%v", err)
		}
		return v
	}
}
