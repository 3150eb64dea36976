package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readmeVerdict is the comment after a README verify command:
// "# VERIFIED ... exit 0" or "# REJECTED: <check> <words> ... exit N".
var readmeVerdict = regexp.MustCompile(`#\s*(VERIFIED|REJECTED: ([a-z0-9-]+))(.*?)exit (\d)\s*$`)

// readmeVerifyCommands returns the "./snp-vtpm verify" commands of README.md
// (backslash continuations joined) with the verdict comment of each.
func readmeVerifyCommands(t *testing.T) (cmds []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cur string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case cur != "":
			cur += " " + strings.TrimSpace(line)
		case strings.HasPrefix(line, "./snp-vtpm verify "):
			cur = line
		default:
			continue
		}
		if strings.HasSuffix(cur, `\`) {
			cur = strings.TrimSuffix(cur, `\`)
			continue
		}
		cmds = append(cmds, cur)
		cur = ""
	}
	return cmds
}

// TestReadmeVerifyCommands runs the README's verify commands on the shipped
// fixtures as written (a newcomer's first commands) and checks the exit
// status, verdict and named check their comments promise.
func TestReadmeVerifyCommands(t *testing.T) {
	cmds := readmeVerifyCommands(t)
	if len(cmds) < 3 {
		t.Fatalf("README.md shows %d ./snp-vtpm verify commands, want at least 3", len(cmds))
	}
	for _, c := range cmds {
		m := readmeVerdict.FindStringSubmatch(c)
		if m == nil {
			t.Errorf("README command without a verdict comment (# VERIFIED/REJECTED: ... exit N): %s", c)
			continue
		}
		shell, _, _ := strings.Cut(c, "#")
		shell, _, _ = strings.Cut(shell, ";") // drops: echo "exit $?"
		args := strings.Fields(shell)[1:]
		for i, a := range args {
			if strings.HasPrefix(a, "testdata/") {
				args[i] = "../../" + a
			}
		}
		args = append(args, "--cache-dir", t.TempDir())
		code, out, errOut := runCLI(t, args...)
		if want, _ := strconv.Atoi(m[4]); code != want {
			t.Errorf("%s\nexit %d, README says %d; stderr:\n%s", c, code, want, errOut)
		}
		if m[2] == "" && !strings.HasPrefix(out, "VERIFIED") {
			t.Errorf("%s\nstdout does not start with VERIFIED:\n%.300s", c, out)
		}
		if m[2] != "" && !strings.Contains(errOut, "REJECTED: "+m[2]+" check failed") {
			t.Errorf("%s\nstderr does not name check %s:\n%s", c, m[2], errOut)
		}
		for w := range strings.FieldsSeq(m[3]) {
			if w = strings.Trim(w, ".,"); w != "" && !strings.Contains(errOut+out, w) {
				t.Errorf("%s\noutput lacks %q, which the README's comment promises", c, w)
			}
		}
	}
}

// TestReadmePolicyExample: the policy the README shows under "--policy
// FILE" is a valid policy as written and accepts the shipped evidence it
// says it accepts; a copy of it that changes the pinned PCR 7 rejects
// that evidence (pcr-policy), so the example pins something. It held the
// placeholder "init_data_digest": "<64 hex: ...>", which a newcomer's copy
// turned into "policy: ... is not hex" (exit 1).
func TestReadmePolicyExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "- `--policy FILE`: JSON")
	if !ok {
		t.Fatal("README.md has no --policy FILE item")
	}
	_, block, ok := strings.Cut(after, "```json\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md's --policy FILE item has no json block")
	}
	ev := verifySNPDir + "evidence-v1.json"
	pcr7 := "3b20e022416fdf61d72e4da32b4354781be3de0608116976d28ffdad8c341d2a"
	if !strings.Contains(block, pcr7) {
		t.Fatalf("the example no longer pins PCR 7 of %s:\n%s", ev, block)
	}
	for _, tc := range []struct {
		name, policy string
		code         int
		want         string
	}{
		{"as written", block, exitOK, "VERIFIED"},
		{"another PCR 7", strings.Replace(block, pcr7, strings.Repeat("00", 32), 1), exitRejected, "REJECTED: pcr-policy check failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "verify", "--offline", "--at", verifyAt, "--policy", writeTemp(t, "policy.json", []byte(tc.policy)), "--nonce", "challenge", ev)
			wantExit(t, code, tc.code, out, errOut)
			if !strings.Contains(out+errOut, tc.want) {
				t.Errorf("output lacks %q:\n%s\n%s", tc.want, out, errOut)
			}
		})
	}
}
