package verify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestParsePolicyStrictJSON: a policy file is ours, so its JSON is read with
// every leniency off; each class of ambiguity is an error of its kind that
// names the member.
func TestParsePolicyStrictJSON(t *testing.T) {
	p32 := strings.Repeat("07", 32)
	m48 := strings.Repeat("ab", 48)
	tests := []struct {
		name string
		json string
		kind error
		ptr  string
	}{
		{"duplicate top level", `{"allow_debug":false,"allow_debug":true}`, strictjson.ErrDuplicateKey, "/allow_debug"},
		{"duplicate measurements drops a requirement", `{"measurements":["` + m48 + `"],"measurements":[]}`, strictjson.ErrDuplicateKey, "/measurements"},
		{"duplicate PCR", `{"pcrs":{"7":"` + p32 + `","7":"` + p32 + `"}}`, strictjson.ErrDuplicateKey, "/pcrs/7"},
		{"PCR index written twice differently", `{"pcrs":{"7":"` + p32 + `","07":"` + p32 + `"}}`, strictjson.ErrInvalidValue, "/pcrs/07"},
		{"duplicate nested", `{"min_tcb":{"snp":8,"snp":0}}`, strictjson.ErrDuplicateKey, "/min_tcb/snp"},
		{"unknown member", `{"allow_debug":false,"require_everything":true}`, strictjson.ErrUnknownMember, "/require_everything"},
		{"unknown nested", `{"min_tcb":{"snp":8,"sev":1}}`, strictjson.ErrUnknownMember, "/min_tcb/sev"},
		{"case variant", `{"Allow_Debug":true}`, strictjson.ErrUnknownMember, "/Allow_Debug"},
		{"case variant nested", `{"min_tcb":{"SNP":8}}`, strictjson.ErrUnknownMember, "/min_tcb/SNP"},
		{"invalid UTF-8", "{\"products\":[\"Milan\xff\"]}", strictjson.ErrInvalidUTF8, "/products/0"},
		{"invalid UTF-8 in key", "{\"pr\xffoducts\":[]}", strictjson.ErrInvalidUTF8, ""},
		{"trailing data", `{"allow_debug":false} {"allow_debug":true}`, strictjson.ErrTrailingData, ""},
		{"too deep", `{"products":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, strictjson.ErrTooDeep, ""},
		{"too large", `{"products":["` + strings.Repeat("x", strictjson.DefaultMaxBytes) + `"]}`, strictjson.ErrTooLarge, ""},
		{"measurement not hex", `{"measurements":["zz"]}`, strictjson.ErrInvalidValue, "/measurements/0"},
		{"TCB over 255", `{"min_tcb":{"snp":256}}`, strictjson.ErrInvalidValue, "/min_tcb/snp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.ParsePolicy([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			se, ok := errors.AsType[*strictjson.Error](err)
			if !ok || !errors.Is(err, tc.kind) || se.Pointer != tc.ptr {
				t.Fatalf("err = %v, want %v at %q", err, tc.kind, tc.ptr)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") || len(err.Error()) > 400 {
				t.Errorf("message %.200q", err)
			}
		})
	}
}

// TestHexBytesUnmarshalJSON: HexBytes reads its string with the strict decoder.
func TestHexBytesUnmarshalJSON(t *testing.T) {
	var h verify.HexBytes
	if err := h.UnmarshalJSON([]byte(`"0aFF"`)); err != nil || h.String() != "0aff" {
		t.Fatalf("%v %s", err, h)
	}
	for _, in := range []string{`"0a" x`, "\"0a\xff\"", `5`, `"0g"`, `"abc"`} {
		if err := h.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
