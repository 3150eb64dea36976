package hardening_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Regions of the evidence. A mutation in a region that is signed or bound by
// a hash or digest must be rejected; a mutation in an unsigned region must be
// rejected or leave every verified claim exactly unchanged.
const (
	regHCLHeader    = "hcl-header (unsigned)"
	regSNPSigned    = "snp-report signed bytes"
	regSNPSignature = "snp-signature R,S"
	regSNPSigRsvd   = "snp-signature reserved (unsigned)"
	regIGVMHeader   = "igvm-header (unsigned)"
	regRuntimeData  = "runtime-data (hash-bound)"
	regPadding      = "hcl-padding (unsigned)"
	regQuoteMessage = "quote-message (signed)"
	regQuoteSig     = "quote-signature"
	regPCRSelected  = "pcr-selected (digest-bound)"
	regPCRExtra     = "pcr-unselected (unsigned)"
	regVCEK         = "vcek-der"
	regJSON         = "evidence-json raw (mixed)"
)

// regionOrder is the order of the printed tables; mustReject says which
// regions admit no accepted mutation at all.
var (
	regionOrder = []string{regHCLHeader, regSNPSigned, regSNPSignature, regSNPSigRsvd, regIGVMHeader,
		regRuntimeData, regPadding, regQuoteMessage, regQuoteSig, regPCRSelected, regPCRExtra, regVCEK, regJSON}
	mustReject = map[string]bool{
		regSNPSigned: true, regSNPSignature: true, regRuntimeData: true, regQuoteMessage: true,
		regQuoteSig: true, regPCRSelected: true, regVCEK: true,
	}
)

// Offsets in the HCL blob (SPEC.md §2) and the SNP report (§3), from their
// owners.
const (
	offSNP      = hcl.OffsetHardware                                // 32
	offIGVM     = hcl.OffsetDataSize                                // 1216
	offRuntime  = hcl.RuntimeDataOffset                             // 1236
	snpSigStart = snp.OffsetSignatureR                              // 0x2A0
	snpSigEnd   = snp.OffsetSignatureS + snp.SignatureComponentSize // end of S
)

// hclRegion classifies byte off of an HCL blob whose runtime data is n bytes.
func hclRegion(off, n int) string {
	switch {
	case off < offSNP:
		return regHCLHeader
	case off < offSNP+snpSigStart:
		return regSNPSigned
	case off < offSNP+snpSigEnd:
		return regSNPSignature
	case off < offIGVM:
		return regSNPSigRsvd
	case off < offRuntime:
		return regIGVMHeader
	case off < offRuntime+n:
		return regRuntimeData
	}
	return regPadding
}

type namedOff struct {
	off  int
	name string
}

