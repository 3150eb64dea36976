package hardening_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// fuzzFixture is a fixture with its genuine claims and a caching Verifier
// shared by every input of a fuzzing process.
type fuzzFixture struct {
	*fixture
	want outcome
	// noPCRs is the outcome of the fixture without its PCR values (the
	// older form, message and signature only), which is accepted by design.
	noPCRs outcome
	shared *verify.Verifier
}

var fuzzFixtures = sync.OnceValue(func() []*fuzzFixture {
	var out []*fuzzFixture
	tb := &onceTB{}
	for _, f := range fixtures(tb) {
		want, shared := genuine(tb, f.name, func(v *verify.Verifier) outcome { return runDecoded(tb, f.ev, f.nonce, v) })
		bare := cloneEvidence(f.ev)
		bare.Quote.PCRs = nil
		noPCRs := runDecoded(tb, bare, f.nonce, uncached())
		if noPCRs.claims == nil || noPCRs.claims.PCRValues != verify.PCRValuesAbsent {
			panic(fmt.Sprintf("%s without PCR values: %v", f.name, noPCRs))
		}
		out = append(out, &fuzzFixture{fixture: f, want: want, noPCRs: noPCRs, shared: shared})
	}
	return out
})

// onceTB lets fuzzFixtures use the fixture helpers outside a test: any
// failure panics, which fails the fuzz target.
type onceTB struct{ testing.TB }

