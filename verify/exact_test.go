package verify_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// padded returns b zero-padded to 64 bytes.
func padded(b []byte) []byte {
	u := make([]byte, 64)
	copy(u, b)
	return u
}

// withTail returns the quoted nonce zero-padded to 64 bytes, then with
// byte i set to v: the nonce plus bytes of the attacker's choice.
func withTail(nonce []byte, i int, v byte) []byte {
	u := padded(quote.ExpectedExtraData(nonce))
	u[i] = v
	return u
}

// TestUserDataExact checks that v2 user-data (and user-data under
// RequireFreshReport) must equal all 64 bytes the attester writes: the
// quoted nonce zero-padded, not merely start with it.
func TestUserDataExact(t *testing.T) {
	long := bytes.Repeat([]byte("L"), 100) // quoted as its SHA-256
	n48 := bytes.Repeat([]byte{0x5A}, 48)
	fresh := func(o *verify.Config) { o.Policy.RequireFreshReport = true }
	runSynth(t, []synthCase{
		{name: "exact: default nonce", b: testev.Builder{UserData: padded(testev.DefaultNonce)}},
		{name: "exact: 48-byte nonce", b: testev.Builder{Nonce: n48}},
		{name: "exact: long nonce (SHA-256)", b: testev.Builder{Nonce: long, UserData: padded(quote.ExpectedExtraData(long))}},
		{name: "byte after the nonce", b: testev.Builder{UserData: withTail(testev.DefaultNonce, len(testev.DefaultNonce), 1)}, want: verify.CheckUserData},
		{name: "last byte", b: testev.Builder{UserData: withTail(testev.DefaultNonce, 63, 0x80)}, want: verify.CheckUserData},
		{name: "48-byte nonce, last byte", b: testev.Builder{Nonce: n48, UserData: withTail(n48, 63, 1)}, want: verify.CheckUserData},
		{name: "long nonce, byte after its SHA-256", b: testev.Builder{Nonce: long, UserData: withTail(long, 32, 0xFF)}, want: verify.CheckUserData},
		{name: "long nonce, user-data is the raw nonce prefix", b: testev.Builder{Nonce: long, UserData: long[:64]}, want: verify.CheckUserData},
		{name: "first byte", b: testev.Builder{UserData: withTail(testev.DefaultNonce, 0, 'x')}, want: verify.CheckUserData},
		{name: "v1 RequireFreshReport exact", b: testev.Builder{Version: 1, UserData: padded(testev.DefaultNonce)}, opts: fresh},
		{name: "v1 RequireFreshReport byte after the nonce", b: testev.Builder{Version: 1, UserData: withTail(testev.DefaultNonce, 40, 7)}, opts: fresh, want: verify.CheckUserData},
		{name: "v1 RequireFreshReport last byte", b: testev.Builder{Version: 1, UserData: withTail(testev.DefaultNonce, 63, 1)}, opts: fresh, want: verify.CheckUserData},
	})
}

// TestHashTypeStrict checks that only SHA-256 binds the runtime data, even
// when REPORT_DATA is exactly the declared other hash of it.
func TestHashTypeStrict(t *testing.T) {
	rd := []byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"` + testevAKN() + `"}]}`)
	sum512 := sha512.Sum512(rd)
	sum384 := sha512.Sum384(rd)
	sum256 := sha256.Sum256(rd)
	setRD := func(v []byte) func(r []byte) {
		return func(r []byte) {
			clear(r[snp.OffsetReportData:snp.OffsetMeasurement])
			copy(r[snp.OffsetReportData:], v)
		}
	}
	setHash := func(h uint32) func(b []byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[hcl.OffsetHashType:], h); return b }
	}
	runSynth(t, []synthCase{
		{name: "SHA-256 verifies", b: testev.Builder{Version: 1, RuntimeData: rd}},
		{name: "SHA-512 fully bound", b: testev.Builder{Version: 1, RuntimeData: rd, MutateReport: setRD(sum512[:]), MutateHCL: setHash(3)}, want: verify.CheckHCLFormat},
		{name: "SHA-384 fully bound", b: testev.Builder{Version: 1, RuntimeData: rd, MutateReport: setRD(sum384[:]), MutateHCL: setHash(2)}, want: verify.CheckHCLFormat},
		{name: "SHA-256 with a tail", b: testev.Builder{Version: 1, RuntimeData: rd, MutateReport: setRD(append(sum256[:], 1))}, want: verify.CheckRuntimeData},
		{name: "hash type 0", b: testev.Builder{Version: 1, RuntimeData: rd, MutateHCL: setHash(0)}, want: verify.CheckHCLFormat},
	})
}
