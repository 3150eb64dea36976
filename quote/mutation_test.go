package quote_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestCheckPCRsDigestComparedWhole (mutation testing, mutation29a): the
// signed pcrDigest must equal SHA-256 of the selected values in all 32
// bytes; a signed digest that differs from it in any one byte (the last
// 16 included) is ErrPCRDigest, whatever the values.
func TestCheckPCRsDigestComparedWhole(t *testing.T) {
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		pcrs[i] = bytes.Repeat([]byte{byte(i + 1)}, 32)
	}
	h := sha256.New()
	for _, i := range []int{0, 7, 11} {
		h.Write(pcrs[i])
	}
	digest := h.Sum(nil)
	for _, flip := range []int{-1, 0, 15, 16, 31} {
		t.Run(fmt.Sprint("byte ", flip), func(t *testing.T) {
			d := bytes.Clone(digest)
			if flip >= 0 {
				d[flip] ^= 0x80
			}
			a := &quote.Attest{Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, Size: 3, PCRs: []int{0, 7, 11}}}, PCRDigest: d}
			sel, err := a.CheckPCRs(pcrs)
			if flip < 0 {
				if err != nil || len(sel) != 3 {
					t.Fatalf("CheckPCRs = %v, %v", sel, err)
				}
				return
			}
			if !errors.Is(err, quote.ErrPCRDigest) {
				t.Errorf("digest differing in byte %d: err = %v, want ErrPCRDigest", flip, err)
			}
		})
	}
}

// rawAttest writes a TPMS_ATTEST by hand, without Marshal's bounds: a
// qualifiedSigner of signerLen bytes, count selections of SHA-256 with a
// sizeofSelect of selSize (PCR 0 selected), a 32-byte pcrDigest.
func rawAttest(signerLen, selSize, count int) []byte {
	be := binary.BigEndian
	m := be.AppendUint32(nil, quote.GeneratedValue)
	m = be.AppendUint16(m, quote.TagAttestQuote)
	m = be.AppendUint16(m, uint16(signerLen))
	m = append(m, make([]byte, signerLen)...)
	m = be.AppendUint16(m, 4)
	m = append(m, "nnnn"...)
	m = append(m, make([]byte, 8+4+4+1+8)...) // clockInfo, firmwareVersion
	m = be.AppendUint32(m, uint32(count))
	for range count {
		m = be.AppendUint16(m, quote.AlgSHA256)
		m = append(m, byte(selSize), 1)
		m = append(m, make([]byte, selSize-1)...)
	}
	m = be.AppendUint16(m, 32)
	return append(m, make([]byte, 32)...)
}

// TestParseBounds (mutation testing, mutation29a): Parse refuses, with
// ErrTooLarge, a qualifiedSigner longer than MaxNameSize, a sizeofSelect
// above PCRSelectMax and more than MaxBanks selections, each with all its
// bytes present; one below each bound parses.
func TestParseBounds(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		signer, selSize, count int
		ok                     bool
	}{
		{"at every bound", quote.MaxNameSize, quote.PCRSelectMax, quote.MaxBanks, true},
		{"qualifiedSigner too long", quote.MaxNameSize + 1, 3, 1, false},
		{"sizeofSelect too large", 34, quote.PCRSelectMax + 1, 1, false},
		{"too many banks", 34, 3, quote.MaxBanks + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := quote.Parse(rawAttest(tc.signer, tc.selSize, tc.count))
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, format.ErrTooLarge)) {
				t.Errorf("Parse = %v, want accepted %v (else ErrTooLarge)", err, tc.ok)
			}
		})
	}
}

// TestCheckPCRsIndexBound (mutation testing, mutation29a): a selected PCR
// above MaxPCRIndex (24 to 31, which a 4-byte sizeofSelect can name) is
// refused even when a value is supplied for it.
func TestCheckPCRsIndexBound(t *testing.T) {
	pcrs := make([][]byte, 32)
	for i := range pcrs {
		pcrs[i] = make([]byte, 32)
	}
	for _, idx := range []int{23, 24, 31} {
		d := sha256.Sum256(pcrs[idx])
		a := &quote.Attest{Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, Size: 4, PCRs: []int{idx}}}, PCRDigest: d[:]}
		_, err := a.CheckPCRs(pcrs)
		if (idx <= quote.MaxPCRIndex) != (err == nil) {
			t.Errorf("PCR %d: err = %v", idx, err)
		}
	}
}

// bank is one TPMS_PCR_SELECTION as written on the wire, whatever its values.
type bank struct {
	hash   uint16
	size   int // sizeofSelect as written
	bitmap []byte
}