var (
	hclHeaderFields = []namedOff{{hcl.OffsetMagic, "magic"}, {hcl.OffsetHeaderVersion, "version"},
		{hcl.OffsetReportSize, "report_size"}, {hcl.OffsetRequestType, "request_type"},
		{hcl.OffsetStatus, "status"}, {hcl.OffsetReserved, "reserved"}}
	igvmFields = []namedOff{{hcl.OffsetDataSize - offIGVM, "data_size"}, {hcl.OffsetIGVMVersion - offIGVM, "version"},
		{hcl.OffsetReportType - offIGVM, "report_type"}, {hcl.OffsetHashType - offIGVM, "report_data_hash_type"},
		{hcl.OffsetVarDataSize - offIGVM, "variable_data_size"}}
	snpFields = []namedOff{{snp.OffsetVersion, "version"}, {snp.OffsetGuestSVN, "guest_svn"},
		{snp.OffsetPolicy, "policy"}, {snp.OffsetFamilyID, "family_id"}, {snp.OffsetImageID, "image_id"},
		{snp.OffsetVMPL, "vmpl"}, {snp.OffsetSignatureAlgo, "signature_algo"}, {snp.OffsetCurrentTCB, "current_tcb"},
		{snp.OffsetPlatformInfo, "platform_info"}, {snp.OffsetSignerInfo, "signer_info"},
		{snp.OffsetSignerInfo + 4, "reserved1"}, {snp.OffsetReportData, "report_data"},
		{snp.OffsetMeasurement, "measurement"}, {snp.OffsetHostData, "host_data"},
		{snp.OffsetIDKeyDigest, "id_key_digest"}, {snp.OffsetAuthorKeyDigest, "author_key_digest"},
		{snp.OffsetReportID, "report_id"}, {snp.OffsetReportIDMA, "report_id_ma"},
		{snp.OffsetReportedTCB, "reported_tcb"}, {snp.OffsetCPUID, "cpuid_fam_id"},
		{snp.OffsetCPUID + 1, "cpuid_mod_id"}, {snp.OffsetCPUID + 2, "cpuid_step"},
		{snp.OffsetCPUID + 3, "reserved2"}, {snp.OffsetChipID, "chip_id"},
		{snp.OffsetCommittedTCB, "committed_tcb"}, {snp.OffsetCurrentVersion, "current_build"},
		{snp.OffsetCurrentVersion + 1, "current_minor"}, {snp.OffsetCurrentVersion + 2, "current_major"},
		{snp.OffsetCurrentVersion + 3, "reserved3"}, {snp.OffsetCommittedVersion, "committed_build"},
		{snp.OffsetCommittedVersion + 1, "committed_minor"}, {snp.OffsetCommittedVersion + 2, "committed_major"},
		{snp.OffsetCommittedVersion + 3, "reserved4"}, {snp.OffsetLaunchTCB, "launch_tcb"},
		{snp.OffsetLaunchMitVector, "reserved5"}, {snp.OffsetSignatureR, "signature.r"},
		{snp.OffsetSignatureS, "signature.s"}, {snpSigEnd, "signature.reserved"}}
)

func fieldName(fields []namedOff, off int) string {
	name := "?"
	for _, f := range fields {
		if off >= f.off {
			name = fmt.Sprintf("%s+%d", f.name, off-f.off)
		}
	}
	return name
}

// hclFieldName names byte off of an HCL blob, for failure messages.
func hclFieldName(off, n int) string {
	switch {
	case off < offSNP:
		return "hcl." + fieldName(hclHeaderFields, off)
	case off < offIGVM:
		return fmt.Sprintf("snp[0x%03x].%s", off-offSNP, fieldName(snpFields, off-offSNP))
	case off < offRuntime:
		return "igvm." + fieldName(igvmFields, off-offIGVM)
	case off < offRuntime+n:
		return fmt.Sprintf("runtime_data+%d", off-offRuntime)
	}
	return fmt.Sprintf("padding+%d", off-offRuntime-n)
}

type target uint8

const (
	tHCL target = iota
	tMsg
	tSig
	tPCR
	tVCEK
)

type op uint8

const (
	opFlip     op = iota // b[off] ^= mask
	opTruncate           // b = b[:off]
	opAppend             // b = append(b, mask)
	opPrepend            // b = append([]byte{mask}, b...)
	opNil                // b = nil
	opDropPCR            // PCRs = PCRs[:len-1]
	opAddPCR             // PCRs = append(PCRs, 32 bytes of mask)
)

// mutation is one change to decoded evidence.
type mutation struct {
	region string
	target target
	op     op
	pcr    int // tPCR: which PCR
	off    int
	mask   byte
	desc   string
}

func (m mutation) String() string { return m.desc }

func mutateBytes(b []byte, m mutation) []byte {
	switch m.op {
	case opFlip:
		b[m.off] ^= m.mask
	case opTruncate:
		b = b[:m.off]
	case opAppend:
		b = append(b, m.mask)
	case opPrepend:
		b = append([]byte{m.mask}, b...)
	case opNil:
		b = nil
	}
	return b
}

