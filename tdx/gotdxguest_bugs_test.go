package tdx_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// seedNamed returns the seed of that name.
func seedNamed(t testing.TB, seeds []*diffSeed, name string) *diffSeed {
	t.Helper()
	i := slices.IndexFunc(seeds, func(s *diffSeed) bool { return s.name == name })
	if i < 0 {
		t.Fatalf("no seed %q", name)
	}
	return seeds[i]
}

// theirParse runs abi.QuoteToProto, returning a panic as panicked.
func theirParse(b []byte) (p any, err error, panicked bool) {
	defer func() {
		if e := recover(); e != nil {
			err, panicked = fmt.Errorf("%v", e), true
		}
	}()
	p, err = abi.QuoteToProto(b)
	return p, err, false
}

// TestGoTDXGuestPanics pins go-tdx-guest's parser bug (reasonTheirPanic)
// on quotes whose sizes agree with each other but leave a part shorter
// than its fixed size, with only zeros after them: abi.QuoteToProto
// panics, we return a *format.Error naming the field.
func TestGoTDXGuestPanics(t *testing.T) {
	full := mutate(t, seedNamed(t, loadDiffSeeds(t), "synthetic v4"), true, nil)
	l := layoutOf(testutil.Must(tdx.ParseQuote(full))(t))
	// framed cuts the quote after n bytes of signed data, makes the signed
	// data and certification data sizes say so, and pads it with zeros (as
	// Azure does) to go-tdx-guest's minimum size.
	framed := func(n int, edit func(b []byte)) []byte {
		b := bytes.Clone(full[:tdx.OffsetSignedData+n])
		b = append(b, make([]byte, max(0, 0x3FC-len(b)))...)
		binary.LittleEndian.PutUint32(b[tdx.OffsetSignedDataSize:], uint32(n))
		if n >= 134 {
			binary.LittleEndian.PutUint32(b[l.cert+2:], uint32(n-134))
		}
		if edit != nil {
			edit(b)
		}
		return b
	}
	for _, tc := range []struct {
		name, field string
		kind        error
		b           []byte
	}{
		{"signed data of 100 bytes", "signed_data", format.ErrTruncated, framed(100, nil)},
		{"certification data of 2 bytes", "certification_data", format.ErrTruncated, framed(130, nil)},
		{"QE report certification data of 300 bytes", "qe_report_certification_data", format.ErrTruncated, framed(134+300, nil)},
		{"QE auth data size past the data", "qe_auth_data.size", format.ErrExceedsBlob, framed(l.pck-tdx.OffsetSignedData+6+10, func(b []byte) {
			binary.LittleEndian.PutUint16(b[l.auth:], 0xFFFF)
		})},
		{"PCK certification data of 3 bytes", "pck_certification_data", format.ErrTruncated, framed(l.pck-tdx.OffsetSignedData+3, nil)},
	} {
		_, err := tdx.ParseQuote(tc.b)
		if !testutil.IsFormatError(err, "tdx", tc.field, tc.kind) {
			t.Errorf("%s: ours %v, want a format error naming %s", tc.name, err, tc.field)
		}
		if !goTDXGuestPanics(tc.b) {
			t.Errorf("%s: goTDXGuestPanics says no", tc.name)
		}
		if _, err, panicked := theirParse(tc.b); !panicked {
			t.Logf("%s: go-tdx-guest no longer panics (%v): its bug is fixed, drop reasonTheirPanic", tc.name, err)
		}
	}
}

