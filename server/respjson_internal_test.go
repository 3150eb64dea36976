package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestAppendAttestResponseMatchesMarshal: the hand-written encoding of an
// attestation response is json.Marshal's, byte for byte, for responses with
// and without the optional members and with strings that need escaping.
func TestAppendAttestResponseMatchesMarshal(t *testing.T) {
	yes, cmd := true, "console=ttyS0 <x> & \"q\" \u2028 \xff"
	cases := []AttestResponse{
		{},
		{Ciphertext: []byte{}, Suite: Suite},
		{Ciphertext: bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 33), Suite: Suite, Token: "eyJh.eyJi.c2ln",
			Claims: Claims{Platform: "sev-snp", Product: "Milan", ChipID: bytes.Repeat([]byte{0xab}, 64),
				ReportedTCB: snp.TCBParts{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115},
				Measurement: bytes.Repeat([]byte{1}, 48), IDKeyDigest: []byte{}, Paravisor: "azure-hcl",
				VMUniqueID: "0E2B0F4C-3D5E-4D0B-9A5A-1D2C3B4A5F60", EvidenceVersion: 2, FreshReport: true}},
		{Ciphertext: []byte("x"), Suite: "a\"b\\c\n<&>\x01", Token: "t\u00e9",
			Claims: Claims{Platform: "tdx", TCBStatus: "UpToDate", Product: "é", ReportedTCB: snp.TCBParts{FMC: 1, Bootloader: 255},
				Paravisor: "<script>", VMUniqueID: "\xff\xfe", EvidenceVersion: -1, Emulated: true,
				EventLog: &EventLogSummary{Replayed: []int{0, 4, 7}, Mismatch: []int{9}, SecureBoot: &yes, KernelCmdline: &cmd, Error: "e"}}},
		{Ciphertext: []byte{0}, Claims: Claims{EventLog: &EventLogSummary{Replayed: []int{}}}},
	}
	for i := range cases {
		want, err := json.Marshal(&cases[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendAttestResponse([]byte("prefix"), &cases[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("case %d:\n got %s\nwant prefix%s", i, got, want)
		}
	}
}
