package main

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// forgedIDKeys are ID_KEY_DIGESTs of guests that are not Azure's paravisor.
func forgedIDKeys(t *testing.T) map[string][48]byte {
	var random [48]byte
	if _, err := rand.Read(random[:]); err != nil {
		t.Fatal(err)
	}
	return map[string][48]byte{
		"zero":         {},
		"random":       random,
		"attacker key": sha512.Sum384([]byte("attacker ID key")),
		"ACI":          testev.ACIIDKeyDigest(),
		"emulator":     fakeamd.IDKeyDigest(),
	}
}

// TestVerifyParavisorForgery: synthetic evidence on a trusted (test) chip
// whose ID_KEY_DIGEST is not Azure's paravisor's is rejected with exit code
// 2 naming paravisor-identity, also with --trust-emulated for the
// emulator's public digest on a chip that is not the emulated one.
func TestVerifyParavisorForgery(t *testing.T) {
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	for name, d := range forgedIDKeys(t) {
		t.Run(name, func(t *testing.T) {
			ev := (&testev.Builder{IDKeyDigest: &d}).MustBuild()
			file := writeTemp(t, "forged.json", ev.JSON)
			nonce := hex.EncodeToString(ev.Nonce)
			for _, extra := range [][]string{nil, {"--trust-emulated"}, {"--json"}} {
				args := append([]string{"--roots", roots, "--nonce-hex", nonce}, extra...)
				code, out, errOut := verifyCLI(t, nil, append(args, file)...)
				wantExit(t, code, 2, out, errOut)
				if !strings.Contains(errOut, "paravisor-identity") {
					t.Errorf("%v: stderr does not name paravisor-identity:\n%s", extra, errOut)
				}
			}
			// Accepted with allow_any_paravisor, with a warning.
			pol := writeTemp(t, "any.json", []byte(`{"allow_any_paravisor":true}`))
			code, out, errOut := verifyCLI(t, nil, "--roots", roots, "--policy", pol, "--nonce-hex", nonce, file)
			wantExit(t, code, 0, out, errOut)
			if !strings.Contains(errOut, "allow_any_paravisor") || !strings.Contains(errOut, "forged by any SEV-SNP VMPL0 guest") {
				t.Errorf("no warning for allow_any_paravisor:\n%s", errOut)
			}
		})
	}
}

// TestRuntimeDataEscapedOnTerminal: the human output of verify and
// report -p escapes the runtime data's strings (vmUniqueId,
// root-cert-thumbprint, a key's kid, kty and key_ops). With
// allow_any_paravisor they are any VMPL0 guest's: printed raw, an escape
// sequence moved the cursor up and rewrote the "paravisor unknown (NOT A
// TRUSTED PARAVISOR)" line, or set the terminal's title. --json is JSON
// (escaped by the encoder) and unchanged.
func TestRuntimeDataEscapedOnTerminal(t *testing.T) {
	const esc = "\x1b[9A\x1b[2K  paravisor              azure-hcl\x1b]0;title\a"
	vc := testev.DefaultVMConfig()
	vc.VMUniqueID, vc.RootCertThumbprint = "ID"+esc, "T"+esc
	weird := hcl.NewRSAJWK("kid"+esc, []string{"sign" + esc}, &testev.EKKey().PublicKey)
	weird.Kty = "RSA" + esc
	rd, err := hcl.RuntimeData{Keys: []hcl.JWK{hcl.NewRSAJWK(hcl.KidAK, []string{"sign"}, &testev.AKKey().PublicKey), weird},
		VMConfig: vc}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	own := sha512.Sum384([]byte("attacker ID key"))
	ev := (&testev.Builder{Version: 1, IDKeyDigest: &own, VMConfig: vc, RuntimeData: rd}).MustBuild()
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	pol := writeTemp(t, "any.json", []byte(`{"allow_any_paravisor":true}`))
	hclFile, vcek := writeTemp(t, "hcl.bin", ev.Evidence.HCLReport), writeTemp(t, "vcek.der", ev.VCEKDER)
	for name, args := range map[string][]string{
		"verify":    {"verify", "--roots", roots, "--policy", pol, "--nonce-hex", hex.EncodeToString(ev.Nonce), writeTemp(t, "ev.json", ev.JSON)},
		"report -p": {"report", "-f", hclFile, "--vcek", vcek, "--roots", roots, "--policy", pol, "-p"},
	} {
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, 0, out, errOut)
		if strings.ContainsAny(out, "\x1b\a") {
			t.Errorf("%s: a control character of the runtime data reached the terminal:\n%q", name, out)
		}
		want := []string{`ID\x1b[9A\x1b[2K`, "paravisor              unknown (NOT A TRUSTED PARAVISOR)"}
		if name == "report -p" {
			want = append(want, `T\x1b[9A`, `key kid\x1b[9A`, `RSA\x1b[9A`, `sign\x1b[9A`)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", name, w, out)
			}
		}
	}
}