// rawQuote writes a TPMS_ATTEST field by field, without Marshal's checks,
// so that a test can write what Parse must refuse.
type rawQuote struct {
	signer, extra, digest []byte
	safe                  byte
	banks                 []bank
	count                 int // pcrSelect.count as written; -1: len(banks)
}

func (q rawQuote) bytes() []byte {
	be := binary.BigEndian
	m := be.AppendUint32(nil, quote.GeneratedValue)
	m = be.AppendUint16(m, quote.TagAttestQuote)
	m = be.AppendUint16(m, uint16(len(q.signer)))
	m = append(m, q.signer...)
	m = be.AppendUint16(m, uint16(len(q.extra)))
	m = append(m, q.extra...)
	m = be.AppendUint64(m, 0x0102030405060708)
	m = be.AppendUint32(m, 9)
	m = be.AppendUint32(m, 10)
	m = append(m, q.safe)
	m = be.AppendUint64(m, 0x1112131415161718)
	count := q.count
	if count < 0 {
		count = len(q.banks)
	}
	m = be.AppendUint32(m, uint32(count))
	for _, b := range q.banks {
		m = be.AppendUint16(m, b.hash)
		m = append(m, byte(b.size))
		m = append(m, b.bitmap...)
	}
	m = be.AppendUint16(m, uint16(len(q.digest)))
	return append(m, q.digest...)
}

func baseRaw() rawQuote {
	return rawQuote{signer: make([]byte, 34), extra: []byte("nonce"), digest: make([]byte, 32), safe: 1, count: -1,
		banks: []bank{{quote.AlgSHA256, 3, []byte{0xff, 0, 0x80}}}}
}

// wantFieldErr fails unless err is a quote *FormatError of field and kind.
func wantFieldErr(t *testing.T, err error, field string, kind error) {
	t.Helper()
	fe, ok := errors.AsType[*quote.FormatError](err)
	if !ok || fe.Format != "quote" || fe.Field != field || !errors.Is(err, kind) || !errors.Is(err, quote.ErrFormat) {
		t.Fatalf("err = %v, want a quote format error of field %q wrapping %v", err, field, kind)
	}
}

// TestParseTruncatedNamesField: a TPMS_ATTEST cut anywhere is ErrTruncated
// naming the field the cut falls in (a size field, a value, or a bank's
// hash, sizeofSelect or bitmap), for every real quote: each read is
// checked where it happens, not left to fail later in another field.
func TestParseTruncatedNamesField(t *testing.T) {
	for name, msg := range realMessages(t) {
		a, err := quote.Parse(msg)
		if err != nil {
			t.Fatal(name, err)
		}
		type span struct {
			field string
			n     int
		}
		layout := []span{{"magic", 4}, {"type", 2}, {"qualifiedSigner.size", 2}, {"qualifiedSigner", len(a.QualifiedSigner)},
			{"extraData.size", 2}, {"extraData", len(a.ExtraData)}, {"clockInfo.clock", 8}, {"clockInfo.resetCount", 4},
			{"clockInfo.restartCount", 4}, {"clockInfo.safe", 1}, {"firmwareVersion", 8}, {"pcrSelect.count", 4}}
		for i, s := range a.Selection {
			p := fmt.Sprintf("pcrSelect[%d].", i)
			layout = append(layout, span{p + "hash", 2}, span{p + "sizeofSelect", 1}, span{p + "pcrSelect", s.Size})
		}
		layout = append(layout, span{"pcrDigest.size", 2}, span{"pcrDigest", len(a.PCRDigest)})
		cut := 0
		for _, s := range layout {
			for k := cut; k < cut+s.n; k++ {
				_, err := quote.Parse(msg[:k])
				fe, ok := errors.AsType[*quote.FormatError](err)
				if !ok || fe.Field != s.field || !errors.Is(err, format.ErrTruncated) {
					t.Fatalf("%s cut at %d: err = %v, want ErrTruncated in %s", name, k, err, s.field)
				}
			}
			cut += s.n
		}
		if cut != len(msg) {
			t.Fatalf("%s: layout covers %d of %d bytes", name, cut, len(msg))
		}
	}
}

