package imds

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// TestParseStrictJSON: the THIM answer is read by the strict decoder; a
// second "vcekCert" (which one would be used?) and the other ambiguities
// are errors of the "body" field.
func TestParseStrictJSON(t *testing.T) {
	fx := readFixture(t)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(fx, &doc); err != nil {
		t.Fatal(err)
	}
	body := string(fx[:strings.LastIndexByte(string(fx), '}')])
	cases := []struct {
		name string
		in   string
		kind error
	}{
		{"duplicate vcekCert", body + `,"vcekCert":` + string(doc["vcekCert"]) + `}`, strictjson.ErrDuplicateKey},
		{"duplicate inside unknown", body + `,"x":{"a":1,"a":1}}`, strictjson.ErrDuplicateKey},
		{"case variant", body + `,"VcekCert":"x"}`, strictjson.ErrCaseMismatch},
		{"invalid UTF-8", body + ",\"x\":\"\xff\"}", strictjson.ErrInvalidUTF8},
		{"trailing data", string(fx) + `{}`, strictjson.ErrTrailingData},
		{"too deep", body + `,"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, strictjson.ErrTooDeep},
		{"too large", body + `,"x":"` + strings.Repeat("a", MaxBodySize) + `"}`, strictjson.ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			var fe *FormatError
			if !errors.Is(err, tc.kind) || !errors.As(err, &fe) || fe.Field != "body" {
				t.Fatalf("err = %v, want %v in body", err, tc.kind)
			}
		})
	}
	if _, err := Parse([]byte(body + `,"x":{"a":1}}`)); err != nil {
		t.Errorf("unknown member: %v", err)
	}
}
