package evidence

import (
	"bytes"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestDecodeWithoutPCRs: every real evidence document (v0, v1, v2, TDX)
// with "pcrs" removed decodes to the same evidence with Quote.PCRs nil,
// and Encode writes it back without "pcrs".
func TestDecodeWithoutPCRs(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			full, err := Decode(testutil.ReadFile(t, g.file))
			if err != nil {
				t.Fatal(err)
			}
			e, err := Decode(testutil.DropPCRs(t, testutil.ReadFile(t, g.file)))
			if err != nil {
				t.Fatalf("no-PCR evidence rejected: %v", err)
			}
			if e.Quote.PCRs != nil {
				t.Fatalf("PCRs %v, want nil (unknown)", e.Quote.PCRs)
			}
			if e.Version != full.Version || !bytes.Equal(e.Quote.Message, full.Quote.Message) ||
				!bytes.Equal(e.Quote.Signature, full.Quote.Signature) || !bytes.Equal(e.HCLReport, full.HCLReport) ||
				!bytes.Equal(e.VCEK, full.VCEK) || !bytes.Equal(e.TDQuote, full.TDQuote) {
				t.Fatal("dropping pcrs changed another field")
			}
			enc, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(enc, []byte(`"pcrs"`)) {
				t.Fatalf("Encode wrote pcrs for unknown PCR values: %.120s", enc)
			}
			back, err := Decode(enc)
			if err != nil || back.Quote.PCRs != nil || !bytes.Equal(back.Quote.Message, e.Quote.Message) {
				t.Fatalf("Decode(Encode(e)): %v", err)
			}
		})
	}
}

// TestPCRsPresence: absent, empty and null "pcrs" are three different
// things: unknown (nil), an empty list (non-nil), an error.
func TestPCRsPresence(t *testing.T) {
	msg := `"message":"ff544347","signature":"01"`
	tests := []struct {
		name    string
		quote   string
		wantNil bool
		wantErr error
	}{
		{"absent", `{` + msg + `}`, true, nil},
		{"empty", `{` + msg + `,"pcrs":[]}`, false, nil},
		{"null", `{` + msg + `,"pcrs":null}`, false, format.ErrBadJSON},
		{"object", `{` + msg + `,"pcrs":{}}`, false, format.ErrBadJSON},
		{"duplicate", `{` + msg + `,"pcrs":[],"pcrs":[]}`, false, format.ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := DecodeQuoteJSON([]byte(tc.quote))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (q.PCRs == nil) != tc.wantNil || len(q.PCRs) != 0 {
				t.Fatalf("PCRs %v, want nil %v", q.PCRs, tc.wantNil)
			}
			doc := []byte(`{"version":1,"tpm_quote":` + tc.quote + `,"hcl_report":"AA=="}`)
			e, err := Decode(doc)
			if err != nil || (e.Quote.PCRs == nil) != tc.wantNil {
				t.Fatalf("Decode: %v, PCRs %v", err, e)
			}
		})
	}
}
