package tdx_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// decLE32 decrements the little-endian uint32 at b.
func decLE32(b []byte) { binary.LittleEndian.PutUint32(b, binary.LittleEndian.Uint32(b)-1) }

func TestPinnedRoot(t *testing.T) {
	root, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(root.Raw); hex.EncodeToString(sum[:]) != tdx.PinnedRootSHA256 {
		t.Fatalf("root hashes to %x", sum)
	}
	if root.Subject.CommonName != tdx.RootCACN {
		t.Errorf("root CN %q", root.Subject.CommonName)
	}
	// The pinned root is the one the real quotes carry.
	for _, rq := range realQuotes {
		q, _ := parseFile(t, rq.file)
		certs, err := q.PCKCertificates()
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 3 || !certs[2].Equal(root) {
			t.Errorf("%s: the chain's root is not the pinned one", rq.file)
		}
	}
}

// TestRealQuotes verifies the real Azure quotes at the fixture time and
// checks what they say; Marshal gives back the bytes parsed.
func TestRealQuotes(t *testing.T) {
	for _, rq := range realQuotes {
		t.Run(rq.file, func(t *testing.T) {
			q, b := parseFile(t, rq.file)
			if len(b) != rq.length || q.Trailing != 70 {
				t.Errorf("%d bytes, %d trailing; want %d, 70", len(b), q.Trailing, rq.length)
			}
			if !bytes.Equal(q.Marshal(), b) {
				t.Error("Marshal does not give back the parsed bytes")
			}
			v, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime})
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(q.Body.MRTD[:]); got != rq.mrtd {
				t.Errorf("MRTD %s", got)
			}
			fmspc, pcesvn := cmp.Or(rq.fmspc, "00806f050000"), cmp.Or(rq.pcesvn, 11)
			if got := hex.EncodeToString(v.SGX.FMSPC[:]); got != fmspc || v.SGX.PCESVN != pcesvn || q.QEISVSVN() != rq.qesvn {
				t.Errorf("FMSPC %s PCESVN %d QE SVN %d", got, v.SGX.PCESVN, q.QEISVSVN())
			}
			if q.Header.QESVN != 0 || q.Header.PCESVN != 0 || q.Body.Debug() || v.Intermediate.Subject.CommonName != tdx.PlatformCACN {
				t.Errorf("header %+v, debug %v, CA %q", q.Header, q.Body.Debug(), v.Intermediate.Subject.CommonName)
			}
		})
	}
}

// TestVerifyWritesNothing: verification writes nothing to stdout.
func TestVerifyWritesNothing(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	for _, rq := range realQuotes {
		q, _ := parseFile(t, rq.file)
		_, err = q.Verify(tdx.VerifyOptions{Now: fixtureTime})
		_, _ = q.Verify(tdx.VerifyOptions{}) // and a failing one (expired or not)
	}
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil || len(out) != 0 {
		t.Fatalf("err %v, stdout %q", err, out)
	}
}

// quoteEdit changes one signed region of a quote; want is the kind of
// verification failure (nil: still accepted).
type quoteEdit struct {
	name string
	edit func(q *tdx.Quote)
	want error
}

