package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// attack is one forgery of SECURITY.md's attack table: evidence built for
// a verifier's nonce on a test chip that the verifier trusts (the private
// test chain replaces AMD's Milan roots), which must be rejected by check.
type attack struct {
	name  string
	check verify.Check
	build func(nonce []byte) ([]byte, error)
}

// built returns an attack's build function for a Builder variant.
func built(variant func(b *testev.Builder)) func(nonce []byte) ([]byte, error) {
	return func(nonce []byte) ([]byte, error) {
		b := &testev.Builder{Nonce: nonce}
		variant(b)
		ev, err := b.Build()
		if err != nil {
			return nil, err
		}
		return ev.JSON, nil
	}
}

// jwkJSON is the runtime-data JWK "HCLAkPub" of key.
func jwkJSON(key *rsa.PublicKey) string {
	j := hcl.NewRSAJWK(hcl.KidAK, []string{"sign"}, key)
	return fmt.Sprintf(`{"kid":%q,"key_ops":["sign"],"kty":"RSA","e":%q,"n":%q}`, j.Kid, j.E, j.N)
}

// runtimeData is runtime-data JSON whose AK (the key that signs the quote)
// is hidden the way keysJSON says, with user-data = the padded quoted nonce.
func runtimeData(nonce []byte, keysJSON string) []byte {
	u := make([]byte, hcl.UserDataSize)
	copy(u, quote.ExpectedExtraData(nonce))
	return []byte(`{` + keysJSON + `,"vm-configuration":{"console-enabled":false,"secure-boot":true,"tpm-enabled":true,"vmUniqueId":"7E57E7E5-0000-4000-8000-000000000001"},"user-data":"` + hex.EncodeToString(u) + `"}`)
}

// doc returns an attack's build function that changes the encoded
// evidence document of genuine-looking synthetic evidence.
func doc(change func(j []byte) []byte) func(nonce []byte) ([]byte, error) {
	return func(nonce []byte) ([]byte, error) {
		j, err := built(func(*testev.Builder) {})(nonce)
		if err != nil {
			return nil, err
		}
		return change(j), nil
	}
}

// attacks lists the forgeries of issue 11, one per class.
func attacks() []attack {
	random := sha512.Sum384([]byte("an attacker's own ID key"))
	aci := testev.ACIIDKeyDigest()
	// ak signs the quote; benign is the key a reviewer is shown instead.
	ak := jwkJSON(&testev.AKKey().PublicKey)
	benignKey := &testev.EKKey().PublicKey
	benignJSON := jwkJSON(benignKey)
	benignN := hcl.NewRSAJWK(hcl.KidAK, nil, benignKey).N
	rd := func(keys string) func(nonce []byte) ([]byte, error) {
		return func(nonce []byte) ([]byte, error) {
			return built(func(b *testev.Builder) { b.RuntimeData = runtimeData(nonce, keys) })(nonce)
		}
	}
	setReport := func(off int, v uint32) func([]byte) {
		return func(r []byte) { binary.LittleEndian.PutUint32(r[off:], v) }
	}
	return []attack{
		{"VMPL0 guest with its own ID key", verify.CheckParavisorIdentity, built(func(b *testev.Builder) { b.IDKeyDigest = &random })},
		{"VMPL0 guest without an ID block (zero digest)", verify.CheckParavisorIdentity, built(func(b *testev.Builder) { b.IDKeyDigest = &[48]byte{} })},
		{"ACI utility VM's ID key", verify.CheckParavisorIdentity, built(func(b *testev.Builder) { b.IDKeyDigest = &aci })},
		{"runtime data: second \"keys\" member names the attacker's AK", verify.CheckHCLFormat,
			rd(`"keys":[` + benignJSON + `],"keys":[` + ak + `]`)},
		{"runtime data: duplicate \"n\" inside the AK", verify.CheckHCLFormat,
			rd(`"keys":[` + strings.Replace(ak, `"n":`, `"n":"`+benignN+`","n":`, 1) + `]`)},
		{"runtime data: case-variant \"Keys\"", verify.CheckHCLFormat, rd(`"Keys":[` + ak + `]`)},
		{"runtime data: invalid UTF-8", verify.CheckHCLFormat, rd(`"keys":[` + ak + `],"x":"` + "\xff\xfe" + `"`)},
		{"user-data: the nonce then bytes of the attacker's choice", verify.CheckUserData, built(func(b *testev.Builder) {
			u := make([]byte, hcl.UserDataSize)
			copy(u, quote.ExpectedExtraData(b.Nonce))
			u[63] = 0xEE
			b.UserData = u
		})},
		{"HCL hash type SHA-512", verify.CheckHCLFormat, built(func(b *testev.Builder) {
			b.MutateHCL = func(blob []byte) []byte { binary.LittleEndian.PutUint32(blob[1228:], 3); return blob }
		})},
		{"report version 0xFFFFFFFF", verify.CheckReportFormat, built(func(b *testev.Builder) { b.MutateReport = setReport(0, 0xFFFFFFFF) })},
		{"guest policy bit 17 (reserved, must be one) clear", verify.CheckReportFormat, built(func(b *testev.Builder) { b.Policy = testev.DefaultPolicy &^ snp.PolicyReservedMBO })},
		{"report signed by a VLEK, says SIGNER_INFO", verify.CheckReportSignature, built(func(b *testev.Builder) { b.MutateReport = setReport(0x48, snp.SigningKeyVLEK<<2) })},
		{"evidence: a second \"hcl_report\" member", verify.CheckEvidenceFormat, doc(func(j []byte) []byte {
			i := bytes.Index(j, []byte(`"hcl_report":`))
			return append(append(append([]byte(nil), j[:i]...), `"hcl_report":"AAAA",`...), j[i:]...)
		})},
		{"evidence: duplicate unknown member", verify.CheckEvidenceFormat, doc(func(j []byte) []byte {
			return append([]byte(`{"x":1,"x":2,`), j[1:]...)
		})},
		{"evidence: invalid UTF-8", verify.CheckEvidenceFormat, doc(func(j []byte) []byte {
			return append([]byte("{\"note\":\"\xc3\x28\","), j[1:]...)
		})},
		{"evidence: trailing data", verify.CheckEvidenceFormat, doc(func(j []byte) []byte { return append(j, "{}"...) })},
		{"VCEK productName Milan-ZZZ-evil", verify.CheckVCEKFormat, built(func(b *testev.Builder) { b.VCEK.ProductName = "Milan-ZZZ-evil" })},
	}
}

