package pcs

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Offsets of the QE report (an SGX report body).
const (
	qeMiscselectOff = 16
	qeAttributesOff = 48
	qeMRSignerOff   = 128
	qeISVProdIDOff  = 256
)

// evaluate computes Intel's status of the verified quote q under the
// verified documents ti and qe. A TDX 1.5 body (quote v5) is rated by its
// TEE_TCB_SVN, the module's SVNs at the TD's launch, like a TDX 1.0 one:
// TEE_TCB_SVN_2 (after a TD-preserving update) is not used, so Intel's
// "TD relaunch advised" refinement is never reported; the status is the
// launch-time module's, never better.
func evaluate(ti *TCBInfo, qe *QEIdentity, q *tdx.Quote, v *tdx.Verified) (*Result, error) {
	b := &q.Body
	if err := matchModule(ti.TDXModule, b, "the TCB info's tdxModule"); err != nil {
		return nil, err
	}
	plat, err := platformLevel(ti.TCBLevels, v.SGX, b.TEETCBSVN)
	if err != nil {
		return nil, err
	}
	r := &Result{PlatformStatus: plat.TCBStatus, TCBEvaluationDataNumber: ti.TCBEvaluationDataNumber}
	r.add(plat.TCBDate, plat.AdvisoryIDs)
	status := plat.TCBStatus
	if b.TEETCBSVN[1] > 0 {
		mod, err := moduleLevel(ti.ModuleIdentities, b)
		if err != nil {
			return nil, err
		}
		r.ModuleStatus = mod.TCBStatus
		r.add(mod.TCBDate, mod.AdvisoryIDs)
		status = converge(status, mod.TCBStatus)
	}
	qel, err := qeLevel(qe, q)
	if err != nil {
		return nil, err
	}
	r.QEStatus = qel.TCBStatus
	r.add(qel.TCBDate, qel.AdvisoryIDs)
	r.Status = converge(status, qel.TCBStatus)
	return r, nil
}

// add folds a matched level's date and advisories into r.
func (r *Result) add(date time.Time, adv []string) {
	if r.TCBDate.IsZero() || date.Before(r.TCBDate) {
		r.TCBDate = date
	}
	for _, a := range adv {
		if !slices.Contains(r.AdvisoryIDs, a) {
			r.AdvisoryIDs = append(r.AdvisoryIDs, a)
		}
	}
}

// converge folds the status of a TDX module or QE level (UpToDate,
// OutOfDate or Revoked) into the platform's, as Intel's quote verification
// library does: Revoked wins; OutOfDate turns the platform's up-to-date
// statuses into OutOfDate and its configuration statuses into
// OutOfDateConfigurationNeeded.
func converge(platform, other string) string {
	switch {
	case platform == Revoked || other == Revoked:
		return Revoked
	case other != OutOfDate:
		return platform
	case platform == ConfigurationNeeded || platform == ConfigurationAndSWHardeningNeeded:
		return OutOfDateConfigurationNeeded
	case platform == UpToDate || platform == SWHardeningNeeded:
		return OutOfDate
	}
	return platform
}

// platformLevel returns the first (highest) level whose SGX components
// and PCESVN the PCK certificate reaches and whose TDX components
// TEE_TCB_SVN reaches (components 0 and 1, the module's SVN and version,
// are left to the module identity when TEE_TCB_SVN[1] > 0).
func platformLevel(levels []PlatformLevel, sgx tdx.PCKExtensions, svn [16]byte) (*PlatformLevel, error) {
	start := 0
	if svn[1] > 0 {
		start = 2
	}
next:
	for i := range levels {
		l := &levels[i]
		if sgx.PCESVN < *l.TCB.PCESVN {
			continue
		}
		for k := range 16 {
			if sgx.TCBComponents[k] < *l.TCB.SGXComponents[k].SVN || (k >= start && svn[k] < *l.TCB.TDXComponents[k].SVN) {
				continue next
			}
		}
		return l, nil
	}
	return nil, fmt.Errorf("%w: platform: no TCB level of the TCB info is reached by the PCK's SGX components %v, PCESVN %d and TEE_TCB_SVN %x",
		ErrTCBLevel, sgx.TCBComponents, sgx.PCESVN, svn)
}

