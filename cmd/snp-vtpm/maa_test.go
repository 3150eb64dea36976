package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// The real token's files and a time inside its lifetime (iat + 1 h).
const (
	maaToken = "maa/azureguest-snp-sharedeus2-20251215.jwt"
	maaJWKS  = "maa/sharedeus2-jwks.json"
	maaAt    = "2025-12-15T20:24:08Z"
)

// realMAAFiles writes the real token and JWKS to temporary files.
func realMAAFiles(t *testing.T) (token, jwks string) {
	t.Helper()
	return writeTemp(t, "token.jwt", testutil.ReadFile(t, maaToken)), writeTemp(t, "jwks.json", testutil.ReadFile(t, maaJWKS))
}

// testSigned signs payload with the test MAA key (testev.EKKey, kid
// "test") and returns the token file and the JWKS file that trusts it.
func testSigned(t *testing.T, payload []byte) (token, jwks string) {
	t.Helper()
	tok, err := testmaa.Sign(testev.EKKey(), testmaa.Header("test"), payload)
	if err != nil {
		t.Fatal(err)
	}
	j, err := testmaa.JWKS(testev.EKKey(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "token.jwt", tok), writeTemp(t, "jwks.json", j)
}

// TestMAAVerifyCLI runs "maa verify" through the built binary: the real
// token verifies; each forgery or policy failure exits 2 naming its check;
// usage errors exit 1.
func TestMAAVerifyCLI(t *testing.T) {
	tok, jwks := realMAAFiles(t)
	p := strings.Split(strings.TrimSpace(string(testutil.ReadFile(t, maaToken))), ".")
	none := writeTemp(t, "none.jwt", []byte(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"J0pAPdfXXHqWWimgrH853wMIdh5/fLe1z6uSXYPXCa0="}`))+"."+p[1]+"."))
	forged, _ := testSigned(t, payloadOf(t, maaToken))
	tlPayload, err := testmaa.Edit(payloadOf(t, "maa/azureguest-trustedlaunch-sharedeus2-20220414.jwt"), func(m map[string]any) {
		m["iat"], m["nbf"], m["exp"] = 1765826648, 1765826648, 1765855448
	})
	if err != nil {
		t.Fatal(err)
	}
	tlTok, tlJWKS := testSigned(t, tlPayload)
	// Tokens recognisably of the emulated MAA: its kid, or its issuer.
	emuKid, err := testmaa.Sign(testev.EKKey(), testmaa.Header(maa.EmulatedKid()), payloadOf(t, maaToken))
	if err != nil {
		t.Fatal(err)
	}
	emuIssPayload, err := testmaa.Edit(payloadOf(t, maaToken), func(m map[string]any) { m["iss"] = maa.EmulatedIssuer })
	if err != nil {
		t.Fatal(err)
	}
	emuIss, _ := testSigned(t, emuIssPayload)
	base := []string{"maa", "verify", "--issuer", testmaa.Issuer, "--at", maaAt}
	cases := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"real token", []string{"--jwks", jwks, "--nonce", "midnight-srs", tok}, 0, []string{"VERIFIED: MAA token from " + testmaa.Issuer, "sevsnpvm, azure-compliant-cvm", "6a063be9dd79f637", "bl=4 tee=0 snp=24 ucode=219"}},
		{"nonce as hex", []string{"--jwks", jwks, "--nonce-hex", "6d69646e696768742d737273", tok}, 0, []string{"VERIFIED"}},
		{"no nonce", []string{"--jwks", jwks, tok}, 0, []string{"NOT CHECKED"}},
		{"nonce mismatch", []string{"--jwks", jwks, "--nonce", "other", tok}, 2, []string{"REJECTED: maa-nonce"}},
		{"expired (now)", []string{"--jwks", jwks, "--at", "2025-12-16T04:24:08Z", tok}, 2, []string{"REJECTED: maa-expired"}},
		{"not yet valid", []string{"--jwks", jwks, "--at", "2025-12-15T18:24:08Z", tok}, 2, []string{"REJECTED: maa-not-yet-valid"}},
		{"wrong issuer", []string{"--jwks", jwks, "--issuer", "https://sharedweu.weu.attest.azure.net", tok}, 2, []string{"REJECTED: maa-issuer"}},
		{"alg none", []string{"--jwks", jwks, none}, 2, []string{"REJECTED: maa-alg"}},
		{"another key under its own kid", []string{"--jwks", jwks, forged}, 2, []string{"REJECTED: maa-key"}},
		{"Trusted Launch", []string{"--jwks", tlJWKS, tlTok}, 2, []string{"REJECTED: maa-not-cvm", "not a confidential VM"}},
		{"garbage", []string{"--jwks", jwks, writeTemp(t, "g.jwt", []byte("{}"))}, 2, []string{"REJECTED: maa-format"}},
		{"no key source", []string{tok}, 1, []string{"--jwks FILE or --instance URL"}},
		{"emulated kid, no key source", []string{writeTemp(t, "emu.jwt", emuKid)}, 2, []string{"REJECTED: maa-key check failed", "EMULATED MAA", "--trust-emulated"}},
		{"emulated issuer, no key source", []string{emuIss}, 2, []string{"REJECTED: maa-issuer check failed", "EMULATED MAA", "--trust-emulated"}},
		{"garbage, no key source", []string{writeTemp(t, "g2.jwt", []byte("{}"))}, 1, []string{"--jwks FILE or --instance URL"}},
		// emu30b: the emulated MAA's instance never resolves; before, its
		// keys were fetched (a DNS failure, exit 1 without a word of
		// --trust-emulated).
		{"emulated instance", []string{"--instance", maa.EmulatedIssuer, emuIss}, 1, []string{"--instance", "never resolves", "only --trust-emulated (alone, without --instance)"}},
		{"emulated instance, trusted", []string{"--trust-emulated", "--instance", maa.EmulatedIssuer + "/", emuIss}, 1, []string{"never resolves", "give --trust-emulated alone"}},
		{"another .invalid instance", []string{"--instance", "https://maa.example.invalid.", tok}, 1, []string{"never resolves", "--trust-emulated"}},
		{"both key sources", []string{"--jwks", jwks, "--instance", "https://x.example", tok}, 1, []string{"exactly one"}},
		{"bad JWKS", []string{"--jwks", tok, tok}, 1, []string{"--jwks"}},
		{"bad --at", []string{"--jwks", jwks, "--at", "yesterday", tok}, 1, []string{"--at"}},
		{"missing token", []string{"--jwks", jwks, "/nonexistent.jwt"}, 1, []string{"cannot open"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBin(t, nil, append(base, tc.args...)...)
			wantExit(t, code, tc.code, out, errOut)
			wantContains(t, "output", out+errOut, tc.wants...)
		})
	}
	// Another key under the real kid fails the signature.
	sameKid, err := testmaa.Sign(testev.OtherRSAKey(), testmaa.Header("J0pAPdfXXHqWWimgrH853wMIdh5/fLe1z6uSXYPXCa0="), payloadOf(t, maaToken))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBin(t, nil, append(base, "--jwks", jwks, writeTemp(t, "same.jwt", sameKid))...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "REJECTED: maa-signature")
}

// payloadOf returns the payload of a token fixture.
func payloadOf(t *testing.T, rel string) []byte {
	t.Helper()
	p := strings.Split(strings.TrimSpace(string(testutil.ReadFile(t, rel))), ".")
	b, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMAAVerifyEmulatedSaysSo: a token of the emulated MAA's issuer,
// accepted with --trust-emulated, is called emulated in the human output
// (the banner, before and after, and the title) and in --json
// ("emulated": true); a real token says "emulated": false. Before, the
// output was that of a real instance's token, the issuer's name aside.
func TestMAAVerifyEmulatedSaysSo(t *testing.T) {
	emuPayload, err := testmaa.Edit(payloadOf(t, maaToken), func(m map[string]any) { m["iss"] = maa.EmulatedIssuer })
	if err != nil {
		t.Fatal(err)
	}
	emuTok, emuJWKS := testSigned(t, emuPayload)
	tok, jwks := realMAAFiles(t)
	emuArgs := []string{"maa", "verify", "--trust-emulated", "--jwks", emuJWKS, "--issuer", maa.EmulatedIssuer, "--at", maaAt, emuTok}
	realArgs := []string{"maa", "verify", "--jwks", jwks, "--issuer", testmaa.Issuer, "--at", maaAt, tok}
	code, out, errOut := runBin(t, nil, emuArgs...)
	wantExit(t, code, 0, out, errOut)
	if strings.Count(out, emulatedBanner) != 2 || !strings.HasPrefix(out, emulatedBanner+"\nVERIFIED (EMULATED MAA") {
		t.Errorf("human output of an emulated token does not say so:\n%s", out)
	}
	code, out, errOut = runBin(t, nil, realArgs...)
	wantExit(t, code, 0, out, errOut)
	if strings.Contains(out, "EMULATED") {
		t.Errorf("a real token's output says EMULATED:\n%s", out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{{"emulated", emuArgs, true}, {"real", realArgs, false}} {
		code, out, errOut = runBin(t, nil, append([]string{"maa", "verify", "--json"}, tc.args[2:]...)...)
		wantExit(t, code, 0, out, errOut)
		var res struct {
			Emulated *bool `json:"emulated"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Emulated == nil || *res.Emulated != tc.want {
			t.Errorf("%s token: --json emulated = %v, want %v (%v)\n%s", tc.name, res.Emulated, tc.want, err, out)
		}
	}
}

// TestMAAVerifyJSON: --json on success and on rejection, stdin "-".
func TestMAAVerifyJSON(t *testing.T) {
	_, jwks := realMAAFiles(t)
	args := []string{"maa", "verify", "--jwks", jwks, "--issuer", testmaa.Issuer, "--at", maaAt, "--json", "--nonce", "midnight-srs", "-"}
	code, out, errOut := runBin(t, testutil.ReadFile(t, maaToken), args...)
	wantExit(t, code, 0, out, errOut)
	var res struct {
		Verified     bool   `json:"verified"`
		Kid          string `json:"kid"`
		NonceChecked bool   `json:"nonce_checked"`
		Claims       struct {
			TEE struct {
				Type        string `json:"x-ms-attestation-type"`
				Measurement string `json:"x-ms-sevsnpvm-launchmeasurement"`
				Microcode   int    `json:"x-ms-sevsnpvm-microcode-svn"`
			} `json:"x-ms-isolation-tee"`
			Runtime struct {
				ClientPayload map[string]string `json:"client-payload"`
			} `json:"x-ms-runtime"`
		} `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Verified || !res.NonceChecked || res.Kid == "" || res.Claims.TEE.Type != "sevsnpvm" || res.Claims.TEE.Microcode != 219 ||
		!strings.HasPrefix(res.Claims.TEE.Measurement, "6a063be9") || res.Claims.Runtime.ClientPayload["nonce"] != "bWlkbmlnaHQtc3Jz" {
		t.Errorf("JSON %+v", res)
	}
	code, out, errOut = runBin(t, testutil.ReadFile(t, maaToken), append(args[:len(args)-3], "--nonce", "x", "-")...)
	wantExit(t, code, 2, out, errOut)
	var rej rejectionJSON
	if err := json.Unmarshal([]byte(out), &rej); err != nil || rej.Verified || rej.Check != "maa-nonce" {
		t.Errorf("rejection JSON %+v (%v)\n%s", rej, err, out)
	}
}

// TestMAAInstance: --instance fetches URL/certs (httptest); an unreachable
// instance exits 1, not 2.
func TestMAAInstance(t *testing.T) {
	tok, _ := realMAAFiles(t)
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path != "/certs" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(testutil.ReadFile(t, maaJWKS))
	}))
	defer srv.Close()
	// The token's iss is the real instance: --issuer names it, --instance the mirror.
	code, out, errOut := runCLI(t, "maa", "verify", "--instance", srv.URL, "--issuer", testmaa.Issuer, "--at", maaAt, tok)
	wantExit(t, code, 0, out, errOut)
	if hits != 1 {
		t.Errorf("%d requests, want 1", hits)
	}
	code, out, errOut = runCLI(t, "maa", "verify", "--instance", srv.URL, "--at", maaAt, tok)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "maa-issuer")
	srv.Close()
	code, out, errOut = runCLI(t, "maa", "verify", "--instance", srv.URL, "--issuer", testmaa.Issuer, "--at", maaAt, "--timeout", "5s", tok)
	wantExit(t, code, 1, out, errOut)
	wantContains(t, "stderr", errOut, "MAA")
}

// TestMAARealSharedeusCerts: MAA's real /certs of sharedeus, which lists
// a 1024-bit key beside its RS256 keys, is read (that key set aside): the
// instance's real token is examined and rejected for what it is, an SGX
// enclave's (exit 2, maa-not-cvm), by --jwks and by --instance; before,
// the whole JWKS was refused (exit 1) and no token of the instance could
// be verified.
func TestMAARealSharedeusCerts(t *testing.T) {
	tok := writeTemp(t, "sgx.jwt", testutil.ReadFile(t, "maa/sgx-sharedeus-20230926.jwt"))
	certs := testutil.ReadFile(t, "maa/sharedeus-certs-2023.json")
	const issuer, at = "https://sharedeus.eus.attest.azure.net", "2023-09-26T15:00:00Z"
	code, out, errOut := runCLI(t, "maa", "verify", "--jwks", writeTemp(t, "certs.json", certs), "--issuer", issuer, "--at", at, tok)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "maa-not-cvm")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certs) }))
	defer srv.Close()
	code, out, errOut = runCLI(t, "maa", "verify", "--instance", srv.URL, "--issuer", issuer, "--at", at, tok)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "maa-not-cvm")
}

// TestMAAEmulatedEvidenceBinding: with --trust-emulated, evidence of the
// emulated CVM (forged here with its public keys) binds a token of the
// emulated MAA's issuer, and the output says EMULATED; a real instance's
// token (the test MAA's) made for the same claims does not bind it
// (maa-binding): before, it did, printed as a real token bound to the
// evidence.
func TestMAAEmulatedEvidenceBinding(t *testing.T) {
	ev := testev.Emulated(testev.Builder{}).MustBuild()
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: snp.DefaultRoots().Add(fake)})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := testmaa.PayloadFor(payloadOf(t, maaToken), claims, &testev.AKKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	emuPayload, err := testmaa.Edit(payload, func(m map[string]any) { m["iss"] = maa.EmulatedIssuer })
	if err != nil {
		t.Fatal(err)
	}
	realTok, realJWKS := testSigned(t, payload)
	emuTok, emuJWKS := testSigned(t, emuPayload)
	evFile := writeTemp(t, "emulated.json", ev.JSON)
	base := []string{"maa", "verify", "--trust-emulated", "--at", maaAt, "--offline", "--cache-dir", t.TempDir(), "--no-nonce", "--evidence", evFile}
	code, out, errOut := runBin(t, nil, append(base, "--jwks", realJWKS, "--issuer", testmaa.Issuer, realTok)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "REJECTED: maa-binding", "the evidence is the emulated CVM's")
	code, out, errOut = runBin(t, nil, append(base, "--jwks", emuJWKS, "--issuer", maa.EmulatedIssuer, emuTok)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, emulatedBanner, "VERIFIED (EMULATED MAA", "= --evidence")
}

// TestMAAEvidenceBinding: --evidence verifies our synthetic evidence and
// binds the token to it; the evidence of another VM is rejected.
func TestMAAEvidenceBinding(t *testing.T) {
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	ours := (&testev.Builder{}).MustBuild()
	cfg := testev.DefaultVMConfig()
	cfg.VMUniqueID = "11111111-2222-3333-4444-555555555555"
	other := (&testev.Builder{AK: testev.OtherRSAKey(), VMConfig: cfg}).MustBuild()
	claims, err := verify.Evidence(context.Background(), ours.JSON, ours.Nonce, verify.Config{Roots: testev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := testmaa.PayloadFor(payloadOf(t, maaToken), claims, &testev.AKKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, jwks := testSigned(t, payload)
	base := []string{"maa", "verify", "--jwks", jwks, "--issuer", testmaa.Issuer, "--at", maaAt, "--offline", "--cache-dir", t.TempDir(), "--roots", roots, "--nonce", string(ours.Nonce)}
	// The token's client nonce is the real one; ours differs: check it separately.
	code, out, errOut := runBin(t, nil, append(base, "--evidence", writeTemp(t, "ours.json", ours.JSON), tok)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "maa-nonce")

	noNonce := append([]string{}, base[:len(base)-2]...)
	code, out, errOut = runBin(t, nil, append(noNonce, "--no-nonce", "--evidence", writeTemp(t, "ours.json", ours.JSON), tok)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, "binding", "= --evidence")

	code, out, errOut = runBin(t, nil, append(noNonce, "--no-nonce", "--evidence", writeTemp(t, "other.json", other.JSON), tok)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "REJECTED: maa-binding")

	code, out, errOut = runBin(t, nil, append(noNonce, "--evidence", writeTemp(t, "ours.json", ours.JSON), tok)...)
	wantExit(t, code, 1, out, errOut)
	wantContains(t, "stderr", errOut, "nonce")
}
