package testutil

import (
	"slices"
	"testing"
)

// TestMutOps: an encoded mutation decodes to its field, mode and value;
// selectors are taken modulo the table's length and a trailing partial
// mutation is dropped; an unknown name panics.
func TestMutOps(t *testing.T) {
	fields := []string{"a", "b", "c"}
	name := func(f string) string { return f }
	ops := slices.Concat(EncodeMutOp(fields, name, "c", 3, 0x0102030405060708), EncodeMutOp(fields, name, "a", 0, 1))
	ops = append(ops, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0) // selector 5: field 5 % 3
	ops = append(ops, 0, 0, 0)                      // partial
	want := []MutOp{{2, 3, 0x0102030405060708}, {0, 0, 1}, {2, 1, 0}}
	if got := MutOps(ops, len(fields)); !slices.Equal(got, want) {
		t.Fatalf("MutOps = %v, want %v", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown field name did not panic")
		}
	}()
	EncodeMutOp(fields, name, "d", 0, 0)
}
