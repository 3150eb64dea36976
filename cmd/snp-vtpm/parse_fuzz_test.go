package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// FuzzParsePCRList: --pcrs of policy derive never panics; what it accepts
// is distinct, sorted indexes 0..23 that it reads back from their
// comma-joined form; every error names the flag.
func FuzzParsePCRList(f *testing.F) {
	for _, s := range []string{"", "0,2,4,7", " 7 , 0", "23", "24", "-1", "1,1", "1,,2", "0x1", "+3", "07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parsePCRList(s)
		if err != nil {
			if got != nil || !strings.HasPrefix(err.Error(), "--pcrs: ") {
				t.Fatalf("%v with error %v", got, err)
			}
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) || (s == "") != (got == nil) {
			t.Fatalf("%q: %v", s, got)
		}
		parts := make([]string, len(got))
		for i, v := range got {
			if v < 0 || v > 23 {
				t.Fatalf("%q: index %d", s, v)
			}
			parts[i] = strconv.Itoa(v)
		}
		if again, err := parsePCRList(strings.Join(parts, ",")); err != nil || !slices.Equal(again, got) {
			t.Fatalf("%v written back: %v, %v", got, again, err)
		}
	})
}

// FuzzParseAt: --at never panics; empty is the zero time, anything else
// is an RFC 3339 time that formats and parses back to the same instant.
func FuzzParseAt(f *testing.F) {
	for _, s := range []string{"", "2025-06-01T00:00:00Z", "2025-06-01T02:00:00+02:00", "2025-06-01", "2025-13-01T00:00:00Z",
		"2025-06-01T00:00:00.123456789Z", "9999-12-31T23:59:59Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := parseAt(s)
		if err != nil {
			if !at.IsZero() || !strings.HasPrefix(err.Error(), "--at ") {
				t.Fatalf("%v with error %v", at, err)
			}
			return
		}
		if s == "" {
			if !at.IsZero() {
				t.Fatalf("empty --at: %v", at)
			}
			return
		}
		if again, err := parseAt(at.Format(time.RFC3339Nano)); err != nil || !again.Equal(at) {
			t.Fatalf("%q: %v written back: %v, %v", s, at, again, err)
		}
	})
}

// FuzzNonceValue: --nonce and --nonce-hex never panic; --nonce is the
// text's bytes, --nonce-hex the bytes its hex digits say (hex.Encode of
// them reads back), both or an empty value is an error.
func FuzzNonceValue(f *testing.F) {
	for _, s := range [][2]string{{"challenge", ""}, {"", "00ff"}, {"", "0"}, {"", "zz"}, {"a", "00"}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, hexText string) {
		n := nonceFlags{text: text, hex: hexText}
		v, err := n.value()
		switch {
		case text != "" && hexText != "":
			if err == nil {
				t.Fatal("--nonce and --nonce-hex both accepted")
			}
		case text != "":
			if err != nil || string(v) != text {
				t.Fatalf("--nonce %q: %x, %v", text, v, err)
			}
		case hexText != "":
			want, herr := hex.DecodeString(hexText)
			if (err == nil) != (herr == nil) || herr == nil && !bytes.Equal(v, want) || herr != nil && v != nil {
				t.Fatalf("--nonce-hex %q: %x, %v", hexText, v, err)
			}
			if err == nil {
				if again, err := (&nonceFlags{hex: hex.EncodeToString(v)}).value(); err != nil || !bytes.Equal(again, v) {
					t.Fatalf("--nonce-hex written back: %x, %v", again, err)
				}
			}
		default:
			if v != nil || err != nil {
				t.Fatalf("no nonce: %x, %v", v, err)
			}
		}
	})
}