// TestParseFieldErrors: each malformed field of a TPMS_ATTEST whose bytes
// are all present is refused by its own check, naming it; the values at
// each bound parse, and empty TPM2Bs are fields like any other.
func TestParseFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*rawQuote)
		field string // "" accepted
		kind  error
	}{
		{"base", func(*rawQuote) {}, "", nil},
		{"empty signer, nonce and digest", func(q *rawQuote) { q.signer, q.extra, q.digest = nil, nil, nil }, "", nil},
		{"no bank", func(q *rawQuote) { q.banks = nil }, "", nil},
		{"safe 0", func(q *rawQuote) { q.safe = 0 }, "", nil},
		{"safe 2", func(q *rawQuote) { q.safe = 2 }, "clockInfo.safe", format.ErrUnexpectedValue},
		{"extraData at the bound", func(q *rawQuote) { q.extra = make([]byte, quote.MaxDigestSize) }, "", nil},
		{"extraData over", func(q *rawQuote) { q.extra = make([]byte, quote.MaxDigestSize+1) }, "extraData", format.ErrTooLarge},
		{"pcrDigest at the bound", func(q *rawQuote) { q.digest = make([]byte, quote.MaxDigestSize) }, "", nil},
		{"pcrDigest over", func(q *rawQuote) { q.digest = make([]byte, quote.MaxDigestSize+1) }, "pcrDigest", format.ErrTooLarge},
		{"signer at the bound", func(q *rawQuote) { q.signer = make([]byte, quote.MaxNameSize) }, "", nil},
		{"MaxBanks banks", func(q *rawQuote) {
			for len(q.banks) < quote.MaxBanks {
				q.banks = append(q.banks, bank{quote.AlgSHA1, 3, []byte{1, 2, 3}})
			}
		}, "", nil},
		{"signer over", func(q *rawQuote) { q.signer = make([]byte, quote.MaxNameSize+1) }, "qualifiedSigner", format.ErrTooLarge},
		{"sizeofSelect 4", func(q *rawQuote) { q.banks[0] = bank{quote.AlgSHA256, 4, []byte{1, 0, 0, 0x80}} }, "", nil},
		{"sizeofSelect 5", func(q *rawQuote) { q.banks[0] = bank{quote.AlgSHA256, 5, make([]byte, 5)} }, "pcrSelect[0].sizeofSelect", format.ErrTooLarge},
		{"sizeofSelect 2", func(q *rawQuote) { q.banks[0] = bank{quote.AlgSHA256, 2, make([]byte, 2)} }, "pcrSelect[0].sizeofSelect", format.ErrUnexpectedValue},
		{"second bank's sizeofSelect 5", func(q *rawQuote) { q.banks = append(q.banks, bank{quote.AlgSHA1, 5, make([]byte, 5)}) }, "pcrSelect[1].sizeofSelect", format.ErrTooLarge},
		{"count over", func(q *rawQuote) { q.count = quote.MaxBanks + 1 }, "pcrSelect.count", format.ErrTooLarge},
		{"31-byte pcrDigest", func(q *rawQuote) { q.digest = q.digest[:31] }, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := baseRaw()
			tc.edit(&q)
			msg := q.bytes()
			a, err := quote.Parse(msg)
			if tc.field != "" {
				wantFieldErr(t, err, tc.field, tc.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.QualifiedSigner, q.signer) || !bytes.Equal(a.ExtraData, q.extra) || !bytes.Equal(a.PCRDigest, q.digest) ||
				a.Clock != (quote.ClockInfo{Clock: 0x0102030405060708, ResetCount: 9, RestartCount: 10, Safe: q.safe == 1}) ||
				a.FirmwareVersion != 0x1112131415161718 || len(a.Selection) != len(q.banks) {
				t.Fatalf("Parse = %+v, want the fields written", a)
			}
			if out, err := a.Marshal(); err != nil || !bytes.Equal(out, msg) {
				t.Fatalf("Marshal(Parse(msg)) = %x, %v; want msg", out, err)
			}
			_, err = quote.Parse(append(msg, 0))
			wantFieldErr(t, err, "message", format.ErrTrailingData)
		})
	}
}

// TestParseSelectionBits: every bit of every bitmap byte names its PCR
// (byte i bit b is PCR 8i+b), and Size is sizeofSelect as written.
func TestParseSelectionBits(t *testing.T) {
	for idx := range 32 {
		bm := make([]byte, 4)
		bm[idx/8] = 1 << (idx % 8)
		q := baseRaw()
		q.banks = []bank{{quote.AlgSHA256, 4, bm}, {quote.AlgSHA1, 3, []byte{0, 0, 0}}}
		a, err := quote.Parse(q.bytes())
		if err != nil {
			t.Fatal(err)
		}
		if s := a.Selection[0]; s.Hash != quote.AlgSHA256 || s.Size != 4 || len(s.PCRs) != 1 || s.PCRs[0] != idx {
			t.Fatalf("bit of PCR %d: selection %+v", idx, s)
		}
		if s := a.Selection[1]; s.Hash != quote.AlgSHA1 || s.Size != 3 || len(s.PCRs) != 0 {
			t.Fatalf("empty bank: selection %+v", s)
		}
	}
}

