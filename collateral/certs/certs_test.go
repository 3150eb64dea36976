package certs

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/azure-thim/uvm_host_amd_certificate.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRead: every accepted format gives the same VCEK first; garbage,
// oversize input, duplicate JSON members and foreign PEM are FormatErrors.
func TestRead(t *testing.T) {
	thim := fixture(t)
	var doc map[string]string
	if err := json.Unmarshal(thim, &doc); err != nil {
		t.Fatal(err)
	}
	vcekPEM, chainPEM := []byte(doc["vcekCert"]), []byte(doc["certificateChain"])
	blk, _ := pem.Decode(vcekPEM)
	der := blk.Bytes
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})
	body := thim[:bytes.LastIndexByte(thim, '}')]
	tests := []struct {
		name   string
		in     []byte
		format Format
		certs  int
		field  string // != "": want a FormatError of this field
		kind   error
	}{
		{name: "THIM JSON", in: thim, format: FormatTHIM, certs: 3},
		{name: "PEM VCEK", in: vcekPEM, format: FormatPEM, certs: 1},
		{name: "PEM bundle", in: append(append([]byte{}, vcekPEM...), chainPEM...), format: FormatPEM, certs: 3},
		{name: "PEM after a key block", in: append(append([]byte{}, key...), vcekPEM...), format: FormatPEM, certs: 1},
		// A bundle whose VCEK comes after KDS's cert_chain (ASK, ARK), as
		// tools that concatenate ark.pem, ask.pem, vcek.pem write it: the
		// leaf is the VCEK, not the first certificate (the ASK).
		{name: "PEM chain then VCEK", in: append(append([]byte{}, chainPEM...), vcekPEM...), format: FormatPEM, certs: 3},
		{name: "DER", in: der, format: FormatDER, certs: 1},
		{name: "empty", in: nil, field: "body"},
		{name: "blank", in: []byte(" \n"), field: "body"},
		{name: "garbage", in: []byte("hello"), field: "body"},
		{name: "DER with trailing data", in: append(append([]byte{}, der...), 0), field: "body"},
		{name: "truncated DER", in: der[:len(der)-1], field: "body"},
		{name: "truncated PEM", in: vcekPEM[:len(vcekPEM)-30], field: "body"},
		{name: "PEM key only", in: key, field: "body"},
		{name: "PEM then garbage", in: append(append([]byte{}, vcekPEM...), "junk"...), field: "body"},
		{name: "oversize", in: append(bytes.Repeat([]byte(" "), MaxSize), vcekPEM...), field: "body"},
		{name: "PEM of exactly MaxSize", in: append(bytes.Repeat([]byte("\n"), MaxSize-len(vcekPEM)), vcekPEM...), format: FormatPEM, certs: 1},
		{name: "PEM of MaxSize+1", in: append(bytes.Repeat([]byte("\n"), MaxSize+1-len(vcekPEM)), vcekPEM...), field: "body"},
		{name: "too many certificates", in: bytes.Repeat(vcekPEM, MaxCertificates+1), field: "body"},
		{name: "THIM duplicate vcekCert", in: append(append([]byte{}, body...), `,"vcekCert":"x"}`...), field: "body", kind: strictjson.ErrDuplicateKey},
		{name: "THIM case variant", in: append(append([]byte{}, body...), `,"VCEKCert":"x"}`...), field: "body", kind: strictjson.ErrCaseMismatch},
		{name: "THIM trailing data", in: append(append([]byte{}, thim...), `{}`...), field: "body", kind: strictjson.ErrTrailingData},
		{name: "THIM two VCEKs", in: thimWith(t, thim, "vcekCert", string(vcekPEM)+string(vcekPEM)), field: "vcekCert"},
		{name: "THIM no VCEK", in: thimWith(t, thim, "vcekCert", ""), field: "vcekCert"},
		{name: "THIM key as VCEK", in: thimWith(t, thim, "vcekCert", string(key)), field: "vcekCert"},
		{name: "THIM bad chain", in: thimWith(t, thim, "certificateChain", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"), field: "certificateChain"},
		{name: "THIM bad tcbm", in: thimWith(t, thim, "tcbm", "xyz"), field: "tcbm"},
		// THIM's PEM carries the certificates and white space, nothing
		// else (encoding/pem alone skips text before a block).
		{name: "THIM VCEK after text", in: thimWith(t, thim, "vcekCert", "VCEK:\n"+string(vcekPEM)), field: "vcekCert", kind: format.ErrBadEncoding},
		{name: "THIM VCEK with a PEM header", in: thimWith(t, thim, "vcekCert", strings.Replace(string(vcekPEM), "-----\n", "-----\nNote: x\n\n", 1)), field: "vcekCert", kind: format.ErrBadEncoding},
		{name: "THIM text between the chain's certificates", in: thimWith(t, thim, "certificateChain", strings.Replace(string(chainPEM), "-----END CERTIFICATE-----\n", "-----END CERTIFICATE-----\nARK:\n", 1)), field: "certificateChain", kind: format.ErrTrailingData},
		{name: "THIM chain in white space", in: thimWith(t, thim, "certificateChain", "\r\n\t"+strings.ReplaceAll(string(chainPEM), "-----END CERTIFICATE-----\n", "-----END CERTIFICATE-----\r\n\n")+" "), format: FormatTHIM, certs: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Read(tc.in)
			if tc.field != "" {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("err = %v, want a FormatError of %q", err, tc.field)
				}
				if tc.kind != nil && !errors.Is(err, tc.kind) {
					t.Fatalf("err = %v, want %v", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Format != tc.format || len(b.Certs) != tc.certs || !bytes.Equal(b.Leaf().Raw, der) {
				t.Fatalf("got %s with %d certificates, leaf %s", b.Format, len(b.Certs), b.Leaf().Subject.CommonName)
			}
			if (b.THIM != nil) != (tc.format == FormatTHIM) {
				t.Fatalf("THIM = %v", b.THIM)
			}
		})
	}
}

func thimWith(t *testing.T, thim []byte, key, value string) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(thim, &doc); err != nil {
		t.Fatal(err)
	}
	doc[key] = value
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTHIMFields(t *testing.T) {
	th, err := ParseTHIM(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if tcb, err := th.TCB(); err != nil || tcb != 0x7308000000000003 {
		t.Errorf("TCB = %#x, %v", tcb, err)
	}
	if th.CacheControl != "86400" || len(th.Chain) != 2 || th.Chain[0].Subject.CommonName != "SEV-Milan" || th.Chain[1].Subject.CommonName != "ARK-Milan" {
		t.Errorf("THIM = %+v", th)
	}
	for _, tcbm := range []string{"", "12345678901234567", "zz"} {
		if _, err := (&THIM{TCBM: tcbm}).TCB(); err == nil {
			t.Errorf("TCB(%q) accepted", tcbm)
		}
	}
}

func TestDER(t *testing.T) {
	crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1, 2}})
	tests := []struct {
		name string
		in   []byte
		want []byte
		ok   bool
	}{
		{"DER passes", []byte{0x30, 1}, []byte{0x30, 1}, true},
		{"PEM of the type", crl, []byte{1, 2}, true},
		{"PEM of another type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), nil, false},
		{"PEM with a second block", append(append([]byte{}, crl...), crl...), nil, false},
		{"broken PEM", []byte("-----BEGIN X509 CRL-----\n!!"), nil, false},
	}
	for _, tc := range tests {
		got, err := DER(tc.in, "X509 CRL")
		if (err == nil) != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: DER = %x, %v", tc.name, got, err)
		}
	}
}

