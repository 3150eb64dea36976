package imds

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// TestParseTDQuoteResponseEdges pins the edges TestTDQuote leaves open:
// a quote whose padded form ends in a single "=", the largest quote and
// one byte more, and a body over MaxTDQuoteResponse that the JSON
// decoder refuses by size before reading it.
func TestParseTDQuoteResponseEdges(t *testing.T) {
	body := func(s string) []byte { return []byte(`{"quote":"` + s + `"}`) }
	one := []byte{0xfb, 0xff, 0x01, 0x02, 0x03} // 5 bytes: padded base64 ends in one "="
	padded := base64.URLEncoding.EncodeToString(one)
	if !strings.HasSuffix(padded, "=") || strings.HasSuffix(padded, "==") {
		t.Fatalf("%q does not end in exactly one '='", padded)
	}
	if q, err := ParseTDQuoteResponse(body(padded)); err != nil || !bytes.Equal(q, one) {
		t.Errorf("one '=' of padding: %x, %v", q, err)
	}
	// The standard alphabet is not base64url, padded or not.
	if _, err := ParseTDQuoteResponse(body(base64.StdEncoding.EncodeToString(one))); !errors.Is(err, format.ErrBadEncoding) {
		t.Errorf("standard alphabet, padded: %v, want ErrBadEncoding", err)
	}
	if _, err := ParseTDQuoteResponse(body(base64.RawStdEncoding.EncodeToString(one))); !errors.Is(err, format.ErrBadEncoding) {
		t.Errorf("standard alphabet, unpadded: %v, want ErrBadEncoding", err)
	}
	max := make([]byte, maxTDQuote)
	if q, err := ParseTDQuoteResponse(body(base64.RawURLEncoding.EncodeToString(max))); err != nil || len(q) != maxTDQuote {
		t.Errorf("a quote of %d bytes: %d, %v", maxTDQuote, len(q), err)
	}
	over := base64.RawURLEncoding.EncodeToString(make([]byte, maxTDQuote+1))
	if _, err := ParseTDQuoteResponse(body(over)); !errors.Is(err, format.ErrBadLength) {
		t.Errorf("a quote of %d bytes: %v, want ErrBadLength", maxTDQuote+1, err)
	}
	// A body just over the bound: refused as too large, not decoded.
	big := append(body(""), bytes.Repeat([]byte(" "), MaxTDQuoteResponse)...)
	if _, err := ParseTDQuoteResponse(big); !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("a body of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
}

// TestTDQuoteOnly200: a quote is taken from a 200 answer only; another
// 2xx status with a well-formed body is an HTTPError.
func TestTDQuoteOnly200(t *testing.T) {
	body := []byte(`{"quote":"` + base64.RawURLEncoding.EncodeToString([]byte("quote")) + `"}`)
	for _, status := range []int{201, 202, 203, 206} {
		c := &Client{TDQuoteURL: tdQuoteServer(t, status, body).URL}
		q, err := c.TDQuote(context.Background(), make([]byte, 1024))
		if h, ok := errors.AsType[*HTTPError](err); !ok || h.StatusCode != status || q != nil {
			t.Errorf("status %d: %q, %v; want an HTTPError", status, q, err)
		}
	}
}

// TestParseTHIMSizeBound: a THIM body one byte over MaxBodySize is refused
// as too large before it is decoded.
func TestParseTHIMSizeBound(t *testing.T) {
	b := append([]byte(`{"vcekCert":""}`), bytes.Repeat([]byte(" "), MaxBodySize)...)
	b = b[:MaxBodySize+1]
	if _, err := Parse(b); !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("a body of %d bytes: %v, want ErrTooLarge", len(b), err)
	}
	if _, err := Parse(b[:MaxBodySize]); err == nil || errors.Is(err, format.ErrTooLarge) {
		t.Errorf("a body of %d bytes: %v, want a refusal of the empty vcekCert", MaxBodySize, err)
	}
}
