package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestReleaseLinksNoPrivateTestKeys: the release binary (CGO_ENABLED=0,
// no emulator) links no package that holds committed private keys or
// mints with them: the emulated CVMs' (fakekeys), the emulated MAA's
// (maa/fakemaa; it was linked, unusable, for "--emulate maa attest"), nor
// the test chains' (internal/testev, amdcert, intelcert, tdxtest,
// testmaa). Of the emulator, only the public fake certificates (fakeamd,
// fakeintel) are, for --trust-emulated.
func TestReleaseLinksNoPrivateTestKeys(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	cmd := exec.Command(goTool, "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/snp-vtpm/snp-vtpm/"
	publicFakes := map[string]bool{
		mod + "emulator/fakeamd": true, mod + "emulator/fakeamd/internal/params": true,
		mod + "emulator/fakeintel": true, mod + "emulator/fakeintel/internal/params": true,
	}
	forbidden := []string{"maa/fakemaa", "internal/testev", "internal/amdcert", "internal/intelcert", "internal/tdxtest", "internal/testmaa", "internal/testutil"}
	for _, dep := range strings.Fields(string(out)) {
		bad := strings.Contains(dep, "/fakekeys") || (strings.HasPrefix(dep, mod+"emulator") && !publicFakes[dep])
		for _, f := range forbidden {
			bad = bad || strings.HasPrefix(dep, mod+f)
		}
		if bad {
			t.Errorf("the release binary links %s", dep)
		}
	}
}
