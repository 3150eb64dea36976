package server

import (
	"bytes"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// FuzzReadAttestRequest: readAttestRequest (evidence kept in place)
// accepts and rejects exactly what strict decoding into AttestRequest
// (evidence copied by json.RawMessage) does, with the same error kind,
// and gives the same request.
func FuzzReadAttestRequest(f *testing.F) {
	for _, s := range []string{
		`{"challenge":"AAAA","public_key":"AQID","evidence":{"version":1,"a":[1,{"b":null}]}}`,
		`{"challenge":"AAAA","evidence":"ZXZpZGVuY2U=","resource":"db"}`,
		`{"challenge":"AAAA","evidence":{"a":1,"a":2}}`,
		`{"evidence":{"x":"` + "\xff" + `"}}`,
		`{"Evidence":{}}`,
		`{"evidence":null} {}`,
		`{"evidence":[1,2,3],"evidence":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxBytes = 1 << 16
		got, err := readAttestRequest(bytes.NewReader(body), maxBytes, int64(len(body)))
		var want AttestRequest
		werr := strictjson.Unmarshal(body, &want, strictjson.Options{MaxBytes: maxBytes, RejectUnknown: true})
		if (err == nil) != (werr == nil) {
			t.Fatalf("readAttestRequest: %v; strict decoding: %v", err, werr)
		}
		if err != nil {
			var e1, e2 *strictjson.Error
			if errors.As(err, &e1) && errors.As(werr, &e2) && e1.Kind != e2.Kind {
				t.Fatalf("error kinds differ: %v; %v", err, werr)
			}
			return
		}
		if !bytes.Equal(got.Challenge, want.Challenge) || !bytes.Equal(got.Evidence, want.Evidence) ||
			!bytes.Equal(got.PublicKey, want.PublicKey) || got.Resource != want.Resource {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}
