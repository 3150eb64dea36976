package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
)

// oracleAttestRequest is the request decoder before the one-pass scanner:
// strict decoding into AttestRequest (evidence copied by json.RawMessage),
// the oracle both paths of readAttestRequest are held to.
// The maa_token member, when present and not null, must also match
// oracleMAAToken (errMAAToken otherwise).
func oracleAttestRequest(body []byte, maxBytes int) (*AttestRequest, error) {
	var req AttestRequest
	if err := strictjson.Unmarshal(body, &req, strictjson.Options{MaxBytes: maxBytes, RejectUnknown: true}); err != nil {
		return nil, err
	}
	var tok struct {
		MAAToken *string `json:"maa_token"`
	}
	if err := strictjson.Unmarshal(body, &tok, strictjson.Options{MaxBytes: maxBytes}); err != nil {
		return nil, err
	}
	if tok.MAAToken != nil && (len(*tok.MAAToken) > MaxMAATokenBytes || !oracleMAAToken.MatchString(*tok.MAAToken)) {
		return nil, errMAAToken
	}
	return &req, nil
}

// oracleMAAToken is the shape of a compact JWS: three non-empty base64url
// parts joined by dots.
var oracleMAAToken = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// sameRequest compares two decoded requests, nil and empty byte slices
// apart.
func sameRequest(a, b *AttestRequest) bool {
	return bytes.Equal(a.Challenge, b.Challenge) && (a.Challenge == nil) == (b.Challenge == nil) &&
		bytes.Equal(a.PublicKey, b.PublicKey) && (a.PublicKey == nil) == (b.PublicKey == nil) &&
		bytes.Equal(a.Evidence, b.Evidence) && (a.Evidence == nil) == (b.Evidence == nil) && a.Resource == b.Resource &&
		a.MAAToken == b.MAAToken
}

