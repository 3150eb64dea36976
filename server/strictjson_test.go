package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// TestAttestRequestStrictJSON: the request body is ours, so every
// ambiguity in it is a 400 "request" answer, decided before any
// verification; readAttestRequest names the kind of each.
func TestAttestRequestStrictJSON(t *testing.T) {
	s := newServer(t, testConfig())
	ts := startHTTP(t, s)
	_, pub, _ := GenerateKey()
	b64 := base64.StdEncoding.EncodeToString
	ch := b64(getChallenge(t, ts.URL))
	ev := string(evidenceFor(t, []byte("x")))
	evBody := ev[1 : len(ev)-1]
	req := func(extra string) string {
		return fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s%s}`, ch, b64(pub), ev, extra)
	}
	cases := []struct {
		name string
		body string
		kind error
	}{
		{"duplicate challenge", req(`,"challenge":"` + ch + `"`), strictjson.ErrDuplicateKey},
		{"duplicate evidence", req(`,"evidence":{}`), strictjson.ErrDuplicateKey},
		{"duplicate inside the evidence", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":{%s,"version":2}}`, ch, b64(pub), evBody), strictjson.ErrDuplicateKey},
		{"duplicate inside an unknown member of the evidence", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":{%s,"x":{"a":1,"a":2}}}`, ch, b64(pub), evBody), strictjson.ErrDuplicateKey},
		{"unknown member", req(`,"secret_please":true`), strictjson.ErrUnknownMember},
		{"case variant", fmt.Sprintf(`{"Challenge":%q,"public_key":%q,"evidence":%s}`, ch, b64(pub), ev), strictjson.ErrUnknownMember},
		{"invalid UTF-8", "{\"challenge\":\"" + ch + "\",\"public_key\":\"" + b64(pub) + "\",\"evidence\":{\"x\":\"\xff\"}}", strictjson.ErrInvalidUTF8},
		{"trailing data", req(``) + `{}`, strictjson.ErrTrailingData},
		{"too deep", req(`,"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70)), strictjson.ErrTooDeep},
		// []byte members in their one base64 form: no non-zero bits after
		// the last byte (a second spelling of the same challenge or key).
		{"challenge with bits after its last byte", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s}`, loseBits(t, ch), b64(pub), ev), strictjson.ErrInvalidValue},
		{"public key with bits after its last byte", fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%s}`, ch, loseBits(t, b64(pub)), ev), strictjson.ErrInvalidValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAttestRequest(strings.NewReader(tc.body), DefaultMaxBodyBytes, -1)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("readAttestRequest: %v, want %v", err, tc.kind)
			}
			status, er, _ := postRaw(t, ts.URL+PathAttest, []byte(tc.body))
			if status != http.StatusBadRequest || er.Check != CheckRequest {
				t.Fatalf("%d %+v, want 400 request", status, er)
			}
			if !strings.Contains(er.Error, tc.kind.Error()) || len(er.Error) > 600 {
				t.Errorf("error message %.200q does not say %q", er.Error, tc.kind)
			}
		})
	}
	// The well-formed request still goes through the decoder (it is then
	// rejected for its evidence, made for another nonce: 403, not 400).
	if _, err := readAttestRequest(strings.NewReader(req(``)), DefaultMaxBodyBytes, -1); err != nil {
		t.Fatalf("well-formed request: %v", err)
	}
	// Too large: the body bound of the configuration applies to the decoder too.
	if _, err := readAttestRequest(strings.NewReader(req(``)), 100, 1<<30); !errors.Is(err, strictjson.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	// Evidence sent as a base64 string is a JSON string read strictly too.
	for in, kind := range map[string]error{
		"\"AQ\xff\"":  strictjson.ErrInvalidUTF8,
		`"AQ"x`:       strictjson.ErrTrailingData,
		`"\u00zz"`:    strictjson.ErrSyntax,
		`"AQID" "AQ"`: strictjson.ErrTrailingData,
		// base64 in its one canonical form: no line breaks (Go's decoder
		// skips them), no non-zero bits after the last byte.
		`"AQ\nID"`:   format.ErrBadEncoding,
		`"AQID\r\n"`: format.ErrBadEncoding,
		`"\nAQI="`:   format.ErrBadEncoding,
		`"AR=="`:     format.ErrBadEncoding,
		`"AQJ"`:      format.ErrBadEncoding,
		`"_w-"`:      format.ErrBadEncoding,
		`"AQ="`:      format.ErrBadEncoding,
	} {
		if _, err := evidenceBytes([]byte(in)); !errors.Is(err, kind) {
			t.Errorf("evidenceBytes(%q): %v, want %v", in, err, kind)
		}
	}
}

// loseBits returns padded standard base64 s with a bit set after its last
// byte: the same bytes to a lenient decoder.
func loseBits(t *testing.T, s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := len(strings.TrimRight(s, "=")) - 1
	if i == len(s)-1 {
		t.Fatalf("%q has no bits after its last byte", s)
	}
	out := s[:i] + string(alphabet[strings.IndexByte(alphabet, s[i])|1]) + s[i+1:]
	if b, err := base64.StdEncoding.DecodeString(out); err != nil || base64.StdEncoding.EncodeToString(b) != s {
		t.Fatalf("%q: not a second spelling of %q", out, s)
	}
	return out
}

// TestClientResponsesStrictJSON: the client reads the server's answers with
// the strict decoder too.
func TestClientResponsesStrictJSON(t *testing.T) {
	ch := base64.StdEncoding.EncodeToString(make([]byte, ChallengeSize))
	for name, tc := range map[string]struct {
		body string
		kind error
	}{
		"duplicate":     {`{"challenge":"` + ch + `","challenge":"` + ch + `"}`, strictjson.ErrDuplicateKey},
		"unknown":       {`{"challenge":"` + ch + `","extra":1}`, strictjson.ErrUnknownMember},
		"case variant":  {`{"Challenge":"` + ch + `"}`, strictjson.ErrUnknownMember},
		"invalid UTF-8": {"{\"challenge\":\"" + ch + "\",\"suite\":\"\xff\"}", strictjson.ErrInvalidUTF8},
		"trailing":      {`{"challenge":"` + ch + `"}{}`, strictjson.ErrTrailingData},
	} {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			defer ts.Close()
			_, err := (&Client{URL: ts.URL}).challenge(context.Background())
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
		})
	}
}
