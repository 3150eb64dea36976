package tdx_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// quoteV5 is Microsoft's TD quote v5 (body type 3, TDX 1.5 body).
const quoteV5 = "azure-cvm-attestation-tools/td-quote-v5.bin"

// TestRealQuoteV5: the real v5 quote parses with its TDX 1.5 body at the
// spec's offsets, gives back its bytes and verifies under the pinned
// Intel root.
func TestRealQuoteV5(t *testing.T) {
	q, b := parseFile(t, quoteV5)
	if len(b) != 5006 || q.Trailing != 0 || q.Header.Version != tdx.QuoteVersion5 || q.BodyType != tdx.BodyTypeTD15 {
		t.Errorf("%d bytes, %d trailing, version %d, body type %d", len(b), q.Trailing, q.Header.Version, q.BodyType)
	}
	if !bytes.Equal(q.Marshal(), b) {
		t.Error("Marshal does not give back the parsed bytes")
	}
	if s := q.SignedBytes(); len(s) != 702 || !bytes.Equal(s, b[:702]) {
		t.Errorf("SignedBytes: %d bytes", len(s))
	}
	v, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"MRTD", hex.EncodeToString(q.Body.MRTD[:]), "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd"},
		{"TEE_TCB_SVN", hex.EncodeToString(q.Body.TEETCBSVN[:]), "07010300000000000000000000000000"},
		{"TEE_TCB_SVN_2", hex.EncodeToString(q.Body.TEETCBSVN2[:]), "0d010400000000000000000000000000"},
		{"MR_SERVICETD", hex.EncodeToString(q.Body.MRServiceTD[:]), strings.Repeat("00", 48)},
		{"TDATTRIBUTES", hex.EncodeToString(q.Body.TDAttributes[:]), "0000001000000000"},
		{"RTMR3", hex.EncodeToString(q.Body.RTMR[3][:]), strings.Repeat("00", 48)},
		{"REPORTDATA", hex.EncodeToString(q.Body.ReportData[:4]), "9cb7f308"},
		{"FMSPC", hex.EncodeToString(v.SGX.FMSPC[:]), "90c06f000000"},
	} {
		if c.got != c.want {
			t.Errorf("%s %s, want %s", c.name, c.got, c.want)
		}
	}
	if v.SGX.PCESVN != 13 || q.QEISVSVN() != 6 {
		t.Errorf("PCESVN %d QE SVN %d", v.SGX.PCESVN, q.QEISVSVN())
	}
}

// TestTamperedRegionsV5: every signed region of the v5 quote (those of
// v4, the TDX 1.5 fields and the body descriptor), changed, is rejected
// by the step that covers it.
func TestTamperedRegionsV5(t *testing.T) {
	edits := append(quoteEdits(t), bodyEdits((*tdx.Body).TD15Fields)...)
	// The same TD 1.0 fields in a TDX 1.0 body: the descriptor is signed.
	edits = append(edits, quoteEdit{"body type 2", func(q *tdx.Quote) { q.BodyType = tdx.BodyTypeTD10 }, tdx.ErrQuoteSignature},
		quoteEdit{"version 4", func(q *tdx.Quote) { q.Header.Version, q.BodyType = tdx.QuoteVersion, 0 }, tdx.ErrQuoteSignature})
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			q, err := tdx.ParseQuote(edited(t, quoteV5, e))
			if err == nil {
				_, err = q.Verify(tdx.VerifyOptions{Now: fixtureTime})
			}
			if !errors.Is(err, e.want) {
				t.Fatalf("got %v, want %v", err, e.want)
			}
		})
	}
}