// TestGoTDXGuestHeaderSVNNames pins go-tdx-guest's names of header bytes
// 8..11: it reads bytes 8..9 (Intel's QE_SVN, our Header.QESVN) as PceSvn
// and 10..11 (PCE_SVN) as QeSvn. Neither side uses them (they are signed,
// and zero on Azure); fieldDiffs compares the bytes where they are.
func TestGoTDXGuestHeaderSVNNames(t *testing.T) {
	s := seedNamed(t, loadDiffSeeds(t), "synthetic v4")
	b := mutate(t, s, true, slices.Concat(mut("qe_svn", 0, 1), mut("pce_svn", 0, 2)))
	q := testutil.Must(tdx.ParseQuote(b))(t)
	p, err, _ := theirParse(b)
	if err != nil {
		t.Fatal(err)
	}
	h := p.(*pb.QuoteV4).GetHeader()
	if q.Header.QESVN != 1 || q.Header.PCESVN != 2 {
		t.Errorf("ours: QE SVN %d, PCE SVN %d; want 1, 2", q.Header.QESVN, q.Header.PCESVN)
	}
	if !bytes.Equal(h.GetPceSvn(), []byte{1, 0}) || !bytes.Equal(h.GetQeSvn(), []byte{2, 0}) {
		t.Logf("go-tdx-guest: PceSvn %x, QeSvn %x: its names now follow Intel's header", h.GetPceSvn(), h.GetQeSvn())
	}
	if d := fieldDiffs(q, p.(*pb.QuoteV4)); len(d) > 0 {
		t.Errorf("field differences %q", d)
	}
}

// TestGoTDXGuestModuleIDCase pins go-tdx-guest's case-sensitive TDX module
// identity lookup (reasonModuleIDCase): with Intel's TCB info whose
// identity TDX_03 is renamed TDX_0A (re-signed under the test root) and a
// body of module version 0x0A, we find the identity and rate the quote
// UpToDate; go-tdx-guest looks for "TDX_0a" and rejects it.
func TestGoTDXGuestModuleIDCase(t *testing.T) {
	s := seedNamed(t, loadDiffSeeds(t), "synthetic v4")
	docs := intelDocs(t)
	docs.TCBInfo = bytes.Replace(docs.TCBInfo, []byte(`"id":"TDX_03"`), []byte(`"id":"TDX_0A"`), 1)
	c := newCollSet(t, s.signer.Files(t, docs), s.q.PCKChain)
	b := mutate(t, s, true, slices.Concat(mut("body.TEE_TCB_SVN", 0, 3), mut("body.TEE_TCB_SVN", 0, 1<<32|0x0A)))
	res := compareQuote(t, b, s, c)
	if !res.ours.accepted() || res.theirs.failed != stTCB || len(res.unexplained) > 0 {
		t.Errorf("ours %s %v, go-tdx-guest %s %v, unexplained %q", res.ours.failed, res.ours.err, res.theirs.failed, res.theirs.err, res.unexplained)
	}
	if res.theirs.accepted() {
		t.Logf("go-tdx-guest now finds TDX_0A: its bug is fixed, drop reasonModuleIDCase")
	} else if !slices.Contains(res.explained, "tcb: only go-tdx-guest rejects: "+reasonModuleIDCase) {
		t.Errorf("explained %q, want %s", res.explained, reasonModuleIDCase)
	}
}

// TestTDXCollateralWindowDifferential: the teekit quote with Intel's
// collateral before the TCB info was issued is rejected by us
// (reasonNotYetValid) and accepted by go-tdx-guest; while all of it is
// current both accept it, after the PCK CRL's next update both reject the
// collateral.
func TestTDXCollateralWindowDifferential(t *testing.T) {
	real := *seedNamed(t, loadDiffSeeds(t), "intel-collateral/azure-tdx-quote-teekit.bin as found")
	for _, tc := range []struct {
		at           time.Time
		ours, theirs stage
		because      string
	}{
		{at: time.Date(2025, 9, 29, 12, 0, 0, 0, time.UTC), ours: stCollateral, because: "collateral: only we reject: " + reasonNotYetValid},
		{at: testutil.TDXFixtureTime()},
		{at: time.Date(2025, 10, 2, 7, 3, 52, 0, time.UTC), ours: stCollateral, theirs: stCollateral},
	} {
		s := real
		s.now = tc.at
		res := compareQuote(t, s.q.Marshal(), &s, s.coll)
		if res.ours.failed != tc.ours || res.theirs.failed != tc.theirs || len(res.unexplained) > 0 {
			t.Errorf("at %s: ours %s %v, go-tdx-guest %s %v, unexplained %q; want %q, %q", tc.at, res.ours.failed, res.ours.err,
				res.theirs.failed, res.theirs.err, res.unexplained, tc.ours, tc.theirs)
		}
		if tc.because != "" && !slices.Contains(res.explained, tc.because) {
			t.Errorf("at %s: explained %q, want %q", tc.at, res.explained, tc.because)
		}
	}
}
