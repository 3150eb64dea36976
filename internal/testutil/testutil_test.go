package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

func TestReadFileAndPEM(t *testing.T) {
	b := ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/vcek.pem")
	certs := PEMBlocks(t, b, "CERTIFICATE")
	if len(certs) != 3 || certs[0][0] != 0x30 {
		t.Fatalf("%d certificates in vcek.pem, want VCEK, ASK, ARK", len(certs))
	}
}

func TestDropPCRs(t *testing.T) {
	for rel, dropped := range map[string]int{"evidence-v0.json": 0, "evidence-v1.json": 0, "tpm-quote-v1.json": 1} {
		t.Run(rel, func(t *testing.T) {
			doc := ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/"+rel)
			out := DropPCRs(t, doc)
			if bytes.Contains(out, []byte(`"pcrs"`)) {
				t.Fatal("pcrs still present")
			}
			var before, after map[string]any
			if json.Unmarshal(doc, &before) != nil || json.Unmarshal(out, &after) != nil || len(before) != len(after)+dropped {
				t.Fatal("top-level members changed")
			}
		})
	}
}

func TestRejected(t *testing.T) {
	kind := errors.New("kind")
	if Rejected(t, nil, kind) {
		t.Error("nil error counted as a rejection")
	}
	if !Rejected(t, fmt.Errorf("ctx: %w", kind), kind) {
		t.Error("typed rejection not reported")
	}
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		Rejected(ft, errors.New("other"), kind)
	}()
	if !ft.failed {
		t.Error("untyped rejection did not fail the test")
	}
}

// TestErrorHelpers: RejectedNil, WantError and Must pass what they should
// and fail the test on what they should not.
func TestErrorHelpers(t *testing.T) {
	kind, v := errors.New("kind"), new(int)
	wrapped := fmt.Errorf("ctx: %w", kind)
	for _, tc := range []struct {
		name     string
		call     func(t testing.TB) bool
		want     bool
		wantFail bool
	}{
		{"RejectedNil accepted", func(t testing.TB) bool { return RejectedNil(t, v, nil, kind) }, false, false},
		{"RejectedNil rejected", func(t testing.TB) bool { return RejectedNil[int](t, nil, wrapped, kind) }, true, false},
		{"RejectedNil value with error", func(t testing.TB) bool { return RejectedNil(t, v, wrapped, kind) }, true, true},
		{"WantError none", func(t testing.TB) bool { return WantError(t, nil, nil) }, false, false},
		{"WantError expected", func(t testing.TB) bool { return WantError(t, wrapped, kind) }, true, false},
		{"WantError unexpected", func(t testing.TB) bool { return WantError(t, wrapped, nil) }, false, true},
		{"WantError another", func(t testing.TB) bool { return WantError(t, errors.New("other"), kind) }, true, true},
		{"WantError missing", func(t testing.TB) bool { return WantError(t, nil, kind) }, true, true},
		{"Must value", func(t testing.TB) bool { return Must(v, nil)(t) == v }, true, false},
		{"Must error", func(t testing.TB) bool { return Must(v, kind)(t) == v }, true, true},
	} {
		ft := &fatalRecorder{TB: t}
		var got bool
		func() {
			defer func() { _ = recover() }()
			got = tc.call(ft)
		}()
		if ft.failed != tc.wantFail || (!ft.failed && got != tc.want) {
			t.Errorf("%s: returned %v, failed %v; want %v, failed %v", tc.name, got, ft.failed, tc.want, tc.wantFail)
		}
	}
}

// fatalRecorder records Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

func TestAMDCertFiles(t *testing.T) {
	n := 0
	for _, f := range AMDCertFiles() {
		n += len(Certificates(t, f))
	}
	if n < 12 {
		t.Errorf("%d certificates in the AMD fixtures, want at least 12", n)
	}
}

// TestRSAPublicKey: the AK fixtures load as 2048-bit RSA keys; a
// certificate file (not a PKIX public key) fails the test.
func TestRSAPublicKey(t *testing.T) {
	for _, rel := range []string{"azure-cvm-tooling/akpub.pem", "cmcp-azure-cvm/trusted-launch-quote/ak.pub"} {
		if k := RSAPublicKey(t, rel); k.N.BitLen() != 2048 {
			t.Errorf("%s: %d-bit key, want 2048", rel, k.N.BitLen())
		}
	}
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		RSAPublicKey(ft, SNPDir+"vcek.pem")
	}()
	if !ft.failed {
		t.Error("a certificate was taken for a public key")
	}
}

// TestIntelCollateral: the real collateral folder holds the files
// tdx/pcs.LoadDir reads.
func TestIntelCollateral(t *testing.T) {
	for _, name := range []string{"tcbinfo-tdx-00806f050000.json", "qeidentity-tdx.json", "tcb-signing-chain.pem", "pckcrl-platform.der", "rootcacrl.der"} {
		if _, err := fs.Stat(IntelCollateral(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFieldErrors: IsFieldError wants the field and the kind of a
// *format.Error, through wrapping; IsFormatError also its format, and the
// *format.Error itself.
func TestFieldErrors(t *testing.T) {
	fe := format.Field("hcl", "magic", format.ErrBadMagic)
	for _, tc := range []struct {
		err   error
		field string
		kind  error
		want  bool
	}{
		{fe, "magic", format.ErrBadMagic, true},
		{fmt.Errorf("ctx: %w", fe), "magic", format.ErrBadMagic, true},
		{fe, "version", format.ErrBadMagic, false},
		{fe, "magic", format.ErrTruncated, false},
		{format.ErrBadMagic, "magic", format.ErrBadMagic, false},
		{nil, "magic", format.ErrBadMagic, false},
	} {
		if got := IsFieldError(tc.err, tc.field, tc.kind); got != tc.want {
			t.Errorf("IsFieldError(%v, %q, %v) = %v, want %v", tc.err, tc.field, tc.kind, got, tc.want)
		}
	}
	if !IsFormatError(fe, "hcl", "magic", format.ErrBadMagic) {
		t.Error("IsFormatError rejects the *format.Error it names")
	}
	for _, err := range []error{fmt.Errorf("ctx: %w", fe), format.Field("quote", "magic", format.ErrBadMagic), format.Field("hcl", "size", format.ErrBadMagic)} {
		if IsFormatError(err, "hcl", "magic", format.ErrBadMagic) {
			t.Errorf("IsFormatError accepts %v as hcl: magic: %v", err, format.ErrBadMagic)
		}
	}
}
