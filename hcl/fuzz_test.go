package hcl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.load(f))
	}
	f.Add(snpBlob(f)[:RuntimeDataOffset+10])
	f.Fuzz(func(t *testing.T, blob []byte) {
		r, err := Parse(blob)
		if testutil.RejectedNil(t, r, err, format.ErrMalformed) {
			return
		}
		n := len(r.RuntimeDataRaw)
		if n == 0 || int(r.ReportSize) != RuntimeDataOffset+n || int(r.DataSize) != IGVMHeaderSize+n ||
			!bytes.Equal(r.RuntimeDataRaw, blob[RuntimeDataOffset:RuntimeDataOffset+n]) || r.RuntimeData == nil {
			t.Fatal("inconsistent report")
		}
		if len(r.ReportData()) != ReportDataSize {
			t.Fatal("bad ReportData")
		}
		_ = r.CheckBinding()
		_, _ = r.RuntimeData.AK()
		_, _ = r.RuntimeData.EK()
		// Build reproduces the blob up to the header version.
		hw := r.Hardware
		if r.TDReport != nil {
			hw = r.TDReport
		}
		out, err := Build(r.Type, hw, r.RuntimeDataRaw, len(blob))
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if !bytes.Equal(out[8:], blob[8:]) || !bytes.Equal(out[:4], blob[:4]) {
			t.Fatal("Build(Parse(blob)) != blob")
		}
		// Marshal reproduces it exactly.
		if m, err := r.Marshal(); err != nil || !bytes.Equal(m, blob) {
			t.Fatalf("Marshal(Parse(blob)) != blob (err %v)", err)
		}
	})
}

func FuzzParseRuntimeData(f *testing.F) {
	f.Add(testutil.ReadFile(f, "azure-cvm-tooling/var-data.bin"))
	for _, fx := range fixtures[:4] {
		r, err := Parse(fx.load(f))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.RuntimeDataRaw)
	}
	f.Add([]byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseRuntimeData(b)
		if err != nil {
			return
		}
		if d.UserData != nil && len(d.UserData) != UserDataSize {
			t.Fatalf("user data %d bytes", len(d.UserData))
		}
		for i := range d.Keys {
			if k, err := d.Keys[i].RSAPublicKey(); err == nil && (k.N.BitLen() < MinRSABits || k.N.BitLen() > MaxRSABits) {
				t.Fatal("out-of-range key accepted")
			}
		}
		_, _ = d.AK()
		_, _ = d.EK()
	})
}

// FuzzParseIGVMHeader: ParseIGVMHeader never panics, every rejection is a
// *FormatError (format.ErrMalformed) with no header, and an accepted
// header is valid and exactly its 20 bytes: writing its fields back
// gives b.
func FuzzParseIGVMHeader(f *testing.F) {
	for _, fx := range fixtures {
		blob := fx.load(f)
		f.Add(bytes.Clone(blob[RuntimeDataOffset-IGVMHeaderSize : RuntimeDataOffset]))
	}
	f.Add(make([]byte, IGVMHeaderSize))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, IGVMHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseIGVMHeader(b)
		if testutil.RejectedNil(t, h, err, format.ErrMalformed) {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FormatError: %v", err, err)
			}
			return
		}
		if h.Type != ReportTypeSNP || h.HashType != HashTypeSHA256 || h.VariableDataSize == 0 ||
			uint64(h.DataSize) != IGVMHeaderSize+uint64(h.VariableDataSize) || h.VariableDataSize > MaxRuntimeDataSize {
			t.Fatalf("accepted an invalid header %+v", h)
		}
		out := binary.LittleEndian.AppendUint32(nil, h.DataSize)
		for _, v := range []uint32{h.Version, uint32(h.Type), uint32(h.HashType), h.VariableDataSize} {
			out = binary.LittleEndian.AppendUint32(out, v)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("fields %x, input %x", out, b)
		}
	})
}