// moduleLevel finds the module identity "TDX_<TEE_TCB_SVN[1], 2 hex>",
// checks its signer and attributes, and returns its first level at or
// below TEE_TCB_SVN[0].
func moduleLevel(ids []ModuleIdentity, b *tdx.Body) (*ISVLevel, error) {
	id := "TDX_" + strings.ToUpper(hex.EncodeToString(b.TEETCBSVN[1:2]))
	for i := range ids {
		if !strings.EqualFold(ids[i].ID, id) {
			continue
		}
		if err := matchModule(&ids[i].TDXModule, b, "TDX module identity "+id); err != nil {
			return nil, err
		}
		for k := range ids[i].TCBLevels {
			if l := &ids[i].TCBLevels[k]; uint16(b.TEETCBSVN[0]) >= *l.TCB.ISVSVN {
				return l, nil
			}
		}
		return nil, fmt.Errorf("%w: TDX module identity %s has no level at or below the module's SVN %d", ErrTCBLevel, id, b.TEETCBSVN[0])
	}
	return nil, fmt.Errorf("%w: the TCB info has no TDX module identity %s (TEE_TCB_SVN[1] = %d)", ErrTCBLevel, id, b.TEETCBSVN[1])
}

// matchModule checks MRSIGNERSEAM and the masked SEAMATTRIBUTES against m
// (hex validated by the parser).
func matchModule(m *TDXModule, b *tdx.Body, what string) error {
	var signer [48]byte
	var attr, mask [8]byte
	_ = decodeHex(m.MRSigner, signer[:], "")
	_ = decodeHex(m.Attributes, attr[:], "")
	_ = decodeHex(m.AttributesMask, mask[:], "")
	if signer != b.MRSignerSEAM {
		return fmt.Errorf("%w: MRSIGNERSEAM %x is not the signer of %s", ErrTCBLevel, b.MRSignerSEAM[:], what)
	}
	for i := range attr {
		if b.SEAMAttributes[i]&mask[i] != attr[i]&mask[i] {
			return fmt.Errorf("%w: SEAMATTRIBUTES %x do not match %s", ErrTCBLevel, b.SEAMAttributes[:], what)
		}
	}
	return nil
}

// qeLevel matches the QE report to the QE identity and returns its level.
func qeLevel(qe *QEIdentity, q *tdx.Quote) (*ISVLevel, error) {
	r := q.QEReport[:]
	if !bytes.Equal(r[qeMRSignerOff:qeMRSignerOff+32], qe.MRSigner[:]) {
		return nil, fmt.Errorf("%w: MRSIGNER %x, want %x", ErrQEIdentity, r[qeMRSignerOff:qeMRSignerOff+32], qe.MRSigner)
	}
	if id := binary.LittleEndian.Uint16(r[qeISVProdIDOff:]); id != *qe.ISVProdID {
		return nil, fmt.Errorf("%w: ISVPRODID %d, want %d", ErrQEIdentity, id, *qe.ISVProdID)
	}
	misc := binary.LittleEndian.Uint32(r[qeMiscselectOff:])
	wantMisc, mask := binary.LittleEndian.Uint32(qe.Miscselect[:]), binary.LittleEndian.Uint32(qe.MiscselectMask[:])
	if misc&mask != wantMisc&mask {
		return nil, fmt.Errorf("%w: MISCSELECT %08x under mask %08x, want %08x", ErrQEIdentity, misc, mask, wantMisc&mask)
	}
	for i := range 16 {
		if r[qeAttributesOff+i]&qe.AttributesMask[i] != qe.Attributes[i]&qe.AttributesMask[i] {
			return nil, fmt.Errorf("%w: ATTRIBUTES %x do not match %x under mask %x", ErrQEIdentity, r[qeAttributesOff:qeAttributesOff+16], qe.Attributes, qe.AttributesMask)
		}
	}
	svn := q.QEISVSVN()
	for i := range qe.TCBLevels {
		if l := &qe.TCBLevels[i]; svn >= *l.TCB.ISVSVN {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: the QE's ISVSVN %d is below every QE identity level", ErrTCBLevel, svn)
}
