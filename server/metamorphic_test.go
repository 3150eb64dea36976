package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestAttestEvidenceEncodings: serve reads the evidence of an attest
// request as a JSON object or as a base64 string of the document
// (AttestRequest.Evidence; standard or URL alphabet, padded or not), and
// every form of the same real evidence, pretty-printed or not, gets the
// same answer. Real evidence cannot be over a fresh challenge, so that
// answer is 403 quote-nonce: every check before the nonce (chain, report
// signature, runtime data, quote signature) passed in each form.
func TestAttestEvidenceEncodings(t *testing.T) {
	s := newServer(t, Config{Secret: testSecret, Verifier: testVerifier(verify.Config{Now: testutil.FixtureTime()}), Logger: discardLogger()})
	ts := startHTTP(t, s)
	_, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	str := func(doc []byte, enc *base64.Encoding) []byte {
		return fmt.Appendf(nil, "%q", enc.EncodeToString(doc))
	}
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json", "evidence-v2.json", "evidence-genoa.json"} {
		doc := testutil.ReadFile(t, testutil.SNPDir+f)
		var compact, indented bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			t.Fatal(err)
		}
		if err := json.Indent(&indented, doc, "", "\t"); err != nil {
			t.Fatal(err)
		}
		for name, ev := range map[string][]byte{
			"object as is":                        doc,
			"object compact":                      compact.Bytes(),
			"object indented, CRLF":               bytes.ReplaceAll(indented.Bytes(), []byte("\n"), []byte("\r\n")),
			"base64 string, standard padded":      str(doc, base64.StdEncoding),
			"base64 string, standard unpadded":    str(doc, base64.RawStdEncoding),
			"base64 string, URL padded":           str(doc, base64.URLEncoding),
			"base64 string of the compact object": str(compact.Bytes(), base64.RawURLEncoding),
		} {
			t.Run(f+"/"+name, func(t *testing.T) {
				ch := getChallenge(t, ts.URL)
				body := fmt.Appendf(nil, `{"challenge":%q,"public_key":%q,"evidence":%s}`,
					base64.StdEncoding.EncodeToString(ch), base64.StdEncoding.EncodeToString(pub), ev)
				status, er, _ := postRaw(t, ts.URL+PathAttest, body)
				if status != http.StatusForbidden || er.Check != string(verify.CheckNonce) {
					t.Fatalf("%d %+v, want 403 %s", status, er, verify.CheckNonce)
				}
			})
		}
	}
}