// apply returns a mutated deep copy of ev.
func (m mutation) apply(ev *evidence.Evidence) *evidence.Evidence {
	c := cloneEvidence(ev)
	switch m.target {
	case tHCL:
		c.HCLReport = mutateBytes(c.HCLReport, m)
	case tMsg:
		c.Quote.Message = mutateBytes(c.Quote.Message, m)
	case tSig:
		c.Quote.Signature = mutateBytes(c.Quote.Signature, m)
	case tVCEK:
		c.VCEK = mutateBytes(c.VCEK, m)
	case tPCR:
		switch m.op {
		case opDropPCR:
			c.Quote.PCRs = c.Quote.PCRs[:len(c.Quote.PCRs)-1]
		case opAddPCR:
			c.Quote.PCRs = append(c.Quote.PCRs, slices.Repeat([]byte{m.mask}, 32))
		case opNil:
			// An empty list, not nil: nil means "values unknown" (older
			// evidence), which verifies with pcr_values "absent"
			// (TestNoPCRValues, TestMutationNoPCRs); an empty list lacks
			// the selected values.
			c.Quote.PCRs = [][]byte{}
		default:
			c.Quote.PCRs[m.pcr] = mutateBytes(c.Quote.PCRs[m.pcr], m)
		}
	}
	return c
}

// flipMask is the deterministic XOR mask for byte i of a data region: every
// bit position in turn, and all bits every fifth byte.
func flipMask(i int) byte {
	if i%5 == 4 {
		return 0xFF
	}
	return 1 << (i % 8)
}

// flips returns a flipMask flip of each of the n bytes of field.
func flips(region string, tgt target, field string, n int) []mutation {
	ms := make([]mutation, n)
	for off := range n {
		mask := flipMask(off)
		ms[off] = mutation{region: region, target: tgt, off: off, mask: mask,
			desc: fmt.Sprintf("%s[%d] ^= 0x%02x", field, off, mask)}
	}
	return ms
}

// selectedPCRs returns the indices the fixture's quote selects.
func selectedPCRs(t testing.TB, ev *evidence.Evidence) map[int]bool {
	a := parseQuote(t, ev)
	sel := map[int]bool{}
	for _, s := range a.Selection {
		for _, i := range s.PCRs {
			sel[i] = true
		}
	}
	return sel
}