// quoteEdits are the edits of every signed region of a quote: each header
// field that is not checked by the parser, each body field, both
// signatures, the attestation key, the QE report, the QE auth data and
// each certificate of the PCK chain.
func quoteEdits(t *testing.T) []quoteEdit {
	edits := []quoteEdit{
		{"header.qe_svn", func(q *tdx.Quote) { q.Header.QESVN ^= 1 }, tdx.ErrQuoteSignature},
		{"header.pce_svn", func(q *tdx.Quote) { q.Header.PCESVN ^= 1 }, tdx.ErrQuoteSignature},
		{"header.user_data", func(q *tdx.Quote) { q.Header.UserData[19] ^= 1 }, tdx.ErrQuoteSignature},
		{"signature", func(q *tdx.Quote) { q.Signature[5] ^= 1 }, tdx.ErrQuoteSignature},
		{"attestation key", func(q *tdx.Quote) { q.AttestationKey[7] ^= 1 }, tdx.ErrQEReportData},
		{"QE report", func(q *tdx.Quote) { q.QEReport[258] ^= 1 }, tdx.ErrQEReportSignature},
		{"QE report data", func(q *tdx.Quote) { q.QEReport[330] ^= 1 }, tdx.ErrQEReportSignature},
		{"QE report signature", func(q *tdx.Quote) { q.QEReportSignature[40] ^= 1 }, tdx.ErrQEReportSignature},
		{"QE auth data", func(q *tdx.Quote) { q.QEAuthData[0] ^= 1 }, tdx.ErrQEReportData},
	}
	for i := range 3 {
		edits = append(edits, quoteEdit{fmt.Sprintf("PCK chain certificate %d", i), func(q *tdx.Quote) { q.PCKChain = testutil.FlipInCertificate(t, q.PCKChain, i) }, tdx.ErrPCKChain})
	}
	return append(edits, bodyEdits((*tdx.Body).Fields)...)
}

// bodyEdits are the edits of each body field that fields returns: each
// breaks the quote signature.
func bodyEdits(fields func(*tdx.Body) []tdx.Field) []quoteEdit {
	var edits []quoteEdit
	for _, f := range fields(&tdx.Body{}) {
		edits = append(edits, quoteEdit{"body." + f.Name, func(q *tdx.Quote) {
			for _, g := range fields(&q.Body) {
				if g.Name == f.Name {
					g.Bytes[len(g.Bytes)-1] ^= 1
				}
			}
		}, tdx.ErrQuoteSignature})
	}
	return edits
}

// edited returns the real quote of file with e applied, marshalled.
func edited(t *testing.T, file string, e quoteEdit) []byte {
	q, _ := parseFile(t, file)
	e.edit(q)
	return q.Marshal()
}

// TestTamperedRegions: every signed region of a real quote, changed, is
// rejected by the step that covers it; a chain without its root still
// verifies under the pinned root.
func TestTamperedRegions(t *testing.T) {
	edits := append(quoteEdits(t), quoteEdit{"PCK chain without its root", func(q *tdx.Quote) { q.PCKChain = dropLastPEM(t, q.PCKChain) }, nil},
		// Unsigned bytes that encoding/pem alone would skip (go-tdx-guest
		// accepts them, so they are not among quoteEdits).
		quoteEdit{"text before the PCK chain", func(q *tdx.Quote) { q.PCKChain = append([]byte("smuggled\n"), q.PCKChain...) }, tdx.ErrPCKChain},
		quoteEdit{"malformed PEM block before the PCK chain", func(q *tdx.Quote) {
			q.PCKChain = append([]byte("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"), q.PCKChain...)
		}, tdx.ErrPCKChain})
	for _, rq := range realQuotes {
		for _, e := range edits {
			t.Run(rq.file+"/"+e.name, func(t *testing.T) {
				q, err := tdx.ParseQuote(edited(t, rq.file, e))
				if err == nil {
					_, err = q.Verify(tdx.VerifyOptions{Now: fixtureTime})
				}
				if e.want == nil {
					if err != nil {
						t.Fatalf("want accepted, got %v", err)
					}
					return
				}
				if !errors.Is(err, e.want) {
					t.Fatalf("got %v, want %v", err, e.want)
				}
			})
		}
	}
}

// dropLastPEM drops the chain's root: the pinned root still verifies it.
func dropLastPEM(t *testing.T, chain []byte) []byte {
	i := bytes.LastIndex(chain, []byte("-----BEGIN"))
	if i < 0 {
		t.Fatal("no PEM")
	}
	return chain[:i]
}

