package bench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// The measured operations, shared by the benchmarks and TestRatios. Each
// returns a benchmark body; setup (fixtures, warm caches) is done before
// the timer starts.

// benchLoop is a benchmark body that runs op until the benchmark ends,
// failing on its first error.
func benchLoop(op func() error) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// newVerifier is verify.New(cfg), failing the benchmark on an error.
func newVerifier(b *testing.B, cfg verify.Config) *verify.Verifier {
	v, err := verify.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// benchVerify verifies samples in turn with one long-lived Verifier: with
// its cache disabled every signature is checked each time (fresh
// evidence); with the cache on and warm, only what is new is (repeat
// evidence).
func benchVerify(samples []sample, cfg verify.Config) func(b *testing.B) {
	return func(b *testing.B) {
		ctx := context.Background()
		v := newVerifier(b, cfg)
		for _, s := range samples { // warm the cache (and check)
			if _, err := v.Evidence(ctx, s.data, s.nonce); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s := &samples[i%len(samples)]
			i++
			if _, err := v.Evidence(ctx, s.data, s.nonce); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchGoSevGuest(s sample) func(b *testing.B) {
	return func(b *testing.B) {
		g := newGoSevGuest(fixtureTime)
		if err := g.verify(s.data, s.nonce); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := g.verify(s.data, s.nonce); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func freshReal(f *fixtures) func(b *testing.B) {
	return benchVerify([]sample{f.real}, verify.Config{Now: fixtureTime, Cache: verify.CacheConfig{Disable: true}})
}

func freshSynthetic(f *fixtures) func(b *testing.B) {
	return benchVerify([]sample{f.synthFresh}, verify.Config{Roots: f.synthRoots, Cache: verify.CacheConfig{Disable: true}})
}

func repeatSynthetic(f *fixtures) func(b *testing.B) {
	return benchVerify(f.repeat, verify.Config{Roots: f.synthRoots})
}

// refreshedSynthetic verifies v2 evidences whose HCL reports the Verifier
// has not seen, with the VCEK's chain cached: every len(f.refreshed)
// verifications it starts over with a new Verifier, warmed (untimed) with
// other evidence of the same chip.
func refreshedSynthetic(f *fixtures) func(b *testing.B) {
	return func(b *testing.B) {
		ctx := context.Background()
		var v *verify.Verifier
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%len(f.refreshed) == 0 {
				b.StopTimer()
				v = newVerifier(b, verify.Config{Roots: f.synthRoots})
				if _, err := v.Evidence(ctx, f.synthFresh.data, f.synthFresh.nonce); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			s := &f.refreshed[i%len(f.refreshed)]
			if _, err := v.Evidence(ctx, s.data, s.nonce); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func repeatReal(f *fixtures) func(b *testing.B) {
	return benchVerify([]sample{f.real}, verifyConfigAt())
}

// BenchmarkFloor is the cryptographic floor of fresh evidence (see floor).
func BenchmarkFloor(b *testing.B) {
	f := getFixtures(b)
	b.Run("real", benchLoop(f.realFloor.verify))
	b.Run("synthetic", benchLoop(f.synthFloor.verify))
}

// BenchmarkRSA2048 is one RSA-2048 PKCS#1 v1.5 verification of a quote,
// SHA-256 of the message included: the floor of repeat evidence.
func BenchmarkRSA2048(b *testing.B) {
	benchLoop(getFixtures(b).rsa2048.verify)(b)
}

// BenchmarkFresh verifies evidence never seen before (a Verifier with its
// cache disabled).
func BenchmarkFresh(b *testing.B) {
	f := getFixtures(b)
	b.Run("real", freshReal(f))
	b.Run("synthetic", freshSynthetic(f))
}

// BenchmarkRepeat verifies evidence of a known VM with a warm cache:
// "synthetic" cycles through repeatQuotes quotes (new nonces) over one HCL
// report and VCEK; "real" verifies the real v1 evidence again and again,
// "real-v0" the real CoCo v0 evidence.
func BenchmarkRepeat(b *testing.B) {
	f := getFixtures(b)
	b.Run("synthetic", repeatSynthetic(f))
	b.Run("real", repeatReal(f))
	b.Run("real-v0", benchVerify([]sample{f.realV0}, verifyConfigAt()))
}

// BenchmarkRefreshed verifies v2 evidence of one chip whose HCL report is
// refreshed with the nonce every time (the server's protocol with a v2
// attester): the VCEK chain is cached, the report and quote signatures are
// new. "floor" is one ECDSA P-384 plus one RSA-2048 verification.
func BenchmarkRefreshed(b *testing.B) {
	f := getFixtures(b)
	b.Run("floor", benchLoop(f.refreshedFloor.verifyRefreshed))
	b.Run("verify", refreshedSynthetic(f))
}

// BenchmarkRepeatParallel is BenchmarkRepeat/synthetic from GOMAXPROCS
// goroutines sharing one Verifier (and its caches).
func BenchmarkRepeatParallel(b *testing.B) {
	f := getFixtures(b)
	v := newVerifier(b, verify.Config{Roots: f.synthRoots})
	ctx := context.Background()
	for _, s := range f.repeat {
		if _, err := v.Evidence(ctx, s.data, s.nonce); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := &f.repeat[next.Add(1)%uint64(len(f.repeat))]
			if _, err := v.Evidence(ctx, s.data, s.nonce); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGoSevGuest is the straightforward go-sev-guest pipeline on the
// real v1 evidence (compare with BenchmarkFresh/real).
func BenchmarkGoSevGuest(b *testing.B) {
	benchGoSevGuest(getFixtures(b).real)(b)
}

// BenchmarkDecode is evidence.Decode of the real v1 evidence (8 KB).
func BenchmarkDecode(b *testing.B) {
	data := getFixtures(b).real.data
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := evidence.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