// mutations returns the deterministic mutation set of a fixture: every bit
// of the HCL and IGVM headers, every byte of the SNP report (signed bytes,
// signature and its reserved tail), of the runtime data, of the padding, of
// the TPMS_ATTEST, of the quote signature, of every PCR and of the VCEK DER,
// plus length changes of every field.
func mutations(t testing.TB, ev *evidence.Evidence) []mutation {
	h, err := hcl.Parse(ev.HCLReport)
	if err != nil {
		t.Fatal(err)
	}
	n := len(h.RuntimeDataRaw)
	var ms []mutation
	blob := ev.HCLReport
	for off := range blob {
		reg := hclRegion(off, n)
		name := hclFieldName(off, n)
		if reg == regHCLHeader || reg == regIGVMHeader {
			for bit := range 8 {
				ms = append(ms, mutation{region: reg, target: tHCL, off: off, mask: 1 << bit,
					desc: fmt.Sprintf("hcl[%d] %s ^= 0x%02x", off, name, 1<<bit)})
			}
			continue
		}
		mask := flipMask(off)
		ms = append(ms, mutation{region: reg, target: tHCL, off: off, mask: mask,
			desc: fmt.Sprintf("hcl[%d] %s ^= 0x%02x", off, name, mask)})
	}
	end := offRuntime + n
	ms = append(ms,
		mutation{region: regRuntimeData, target: tHCL, op: opTruncate, off: end - 1, desc: "hcl truncated into the runtime data"},
		mutation{region: regIGVMHeader, target: tHCL, op: opTruncate, off: offIGVM, desc: "hcl truncated to the hardware report"},
		mutation{region: regHCLHeader, target: tHCL, op: opTruncate, off: 4, desc: "hcl truncated to the magic"},
		mutation{region: regPadding, target: tHCL, op: opAppend, mask: 0x00, desc: "hcl padding + one zero byte"},
		mutation{region: regPadding, target: tHCL, op: opAppend, mask: 0x01, desc: "hcl padding + one non-zero byte"},
		mutation{region: regHCLHeader, target: tHCL, op: opNil, desc: "hcl report nil"},
	)
	if len(blob) > end {
		ms = append(ms,
			mutation{region: regPadding, target: tHCL, op: opTruncate, off: len(blob) - 1, desc: "hcl padding - one byte"},
			mutation{region: regPadding, target: tHCL, op: opTruncate, off: end, desc: "hcl padding removed"},
		)
	}

	ms = append(ms, flips(regQuoteMessage, tMsg, "quote.message", len(ev.Quote.Message))...)
	ms = append(ms,
		mutation{region: regQuoteMessage, target: tMsg, op: opAppend, desc: "quote.message + one byte"},
		mutation{region: regQuoteMessage, target: tMsg, op: opTruncate, off: len(ev.Quote.Message) - 1, desc: "quote.message - one byte"},
		mutation{region: regQuoteMessage, target: tMsg, op: opNil, desc: "quote.message nil"},
	)
	ms = append(ms, flips(regQuoteSig, tSig, "quote.signature", len(ev.Quote.Signature))...)
	ms = append(ms,
		mutation{region: regQuoteSig, target: tSig, op: opAppend, desc: "quote.signature + one byte"},
		mutation{region: regQuoteSig, target: tSig, op: opPrepend, desc: "quote.signature prefixed by a zero byte"},
		mutation{region: regQuoteSig, target: tSig, op: opTruncate, off: len(ev.Quote.Signature) - 1, desc: "quote.signature - one byte"},
		mutation{region: regQuoteSig, target: tSig, op: opNil, desc: "quote.signature nil"},
	)

	sel := selectedPCRs(t, ev)
	for i, p := range ev.Quote.PCRs {
		reg := regPCRExtra
		if sel[i] {
			reg = regPCRSelected
		}
		for off := range p {
			mask := flipMask(off + i)
			ms = append(ms, mutation{region: reg, target: tPCR, pcr: i, off: off, mask: mask,
				desc: fmt.Sprintf("pcr[%d][%d] ^= 0x%02x", i, off, mask)})
		}
		ms = append(ms,
			mutation{region: reg, target: tPCR, pcr: i, op: opTruncate, off: 31, desc: fmt.Sprintf("pcr[%d] 31 bytes", i)},
			mutation{region: reg, target: tPCR, pcr: i, op: opAppend, desc: fmt.Sprintf("pcr[%d] 33 bytes", i)},
		)
	}
	ms = append(ms,
		mutation{region: regPCRSelected, target: tPCR, op: opDropPCR, desc: "last PCR dropped"},
		mutation{region: regPCRSelected, target: tPCR, op: opNil, desc: "PCR list empty"},
		mutation{region: regPCRExtra, target: tPCR, op: opAddPCR, mask: 0xAB, desc: "PCR list + an unselected 25th value"},
	)

	ms = append(ms, flips(regVCEK, tVCEK, "vcek", len(ev.VCEK))...)
	ms = append(ms,
		mutation{region: regVCEK, target: tVCEK, op: opAppend, desc: "vcek + one trailing byte"},
		mutation{region: regVCEK, target: tVCEK, op: opTruncate, off: len(ev.VCEK) - 1, desc: "vcek - one byte"},
		mutation{region: regVCEK, target: tVCEK, op: opTruncate, off: 0, desc: "vcek empty (non-nil)"},
		mutation{region: regVCEK, target: tVCEK, op: opNil, desc: "vcek nil (offline: none can be fetched)"},
	)
	return ms
}