// FuzzReadAttestRequest: readAttestRequest accepts and rejects exactly
// what the oracle does, with the same error kind, and gives the same
// request; what the one-pass scanner accepts on its own, the oracle
// accepts too, with the same request.
func FuzzReadAttestRequest(f *testing.F) {
	for _, s := range []string{
		`{"challenge":"AAAA","public_key":"AQID","evidence":{"version":1,"a":[1,{"b":null}]}}`,
		`{"challenge":"AAAA","evidence":"ZXZpZGVuY2U=","resource":"db"}`,
		`{"challenge":"AAAA","evidence":{"a":1,"a":2}}`,
		`{"evidence":{"x":"` + "\xff" + `"}}`,
		`{"Evidence":{}}`,
		`{"evidence":null} {}`,
		`{"evidence":[1,2,3],"evidence":{}}`,
		`{"evidence":null,"challenge":null,"public_key":"","resource":null}`,
		`{"challenge":"AA==","public_key":"AAA=","resource":"a\u00e9"}`,
		"{\"challenge\":\"AA\\nAA\"}",
		`{"\u0063hallenge":"AAAA"}`,
		` { "evidence" : { "version" : 2 } } `,
		`{"challenge":"AAAA","evidence":{},"maa_token":"eyJh.eyJi.c2ln"}`,
		`{"maa_token":null,"resource":"db"}`,
		`{"maa_token":""}`,
		`{"maa_token":"a.b"}`,
		`{"maa_token":"a..b"}`,
		`{"maa_token":".a.b"}`,
		`{"maa_token":"a.b.c d"}`,
		`{"maa_token":"a.b.c","maa_token":"a.b.c"}`,
		`{"maa_token":"\u0061.b.c"}`,
		`{"maa_token":"a.b.c\n"}`,
		`{"maa_token":7}`,
		`{"maa_token":["a.b.c"]}`,
		`{"MAA_token":"a.b.c"}`,
	} {
		f.Add([]byte(s), uint16(1<<15))
	}
	f.Fuzz(func(t *testing.T, body []byte, maxBytes uint16) {
		max := int(maxBytes)
		want, werr := oracleAttestRequest(body, max)
		if req, tok, ok := scanAttestRequest(body, strictjson.Options{MaxBytes: max, RejectUnknown: true}); ok {
			var terr error
			if req.MAAToken, terr = checkMAAToken(tok); terr != nil {
				if !errors.Is(werr, errMAAToken) {
					t.Fatalf("scanner refused the maa_token (%v); oracle: %v", terr, werr)
				}
				return
			}
			if werr != nil || !sameRequest(req, want) {
				t.Fatalf("scanner accepted %+v; oracle: %+v, %v", req, want, werr)
			}
		}
		got, err := readAttestRequest(bytes.NewReader(body), int64(max), int64(len(body)))
		if (err == nil) != (werr == nil) {
			t.Fatalf("readAttestRequest: %v; oracle: %v", err, werr)
		}
		if err != nil {
			if errors.Is(err, errMAAToken) || errors.Is(werr, errMAAToken) {
				if !errors.Is(err, errMAAToken) || !errors.Is(werr, errMAAToken) {
					t.Fatalf("errors differ: %v; %v", err, werr)
				}
				return
			}
			var e1, e2 *strictjson.Error
			if !errors.As(err, &e1) || !errors.As(werr, &e2) || e1.Kind != e2.Kind {
				t.Fatalf("errors differ: %v; %v", err, werr)
			}
			return
		}
		if !sameRequest(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

// TestScanAttestRequest: the requests attesters send are read in one
// pass, not handed to the reflecting decoder, and decode as the oracle
// decodes them.
func TestScanAttestRequest(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	ch, pub := b64(bytes.Repeat([]byte{7}, ChallengeSize)), b64(bytes.Repeat([]byte{9}, 32))
	var bodies []string
	for _, v := range []int{1, 2} {
		ev, err := (&testev.Builder{Nonce: []byte("n"), Version: v}).Build()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies,
			fmt.Sprintf(`{"challenge":%q,"evidence":%s,"public_key":%q}`, ch, ev.JSON, pub),
			fmt.Sprintf("{\n  \"challenge\": %q,\n  \"public_key\": %q,\n  \"resource\": \"db-password\",\n  \"evidence\": %s\n}\n", ch, pub, ev.JSON),
			fmt.Sprintf(`{"challenge":%q,"public_key":%q,"evidence":%q}`, ch, pub, b64(ev.JSON)),
			fmt.Sprintf(`{"challenge":%q,"evidence":%s,"public_key":%q,"maa_token":"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"}`, ch, ev.JSON, pub))
	}
	for i, body := range bodies {
		o := strictjson.Options{MaxBytes: DefaultMaxBodyBytes, RejectUnknown: true}
		got, tok, ok := scanAttestRequest([]byte(body), o)
		if !ok {
			t.Errorf("request %d: the scanner gave up", i)
			continue
		}
		var err error
		if got.MAAToken, err = checkMAAToken(tok); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		want, err := oracleAttestRequest([]byte(body), DefaultMaxBodyBytes)
		if err != nil || !sameRequest(got, want) || i%4 == 3 && want.MAAToken == "" {
			t.Errorf("request %d: scanner %+v; oracle %+v, %v", i, got, want, err)
		}
		if len(got.Challenge) != ChallengeSize || len(got.PublicKey) != 32 || !strings.HasPrefix(string(got.Evidence), `{`) && !strings.HasPrefix(string(got.Evidence), `"`) {
			t.Errorf("request %d: %+v", i, got)
		}
	}
}

// BenchmarkReadAttestRequest: decoding a v1 request body (one VM's
// evidence, 8 KB), the buffer read: "scan" is readAttestRequest's one
// pass, "strict" the reflecting decoder it falls back to.
func BenchmarkReadAttestRequest(b *testing.B) {
	ev, err := (&testev.Builder{Nonce: []byte("n"), Version: 1}).Build()
	if err != nil {
		b.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	body := []byte(fmt.Sprintf(`{"challenge":%q,"evidence":%s,"public_key":%q}`,
		b64(make([]byte, ChallengeSize)), ev.JSON, b64(make([]byte, 32))))
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for range b.N {
			if _, err := decodeAttestRequest(body, DefaultMaxBodyBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for range b.N {
			var w attestRequestWire
			if err := strictjson.Unmarshal(body, &w, strictjson.Options{MaxBytes: DefaultMaxBodyBytes, RejectUnknown: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCheckMAATokenShape: a maa_token is accepted only as three non-empty
// parts of base64url bytes joined by dots, of at most MaxMAATokenBytes:
// each byte value in the middle of a part, each misplaced dot and one
// byte over the bound are errMAAToken.
func TestCheckMAATokenShape(t *testing.T) {
	check := func(tok string) error {
		_, err := checkMAAToken(&tok)
		if err != nil && !errors.Is(err, errMAAToken) {
			t.Fatalf("%q: %v, not errMAAToken", tok, err)
		}
		return err
	}
	for c := range 256 {
		b := byte(c)
		alphabet := b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
		tok := "ab.c" + string([]byte{b}) + "d.ef"
		if err := check(tok); (err == nil) != alphabet {
			t.Errorf("byte %#02x: %v", b, err)
		}
	}
	for _, tok := range []string{"", ".b.c", "a.b.", "a..b", "a.b", "a.b.c.d", "abc"} {
		if check(tok) == nil {
			t.Errorf("%q accepted", tok)
		}
	}
	long := "a.b." + strings.Repeat("c", MaxMAATokenBytes-4)
	if err := check(long); err != nil {
		t.Errorf("%d bytes: %v", len(long), err)
	}
	if check(long+"c") == nil {
		t.Errorf("%d bytes accepted", len(long)+1)
	}
	if tok, err := checkMAAToken(nil); tok != "" || err != nil {
		t.Errorf("nil: %q, %v", tok, err)
	}
}
