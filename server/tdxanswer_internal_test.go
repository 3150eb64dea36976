package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// claimsWithValueTCB is Claims as it was before reported_tcb became
// optional: the SEV-SNP answer must still be these bytes.
type claimsWithValueTCB struct {
	Platform         string           `json:"platform,omitempty"`
	TCBStatus        string           `json:"tcb_status,omitempty"`
	Product          string           `json:"product"`
	ChipID           verify.HexBytes  `json:"chip_id"`
	ReportedTCB      snp.TCBParts     `json:"reported_tcb"`
	Measurement      verify.HexBytes  `json:"measurement"`
	IDKeyDigest      verify.HexBytes  `json:"id_key_digest"`
	Paravisor        string           `json:"paravisor"`
	ParavisorVoucher string           `json:"paravisor_voucher,omitempty"`
	VMUniqueID       string           `json:"vm_unique_id,omitempty"`
	EvidenceVersion  int              `json:"evidence_version"`
	FreshReport      bool             `json:"fresh_report"`
	Emulated         bool             `json:"emulated"`
	EventLog         *EventLogSummary `json:"event_log,omitempty"`
}

// TestAnswerReportedTCB: the answer for the real Azure TDX evidence has
// no reported_tcb (it held zeros, a TCB of 0.0.0.0 that no TD has), nor
// product, chip_id or id_key_digest (they held "": a TD has no AMD
// product, CHIP_ID or ID block), and the client reads it; the one for the
// real Azure SEV-SNP evidence is byte for byte the answer of before, its
// reported TCB, product, chip id and ID key digest included.
func TestAnswerReportedTCB(t *testing.T) {
	answer := func(dir string, at time.Time) []byte {
		t.Helper()
		c, err := verify.Evidence(context.Background(), testutil.ReadFile(t, dir+"evidence-v1.json"), []byte("challenge"), verify.Config{Now: at})
		if err != nil {
			t.Fatal(err)
		}
		b, err := appendAttestResponse(nil, &AttestResponse{Ciphertext: []byte{1}, Suite: Suite, Claims: summarize(c)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tdx := answer(testutil.TDXDir, testutil.TDXFixtureTime())
	for _, member := range []string{"reported_tcb", "product", "chip_id", "id_key_digest"} {
		if bytes.Contains(tdx, []byte(`"`+member+`"`)) {
			t.Errorf("TDX answer %s: want no %s", tdx, member)
		}
	}
	if !bytes.Contains(tdx, []byte(`"platform":"tdx"`)) || !bytes.Contains(tdx, []byte(`"measurement":"024a32b0`)) {
		t.Errorf("TDX answer %s: want the platform and the MRTD", tdx)
	}
	// The client reads the TDX answer as it is.
	var ar AttestResponse
	if err := strictjson.Unmarshal(tdx, &ar, responseOptions()); err != nil || ar.Claims.Platform != "tdx" || ar.Claims.Product != "" || ar.Claims.ChipID != nil {
		t.Errorf("the client reads the TDX answer as %+v, %v", ar.Claims, err)
	}

	got := answer(testutil.SNPDir, testutil.FixtureTime())
	var r struct {
		Ciphertext []byte             `json:"ciphertext"`
		Suite      string             `json:"suite"`
		Claims     claimsWithValueTCB `json:"claims"`
	}
	if err := json.Unmarshal(got, &r); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || r.Claims.ReportedTCB == (snp.TCBParts{}) || !strings.Contains(string(got), `"reported_tcb":{"bootloader":`) {
		t.Errorf("SEV-SNP answer\n got %s\nwant %s", got, want)
	}
}
