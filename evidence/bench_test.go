package evidence

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

func benchmarkDecode(b *testing.B, file string) {
	in := testutil.ReadFile(b, file)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeV0(b *testing.B) {
	benchmarkDecode(b, "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json")
}

func BenchmarkDecodeV1(b *testing.B) {
	benchmarkDecode(b, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
}

func BenchmarkDecodeV0TDX(b *testing.B) {
	benchmarkDecode(b, "trustee-az-vtpm/az-tdx-vtpm/evidence-v0.json")
}

func BenchmarkEncode(b *testing.B) {
	e, err := Decode(testutil.ReadFile(b, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBincodeQuote(b *testing.B) {
	in := testutil.ReadFile(b, "trustee-az-vtpm/az-snp-vtpm/quote.bin")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBincodeQuote(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecoderRepeat decodes the real v1 evidence with a Decoder that
// remembers its HCL report and VCEK (the repeat-attestation path), beside
// BenchmarkDecodeV1 (nothing remembered).
func BenchmarkDecoderRepeat(b *testing.B) {
	in := testutil.ReadFile(b, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	d := NewDecoder(16, 1<<20)
	e, err := d.Decode(in)
	if err != nil {
		b.Fatal(err)
	}
	d.Remember(e)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanWire is the one-pass wire scanner alone (no base64, no
// quote parsing) on each real document: the v0 files are mostly arrays of
// byte numbers, the v1 file mostly strings.
func BenchmarkScanWire(b *testing.B) {
	for _, c := range []struct{ name, file string }{
		{"V0", "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json"},
		{"V1", "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json"},
		{"V0TDX", "trustee-az-vtpm/az-tdx-vtpm/evidence-v0.json"},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := testutil.ReadFile(b, c.file)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var w wire
				if !scanWire(in, nil, &w) {
					b.Fatal("fast path gave up")
				}
			}
		})
	}
}
