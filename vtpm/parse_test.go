package vtpm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// ephemeralPublic is a TPM2B_PUBLIC of the ephemeral template with a
// full-length modulus.
func ephemeralPublic() []byte {
	tmpl := EphemeralTemplate(make([]byte, 32))
	n := bytes.Repeat([]byte{0xC5}, 256)
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: n})
	return tpm2.Marshal(tpm2.New2B(tmpl))
}

// TestParsePublic: the template parses with its name; trailing bytes and
// truncation fail, also bytes after the TPMT_PUBLIC inside the TPM2B
// (fuzz31: accepted before, the name computed without them).
func TestParsePublic(t *testing.T) {
	b := ephemeralPublic()
	p, err := ParsePublic(b)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Area.ObjectAttributes.Decrypt || len(p.Name) != 34 || p.Key.N.BitLen() != 2048 {
		t.Fatalf("parsed %+v", p.Area.ObjectAttributes)
	}
	for name, bad := range map[string][]byte{"trailing": append(bytes.Clone(b), 0), "truncated": b[:len(b)-1], "empty": nil} {
		if _, err := ParsePublic(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	inner := append(bytes.Clone(b[2:]), 0, 0)
	padded := append([]byte{byte(len(inner) >> 8), byte(len(inner))}, inner...)
	var fe *format.Error
	if _, err := ParsePublic(padded); !errors.As(err, &fe) || fe.Field != "TPMT_PUBLIC" || !errors.Is(err, format.ErrTrailingData) {
		t.Errorf("bytes after the TPMT_PUBLIC in the TPM2B: %v, want a TPMT_PUBLIC trailing-data error", err)
	}
}

// TestParseCertifyInfo: a certify TPMS_ATTEST parses; a quote type fails.
func TestParseCertifyInfo(t *testing.T) {
	a := tpm2.TPMSAttest{Magic: tpm2.TPMGeneratedValue, Type: tpm2.TPMSTAttestCertify,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{Name: tpm2.TPM2BName{Buffer: []byte{0, 11, 1}}})}
	b := tpm2.Marshal(a)
	c, err := ParseCertifyInfo(b)
	if err != nil || !bytes.Equal(c.Name, []byte{0, 11, 1}) {
		t.Fatalf("%+v %v", c, err)
	}
	a.Type = tpm2.TPMSTAttestQuote
	a.Attested = tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{})
	if _, err := ParseCertifyInfo(tpm2.Marshal(a)); err == nil {
		t.Error("a quote was accepted as a certification")
	}
}

// FuzzParseTPM: the TPM structure parsers never panic, and what they
// accept is canonical (re-marshals to the input).
func FuzzParseTPM(f *testing.F) {
	f.Add(ephemeralPublic())
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x17})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParsePublic(b); err == nil && !bytes.Equal(tpm2.Marshal(tpm2.New2B(*p.Area)), b) {
			t.Fatal("accepted a non-canonical TPM2B_PUBLIC")
		}
		_, _ = ParseCertifyInfo(b)
	})
}

// certifyAttest marshals a TPMS_ATTEST of TPM2_Certify.
func certifyAttest(signer, extra, name []byte) []byte {
	return tpm2.Marshal(tpm2.TPMSAttest{Magic: tpm2.TPMGeneratedValue, Type: tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: signer}, ExtraData: tpm2.TPM2BData{Buffer: extra},
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{Name: tpm2.TPM2BName{Buffer: name}})})
}

// FuzzParseCertifyInfo: ParseCertifyInfo never panics; every rejection is
// a "tpm" *format.Error (format.ErrMalformed) with no result; and a
// certification built by go-tpm from the fuzzed fields parses back to
// them.
func FuzzParseCertifyInfo(f *testing.F) {
	f.Add(certifyAttest([]byte{0, 11, 1}, []byte("nonce"), []byte{0, 11, 2}), []byte{0, 11, 1}, []byte("nonce"), []byte{0, 11, 2})
	quote := tpm2.Marshal(tpm2.TPMSAttest{Magic: tpm2.TPMGeneratedValue, Type: tpm2.TPMSTAttestQuote,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{})})
	f.Add(quote, []byte{}, []byte{}, []byte{})
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x17}, []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, b, signer, extra, name []byte) {
		c, err := ParseCertifyInfo(b)
		if err != nil {
			if fe, ok := err.(*format.Error); c != nil || !ok || fe.Format != "tpm" || !errors.Is(err, format.ErrMalformed) {
				t.Fatalf("%v with error %T %v", c, err, err)
			}
		}
		built := certifyAttest(signer, extra, name)
		if len(built) > maxStructBytes || len(signer) > 0xffff || len(extra) > 0xffff || len(name) > 0xffff {
			return
		}
		c, err = ParseCertifyInfo(built)
		if err != nil || !bytes.Equal(c.Signer, signer) || !bytes.Equal(c.ExtraData, extra) || !bytes.Equal(c.Name, name) {
			t.Fatalf("built certification parses to %+v, %v", c, err)
		}
	})
}
