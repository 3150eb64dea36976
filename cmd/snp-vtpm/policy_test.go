package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestPolicyDerive: the policy derived from evidence accepts that evidence
// and rejects evidence of another VM (another launch measurement, another
// PCR value, another product line), on synthetic and real evidence.
func TestPolicyDerive(t *testing.T) {
	nonce := []byte("derive nonce")
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	build := func(change func(b *testev.Builder)) string {
		b := &testev.Builder{Nonce: nonce}
		change(b)
		return writeTemp(t, "ev.json", b.MustBuild().JSON)
	}
	this := build(func(*testev.Builder) {})
	otherMeasurement := [48]byte{1, 2, 3}
	otherPCRs := testev.DefaultPCRs()
	otherPCRs[7] = make([]byte, 32)
	code, out, errOut := verifyCLI(t, nil, "--roots", roots, "--nonce", string(nonce), this)
	wantExit(t, code, exitOK, out, errOut)

	code, policy, errOut := runCLI(t, "policy", "derive", "--offline", "--roots", roots, "--pcrs", "0,2,4,7", "--nonce", string(nonce), this)
	wantExit(t, code, exitOK, policy, errOut)
	var p struct {
		MinTCB       map[string]int    `json:"min_tcb"`
		Measurements []string          `json:"measurements"`
		IDKeys       []string          `json:"id_key_digests"`
		Products     []string          `json:"products"`
		PCRs         map[string]string `json:"pcrs"`
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, policy)
	}
	if len(p.Measurements) != 1 || len(p.IDKeys) != 1 || len(p.Products) != 1 || len(p.PCRs) != 4 || p.MinTCB == nil {
		t.Fatalf("derived policy:\n%s", policy)
	}
	policyFile := writeTemp(t, "policy.json", []byte(policy))
	for _, tc := range []struct {
		name, file, check string
	}{
		{"the same VM", this, ""},
		{"another measurement", build(func(b *testev.Builder) { b.Measurement = &otherMeasurement }), "measurement"},
		{"another PCR 7", build(func(b *testev.Builder) { b.PCRs = otherPCRs }), "pcr-policy"},
	} {
		code, out, errOut := verifyCLI(t, nil, "--roots", roots, "--policy", policyFile, "--nonce", string(nonce), tc.file)
		if tc.check == "" {
			wantExit(t, code, exitOK, out, errOut)
			continue
		}
		wantExit(t, code, exitRejected, out, errOut)
		if !strings.Contains(errOut, tc.check+" check failed") {
			t.Errorf("%s: stderr does not name %s:\n%s", tc.name, tc.check, errOut)
		}
	}

	// Real evidence: the policy of the Milan VM rejects the Genoa VM.
	code, policy, errOut = runCLI(t, "policy", "derive", "--offline", "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, exitOK, policy, errOut)
	realPolicy := writeTemp(t, "real.json", []byte(policy))
	code, out, errOut = verifyCLI(t, nil, "--at", verifyAt, "--policy", realPolicy, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, exitOK, out, errOut)
	code, out, errOut = verifyCLI(t, nil, "--at", verifyAt, "--policy", realPolicy, "--no-nonce", verifySNPDir+"evidence-genoa.json")
	wantExit(t, code, exitRejected, out, errOut)
}

func TestPolicyDeriveUsage(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--pcrs", "24", "--nonce", "challenge", ev}, exitUsage, "not a PCR index"},
		{[]string{"--pcrs", "1,1", "--nonce", "challenge", ev}, exitUsage, "twice"},
		{[]string{ev}, exitUsage, "a nonce is required"},
		{[]string{"--nonce", "other", ev}, exitRejected, "quote-nonce"},
	} {
		code, out, errOut := runCLI(t, append([]string{"policy", "derive", "--offline", "--at", verifyAt}, tc.args...)...)
		wantExit(t, code, tc.code, out, errOut)
		if out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stdout %q, stderr lacks %q:\n%s", tc.args, out, tc.want, errOut)
		}
	}
}

// TestVersion runs the built binary's version command.
func TestVersion(t *testing.T) {
	code, out, errOut := runBin(t, nil, "version", "--json")
	wantExit(t, code, exitOK, out, errOut)
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if v.GoVersion != runtime.Version() || v.Module != "github.com/snp-vtpm/snp-vtpm" || v.Build.Emulator != emulatorBuiltIn || len(v.Paravisors) == 0 {
		t.Errorf("version: %+v", v)
	}
	want := map[string]bool{}
	for _, p := range snp.Products() {
		for _, c := range snp.DefaultRoots().Chains(p) {
			sum := sha256.Sum256(c.ARK.Raw)
			want[string(p)+" ARK "+hex.EncodeToString(sum[:])] = true
		}
	}
	for _, r := range v.Roots {
		delete(want, r.Product+" "+r.Cert+" "+r.SHA256)
	}
	if len(want) != 0 || len(v.Roots) < 6 {
		t.Errorf("ARK fingerprints missing: %v (got %v)", want, v.Roots)
	}
	code, out, errOut = runBin(t, nil, "version")
	wantExit(t, code, exitOK, out, errOut)
	if !strings.Contains(out, "pinned AMD roots") || !strings.Contains(out, v.Roots[0].SHA256) || errOut != "" {
		t.Errorf("version:\n%s\nstderr:\n%s", out, errOut)
	}
}

// TestPolicyDeriveEmulatedWarns: a policy derived (with --trust-emulated)
// from evidence of the emulated CVM comes with a warning on stderr that
// says EMULATED (the JSON policy has no member for it); one derived from
// other evidence has none.
func TestPolicyDeriveEmulatedWarns(t *testing.T) {
	emu := testev.Emulated(testev.Builder{}).MustBuild()
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	other := (&testev.Builder{}).MustBuild()
	for _, tc := range []struct {
		name string
		args []string
		ev   *testev.Evidence
		warn bool
	}{
		{"emulated", []string{"--trust-emulated"}, emu, true},
		{"testev chain", []string{"--roots", roots}, other, false},
	} {
		args := append([]string{"policy", "derive", "--offline", "--nonce-hex", hex.EncodeToString(tc.ev.Nonce)}, tc.args...)
		code, out, errOut := runCLI(t, append(args, writeTemp(t, "ev.json", tc.ev.JSON))...)
		wantExit(t, code, exitOK, out, errOut)
		if strings.Contains(errOut, "EMULATED") != tc.warn {
			t.Errorf("%s: stderr (want a warning: %v):\n%s", tc.name, tc.warn, errOut)
		}
	}
}
