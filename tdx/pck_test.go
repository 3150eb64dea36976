package tdx_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// sgxEntry is one {OID, value} entry of the SGX extension.
type sgxEntry struct {
	ID    asn1.ObjectIdentifier
	Value any
}

func sgxArc(a ...int) asn1.ObjectIdentifier {
	return append(asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}, a...)
}

// pckSGXExt encodes the TCB, PCE-ID and FMSPC entries of the Azure PCK
// (tdxtest.AzurePCK), edited by tcb (the TCB's 18 entries) and top (the
// three entries).
func pckSGXExt(t *testing.T, tcb func([]sgxEntry) []sgxEntry, top func([]sgxEntry) []sgxEntry) []byte {
	t.Helper()
	x := tdxtest.AzurePCK()
	var comps []sgxEntry
	for i, c := range x.TCBComponents {
		comps = append(comps, sgxEntry{sgxArc(2, i+1), int(c)})
	}
	comps = append(comps, sgxEntry{sgxArc(2, 17), int(x.PCESVN)}, sgxEntry{sgxArc(2, 18), x.CPUSVN[:]})
	if tcb != nil {
		comps = tcb(comps)
	}
	entries := []sgxEntry{{sgxArc(2), comps}, {sgxArc(3), x.PCEID[:]}, {sgxArc(4), x.FMSPC[:]}}
	if top != nil {
		entries = top(entries)
	}
	b, err := asn1.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setEntry replaces the value of entry i.
func setEntry(i int, v any) func([]sgxEntry) []sgxEntry {
	return func(e []sgxEntry) []sgxEntry { e[i].Value = v; return e }
}

// dupEntry appends a second entry of entry i's OID, with value v.
func dupEntry(i int, v any) func([]sgxEntry) []sgxEntry {
	return func(e []sgxEntry) []sgxEntry { return append(e, sgxEntry{e[i].ID, v}) }
}

// dropEntry removes entry i.
func dropEntry(i int) func([]sgxEntry) []sgxEntry {
	return func(e []sgxEntry) []sgxEntry { return slices.Delete(e, i, i+1) }
}

// TestParsePCKExtensions (audit28c): the SGX extension of a PCK
// certificate is read only whole and well typed: each of FMSPC, PCE-ID,
// the 16 TCB components, PCESVN and CPUSVN missing, of another ASN.1
// type, size or range is a format error, and so is any of them given
// twice (stop 28: the last one won); entries of other OIDs are skipped.
func TestParsePCKExtensions(t *testing.T) {
	const fmspc, pceid, tcb = 2, 1, 0 // entry indexes (top)
	for _, tc := range []struct {
		name string
		raw  []byte
		kind error
	}{
		{"Azure's", pckSGXExt(t, nil, nil), nil},
		{"an entry of another OID", pckSGXExt(t, func(e []sgxEntry) []sgxEntry { return append(e, sgxEntry{sgxArc(2, 99), 1}) },
			func(e []sgxEntry) []sgxEntry { return append(e, sgxEntry{sgxArc(9), true}) }), nil},
		{"no FMSPC", pckSGXExt(t, nil, dropEntry(fmspc)), format.ErrMissingField},
		{"FMSPC an INTEGER", pckSGXExt(t, nil, setEntry(fmspc, 0x806f05)), format.ErrBadLength},
		{"FMSPC of 5 bytes", pckSGXExt(t, nil, setEntry(fmspc, []byte{0, 0x80, 0x6f, 5, 0})), format.ErrBadLength},
		{"no PCE-ID", pckSGXExt(t, nil, dropEntry(pceid)), format.ErrMissingField},
		{"PCE-ID of 3 bytes", pckSGXExt(t, nil, setEntry(pceid, []byte{0, 0, 0})), format.ErrBadLength},
		{"no TCB", pckSGXExt(t, nil, dropEntry(tcb)), format.ErrMissingField},
		{"TCB an OCTET STRING", pckSGXExt(t, nil, setEntry(tcb, []byte{1})), format.ErrBadEncoding},
		{"component 16 missing", pckSGXExt(t, dropEntry(15), nil), format.ErrMissingField},
		{"component 1 of 256", pckSGXExt(t, setEntry(0, 256), nil), format.ErrUnexpectedValue},
		{"component 1 negative", pckSGXExt(t, setEntry(0, -1), nil), format.ErrUnexpectedValue},
		{"component 1 an OCTET STRING", pckSGXExt(t, setEntry(0, []byte{7}), nil), format.ErrUnexpectedValue},
		{"no PCESVN", pckSGXExt(t, dropEntry(16), nil), format.ErrMissingField},
		{"PCESVN of 65536", pckSGXExt(t, setEntry(16, 65536), nil), format.ErrUnexpectedValue},
		{"CPUSVN of 15 bytes", pckSGXExt(t, setEntry(17, make([]byte, 15)), nil), format.ErrBadLength},
		{"no CPUSVN", pckSGXExt(t, dropEntry(17), nil), format.ErrMissingField},
		{"trailing bytes", append(pckSGXExt(t, nil, nil), 0), format.ErrTrailingData},
		// An entry given twice is refused, not the last one winning.
		{"FMSPC twice", pckSGXExt(t, nil, dupEntry(fmspc, []byte{0, 0x90, 0x6f, 0, 0, 0})), format.ErrUnexpectedValue},
		{"PCE-ID twice", pckSGXExt(t, nil, dupEntry(pceid, []byte{1, 0})), format.ErrUnexpectedValue},
		{"TCB twice", pckSGXExt(t, nil, func(e []sgxEntry) []sgxEntry { return append(e, e[tcb]) }), format.ErrUnexpectedValue},
		{"component 2 twice", pckSGXExt(t, dupEntry(1, 255), nil), format.ErrUnexpectedValue},
		{"PCESVN twice", pckSGXExt(t, dupEntry(16, 65535), nil), format.ErrUnexpectedValue},
		{"CPUSVN twice", pckSGXExt(t, dupEntry(17, make([]byte, 16)), nil), format.ErrUnexpectedValue},
		{"not a SEQUENCE", []byte{4, 1, 0}, format.ErrBadEncoding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &x509.Certificate{Extensions: []pkix.Extension{{Id: sgxArc(), Value: tc.raw}}}
			got, err := tdx.ParsePCKExtensions(c)
			if tc.kind == nil {
				if err != nil || *got != tdxtest.AzurePCK() {
					t.Fatalf("%v %+v, want %+v", err, got, tdxtest.AzurePCK())
				}
				return
			}
			if !errors.Is(err, tc.kind) || !errors.Is(err, format.ErrMalformed) {
				t.Fatalf("%v, want %v", err, tc.kind)
			}
		})
	}
}
