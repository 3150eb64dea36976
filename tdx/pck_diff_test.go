package tdx

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// refEntry and the ref* functions are the encoding/asn1 reading of the SGX
// extensions that ParsePCKExtensions replaced (reflection, slower), with
// the one rule encoding/asn1 has no notion of: an entry read twice is
// refused (ParsePCKExtensions's doc). The differential fuzz target checks
// that both accept the same extensions with the same result.
type refEntry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

var (
	refOIDTCB   = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	refOIDPCEID = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	refOIDFMSPC = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
)

// refMarshal encodes entries as a DER SEQUENCE (seeds of the fuzz target).
func refMarshal(tb testing.TB, entries []refEntry) []byte {
	tb.Helper()
	b, err := asn1.Marshal(entries)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// refRaw is entries encoded as a RawValue (a SEQUENCE value of an entry).
func refRaw(tb testing.TB, entries []refEntry) asn1.RawValue {
	tb.Helper()
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(refMarshal(tb, entries), &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// refSequence reads b as a SEQUENCE of {OID, value} entries. A value of a
// tag number above 30 (DER's high-tag-number form) is refused:
// ParsePCKExtensions reads elements with cryptobyte, which has no such
// form, so it refuses them even in entries it skips (encoding/asn1 takes
// them; the fuzz target found the difference).
func refSequence(b []byte) ([]refEntry, bool) {
	var entries []refEntry
	rest, err := asn1.Unmarshal(b, &entries)
	for _, e := range entries {
		if e.Value.Tag > 30 {
			return nil, false
		}
	}
	return entries, err == nil && len(rest) == 0
}

// refOctets reads v as encoding/asn1 reads an OCTET STRING into a []byte:
// universal class, primitive (DER has no constructed OCTET STRING; a
// RawValue's Class and Tag alone would pass one), of dst's size.
func refOctets(v asn1.RawValue, dst []byte) bool {
	var b []byte
	if rest, err := asn1.Unmarshal(v.FullBytes, &b); err != nil || len(rest) != 0 || len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}

func refParse(raw []byte) (*PCKExtensions, bool) {
	entries, ok := refSequence(raw)
	if !ok {
		return nil, false
	}
	out := &PCKExtensions{}
	var haveFMSPC, havePCEID, haveTCB bool
	for _, e := range entries {
		switch {
		case (e.ID.Equal(refOIDFMSPC) && haveFMSPC) || (e.ID.Equal(refOIDPCEID) && havePCEID) || (e.ID.Equal(refOIDTCB) && haveTCB):
			return nil, false
		case e.ID.Equal(refOIDFMSPC):
			if haveFMSPC = refOctets(e.Value, out.FMSPC[:]); !haveFMSPC {
				return nil, false
			}
		case e.ID.Equal(refOIDPCEID):
			if havePCEID = refOctets(e.Value, out.PCEID[:]); !havePCEID {
				return nil, false
			}
		case e.ID.Equal(refOIDTCB):
			if haveTCB = out.refTCB(e.Value.FullBytes); !haveTCB {
				return nil, false
			}
		}
	}
	return out, haveFMSPC && havePCEID && haveTCB
}

func (x *PCKExtensions) refTCB(b []byte) bool {
	entries, ok := refSequence(b)
	if !ok {
		return false
	}
	var havePCESVN, haveCPUSVN bool
	var comps uint32
	for _, e := range entries {
		if len(e.ID) != len(refOIDTCB)+1 || !e.ID[:len(refOIDTCB)].Equal(refOIDTCB) {
			continue
		}
		var n int
		switch arc := e.ID[len(refOIDTCB)]; {
		case (arc >= 1 && arc <= 16 && comps&(1<<arc) != 0) || (arc == tcbComponentPCESVN && havePCESVN) || (arc == tcbComponentCPUSVN && haveCPUSVN):
			return false
		case arc >= 1 && arc <= 16:
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &n); err != nil || n < 0 || n > 0xff {
				return false
			}
			x.TCBComponents[arc-1] = uint8(n)
			comps |= 1 << arc
		case arc == tcbComponentPCESVN:
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &n); err != nil || n < 0 || n > 0xffff {
				return false
			}
			x.PCESVN, havePCESVN = uint16(n), true
		case arc == tcbComponentCPUSVN:
			if haveCPUSVN = refOctets(e.Value, x.CPUSVN[:]); !haveCPUSVN {
				return false
			}
		}
	}
	return havePCESVN && haveCPUSVN && comps == 0x1fffe
}

// realSGXExtension is the SGX extension of the PCK certificate of a real
// Azure TD quote.
func realSGXExtension(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../testdata/trustee-az-vtpm/az-tdx-vtpm/td-quote.bin")
	if err != nil {
		tb.Fatal(err)
	}
	q, err := ParseQuote(b)
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := q.PCKCertificates()
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range certs[0].Extensions {
		if e.Id.Equal(oidSGXExtensions) {
			return e.Value
		}
	}
	tb.Fatal("the real PCK certificate has no SGX extension")
	return nil
}

// TestOIDConstants: the DER contents of the entry OIDs are the OIDs'.
func TestOIDConstants(t *testing.T) {
	for oid, want := range map[string]asn1.ObjectIdentifier{oidSGXTCB: refOIDTCB, oidSGXPCEID: refOIDPCEID, oidSGXFMSPC: refOIDFMSPC} {
		der, err := asn1.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if string(der[2:]) != oid {
			t.Errorf("%v: DER contents %x, constant %x", want, der[2:], oid)
		}
	}
}

// FuzzPCKExtensionsDiff: ParsePCKExtensions and the encoding/asn1 reading
// it replaced accept the same SGX extensions, with the same result, and
// every rejection is a typed format error.
func FuzzPCKExtensionsDiff(f *testing.F) {
	f.Add(realSGXExtension(f))
	// Entries given twice (refused, d792709) and a CPUSVN in the
	// constructed OCTET STRING form DER forbids (refused; the reference
	// took it before it read OCTET STRINGs as encoding/asn1 does).
	top, _ := refSequence(realSGXExtension(f))
	for i := range top {
		f.Add(refMarshal(f, append(slices.Clone(top), top[i])))
	}
	// An entry of another OID whose value has tag number 48 (refused).
	f.Add(refMarshal(f, append(slices.Clone(top), refEntry{asn1.ObjectIdentifier{1, 2, 3}, asn1.RawValue{Class: asn1.ClassPrivate, Tag: 48, Bytes: []byte{0}}})))
	cpusvn := append(slices.Clone(refOIDTCB), tcbComponentCPUSVN)
	withTCB := func(i int, tcb []refEntry) []byte {
		return refMarshal(f, slices.Concat(top[:i], []refEntry{{top[i].ID, refRaw(f, tcb)}}, top[i+1:]))
	}
	for i := range top {
		if !top[i].ID.Equal(refOIDTCB) {
			continue
		}
		tcb, _ := refSequence(top[i].Value.FullBytes)
		for j, e := range tcb {
			if !e.ID.Equal(cpusvn) {
				continue
			}
			f.Add(withTCB(i, append(slices.Clone(tcb), e)))
			e.Value.FullBytes = slices.Clone(e.Value.FullBytes)
			e.Value.FullBytes[0] |= 0x20 // constructed
			f.Add(withTCB(i, slices.Concat(tcb[:j], []refEntry{e}, tcb[j+1:])))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{{Id: oidSGXExtensions, Value: raw}}}
		got, err := ParsePCKExtensions(c)
		want, ok := refParse(raw)
		if (err == nil) != ok {
			t.Fatalf("ParsePCKExtensions: %v; encoding/asn1 reading accepts: %v", err, ok)
		}
		if err != nil && !errors.Is(err, format.ErrMalformed) {
			t.Fatalf("untyped error %v", err)
		}
		if ok && *got != *want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}