// outcome is the verdict of one verification.
type outcome struct {
	check  verify.Check // set when rejected with a *verify.Error
	claims *verify.Claims
	json   string // claims as JSON, when accepted
	bad    string // a panic or an untyped error: always a failure
}

func (o outcome) String() string {
	switch {
	case o.bad != "":
		return o.bad
	case o.claims != nil:
		return "accepted"
	}
	return "rejected: " + string(o.check)
}

func (o outcome) same(p outcome) bool {
	return o.check == p.check && o.json == p.json && o.bad == p.bad
}

// run verifies ev and classifies the result; it never panics.
func run(t testing.TB, verifyFn func() (*verify.Claims, error)) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = outcome{bad: fmt.Sprintf("PANIC: %v\n%s", r, debug.Stack())}
		}
	}()
	c, err := verifyFn()
	if err == nil {
		if c == nil {
			return outcome{bad: "nil claims and nil error"}
		}
		return outcome{claims: c, json: testutil.JSON(t, c)}
	}
	if c != nil {
		return outcome{bad: fmt.Sprintf("claims returned with error %v", err)}
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		return outcome{bad: fmt.Sprintf("untyped error %T: %v", err, err)}
	}
	if !errors.Is(err, verify.ErrRejected) {
		return outcome{bad: fmt.Sprintf("error does not match ErrRejected: %v", err)}
	}
	if ve.Check == "" {
		return outcome{bad: fmt.Sprintf("*verify.Error without Check: %v", err)}
	}
	return outcome{check: ve.Check}
}

// genuine verifies a fixture's genuine evidence with run: cache-less, then
// with a new caching Verifier, which it returns warm. Both must accept it,
// with the same claims.
func genuine(t testing.TB, name string, run func(*verify.Verifier) outcome) (want outcome, shared *verify.Verifier) {
	t.Helper()
	want = run(uncached())
	if want.claims == nil {
		t.Fatalf("%s: genuine evidence: %v", name, want)
	}
	shared = cached()
	if o := run(shared); !o.same(want) {
		t.Fatalf("%s: genuine evidence with cache: %v", name, o)
	}
	return want, shared
}

func runDecoded(t testing.TB, ev *evidence.Evidence, nonce []byte, opts *verify.Verifier) outcome {
	return run(t, func() (*verify.Claims, error) { return opts.Decoded(context.Background(), ev, nonce) })
}

func runEvidence(t testing.TB, data, nonce []byte, opts *verify.Verifier) outcome {
	return run(t, func() (*verify.Claims, error) { return opts.Evidence(context.Background(), data, nonce) })
}

// regionStats counts the outcomes of the mutations of one region.
type regionStats struct {
	mutations, rejected, identical int
	checks                         map[verify.Check]int
}

type stats struct {
	mu   sync.Mutex
	regs map[string]*regionStats
}

func (s *stats) add(region string, o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.regs == nil {
		s.regs = map[string]*regionStats{}
	}
	r := s.regs[region]
	if r == nil {
		r = &regionStats{checks: map[verify.Check]int{}}
		s.regs[region] = r
	}
	r.mutations++
	switch {
	case o.bad != "":
	case o.claims != nil:
		r.identical++ // only called for identical claims; others fail the test
	default:
		r.rejected++
		r.checks[o.check]++
	}
}