func (*onceTB) Helper()                   {}
func (*onceTB) Fatal(args ...any)         { panic(args) }
func (*onceTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// Fields of decoded evidence that FuzzDecodedEvidence splices bytes into.
const (
	fHCL = iota
	fMsg
	fSig
	fPCR
	fVCEK
	fPCRList
	numFields
)

// spliceField changes one field of a copy of ev: mode 0 overwrites at off
// (growing the field if needed), 1 inserts at off, 2 replaces the field,
// 3 truncates at off and appends data.
func spliceField(ev *evidence.Evidence, field uint8, off uint16, mode uint8, data []byte) *evidence.Evidence {
	c := cloneEvidence(ev)
	edit := func(b []byte) []byte {
		o := int(off) % (len(b) + 1)
		switch mode % 4 {
		case 0:
			if end := o + len(data); end > len(b) {
				b = append(b, make([]byte, end-len(b))...)
			}
			copy(b[o:], data)
		case 1:
			b = slices.Insert(b, o, data...)
		case 2:
			b = slices.Clone(data)
		case 3:
			b = append(b[:o], data...)
		}
		return b
	}
	switch int(field) % numFields {
	case fHCL:
		c.HCLReport = edit(c.HCLReport)
	case fMsg:
		c.Quote.Message = edit(c.Quote.Message)
	case fSig:
		c.Quote.Signature = edit(c.Quote.Signature)
	case fPCR:
		if len(c.Quote.PCRs) > 0 {
			i := int(field/numFields) % len(c.Quote.PCRs)
			c.Quote.PCRs[i] = edit(c.Quote.PCRs[i])
		}
	case fVCEK:
		c.VCEK = edit(c.VCEK)
	case fPCRList:
		// Cut the list at off and append PCR values taken from data.
		n := int(off) % (len(c.Quote.PCRs) + 1)
		c.Quote.PCRs = c.Quote.PCRs[:n]
		for chunk := range slices.Chunk(data, 32) {
			c.Quote.PCRs = append(c.Quote.PCRs, slices.Clone(chunk))
		}
	}
	return c
}

// FuzzDecodedEvidence splices fuzzer-chosen bytes into one structured field
// (HCL report, TPMS_ATTEST, quote signature, a PCR value, the PCR list, the
// VCEK DER) of a real evidence fixture and verifies it with and without a
// shared cache. Nothing may panic, every error must be a *verify.Error, both
// verdicts must agree, and whatever is accepted must carry exactly the
// claims of the unmodified fixture.
func FuzzDecodedEvidence(f *testing.F) {
	fx := fuzzFixtures()
	for i, x := range fx {
		for field := range uint8(numFields) {
			f.Add(uint8(i), field, uint16(0), uint8(0), []byte{0})
			f.Add(uint8(i), field, uint16(100), uint8(1), []byte{0xff, 0xff})
		}
		// Seeds that must be accepted: unsigned padding and an extra PCR.
		f.Add(uint8(i), uint8(fHCL), uint16(len(x.ev.HCLReport)), uint8(1), []byte{0, 0, 0})
		f.Add(uint8(i), uint8(fPCRList), uint16(24), uint8(0), make([]byte, 32))
		f.Add(uint8(i), uint8(fHCL), uint16(hcl.OffsetHardware+snp.OffsetSignatureS+snp.SignatureComponentSize+5), uint8(0), []byte("reserved"))
		f.Add(uint8(i), uint8(fVCEK), uint16(0), uint8(2), fx[(i+1)%len(fx)].ev.VCEK)
		f.Add(uint8(i), uint8(fMsg), uint16(0), uint8(2), fx[(i+1)%len(fx)].ev.Quote.Message)
	}
	f.Fuzz(func(t *testing.T, which, field uint8, off uint16, mode uint8, data []byte) {
		if len(data) > 8192 {
			return
		}
		x := fx[int(which)%len(fx)]
		ev := spliceField(x.ev, field, off, mode, data)
		plain := runDecoded(t, ev, x.nonce, uncached())
		withCache := runDecoded(t, ev, x.nonce, x.shared)
		checkFuzzOutcome(t, x.want, plain, withCache)
	})
}

func checkFuzzOutcome(t *testing.T, want, plain, withCache outcome) {
	t.Helper()
	if plain.bad != "" {
		t.Fatal(plain.bad)
	}
	if withCache.bad != "" {
		t.Fatal("cached: " + withCache.bad)
	}
	if !plain.same(withCache) {
		t.Fatalf("the cache changed the verdict: without %v, with %v", plain, withCache)
	}
	if plain.claims != nil && (plain.json != want.json || !reflect.DeepEqual(plain.claims, want.claims)) {
		t.Fatalf("accepted with DIFFERENT claims:\n got %s\nwant %s", plain.json, want.json)
	}
}

// FuzzEvidence fuzzes verify.Evidence on whole documents (seeded with every
// real fixture), verifying with the nonce of fixture `which`. Accepted
// evidence must carry the claims of one fixture, with or without its PCR
// values (a document without "pcrs" is the older form); only the evidence version
// (and FreshReport, which follows it) may differ, since "version" is not
// signed: a downgrade from 2 to 1 is possible, an upgrade is refuted by the
// user-data check.
func FuzzEvidence(f *testing.F) {
	fx := fuzzFixtures()
	for i, x := range fx {
		f.Add(uint8(i), x.raw)
	}
	f.Add(uint8(0), []byte(`{"version":2,"tpm_quote":{"signature":"00","message":"00","pcrs":[]},"hcl_report":"AA=="}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		x := fx[int(which)%len(fx)]
		plain := runEvidence(t, data, x.nonce, uncached())
		withCache := runEvidence(t, data, x.nonce, x.shared)
		if plain.bad != "" {
			t.Fatal(plain.bad)
		}
		if !plain.same(withCache) {
			t.Fatalf("the cache changed the verdict: without %v, with %v", plain, withCache)
		}
		if plain.claims == nil {
			return
		}
		c := *plain.claims
		if c.FreshReport != (c.EvidenceVersion >= 2) {
			t.Fatalf("FreshReport %v for evidence version %d", c.FreshReport, c.EvidenceVersion)
		}
		c.EvidenceVersion, c.FreshReport = 0, false
		got, _ := json.Marshal(&c)
		for _, y := range fx {
			// Dropping the "pcrs" member is the older form, accepted with
			// the values reported absent.
			for _, o := range []outcome{y.want, y.noPCRs} {
				w := *o.claims
				w.EvidenceVersion, w.FreshReport = 0, false
				if b, _ := json.Marshal(&w); string(b) == string(got) {
					return
				}
			}
		}
		t.Fatalf("accepted with claims of no fixture: %s", plain.json)
	})
}

// FuzzIMDSParse fuzzes imds.Parse, the parser of the (untrusted) THIM
// response: no panic, errors are *imds.FormatError, and a parsed response
// holds one parsable certificate and a usable TCB.
func FuzzIMDSParse(f *testing.F) {
	f.Add(testutil.ReadFile(f, "azure-thim/uvm_host_amd_certificate.json"))
	f.Add([]byte(`{"vcekCert":"","tcbm":"7308000000000003","certificateChain":"","cacheControl":86400}`))
	f.Add([]byte(`{"vcekCert":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n","tcbm":"zz"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := imds.Parse(body)
		if err != nil {
			var fe *imds.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if c != nil {
				t.Fatal("certification returned with an error")
			}
			return
		}
		if _, err := x509.ParseCertificate(c.VCEK); err != nil {
			t.Fatalf("VCEK does not parse: %v", err)
		}
		if c.TCBM != "" {
			if _, err := c.TCB(); err != nil {
				t.Fatalf("accepted tcbm %q but TCB(): %v", c.TCBM, err)
			}
		}
		for _, cert := range c.Chain {
			if cert == nil {
				t.Fatal("nil certificate in chain")
			}
		}
	})
}
