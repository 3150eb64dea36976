package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
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
				ReportedTCB: &snp.TCBParts{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115},
				Measurement: bytes.Repeat([]byte{1}, 48), IDKeyDigest: []byte{}, Paravisor: "azure-hcl",
				VMUniqueID: "0E2B0F4C-3D5E-4D0B-9A5A-1D2C3B4A5F60", EvidenceVersion: 2, FreshReport: true}},
		{Ciphertext: []byte("x"), Suite: "a\"b\\c\n<&>\x01", Token: "t\u00e9",
			Claims: Claims{Platform: "tdx", TCBStatus: "UpToDate", Product: "é", ReportedTCB: &snp.TCBParts{FMC: 1, Bootloader: 255},
				Paravisor: "<script>", VMUniqueID: "\xff\xfe", EvidenceVersion: -1, Emulated: true,
				EventLog: &EventLogSummary{Replayed: []int{0, 4, 7}, Mismatch: []int{9}, SecureBoot: &yes, KernelCmdline: &cmd, Error: "e"}}},
		{Ciphertext: []byte{0}, Claims: Claims{EventLog: &EventLogSummary{Replayed: []int{}}}},
		{Ciphertext: []byte{1}, Claims: Claims{Paravisor: "maa-vouched", ParavisorVoucher: "https://sharedeus2.eus2.attest.azure.net"}},
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

// TestAppendAttestResponseCoversEveryField: with every field of the
// response set (recursively, by reflection, so a field added later is set
// too), the hand-written encoding still equals json.Marshal's: a new
// member of Claims cannot be left out of the answer unnoticed.
func TestAppendAttestResponseCoversEveryField(t *testing.T) {
	var r AttestResponse
	n := 0
	fillAll(reflect.ValueOf(&r).Elem(), &n)
	want, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendAttestResponse(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if n < 20 {
		t.Errorf("only %d values set: the filler missed fields", n)
	}
}

// fillAll sets v and everything below it to non-zero values, counting
// the values set in *n.
func fillAll(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d<&>", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fillAll(v.Index(0), n)
		fillAll(v.Index(1), n)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), n)
			}
		}
	default:
		panic("fillAll: add a case for " + v.Kind().String())
	}
}

// TestErrorMessageBounded: an error answer's message is cut to
// maxErrorMessage bytes however long the error, and stays valid JSON.
func TestErrorMessageBounded(t *testing.T) {
	w := httptest.NewRecorder()
	writeError(w, httptest.NewRequest(http.MethodPost, PathAttest, nil), http.StatusForbidden, "report-signature",
		strings.Repeat("\u00e9\x01", 20000))
	var e ErrorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Error) > maxErrorMessage+3 || !strings.HasSuffix(e.Error, "...") || e.Check != "report-signature" {
		t.Errorf("%d-byte message, check %q", len(e.Error), e.Check)
	}
	if w.Body.Len() > 4*maxErrorMessage {
		t.Errorf("%d-byte body", w.Body.Len())
	}
}
