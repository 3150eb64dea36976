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