// FuzzRead: the reader never panics, errors are FormatErrors, and what it
// accepts has at least one certificate (the leaf) of the format it names.
func FuzzRead(f *testing.F) {
	thim := fixture(f)
	var doc map[string]string
	_ = json.Unmarshal(thim, &doc)
	f.Add(thim)
	f.Add([]byte(doc["vcekCert"]))
	f.Add([]byte(doc["certificateChain"]))
	blk, _ := pem.Decode([]byte(doc["vcekCert"]))
	f.Add(blk.Bytes)
	f.Add([]byte(`{"vcekCert":"x","vcekCert":"y"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a FormatError", err, err)
			}
			return
		}
		if len(b.Certs) == 0 || b.Leaf() == nil || len(b.Certs) > MaxCertificates+1 {
			t.Fatalf("accepted with %d certificates", len(b.Certs))
		}
		if b.Format == FormatTHIM && (b.THIM == nil || !bytes.Equal(b.THIM.VCEK, b.Leaf().Raw)) {
			t.Fatal("THIM leaf is not its VCEK")
		}
		if b.Format == FormatDER && !bytes.Equal(b.Leaf().Raw, data) {
			t.Fatal("DER leaf is not the input")
		}
		if strings.TrimSpace(string(data)) == "" {
			t.Fatal("blank input accepted")
		}
	})
}

// TestReadJSONWithoutVCEK: JSON without a vcekCert member (an evidence
// document given as --vcek or --roots) is a FormatError of vcekCert that
// says the member is missing and what JSON is read; it said "empty", as
// for a vcekCert of "".
func TestReadJSONWithoutVCEK(t *testing.T) {
	for _, in := range []string{`{"version":1,"tpm_quote":{}}`, `{}`, `{"vcekCert":null}`} {
		_, err := Read([]byte(in))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != "vcekCert" || !strings.Contains(err.Error(), `vcekCert: missing: JSON certificates are a THIM document`) {
			t.Errorf("%s: err = %v", in, err)
		}
	}
	_, err := Read([]byte(`{"vcekCert":" "}`))
	if err == nil || !strings.Contains(err.Error(), "vcekCert: empty") {
		t.Errorf(`vcekCert " ": err = %v`, err)
	}
}
