package testutil

import (
	"errors"
	"testing"
)

// Rejected reports whether a parser rejected its input (err is not nil),
// failing t when the rejection does not match kind: fuzz targets use it so
// that every failure of a parser is one of its typed errors.
//
//	v, err := snp.ParseVCEK(der)
//	if testutil.Rejected(t, err, snp.ErrVCEKFormat) {
//		return
//	}
func Rejected(t testing.TB, err, kind error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	if !errors.Is(err, kind) {
		t.Fatalf("untyped error %T: %v, want %v", err, err, kind)
	}
	return true
}

// RejectedNil is Rejected for a parser that returns a pointer: it also
// fails t when a rejection returns a value.
func RejectedNil[T any](t testing.TB, v *T, err, kind error) bool {
	t.Helper()
	if !Rejected(t, err, kind) {
		return false
	}
	if v != nil {
		t.Fatalf("non-nil %T with error %v", v, err)
	}
	return true
}

// WantError checks err against want, the error a test case expects (nil:
// none): it fails t when want is set and err does not match it, or when
// want is nil and err is not. It reports whether want was set, so that
// the case stops there:
//
//	if testutil.WantError(t, err, tc.wantErr) {
//		return
//	}
func WantError(t testing.TB, err, want error) bool {
	t.Helper()
	if want != nil {
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatalf("err = %v, want none", err)
	}
	return false
}