// TestParseErrorsV5: the body descriptor must name a known type with its
// size, and the quote must hold it.
func TestParseErrorsV5(t *testing.T) {
	_, good := parseFile(t, quoteV5)
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	desc := func(typ uint16, size uint32) []byte {
		return mod(func(b []byte) {
			binary.LittleEndian.PutUint16(b[48:], typ)
			binary.LittleEndian.PutUint32(b[50:], size)
		})
	}
	tests := []struct {
		name, field string
		kind        error
		blob        []byte
	}{
		{"version 6", "version", format.ErrUnsupportedVersion, mod(func(b []byte) { b[0] = 6 })},
		{"type 3, size 584", "body_size", format.ErrSizeMismatch, desc(3, 584)},
		{"type 2, size 648", "body_size", format.ErrSizeMismatch, desc(2, 648)},
		{"type 3, huge size", "body_size", format.ErrSizeMismatch, desc(3, 1<<31)},
		{"type 1 (SGX)", "body_type", format.ErrUnexpectedValue, desc(1, 384)},
		{"type 4", "body_type", format.ErrUnexpectedValue, desc(4, 648)},
		{"type 0", "body_type", format.ErrUnexpectedValue, desc(0, 0)},
		{"cut in the body", "quote", format.ErrTruncated, good[:700]},
		{"signed data past the end", "signed_data_size", format.ErrExceedsBlob, mod(func(b []byte) { b[702+1] = 0xff })},
		{"non-zero trailing", "trailing", format.ErrTrailingData, append(bytes.Clone(good), 0, 0, 1)},
		{"cert data type", "certification_data.type", format.ErrUnexpectedValue, mod(func(b []byte) { b[706+128] = 5 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tdx.ParseQuote(tt.blob)
			if !testutil.IsFieldError(err, tt.field, tt.kind) {
				t.Fatalf("got %v, want field %s kind %v", err, tt.field, tt.kind)
			}
		})
	}
	// Azure's zeros after the signed data are tolerated, as for v4.
	q, err := tdx.ParseQuote(append(bytes.Clone(good), make([]byte, 70)...))
	if err != nil || q.Trailing != 70 {
		t.Fatalf("70 trailing zeros: %v", err)
	}
}

// TestBindingTD15: a TDX 1.5 body binds TEE_TCB_SVN_2 and MR_SERVICETD to
// the TDREPORT's TEE_TCB_SVN2 (offset 384) and SERVTD_HASH (offset 912);
// a TDX 1.0 body does not carry them.
func TestBindingTD15(t *testing.T) {
	q, _ := parseFile(t, quoteV5)
	r := &tdx.TDReport{Type: [4]byte{0x81}, Body: q.Body}
	raw := r.Marshal()
	if !bytes.Equal(raw[384:400], q.Body.TEETCBSVN2[:]) || !bytes.Equal(raw[912:960], q.Body.MRServiceTD[:]) {
		t.Fatal("TDX 1.5 fields not at the TDREPORT's offsets")
	}
	for _, off := range []struct {
		at   int
		name string
	}{{384, "TEE_TCB_SVN_2"}, {912 + 47, "MR_SERVICETD"}} {
		b := bytes.Clone(raw)
		b[off.at] ^= 1
		r2, err := tdx.ParseTDReport(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := tdx.CheckBinding(q, r2); err != nil {
			if !testutil.IsFieldError(err, off.name, tdx.ErrBindingMismatch) {
				t.Errorf("%s: %v", off.name, err)
			}
		} else {
			t.Errorf("%s changed: bound", off.name)
		}
		// A TDX 1.0 body (v4) does not bind them.
		q4 := *q
		q4.Header.Version, q4.BodyType, q4.Body.TEETCBSVN2, q4.Body.MRServiceTD = tdx.QuoteVersion, 0, [16]byte{}, [48]byte{}
		if err := tdx.CheckBinding(&q4, r2); err != nil {
			t.Errorf("TDX 1.0 body, %s changed: %v", off.name, err)
		}
	}
}

// TestDERChainMessage: a DER chain (Intel's QVL samples) is rejected as
// not PEM, saying so.
func TestDERChainMessage(t *testing.T) {
	q, _ := parseFile(t, quoteV5)
	var der []byte
	for rest := q.PCKChain; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		der = append(der, blk.Bytes...)
	}
	q.PCKChain = der
	_, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime})
	if !errors.Is(err, tdx.ErrPCKChain) || !strings.Contains(err.Error(), "no PEM CERTIFICATE block") {
		t.Fatalf("got %v", err)
	}
}