// report logs the per-region table and check distribution, and prints them
// to stdout when the tests run with -v.
func (s *stats) report(t *testing.T, title string) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "region\tmust reject\tmutations\trejected\taccepted, identical claims\t\n")
	total := regionStats{}
	for _, name := range regionOrder {
		r := s.regs[name]
		if r == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%d\t\n", name, mustReject[name], r.mutations, r.rejected, r.identical)
		total.mutations += r.mutations
		total.rejected += r.rejected
		total.identical += r.identical
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t\n", total.mutations, total.rejected, total.identical)
	tw.Flush()
	b.WriteString("\nfailed checks per region:\n")
	for _, name := range regionOrder {
		r := s.regs[name]
		if r == nil || len(r.checks) == 0 {
			continue
		}
		checks := slices.Collect(maps.Keys(r.checks))
		sort.Slice(checks, func(i, j int) bool {
			if r.checks[checks[i]] != r.checks[checks[j]] {
				return r.checks[checks[i]] > r.checks[checks[j]]
			}
			return checks[i] < checks[j]
		})
		parts := make([]string, len(checks))
		for i, c := range checks {
			parts[i] = fmt.Sprintf("%s=%d", c, r.checks[c])
		}
		fmt.Fprintf(&b, "  %-36s %s\n", name, strings.Join(parts, " "))
	}
	t.Logf("%s\n%s", title, b.String())
	if testing.Verbose() {
		fmt.Fprintf(os.Stdout, "\n=== %s\n%s\n", title, b.String())
	}
}

// judge checks one mutation's outcomes (without cache, with a warm shared
// cache) against the unmutated claims and records it.
func judge(t *testing.T, st *stats, fx, region, desc string, want outcome, plain, withCache outcome) {
	if plain.bad != "" {
		t.Errorf("%s: %s: %s", fx, desc, plain.bad)
		return
	}
	if withCache.bad != "" {
		t.Errorf("%s: %s (cached options): %s", fx, desc, withCache.bad)
		return
	}
	if !plain.same(withCache) {
		t.Errorf("%s: %s: the cache changed the verdict: without cache %v, with cache %v", fx, desc, plain, withCache)
		return
	}
	if plain.claims != nil {
		if mustReject[region] {
			t.Errorf("%s: %s: mutation of %s ACCEPTED", fx, desc, region)
			return
		}
		if plain.json != want.json || !reflect.DeepEqual(plain.claims, want.claims) {
			t.Errorf("%s: %s: mutation of %s accepted with DIFFERENT claims:\n got %s\nwant %s", fx, desc, region, plain.json, want.json)
			return
		}
	}
	st.add(region, plain)
}

// parallel runs fn(i) for i in [0, n) on GOMAXPROCS workers.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// TestMutationDecoded mutates every region of every real evidence fixture
// (decoded, so that each change reaches the field it targets) and verifies
// each mutant twice: with a fresh cache-less Verifier and with a Verifier
// whose cache is warm with the genuine evidence and shared by all mutants of
// the fixture. Both verdicts must agree: the cache never turns a failure
// into a success.
func TestMutationDecoded(t *testing.T) {
	st := &stats{}
	for fxIndex, fx := range fixtures(t) {
		want, shared := genuine(t, fx.name, func(v *verify.Verifier) outcome { return runDecoded(t, fx.ev, fx.nonce, v) })
		ms := sample(t, mutations(t, fx.ev), func(m mutation) string { return m.region },
			func(m mutation) bool { return m.op == opFlip }, fxIndex)
		parallel(len(ms), func(i int) {
			m := ms[i]
			mev := m.apply(fx.ev)
			plain := runDecoded(t, mev, fx.nonce, uncached())
			withCache := runDecoded(t, mev, fx.nonce, shared)
			judge(t, st, fx.name, m.region, m.desc, want, plain, withCache)
		})
		// The genuine evidence still verifies, identically, from the cache
		// that saw every mutant.
		if o := runDecoded(t, fx.ev, fx.nonce, shared); !o.same(want) {
			t.Errorf("%s: genuine evidence after the mutants, cached: %v", fx.name, o)
		}
		t.Logf("%s: %d mutations", fx.name, len(ms))
	}
	st.report(t, "mutations of decoded evidence (5 real fixtures), per region")
}

