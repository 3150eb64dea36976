package tdx

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// OIDs of Intel's SGX extensions of a PCK certificate (Intel SGX PCK
// Certificate and CRL Profile).
var (
	oidSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidSGXTCB        = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidSGXPCEID      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidSGXFMSPC      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
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

type asn1Entry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// ParsePCKExtensions reads the SGX extensions of a PCK certificate. The
// FMSPC, PCE-ID, PCESVN and CPUSVN must be present with their sizes.
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
	for _, e := range entries {
		switch {
		case e.ID.Equal(oidSGXFMSPC):
			haveFMSPC, err = octets(e.Value, out.FMSPC[:], "pck.fmspc")
		case e.ID.Equal(oidSGXPCEID):
			havePCEID, err = octets(e.Value, out.PCEID[:], "pck.pceid")
		case e.ID.Equal(oidSGXTCB):
			haveTCB, err = out.readTCB(e.Value.FullBytes)
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

// sequence parses b as a SEQUENCE of {OID, value} with no trailing data.
func sequence(b []byte, field string) ([]asn1Entry, error) {
	var entries []asn1Entry
	rest, err := asn1.Unmarshal(b, &entries)
	if err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
	}
	if len(rest) != 0 {
		return nil, fieldErr(field, format.ErrTrailingData)
	}
	return entries, nil
}

// octets copies the OCTET STRING v, which must be exactly len(dst) bytes.
func octets(v asn1.RawValue, dst []byte, field string) (bool, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString || len(v.Bytes) != len(dst) {
		return false, fieldErrf(field, format.ErrBadLength, "want an OCTET STRING of %d bytes", len(dst))
	}
	copy(dst, v.Bytes)
	return true, nil
}

// readTCB reads the PCESVN and CPUSVN of the TCB extension.
func (x *PCKExtensions) readTCB(b []byte) (bool, error) {
	entries, err := sequence(b, "pck.tcb")
	if err != nil {
		return false, err
	}
	var havePCESVN, haveCPUSVN bool
	var comps uint32
	for _, e := range entries {
		if len(e.ID) != len(oidSGXTCB)+1 || !e.ID[:len(oidSGXTCB)].Equal(oidSGXTCB) {
			continue
		}
		switch arc := e.ID[len(oidSGXTCB)]; {
		case arc >= 1 && arc <= 16:
			var n int
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &n); err != nil || n < 0 || n > 0xff {
				return false, fieldErrf("pck.tcb_component", format.ErrUnexpectedValue, "component %d: want an INTEGER in 0..255", arc)
			}
			x.TCBComponents[arc-1] = uint8(n)
			comps |= 1 << arc
		case arc == tcbComponentPCESVN:
			var n int
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &n); err != nil || n < 0 || n > 0xffff {
				return false, fieldErrf("pck.pcesvn", format.ErrUnexpectedValue, "want an INTEGER in 0..65535")
			}
			x.PCESVN, havePCESVN = uint16(n), true
		case arc == tcbComponentCPUSVN:
			if haveCPUSVN, err = octets(e.Value, x.CPUSVN[:], "pck.cpusvn"); err != nil {
				return false, err
			}
		}
	}
	if !havePCESVN || !haveCPUSVN || comps != 0x1fffe {
		return false, fieldErrf("pck.tcb", format.ErrMissingField, "PCESVN %v, CPUSVN %v, components 1..16 %v", havePCESVN, haveCPUSVN, comps == 0x1fffe)
	}
	return true, nil
}
