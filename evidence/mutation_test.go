package evidence

import (
	"encoding/json"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestDecoderMemoryKeyedOnField (mutation testing, mutation29a): what the
// Decoder remembers of one field (a v0 document's PEM "vcek", its byte
// array "report") never answers for the same text in another field, whose
// encoding differs (v1's base64 "vcek" and "hcl_report"): such documents
// decode as Decode decodes them, that is, they are rejected.
func TestDecoderMemoryKeyedOnField(t *testing.T) {
	v0 := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json")
	v1 := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	d := NewDecoder(100, 1<<24)
	e0, err := d.Decode(v0)
	if err != nil {
		t.Fatal(err)
	}
	d.Remember(e0)
	if d.Len() == 0 {
		t.Fatal("nothing of the v0 document remembered")
	}
	tokens := func(b []byte) map[string]string {
		var w map[string]json.RawMessage
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k, v := range w {
			out[k] = string(v)
		}
		return out
	}
	w0, w1 := tokens(v0), tokens(v1)
	pemTok, arrayTok := w0["vcek"], w0["report"]
	q, hcl := w1["tpm_quote"], w1["hcl_report"]
	docs := []string{
		`{"version":1,"tpm_quote":` + q + `,"hcl_report":` + hcl + `,"vcek":` + pemTok + `}`,
		`{"version":2,"tpm_quote":` + q + `,"hcl_report":` + hcl + `,"vcek":` + pemTok + `}`,
		`{"version":1,"tpm_quote":` + q + `,"hcl_report":` + pemTok + `}`,
		`{"version":1,"tpm_quote":` + q + `,"hcl_report":` + arrayTok + `}`,
	}
	for _, doc := range docs {
		if _, err := Decode([]byte(doc)); err == nil {
			t.Fatalf("Decode accepted %.80q", doc)
		}
		sameAsDecode(t, d, []byte(doc))
	}
}
