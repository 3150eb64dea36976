package tdx

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// OIDs of Intel's SGX extensions of a PCK certificate (Intel SGX PCK
// Certificate and CRL Profile).
var oidSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

// DER contents of the OIDs of the SGX extension's entries:
// 1.2.840.113741.1.13.1.2 (TCB), .3 (PCE-ID), .4 (FMSPC).
const (
	oidSGXTCB   = "\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x02"
	oidSGXPCEID = "\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x03"
	oidSGXFMSPC = "\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x04"
)

// tcbComponentPCESVN and tcbComponentCPUSVN are the last arcs of the
// PCESVN and CPUSVN entries of the TCB extension (1..16 are the CPUSVN
// components).
const (
	tcbComponentPCESVN = 17
	tcbComponentCPUSVN = 18
)

// PCKExtensions are the SGX extensions of a PCK certificate that say
// which platform and TCB it certifies.
type PCKExtensions struct {
	// FMSPC names the platform family (what Intel's TCB info is per).
	FMSPC [6]byte
	// PCEID is the provisioning certification enclave's id.
	PCEID [2]byte
	// PCESVN is the PCE's SVN the PCK was certified at.
	PCESVN uint16
	// CPUSVN is the CPU SVN the PCK was certified at.
	CPUSVN [16]byte
	// TCBComponents are the SGX TCB component SVNs 1..16 of the TCB
	// extension (what Intel's TCB info levels compare), each 0..255.
	TCBComponents [16]uint8
}

// ParsePCKExtensions reads the SGX extensions of a PCK certificate. The
// FMSPC, PCE-ID, PCESVN and CPUSVN must be present with their sizes. Like
// encoding/asn1, it ignores elements after the value of an {OID, value}
// entry and entries of other OIDs (which must still be valid DER, without
// the high-tag-number form: tag numbers above 30, which encoding/asn1
// takes, are refused everywhere, as cryptobyte refuses them); an
// entry it reads given twice (FMSPC, PCE-ID, TCB, or a TCB component,
// PCESVN or CPUSVN) is refused.
func ParsePCKExtensions(c *x509.Certificate) (*PCKExtensions, error) {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSGXExtensions) {
			raw = e.Value
		}
	}
	if raw == nil {
		return nil, fieldErr("pck.sgx_extensions", format.ErrMissingField)
	}
	entries, err := sequence(raw, "pck.sgx_extensions")
	if err != nil {
		return nil, err
	}
	out := &PCKExtensions{}
	var haveFMSPC, havePCEID, haveTCB bool
	for !entries.Empty() {
		oid, val, err := nextEntry(&entries, "pck.sgx_extensions")
		if err != nil {
			return nil, err
		}
		switch string(oid) {
		case oidSGXFMSPC:
			haveFMSPC, err = once(haveFMSPC, "pck.fmspc", func() (bool, error) { return octets(val, out.FMSPC[:], "pck.fmspc") })
		case oidSGXPCEID:
			havePCEID, err = once(havePCEID, "pck.pceid", func() (bool, error) { return octets(val, out.PCEID[:], "pck.pceid") })
		case oidSGXTCB:
			haveTCB, err = once(haveTCB, "pck.tcb", func() (bool, error) { return out.readTCB(val) })
		}
		if err != nil {
			return nil, err
		}
	}
	if !haveFMSPC || !havePCEID || !haveTCB {
		return nil, fieldErrf("pck.sgx_extensions", format.ErrMissingField, "FMSPC %v, PCE-ID %v, TCB %v", haveFMSPC, havePCEID, haveTCB)
	}
	return out, nil
}

// once runs read for an entry unless an entry of its OID was read
// before (seen): an entry given twice is an error, not the last one
// winning.
func once(seen bool, field string, read func() (bool, error)) (bool, error) {
	if seen {
		return true, fieldErrf(field, format.ErrUnexpectedValue, "entry appears twice")
	}
	return read()
}

// sequence returns the contents of the DER SEQUENCE b, which must be all
// of b.
func sequence(b []byte, field string) (cryptobyte.String, error) {
	in := cryptobyte.String(b)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, fieldErr(field, fmt.Errorf("%w: want a SEQUENCE", format.ErrBadEncoding))
	}
	if !in.Empty() {
		return nil, fieldErr(field, format.ErrTrailingData)
	}
	return seq, nil
}

