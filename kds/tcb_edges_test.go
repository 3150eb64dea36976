package kds

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMatchVCEKEdges pins what TestMatchVCEKRealFixture leaves open: a
// chip id that differs in its last byte only (every byte is compared), a
// zero (masked) chip id, on Turin a 64-byte chip id whose 8-byte HWID is
// zero though other bytes are not, and a nil certificate.
func TestMatchVCEKEdges(t *testing.T) {
	vcek, chip, tcb := realTHIM(t)
	for _, i := range []int{8, 31, len(chip) - 1} {
		other := bytes.Clone(chip)
		other[i] ^= 0x80
		var mm *MismatchError
		if _, err := MatchVCEK(vcek, ProductMilan, other, tcb); !errors.As(err, &mm) || mm.Field != "hwID" {
			t.Errorf("chip id differing at byte %d: %v, want a hwID mismatch", i, err)
		}
	}
	for _, c := range []struct {
		product string
		chip    []byte
	}{
		{ProductMilan, make([]byte, ChipIDSize)},
		{ProductGenoa, make([]byte, ChipIDSize)},
		{ProductTurin, make([]byte, TurinHWIDSize)},
		{ProductTurin, make([]byte, ChipIDSize)},
		{ProductTurin, append(make([]byte, TurinHWIDSize), bytes.Repeat([]byte{7}, ChipIDSize-TurinHWIDSize)...)},
	} {
		if _, err := VCEKURL("http://x", c.product, c.chip, tcb); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s, zero chip id of %d bytes: %v, want ErrInvalidRequest", c.product, len(c.chip), err)
		}
		if _, err := MatchVCEK(vcek, c.product, c.chip, tcb); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("MatchVCEK %s, zero chip id of %d bytes: %v, want ErrInvalidRequest", c.product, len(c.chip), err)
		}
	}
	if _, err := ParseVCEKInfo(nil); !errors.Is(err, ErrInvalidCertificate) {
		t.Errorf("nil certificate: %v, want ErrInvalidCertificate", err)
	}
}

// TestClientVCEKDER: the client hands back the DER of a PEM answer, and
// refuses an answer over its bound as an invalid certificate.
func TestClientVCEKDER(t *testing.T) {
	vcek, chip, tcb := realTHIM(t)
	body := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vcek})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, MaxRetries: -1}
	der, err := c.VCEK(context.Background(), ProductMilan, chip, tcb, nil)
	if err != nil || !bytes.Equal(der, vcek) {
		t.Fatalf("VCEK: %d bytes, %v; want the DER", len(der), err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/x", "VCEK", int64(len(body)-1), nil); !errors.Is(err, ErrInvalidCertificate) {
		t.Errorf("an answer over the bound: %v, want ErrInvalidCertificate", err)
	}
	// mutation31: another failure (here a 404) is returned as an error
	// with no body, not as an empty answer nor as ErrInvalidCertificate.
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	b, err := c.Get(context.Background(), missing.URL+"/x", "VCEK", MaxVCEKSize, nil)
	if err == nil || b != nil || errors.Is(err, ErrInvalidCertificate) {
		t.Errorf("a 404: %d bytes, %v; want an error of the fetch", len(b), err)
	}
}
