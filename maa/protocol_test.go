package maa

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

func sampleInfo(t testing.TB) *AttestationInfo {
	proof, err := NewSNPProof(bytes.Repeat([]byte{7}, 1184), []byte("-----BEGIN CERTIFICATE-----\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &AttestationInfo{
		AttestationProtocolVersion: ProtocolVersion, ClientPayload: map[string]string{"nonce": NonceClaim([]byte("n"))},
		IsolationInfo: IsolationInfo{Type: IsolationSEVSNP, Evidence: IsolationEvidence{Proof: proof, RunTimeData: []byte(`{"keys":[]}`)}},
		OSType:        []byte("Linux"), OSVersionMajor: 22, TcgLogs: []byte{1, 2, 3},
		TpmInfo: TPMInfo{AikPub: []byte{0, 1, 2}, PCRs: []PCR{{Index: 0, Digest: make([]byte, 32)}}, PcrSet: []int{0}, PcrQuote: []byte{9}},
	}
}

// TestRequestRoundTrip: Request then ParseRequest gives the document back;
// the proof decodes to the report; oversized and unknown members fail.
func TestRequestRoundTrip(t *testing.T) {
	body := mustBody(t, sampleInfo(t).Request)
	got, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Request()
	if !bytes.Equal(again, body) {
		t.Fatalf("round trip differs:\n%s\n%s", body, again)
	}
	rep, _, err := got.SNPProof()
	if err != nil || len(rep) != 1184 || rep[0] != 7 {
		t.Fatalf("SNPProof: %d bytes, %v", len(rep), err)
	}
	big := sampleInfo(t)
	big.TpmInfo.AikPub = make([]byte, MaxTPMBlob+1)
	for name, b := range map[string][]byte{
		"unknown member": []byte(`{"AttestationInfo":"e30","x":1}`),
		"not base64url":  []byte(`{"AttestationInfo":"e30="}`),
		"oversized blob": mustBody(t, big.Request),
		// Go's decoder skips line breaks, even in Strict mode.
		"escaped line break": withLineBreak(mustBody(t, sampleInfo(t).Request), 40),
	} {
		if _, err := ParseRequest(b); !errors.Is(err, format.ErrMalformed) {
			t.Errorf("%s: %v, want a format error", name, err)
		}
	}
}

// withLineBreak returns body with an escaped line break (`\n` in the
// JSON text) inserted at i.
func withLineBreak(body []byte, i int) []byte {
	return append(append(append([]byte{}, body[:i]...), `\n`...), body[i:]...)
}

// mustBody returns the body that encode (a Request or Response method)
// makes, failing t on error.
func mustBody(t testing.TB, encode func() ([]byte, error)) []byte {
	t.Helper()
	b, err := encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSealOpen: a sealed token opens with the RSA-decrypted key, not with
// another key nor after a flipped ciphertext bit; the response round-trips.
func TestSealOpen(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	et, err := SealToken([]byte("a.b.c"), &key.PublicKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseResponse(mustBody(t, et.Response))
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the test plays the TPM's TPM2_RSA_Decrypt (RSAES)
	inner, err := rsa.DecryptPKCS1v15(nil, key, got.EncryptedInnerKey)
	if err != nil {
		t.Fatal(err)
	}
	if jwt, err := got.Open(inner); err != nil || string(jwt) != "a.b.c" {
		t.Fatalf("Open: %q, %v", jwt, err)
	}
	if _, err := got.Open(make([]byte, 32)); !errors.Is(err, ErrTokenDecryption) {
		t.Errorf("wrong key: %v", err)
	}
	got.Jwt[0] ^= 1
	if _, err := got.Open(inner); !errors.Is(err, ErrTokenDecryption) {
		t.Errorf("tampered ciphertext: %v", err)
	}
}

// FuzzParseRequest: ParseRequest never panics; what it accepts re-encodes
// to a body it accepts again, and SNPProof never panics.
func FuzzParseRequest(f *testing.F) {
	f.Add(mustBody(f, sampleInfo(f).Request))
	f.Add([]byte(`{"AttestationInfo":"e30"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseRequest(body)
		if err != nil {
			return
		}
		_, _, _ = a.SNPProof()
		again, err := a.Request()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseRequest(again); err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
	})
}

// FuzzParseResponse: ParseResponse and Open never panic.
func FuzzParseResponse(f *testing.F) {
	et := &EncryptedToken{Jwt: []byte("x"), EncryptedInnerKey: []byte("k")}
	et.EncryptionParams.Iv = make([]byte, 12)
	f.Add(mustBody(f, et.Response))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseResponse(body)
		if err != nil {
			return
		}
		_, _ = e.Open(make([]byte, 32))
	})
}