// FuzzParsePCRsDoc: the --pcrs file of eventlog never panics; it yields
// 32-byte values under indexes 0..23, the same map when written back as a
// single document, and errors that name the flag and stay bounded.
func FuzzParsePCRsDoc(f *testing.F) {
	logs := []string{"gce-cos-121-amd-sev.bin", "arch-linux-workstation.bin", "missing.bin"}
	f.Add(testutil.ReadFile(f, "eventlogs/pcrs.json"), uint8(0))
	f.Add(testutil.ReadFile(f, "go-eventlog/pcrs.json"), uint8(1))
	f.Add([]byte(`{"pcrs":{"sha256":{"0":"`+strings.Repeat("00", 32)+`"}}}`), uint8(2))
	f.Add([]byte(`{"pcrs":{"sha256":{"00":"`+strings.Repeat("00", 32)+`"}}}`), uint8(2))
	f.Add([]byte(`{"pcrs":{"sha1":{}},"source_var":"x"}`), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		const name = "pcrs.json"
		logName := logs[int(which)%len(logs)]
		got, err := parsePCRsDoc(data, name, logName)
		if err != nil {
			if got != nil || !strings.HasPrefix(err.Error(), "--pcrs "+name+": ") || len(err.Error()) > 1024 {
				t.Fatalf("%d values with error %v", len(got), err)
			}
			return
		}
		bank := map[string]string{}
		for i, v := range got {
			if i < 0 || i > 23 || len(v) != 32 {
				t.Fatalf("PCR %d of %d bytes", i, len(v))
			}
			bank[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
		doc, _ := json.Marshal(pcrsDoc{PCRs: map[string]map[string]string{"sha256": bank}})
		again, err := parsePCRsDoc(doc, name, logName)
		if err != nil || !maps.EqualFunc(again, got, bytes.Equal) {
			t.Fatalf("written back: %v", err)
		}
	})
}

// FuzzReadRoots: --roots never panics; a rejection is the certificate
// reader's *certs.FormatError or matches snp.ErrRoots, and an accepted
// chain is an ARK that signed itself and the ASK.
func FuzzReadRoots(f *testing.F) {
	for _, file := range testutil.AMDCertFiles() {
		f.Add(testutil.ReadFile(f, file))
	}
	f.Add(testutil.ReadFile(f, "azure-thim/uvm_host_amd_certificate.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := readRoots(data)
		if err != nil {
			if _, ok := errors.AsType[*certs.FormatError](err); c != nil || !ok && !errors.Is(err, snp.ErrRoots) {
				t.Fatalf("chain %v, error %T: %v", c != nil, err, err)
			}
			return
		}
		if c.ARK.CheckSignatureFrom(c.ARK) != nil || c.ASK.CheckSignatureFrom(c.ARK) != nil {
			t.Fatal("accepted roots the ARK did not sign")
		}
	})
}

// FuzzInputKind: guessing an input's kind never panics and agrees with
// the first bytes that each kind starts with.
func FuzzInputKind(f *testing.F) {
	for _, file := range []string{testutil.SNPDir + "evidence-v1.json", testutil.SNPDir + "hcl-report.bin", testutil.TDXDir + "td-quote.bin"} {
		f.Add(testutil.ReadFile(f, file))
	}
	f.Add([]byte(" \n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		switch k := inputKind(data); k {
		case kindEvidence:
			if bytes.TrimLeft(data, " \t\r\n")[0] != '{' {
				t.Fatal("evidence without {")
			}
		case kindHCL:
			if !bytes.HasPrefix(data, []byte("HCLA")) {
				t.Fatal("HCL report without HCLA")
			}
		case kindTDQuote:
			if len(data) < 8 || data[4] != 0x81 {
				t.Fatal("TD quote without TEE type TDX")
			}
		case kindPolicy, kindJWKS, kindMAAJWKS:
			if bytes.TrimLeft(data, " \t\r\n")[0] != '{' {
				t.Fatalf("%s without {", k)
			}
		case kindMAAToken, kindResultToken, kindJWT:
			if bytes.Count(data, []byte(".")) != 2 {
				t.Fatalf("%s without two dots", k)
			}
		case kindCertificate:
			if !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
				t.Fatal("certificate without PEM")
			}
		case "":
		default:
			t.Fatalf("kind %q", k)
		}
	})
}

// FuzzParseUserData: --user-data of report never panics; it is 1 to
// vtpm.UserDataSize bytes of hex, which hex.Encode writes back.
func FuzzParseUserData(f *testing.F) {
	for _, s := range []string{"00", strings.Repeat("ab", vtpm.UserDataSize), strings.Repeat("ab", vtpm.UserDataSize+1), "0", "zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseUserData(s)
		if err != nil {
			if b != nil || !strings.HasPrefix(err.Error(), "--user-data: ") {
				t.Fatalf("%x with error %v", b, err)
			}
			return
		}
		if len(b) == 0 || len(b) > vtpm.UserDataSize || !strings.EqualFold(hex.EncodeToString(b), s) {
			t.Fatalf("%q: %x", s, b)
		}
	})
}
