// Package testmaa is for tests only: it mints MAA-shaped tokens and JWKS
// with test keys, and fills a token payload from verified evidence, so
// that the maa package and the CLI can test verification and binding
// without the real service.
package testmaa

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Issuer is the instance of the real token in testdata/maa.
const Issuer = "https://sharedeus2.eus2.attest.azure.net"

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Header returns an MAA-shaped JOSE header (RS256, jku, kid, typ) for kid.
func Header(kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "jku": Issuer + "/certs", "kid": kid, "typ": "JWT"})
	return string(h)
}

// Sign returns the compact token header.payload.signature, RS256-signed
// with key.
func Sign(key *rsa.PrivateKey, header string, payload []byte) ([]byte, error) {
	in := b64([]byte(header)) + "." + b64(payload)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		return nil, err
	}
	return []byte(in + "." + b64(sig)), nil
}

// SelfSigned returns a self-signed CA:FALSE certificate for key, shaped
// like MAA's signing certificates.
func SelfSigned(key *rsa.PrivateKey) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: Issuer},
		NotBefore:             time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2050, 12, 31, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// JWKS returns an MAA-shaped JWKS of key under kid: the key only as a
// certificate in x5c[0], no n or e.
func JWKS(key *rsa.PrivateKey, kid string) ([]byte, error) {
	der, err := SelfSigned(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kid": kid, "kty": "RSA", "x5c": []string{base64.StdEncoding.EncodeToString(der)},
	}}})
}

// Edit decodes a payload into a generic map, lets fn change it and
// encodes it again.
func Edit(payload []byte, fn func(m map[string]any)) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, err
	}
	fn(m)
	return json.Marshal(m)
}

// TEE returns the x-ms-isolation-tee object of a payload map (it must be
// there).
func TEE(m map[string]any) map[string]any { return m["x-ms-isolation-tee"].(map[string]any) }

// PayloadFor returns base (a real AzureGuest payload) with every claim
// maa.Bind compares (the required and the optional ones) set from the
// verified evidence ev and its attestation key ak.
func PayloadFor(base []byte, ev *verify.Claims, ak *rsa.PublicKey) ([]byte, error) {
	return Edit(base, func(m map[string]any) {
		m["x-ms-azurevm-vmid"] = ev.VMConfig.VMUniqueID
		tm := TEE(m)
		rt := tm["x-ms-runtime"].(map[string]any)
		rt["vm-configuration"].(map[string]any)["vmUniqueId"] = ev.VMConfig.VMUniqueID
		rt["keys"] = []any{map[string]any{"kid": "HCLAkPub", "kty": "RSA", "key_ops": []string{"sign"},
			"n": b64(ak.N.Bytes()), "e": b64(big.NewInt(int64(ak.E)).Bytes())}}
		tm["x-ms-sevsnpvm-reportdata"] = hex.EncodeToString(ev.ReportData)
		tm["x-ms-sevsnpvm-launchmeasurement"] = hex.EncodeToString(ev.Measurement)
		tm["x-ms-sevsnpvm-idkeydigest"] = hex.EncodeToString(ev.IDKeyDigest)
		for k, v := range map[string][]byte{"hostdata": ev.HostData, "familyId": ev.FamilyID, "imageId": ev.ImageID, "authorkeydigest": ev.AuthorKeyDigest} {
			tm["x-ms-sevsnpvm-"+k] = hex.EncodeToString(v)
		}
		tm["x-ms-sevsnpvm-is-debuggable"] = ev.Debug
		tm["x-ms-sevsnpvm-bootloader-svn"] = ev.ReportedTCB.Bootloader
		tm["x-ms-sevsnpvm-tee-svn"] = ev.ReportedTCB.TEE
		tm["x-ms-sevsnpvm-snpfw-svn"] = ev.ReportedTCB.SNP
		tm["x-ms-sevsnpvm-microcode-svn"] = ev.ReportedTCB.Microcode
		tm["x-ms-sevsnpvm-guestsvn"] = ev.GuestSVN
		tm["x-ms-sevsnpvm-vmpl"] = ev.VMPL
	})
}

// Vouchee is evidence with the claims a verifier that accepts any
// paravisor establishes for it: what an MAA token can vouch for.
type Vouchee struct {
	Evidence *testev.Evidence
	Claims   *verify.Claims
}

// UnknownParavisor builds the evidence of a paravisor whose ID key no
// verifier trusts by default (as a new Azure paravisor's), ours, and the
// same paravisor's evidence of another VM (another attestation key); it
// fails t if they do not verify.
func UnknownParavisor(t testing.TB) (ours, other Vouchee) {
	t.Helper()
	newKey := sha512.Sum384([]byte("a new Azure paravisor ID key"))
	anyParavisor := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{AllowAnyParavisor: true}}
	vouchees := [2]Vouchee{
		{Evidence: (&testev.Builder{IDKeyDigest: &newKey}).MustBuild()},
		{Evidence: (&testev.Builder{IDKeyDigest: &newKey, AK: testev.OtherRSAKey()}).MustBuild()},
	}
	for i := range vouchees {
		var err error
		e := vouchees[i].Evidence
		if vouchees[i].Claims, err = verify.Evidence(t.Context(), e.JSON, e.Nonce, anyParavisor); err != nil {
			t.Fatal(err)
		}
	}
	return vouchees[0], vouchees[1]
}