// TestParseMessageBound: a TPMS_ATTEST over MaxMessageSize bytes is
// ErrTooLarge before any field is read; at MaxMessageSize it is read, and
// what follows a valid quote is trailing data.
func TestParseMessageBound(t *testing.T) {
	valid := baseRaw().bytes()
	pad := func(n int) []byte { return append(bytes.Clone(valid), make([]byte, n-len(valid))...) }
	_, err := quote.Parse(pad(quote.MaxMessageSize + 1))
	wantFieldErr(t, err, "message", format.ErrTooLarge)
	_, err = quote.Parse(pad(quote.MaxMessageSize))
	wantFieldErr(t, err, "message", format.ErrTrailingData)
}

// TestNilAK: a missing attestation key verifies nothing: NewAK(nil) is
// nil, and every way to check a signature with no key is ErrSignature
// (never a panic, never a success).
func TestNilAK(t *testing.T) {
	if quote.NewAK(nil) != nil {
		t.Fatal("NewAK(nil) is not nil")
	}
	msg, sig := baseRaw().bytes(), make([]byte, 256)
	var k *quote.AK
	if err := k.VerifySignature(msg, sig); !errors.Is(err, quote.ErrSignature) {
		t.Errorf("nil *AK: %v", err)
	}
	if err := quote.VerifySignature(nil, msg, sig); !errors.Is(err, quote.ErrSignature) {
		t.Errorf("VerifySignature(nil key): %v", err)
	}
	if _, err := quote.Verify(&quote.Quote{Message: msg, Signature: sig}, nil, []byte("nonce")); !errors.Is(err, quote.ErrSignature) {
		t.Errorf("Verify(nil key): %v", err)
	}
}

// TestCheckPCRsEdges: a signed digest that is not 32 bytes is a format
// error of pcrDigest (not a digest mismatch); an empty bank of another
// hash selects nothing and is skipped, whereas a non-empty one is refused;
// the PCRs are returned in the order of the signed selection.
func TestCheckPCRsEdges(t *testing.T) {
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		pcrs[i] = bytes.Repeat([]byte{byte(i)}, 32)
	}
	digest := func(idx ...int) []byte {
		var all []byte
		for _, i := range idx {
			all = append(all, pcrs[i]...)
		}
		d := sha256.Sum256(all)
		return d[:]
	}
	sel := func(hash uint16, idx ...int) quote.PCRSelection { return quote.PCRSelection{Hash: hash, PCRs: idx} }
	for _, n := range []int{0, 31, 33, 64} {
		a := &quote.Attest{Selection: []quote.PCRSelection{sel(quote.AlgSHA256, 0)}, PCRDigest: append(digest(0), make([]byte, 32)...)[:n]}
		_, err := a.CheckPCRs(pcrs)
		wantFieldErr(t, err, "pcrDigest", format.ErrBadLength)
	}
	a := &quote.Attest{Selection: []quote.PCRSelection{sel(quote.AlgSHA1), sel(quote.AlgSHA256, 7, 3), sel(0x000C), sel(quote.AlgSHA256, 1)}, PCRDigest: digest(7, 3, 1)}
	got, err := a.CheckPCRs(pcrs)
	if err != nil || fmt.Sprint(got) != "[7 3 1]" {
		t.Fatalf("empty banks of other hashes: CheckPCRs = %v, %v; want [7 3 1]", got, err)
	}
	a.Selection = append(a.Selection, sel(quote.AlgSHA1, 2))
	_, err = a.CheckPCRs(pcrs)
	wantFieldErr(t, err, "pcrSelect[4].hash", format.ErrUnexpectedValue)
	a = &quote.Attest{Selection: []quote.PCRSelection{sel(quote.AlgSHA256), sel(quote.AlgSHA1)}, PCRDigest: digest()}
	_, err = a.CheckPCRs(pcrs)
	wantFieldErr(t, err, "pcrSelect", format.ErrEmpty)
}

// TestVerifyFormatFirst: Verify of no quote is a format error naming the
// quote (not a panic), and a malformed TPMS_ATTEST is a format error
// before its signature is looked at.
func TestVerifyFormatFirst(t *testing.T) {
	_, err := quote.Verify(nil, nil, []byte("nonce"))
	wantFieldErr(t, err, "quote", format.ErrMissingField)
	msg := baseRaw().bytes()
	msg[quote.OffsetMagic] ^= 1
	_, err = quote.Verify(&quote.Quote{Message: msg, Signature: make([]byte, 256)}, nil, []byte("nonce"))
	wantFieldErr(t, err, "magic", format.ErrBadMagic)
}
