package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestVerifyFileOrStdin: "verify" gives the same answer and the same JSON
// claims for real evidence read from a file, from standard input ("-"),
// and from standard input pretty-printed with CRLF line ends; and the same
// rejection (exit 2, the same output) for another nonce ("challengf").
func TestVerifyFileOrStdin(t *testing.T) {
	cases := []struct {
		file  string
		nonce []string
	}{
		{verifySNPDir + "evidence-v0.json", []string{"--nonce", "challenge"}},
		{verifySNPDir + "evidence-v1.json", []string{"--nonce", "challenge"}},
		{verifySNPDir + "evidence-v2.json", []string{"--nonce-hex", quoteNonceHex(t, "evidence-v2.json")}},
		{verifySNPDir + "evidence-genoa.json", []string{"--nonce-hex", quoteNonceHex(t, "evidence-genoa.json")}},
		{verifyTDXDir + "evidence-v0.json", []string{"--nonce", "challenge"}},
		{verifyTDXDir + "evidence-v1.json", []string{"--nonce", "challenge"}},
	}
	for _, tc := range cases {
		doc, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, doc, "", "\t"); err != nil {
			t.Fatal(err)
		}
		crlf := bytes.ReplaceAll(pretty.Bytes(), []byte("\n"), []byte("\r\n"))
		for _, nonce := range [][]string{tc.nonce, {"--nonce", "challengf"}} {
			args := append([]string{"--json", "--at", verifyAt}, nonce...)
			code, out, errOut := verifyCLI(t, nil, append(args, tc.file)...)
			if (code == 0) != (nonce[1] != "challengf") || (code != 0 && code != 2) {
				t.Fatalf("%s %v: exit %d\n%s\n%s", tc.file, nonce, code, out, errOut)
			}
			for name, stdin := range map[string][]byte{"stdin": doc, "stdin, indented with CRLF": crlf} {
				c, o, e := verifyCLI(t, stdin, append(args, "-")...)
				if c != code || o != out || e != errOut {
					t.Errorf("%s %v from %s: exit %d\n%s\n%s\nfrom the file: exit %d\n%s\n%s", tc.file, nonce, name, c, o, e, code, out, errOut)
				}
			}
		}
	}
}
