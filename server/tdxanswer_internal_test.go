package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

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
// no reported_tcb (it held zeros, a TCB of 0.0.0.0 that no TD has); the
// one for the real Azure SEV-SNP evidence is byte for byte the answer of
// before, its reported TCB included.
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
	if bytes.Contains(tdx, []byte("reported_tcb")) || !bytes.Contains(tdx, []byte(`"platform":"tdx"`)) {
		t.Errorf("TDX answer %s: want no reported_tcb", tdx)
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