// TestVerifyParavisorPolicy checks id_key_digests from a policy file and
// the paravisor claims in human and JSON output.
func TestVerifyParavisorPolicy(t *testing.T) {
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	d := sha512.Sum384([]byte("a new paravisor key"))
	ev := (&testev.Builder{IDKeyDigest: &d}).MustBuild()
	file := writeTemp(t, "ev.json", ev.JSON)
	nonce := hex.EncodeToString(ev.Nonce)
	pol := writeTemp(t, "pol.json", []byte(`{"id_key_digests":["`+hex.EncodeToString(d[:])+`"]}`))
	var c struct {
		Paravisor   string `json:"paravisor"`
		IDKeyDigest string `json:"id_key_digest"`
		Author      string `json:"author_key_digest"`
		FamilyID    string `json:"family_id"`
		ImageID     string `json:"image_id"`
		GuestSVN    *int   `json:"guest_svn"`
	}
	cliJSON(t, 0, &c, "verify", "--offline", "--roots", roots, "--policy", pol, "--json", "--nonce-hex", nonce, file)
	if c.Paravisor != "policy" || c.IDKeyDigest != hex.EncodeToString(d[:]) || len(c.Author) != 96 || len(c.FamilyID) != 32 || len(c.ImageID) != 32 || c.GuestSVN == nil {
		t.Errorf("claims %+v", c)
	}
	// Without the policy: rejected, and the message says how to add it.
	code, out, errOut := verifyCLI(t, nil, "--roots", roots, "--nonce-hex", nonce, file)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, hex.EncodeToString(d[:]), "id_key_digests", "azure-hcl")
	// A policy trusting the zero digest is a usage error naming the field.
	bad := writeTemp(t, "bad.json", []byte(`{"id_key_digests":["`+strings.Repeat("00", 48)+`"]}`))
	code, out, errOut = verifyCLI(t, nil, "--roots", roots, "--policy", bad, "--nonce-hex", nonce, file)
	wantExit(t, code, 1, out, errOut)
	if !strings.Contains(errOut, "id_key_digests[0]") {
		t.Errorf("stderr does not name the field:\n%s", errOut)
	}
}

// TestVerifyRealParavisor checks that real evidence shows azure-hcl.
func TestVerifyRealParavisor(t *testing.T) {
	code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "output", out, "paravisor", "azure-hcl")
	code, out, errOut = verifyCLI(t, nil, "--json", "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, `"paravisor": "azure-hcl"`) {
		t.Errorf("JSON does not show the paravisor:\n%s", out)
	}
}

// TestServeParavisorForgery: serve releases no secret for forged evidence.
func TestServeParavisorForgery(t *testing.T) {
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--offline", "--trust-emulated", "--challenge-ttl", "30s")
	for name, d := range forgedIDKeys(t) {
		t.Run(name, func(t *testing.T) {
			build := built(func(b *testev.Builder) { b.IDKeyDigest = &d })
			gather := func(ctx context.Context, nonce []byte) ([]byte, error) { return build(nonce) }
			res, err := (&server.Client{URL: s.url}).Attest(context.Background(), gather)
			if res != nil {
				t.Fatalf("secret released: %q", res.Secret)
			}
			apiErr, ok := errors.AsType[*server.APIError](err)
			if !ok || !errors.Is(err, server.ErrRejected) || apiErr.Check != string(verify.CheckParavisorIdentity) {
				t.Fatalf("err = %v, want a paravisor-identity rejection", err)
			}
		})
	}
	if strings.Contains(s.stderr.String(), cliSecret) {
		t.Error("the secret is in the log")
	}
}