// TestSelfMadeRoot: a chain under a root with Intel's subject but another
// key is rejected; the same quote under that root as Options.Root
// verifies, which shows the quote itself is well made.
func TestSelfMadeRoot(t *testing.T) {
	f := tdxtest.New(t)
	q, _ := parseFile(t, realQuotes[0].file)
	f.Sign(t, q)
	q2, err := tdx.ParseQuote(q.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q2.Verify(tdx.VerifyOptions{Now: fixtureTime, Root: f.Root}); err != nil {
		t.Fatalf("under its own root: %v", err)
	}
	_, err = q2.Verify(tdx.VerifyOptions{Now: fixtureTime})
	if !errors.Is(err, tdx.ErrPCKChain) || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("got %v, want %v naming the pinned root", err, tdx.ErrPCKChain)
	}
	// Without the root in the chain, the pinned root does not verify it.
	q.PCKChain = dropLastPEM(t, q.PCKChain)
	if _, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime}); !errors.Is(err, tdx.ErrPCKChain) {
		t.Fatalf("got %v, want %v", err, tdx.ErrPCKChain)
	}
}

// checkResigned applies edit to the real quote in file, signs it again by
// f's self-made chain and verifies it under f.Root: it must verify when
// want is nil, else fail with want and with none of others. It returns
// the quote as parsed again from its signed bytes.
func checkResigned(t *testing.T, f *tdxtest.FakeIntel, file string, edit func(*tdx.Quote), want error, others ...error) *tdx.Quote {
	t.Helper()
	q, _ := parseFile(t, file)
	edit(q)
	f.Sign(t, q)
	q, err := tdx.ParseQuote(q.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Verify(tdx.VerifyOptions{Now: fixtureTime, Root: f.Root})
	if want == nil {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return q
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	for _, other := range others {
		if errors.Is(err, other) {
			t.Errorf("%v also matches %v", err, other)
		}
	}
	return q
}

// TestQEIdentity: a QE report that the PCK signed is still rejected
// (ErrQEIdentity), with or without Intel's collateral, unless it is Intel's
// TD quoting enclave in production mode. The PCK signs the report of any
// enclave allowed the provisioning key: an enclave of one's own making on
// any SGX platform would otherwise certify its own attestation key and
// sign TD quotes of any TD. Each quote is signed by a self-made chain
// trusted as the root, so only the QE report's content is in question.
func TestQEIdentity(t *testing.T) {
	f := tdxtest.New(t)
	tests := []struct {
		name string
		edit func(r *[tdx.QEReportSize]byte)
		want error
	}{
		{"Intel's TD QE (as in the real quote)", func(*[tdx.QEReportSize]byte) {}, nil},
		{"another MRSIGNER", func(r *[tdx.QEReportSize]byte) { r[128] ^= 1 }, tdx.ErrQEIdentity},
		{"another MRSIGNER, last byte", func(r *[tdx.QEReportSize]byte) { r[159] ^= 0x80 }, tdx.ErrQEIdentity},
		{"zero MRSIGNER", func(r *[tdx.QEReportSize]byte) { clear(r[128:160]) }, tdx.ErrQEIdentity},
		{"ISVPRODID 1 (the SGX QE)", func(r *[tdx.QEReportSize]byte) { r[256], r[257] = 1, 0 }, tdx.ErrQEIdentity},
		{"ISVPRODID 0x0102", func(r *[tdx.QEReportSize]byte) { r[256], r[257] = 2, 1 }, tdx.ErrQEIdentity},
		{"DEBUG attribute", func(r *[tdx.QEReportSize]byte) { r[48] |= 2 }, tdx.ErrQEIdentity},
		{"another ISVSVN is Intel's status to judge", func(r *[tdx.QEReportSize]byte) { r[258]++ }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkResigned(t, f, realQuotes[0].file, func(q *tdx.Quote) { tt.edit(&q.QEReport) }, tt.want,
				tdx.ErrQEReportSignature, tdx.ErrQEReportData, tdx.ErrQuoteSignature, tdx.ErrPCKChain)
		})
	}
}

// TestTDXModule: a quote whose signed body names a TDX module that is not
// Intel's production module (MRSIGNERSEAM or SEAMATTRIBUTES not zero, as
// Intel's TCB info requires for every FMSPC) is rejected offline
// (ErrTDXModule), however validly signed; another MRSEAM or module SVN is
// Intel's TCB status to judge. Each real quote is edited and signed again
// by a self-made chain trusted as the root, so only the body is in
// question.
func TestTDXModule(t *testing.T) {
	f := tdxtest.New(t)
	tests := []struct {
		name string
		edit func(b *tdx.Body)
		want error
	}{
		{"Intel's module (as in the real quote)", func(*tdx.Body) {}, nil},
		{"MRSIGNERSEAM first byte", func(b *tdx.Body) { b.MRSignerSEAM[0] = 1 }, tdx.ErrTDXModule},
		{"MRSIGNERSEAM last byte", func(b *tdx.Body) { b.MRSignerSEAM[47] = 0x80 }, tdx.ErrTDXModule},
		{"MRSIGNERSEAM all ones", func(b *tdx.Body) { copy(b.MRSignerSEAM[:], bytes.Repeat([]byte{0xff}, 48)) }, tdx.ErrTDXModule},
		{"SEAMATTRIBUTES bit 0", func(b *tdx.Body) { b.SEAMAttributes[0] = 1 }, tdx.ErrTDXModule},
		{"SEAMATTRIBUTES bit 63", func(b *tdx.Body) { b.SEAMAttributes[7] = 0x80 }, tdx.ErrTDXModule},
		{"another MRSEAM is Intel's status to judge", func(b *tdx.Body) { b.MRSEAM[0] ^= 1 }, nil},
		{"another module SVN is Intel's status to judge", func(b *tdx.Body) { b.TEETCBSVN[0]++ }, nil},
	}
	for _, rq := range realQuotes {
		for _, tt := range tests {
			t.Run(filepath.Base(rq.file)+"/"+tt.name, func(t *testing.T) {
				q := checkResigned(t, f, rq.file, func(q *tdx.Quote) { tt.edit(&q.Body) }, tt.want,
					tdx.ErrQEReportSignature, tdx.ErrQEIdentity, tdx.ErrQEReportData, tdx.ErrQuoteSignature, tdx.ErrPCKChain)
				if tt.want == nil {
					return
				}
				if err := q.Body.CheckTDXModule(); !errors.Is(err, tt.want) {
					t.Errorf("CheckTDXModule = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

func TestValidityWindow(t *testing.T) {
	q, _ := parseFile(t, realQuotes[0].file)
	for _, at := range []string{"2023-09-13T21:00:50Z", "2030-09-13T21:00:52Z"} {
		now := mustTime(t, at)
		if _, err := q.Verify(tdx.VerifyOptions{Now: now}); !errors.Is(err, tdx.ErrPCKChain) {
			t.Errorf("at %s: %v, want %v", at, err, tdx.ErrPCKChain)
		}
	}
}

func TestParseErrors(t *testing.T) {
	_, good := parseFile(t, realQuotes[0].file)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name, field string
		kind        error
		blob        []byte
	}{
		{"empty", "quote", format.ErrTruncated, nil},
		{"too large", "quote", format.ErrTooLarge, make([]byte, tdx.MaxQuoteSize+1)},
		{"version 3", "version", format.ErrUnsupportedVersion, mod(func(b []byte) []byte { b[0] = 3; return b })},
		{"key type", "attestation_key_type", format.ErrUnexpectedValue, mod(func(b []byte) []byte { b[2] = 3; return b })},
		{"SGX quote", "tee_type", format.ErrUnexpectedValue, mod(func(b []byte) []byte { b[4] = 0; return b })},
		{"vendor", "qe_vendor_id", format.ErrUnexpectedValue, mod(func(b []byte) []byte { b[12] ^= 1; return b })},
		{"signed data past the end", "signed_data_size", format.ErrExceedsBlob, mod(func(b []byte) []byte { b[632+1] = 0xff; return b })},
		{"non-zero trailing", "trailing", format.ErrTrailingData, mod(func(b []byte) []byte { b[len(b)-1] = 1; return b })},
		{"cut in the chain", "signed_data_size", format.ErrExceedsBlob, good[:4000]},
		{"cert data type", "certification_data.type", format.ErrUnexpectedValue, mod(func(b []byte) []byte { b[636+128] = 5; return b })},
		{"cert data size", "certification_data.size", format.ErrSizeMismatch, mod(func(b []byte) []byte { b[636+130]++; return b })},
		// mutation29b: a size one short of what follows is refused too.
		{"cert data size one short", "certification_data.size", format.ErrSizeMismatch, mod(func(b []byte) []byte { decLE32(b[636+130:]); return b })},
		{"pck data size one short", "pck_certification_data.size", format.ErrSizeMismatch, mod(func(b []byte) []byte { decLE32(b[636+134+450+32+2:]); return b })},
		{"auth data size", "qe_auth_data.size", format.ErrExceedsBlob, mod(func(b []byte) []byte { b[636+134+448] = 0xff; b[636+134+449] = 0xff; return b })},
		{"pck data type", "pck_certification_data.type", format.ErrUnexpectedValue, mod(func(b []byte) []byte { b[636+134+450+32] = 4; return b })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tdx.ParseQuote(tt.blob)
			if !testutil.IsFieldError(err, tt.field, tt.kind) {
				t.Fatalf("got %v, want field %s kind %v", err, tt.field, tt.kind)
			}
		})
	}
}

func TestTDReportBinding(t *testing.T) {
	hclBlob := testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin")
	r, err := tdx.ParseTDReport(hclBlob[32 : 32+tdx.TDReportSize])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Marshal(), r.Raw) {
		t.Error("TDReport.Marshal does not give back the bytes")
	}
	q, _ := parseFile(t, realQuotes[0].file)
	if err := tdx.CheckBinding(q, r); err != nil {
		t.Fatal(err)
	}
	other, _ := parseFile(t, realQuotes[1].file)
	if err := tdx.CheckBinding(other, r); !errors.Is(err, tdx.ErrBindingMismatch) {
		t.Errorf("another TD's quote: %v", err)
	}
	for i, f := range r.Body.Fields() {
		t.Run(f.Name, func(t *testing.T) {
			r2, _ := tdx.ParseTDReport(r.Raw)
			r2.Body.Fields()[i].Bytes[0] ^= 0x80
			// Through the bytes: the offsets are right.
			r3, err := tdx.ParseTDReport(r2.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			err = tdx.CheckBinding(q, r3)
			if !testutil.IsFieldError(err, f.Name, tdx.ErrBindingMismatch) {
				t.Fatalf("got %v, want a mismatch of %s", err, f.Name)
			}
		})
	}
	for _, bad := range [][]byte{r.Raw[:100], append(bytes.Clone(r.Raw), 0)} {
		if _, err := tdx.ParseTDReport(bad); !errors.Is(err, format.ErrBadLength) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
	sgx := bytes.Clone(r.Raw)
	sgx[0] = 0
	if _, err := tdx.ParseTDReport(sgx); !errors.Is(err, format.ErrUnexpectedValue) {
		t.Errorf("report type 0: %v", err)
	}
}

func FuzzParseQuote(f *testing.F) {
	for _, rq := range realQuotes {
		f.Add(testutil.ReadFile(f, rq.file))
	}
	f.Add(testutil.ReadFile(f, quoteV5))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := tdx.ParseQuote(b)
		if testutil.Rejected(t, err, format.ErrMalformed) {
			return
		}
		if !bytes.Equal(q.Marshal(), b) {
			t.Fatal("Marshal does not give back the parsed bytes")
		}
		if _, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime}); err != nil && !isVerifyKind(err) {
			t.Fatalf("untyped verification error %v", err)
		}
	})
}

func isVerifyKind(err error) bool {
	for _, k := range []error{tdx.ErrPCKChain, tdx.ErrQEReportSignature, tdx.ErrQEIdentity, tdx.ErrQEReportData, tdx.ErrQuoteSignature, tdx.ErrTDXModule} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