// TestAttacks runs every forgery through the library, the CLI (exit code 2
// naming the check) and serve (no secret released).
func TestAttacks(t *testing.T) {
	nonce := []byte("attack-table nonce")
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	for _, a := range attacks() {
		t.Run(a.name, func(t *testing.T) {
			data, err := a.build(nonce)
			if err != nil {
				t.Fatal(err)
			}
			_, err = verify.Evidence(context.Background(), data, nonce, verify.Config{Roots: testev.PrivateChain(snp.Milan).Roots()})
			if verr, ok := errors.AsType[*verify.Error](err); !ok || verr.Check != a.check {
				t.Errorf("library: err = %v, want check %s", err, a.check)
			}
			file := writeTemp(t, "forged.json", data)
			code, out, errOut := verifyCLI(t, nil, "--roots", roots, "--nonce", string(nonce), file)
			wantExit(t, code, 2, out, errOut)
			if !strings.Contains(errOut, string(a.check)) {
				t.Errorf("CLI stderr does not name %s:\n%s", a.check, errOut)
			}
		})
	}

	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--offline", "--challenge-ttl", "30s")
	for _, a := range attacks() {
		t.Run("serve/"+a.name, func(t *testing.T) {
			// The document goes as a base64 string, so that a broken one
			// reaches the server as it is, not refused by the client.
			res, err := (&server.Client{URL: s.url}).Attest(context.Background(), func(ctx context.Context, n []byte) ([]byte, error) {
				doc, err := a.build(n)
				return []byte(`"` + base64.StdEncoding.EncodeToString(doc) + `"`), err
			})
			if res != nil {
				t.Fatalf("secret released: %q", res.Secret)
			}
			apiErr, ok := errors.AsType[*server.APIError](err)
			if !ok {
				t.Fatalf("err = %v, want an answer from the server", err)
			}
			if apiErr.StatusCode != http.StatusForbidden || apiErr.Check != string(a.check) {
				t.Errorf("server answered %d %q, want 403 %s", apiErr.StatusCode, apiErr.Check, a.check)
			}
		})
	}
	if bytes.Contains([]byte(s.stderr.String()), []byte(cliSecret)) {
		t.Error("the secret is in the log")
	}
}