// nextEntry reads the next {OID, value} SEQUENCE of s: the OID's DER
// contents (a valid OBJECT IDENTIFIER) and the whole value element.
func nextEntry(s *cryptobyte.String, field string) (oid, val cryptobyte.String, err error) {
	var entry cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadASN1(&entry, cbasn1.SEQUENCE) || !entry.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!validOID(oid) || !entry.ReadAnyASN1Element(&val, &tag) {
		return nil, nil, fieldErr(field, fmt.Errorf("%w: want a SEQUENCE of {OBJECT IDENTIFIER, value}", format.ErrBadEncoding))
	}
	return oid, val, nil
}

// validOID reports whether b is the DER contents of an OBJECT IDENTIFIER
// as encoding/asn1 accepts it: non-empty, every base-128 arc minimal (no
// leading 0x80), complete and below 2^31.
func validOID(b []byte) bool {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return false
	}
	var arc uint64
	start := true
	for _, c := range b {
		if start && c == 0x80 {
			return false
		}
		arc = arc<<7 | uint64(c&0x7f)
		if arc > 1<<31-1 {
			return false
		}
		start = c&0x80 == 0
		if start {
			arc = 0
		}
	}
	return true
}

// octets copies the OCTET STRING element v, whose contents must be exactly
// len(dst) bytes.
func octets(v cryptobyte.String, dst []byte, field string) (bool, error) {
	var b cryptobyte.String
	if !v.ReadASN1(&b, cbasn1.OCTET_STRING) || len(b) != len(dst) {
		return false, fieldErrf(field, format.ErrBadLength, "want an OCTET STRING of %d bytes", len(dst))
	}
	copy(dst, b)
	return true, nil
}

// integer reads the INTEGER element v, which must be in 0..maxValue.
func integer(v cryptobyte.String, maxValue int64) (int64, bool) {
	var n int64
	if !v.ReadASN1Integer(&n) || n < 0 || n > maxValue {
		return 0, false
	}
	return n, true
}

// readTCB reads the TCB extension element b: the SVNs of components 1..16,
// the PCESVN and the CPUSVN.
func (x *PCKExtensions) readTCB(b []byte) (bool, error) {
	entries, err := sequence(b, "pck.tcb")
	if err != nil {
		return false, err
	}
	var havePCESVN, haveCPUSVN bool
	var comps uint32
	for !entries.Empty() {
		oid, val, err := nextEntry(&entries, "pck.tcb")
		if err != nil {
			return false, err
		}
		// A valid OID one byte longer than the TCB's, with its prefix, is
		// the TCB's plus one arc below 128 (the last byte).
		if len(oid) != len(oidSGXTCB)+1 || string(oid[:len(oidSGXTCB)]) != oidSGXTCB {
			continue
		}
		switch arc := oid[len(oidSGXTCB)]; {
		case comps&(1<<arc) != 0 || (arc == tcbComponentPCESVN && havePCESVN) || (arc == tcbComponentCPUSVN && haveCPUSVN):
			return false, fieldErrf("pck.tcb", format.ErrUnexpectedValue, "entry %d appears twice", arc)
		case arc >= 1 && arc <= 16:
			n, ok := integer(val, 0xff)
			if !ok {
				return false, fieldErrf("pck.tcb_component", format.ErrUnexpectedValue, "component %d: want an INTEGER in 0..255", arc)
			}
			x.TCBComponents[arc-1] = uint8(n)
			comps |= 1 << arc
		case arc == tcbComponentPCESVN:
			n, ok := integer(val, 0xffff)
			if !ok {
				return false, fieldErrf("pck.pcesvn", format.ErrUnexpectedValue, "want an INTEGER in 0..65535")
			}
			x.PCESVN, havePCESVN = uint16(n), true
		case arc == tcbComponentCPUSVN:
			if haveCPUSVN, err = octets(val, x.CPUSVN[:], "pck.cpusvn"); err != nil {
				return false, err
			}
		}
	}
	if !havePCESVN || !haveCPUSVN || comps != 0x1fffe {
		return false, fieldErrf("pck.tcb", format.ErrMissingField, "PCESVN %v, CPUSVN %v, components 1..16 %v", havePCESVN, haveCPUSVN, comps == 0x1fffe)
	}
	return true, nil
}
