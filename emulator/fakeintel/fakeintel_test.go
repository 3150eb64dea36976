package fakeintel_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// signed is a quote of the emulated platform for reportData, signed.
func signed(t *testing.T, reportData [64]byte) *tdx.Quote {
	t.Helper()
	b, err := fakeintel.DefaultBody(reportData)
	if err != nil {
		t.Fatal(err)
	}
	q, err := fakekeys.Quote(b)
	if err != nil {
		t.Fatal(err)
	}
	q2, err := tdx.ParseQuote(q.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return q2
}

// TestQuoteV5RoundTrip: a built TD quote v5 (TDX 1.5 body) signed by the
// fake chain marshals, parses back with its TDX 1.5 fields and verifies
// under the fake root; its TEE_TCB_SVN_2 or body type changed is rejected
// by the quote signature.
func TestQuoteV5RoundTrip(t *testing.T) {
	b, err := fakeintel.DefaultBody([64]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	b.TEETCBSVN2, b.MRServiceTD = [16]byte{0x0d, 1, 4}, [48]byte{47: 9}
	q, err := fakeintel.NewQuoteV5(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := fakekeys.SignQuote(q); err != nil {
		t.Fatal(err)
	}
	blob := q.Marshal()
	q2, err := tdx.ParseQuote(blob)
	if err != nil {
		t.Fatal(err)
	}
	if q2.Header.Version != 5 || q2.BodyType != tdx.BodyTypeTD15 || q2.Body != b || len(q2.SignedBytes()) != 702 {
		t.Fatalf("parsed back: version %d body type %d, body equal %v", q2.Header.Version, q2.BodyType, q2.Body == b)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := q2.Verify(tdx.VerifyOptions{Now: at, Root: fakeintel.Root()})
	if err != nil {
		t.Fatalf("under the fake root: %v", err)
	}
	c, err := pcs.LoadDir(fakeintel.Collateral())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Evaluate(q2, v, pcs.Options{Now: at, Root: fakeintel.Root()}); err != nil || r.Status != pcs.UpToDate {
		t.Fatalf("TCB status of the v5 quote: %+v, %v", r, err)
	}
	for name, edit := range map[string]func(q *tdx.Quote){
		"TEE_TCB_SVN_2": func(q *tdx.Quote) { q.Body.TEETCBSVN2[0] ^= 1 },
		"MR_SERVICETD":  func(q *tdx.Quote) { q.Body.MRServiceTD[47] ^= 1 },
		"body type 2":   func(q *tdx.Quote) { q.BodyType = tdx.BodyTypeTD10 },
	} {
		q3, _ := tdx.ParseQuote(blob)
		edit(q3)
		q4, err := tdx.ParseQuote(q3.Marshal())
		if err == nil {
			_, err = q4.Verify(tdx.VerifyOptions{Now: at, Root: fakeintel.Root()})
		}
		if !errors.Is(err, tdx.ErrQuoteSignature) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
}

// TestQuoteUnderFakeRootOnly: an emulated quote verifies under the fake
// root, never under the pinned Intel root, and every certificate of its
// chain says it is emulated.
func TestQuoteUnderFakeRootOnly(t *testing.T) {
	q := signed(t, [64]byte{1, 2, 3})
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := q.Verify(tdx.VerifyOptions{Now: at}); !errors.Is(err, tdx.ErrPCKChain) {
		t.Fatalf("under the pinned Intel root: %v, want ErrPCKChain", err)
	}
	v, err := q.Verify(tdx.VerifyOptions{Now: at, Root: fakeintel.Root()})
	if err != nil {
		t.Fatalf("under the fake root: %v", err)
	}
	if q.Body.MRTD != fakeintel.MRTD() || q.Body.Debug() || q.Body.ReportData[2] != 3 {
		t.Errorf("body: MRTD %x debug %v", q.Body.MRTD, q.Body.Debug())
	}
	certs, err := q.PCKCertificates()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		if !slices.Contains(c.Subject.Organization, fakeintel.Marker) {
			t.Errorf("%q lacks the marker", c.Subject.CommonName)
		}
	}
	intel, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	if fakeintel.Root().Equal(intel) || fakeintel.Root().Subject.CommonName == intel.Subject.CommonName {
		t.Error("the fake root looks like Intel's")
	}
	if got := v.SGX.FMSPC; string(got[:]) != string([]byte{0, 0x80, 0x6f, 5, 0, 0}) {
		t.Errorf("FMSPC %x, want %s", got, fakeintel.FMSPC)
	}
	if _, err := q.Verify(tdx.VerifyOptions{Now: time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC), Root: fakeintel.Root()}); !errors.Is(err, tdx.ErrPCKChain) {
		t.Errorf("after the chain expired: %v", err)
	}
}

// TestCollateral: the fake collateral rates the emulated quote UpToDate
// under the fake root, is rejected under the pinned root, and expires with
// the chain.
func TestCollateral(t *testing.T) {
	q := signed(t, [64]byte{})
	root := fakeintel.Root()
	c, err := pcs.LoadDir(fakeintel.Collateral())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		at      time.Time
		pinned  bool
		wantErr error
	}{
		{"valid", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false, nil},
		{"pinned root", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true, pcs.ErrCollateral},
		{"expired", time.Date(2045, 1, 1, 0, 0, 1, 0, time.UTC), false, pcs.ErrCollateral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := q.Verify(tdx.VerifyOptions{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Root: root})
			if err != nil {
				t.Fatal(err)
			}
			opts := pcs.Options{Now: tc.at, Root: root}
			if tc.pinned {
				opts.Root = nil
			}
			r, err := c.Evaluate(q, v, opts)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Evaluate: %v, want %v", err, tc.wantErr)
			}
			if err == nil && r.Status != pcs.UpToDate {
				t.Errorf("status %s, want UpToDate", r.Status)
			}
		})
	}
}