// TestMutationRawJSON flips bytes of the encoded evidence documents at a
// stride, and appends, truncates and wraps them: every outcome must be a
// typed rejection or the unmutated claims.
func TestMutationRawJSON(t *testing.T) {
	st := &stats{}
	for fxIndex, fx := range fixtures(t) {
		want, shared := genuine(t, fx.name, func(v *verify.Verifier) outcome { return runEvidence(t, fx.raw, fx.nonce, v) })
		type rawMut struct {
			desc string
			data []byte
		}
		var ms []rawMut
		stride := max(1, len(fx.raw)/400)
		for off := 0; off < len(fx.raw); off += stride {
			// Vary the position within the stride so that every byte
			// class (keys, punctuation, digits, base64) is reached.
			p := min(len(fx.raw)-1, off+(off/stride)%stride)
			mask := flipMask(off / stride)
			d := slices.Clone(fx.raw)
			d[p] ^= mask
			ms = append(ms, rawMut{fmt.Sprintf("json[%d] ^= 0x%02x", p, mask), d})
		}
		ms = append(ms,
			rawMut{"json truncated by one byte", fx.raw[:len(fx.raw)-1]},
			rawMut{"json truncated to half", fx.raw[:len(fx.raw)/2]},
			rawMut{"json + trailing garbage", append(slices.Clone(fx.raw), "x"...)},
			rawMut{"json + trailing whitespace", append(slices.Clone(fx.raw), " \n"...)},
			rawMut{"json wrapped in an array", append(append([]byte("["), fx.raw...), ']')},
			rawMut{"json null", []byte("null")},
			rawMut{"empty", nil},
		)
		ms = sample(t, ms, func(rawMut) string { return regJSON },
			func(m rawMut) bool { return strings.HasPrefix(m.desc, "json[") }, fxIndex)
		parallel(len(ms), func(i int) {
			m := ms[i]
			plain := runEvidence(t, m.data, fx.nonce, uncached())
			withCache := runEvidence(t, m.data, fx.nonce, shared)
			judge(t, st, fx.name, regJSON, m.desc, want, plain, withCache)
		})
		t.Logf("%s: %d raw mutations (stride %d over %d bytes)", fx.name, len(ms), stride, len(fx.raw))
	}
	st.report(t, "raw-byte mutations of the evidence JSON documents")
}

// TestMutationNoPCRs: removing the PCR values from every real fixture
// never yields PCR claims: the result is either a rejection or claims that
// say the values are absent, with everything else unchanged; and a policy
// that pins any PCR rejects it with pcr-policy.
func TestMutationNoPCRs(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			ctx := context.Background()
			full, err := uncached().Decoded(ctx, fx.ev, fx.nonce)
			if err != nil {
				t.Fatal(err)
			}
			c := cloneEvidence(fx.ev)
			c.Quote.PCRs = nil
			got, err := uncached().Decoded(ctx, c, fx.nonce)
			if err != nil {
				t.Fatalf("evidence without PCR values rejected: %v", err)
			}
			if got.PCRs != nil || got.PCRValues != verify.PCRValuesAbsent {
				t.Fatalf("PCRs %v pcr_values %q", got.PCRs, got.PCRValues)
			}
			want := *full
			want.PCRs, want.PCRValues = nil, verify.PCRValuesAbsent
			// The claims computed from PCR 6 and PCR 8 become unknown.
			want.VMIdentity = &verify.VMIdentity{VMUniqueID: full.VMIdentity.VMUniqueID, Form: verify.VMIdentityUnknown}
			want.InitData = &verify.InitData{State: verify.InitDataUnknown}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("claims differ beyond the PCR values:\n got %+v\nwant %+v", *got, want)
			}
			for idx, v := range full.PCRs {
				cfg := verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Disable: true}}
				cfg.Policy.PCRs = map[int]verify.HexBytes{idx: v}
				_, err := verifierOf(cfg).Decoded(ctx, c, fx.nonce)
				var verr *verify.Error
				if !errors.As(err, &verr) || verr.Check != verify.CheckPCRPolicy {
					t.Fatalf("policy pinning PCR %d: %v, want pcr-policy", idx, err)
				}
			}
		})
	}
}
