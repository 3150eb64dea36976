package verify

import (
	"bytes"
	"crypto/subtle"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// VMIdentity ties the quoted PCR 6 to the VM that the runtime data names:
// Azure's UEFI firmware measures "UUID: " + vmUniqueId into PCR 6, then the
// separator (see hcl.PCR6). It is computed whenever the quote's signed
// SHA-256 selection holds PCR 6 and the runtime data names a vmUniqueId.
type VMIdentity struct {
	// VMUniqueID is the runtime data's vm-configuration.vmUniqueId.
	VMUniqueID string `json:"vm_unique_id"`
	// PCR6Bound is true when the quoted PCR 6 is the firmware's measurement
	// of VMUniqueID (Form names which one). False when PCR 6 holds anything
	// else, or when its value is unknown (Form VMIdentityUnknown).
	PCR6Bound bool `json:"pcr6_bound"`
	// Form is how PCR 6 was measured: VMIdentityUUID or VMIdentityUUIDArch
	// when bound, VMIdentityMismatch when PCR 6 holds another value,
	// VMIdentityUnknown when the evidence carries no PCR values.
	Form string `json:"form"`
	// Architecture is the architecture event's string (hcl.ArchX64 or
	// hcl.ArchARM64) of the VMIdentityUUIDArch form.
	Architecture string `json:"architecture,omitempty"`
}

// Values of VMIdentity.Form: how PCR 6 was measured, E(a, b) being
// SHA-256(a ‖ b) and H SHA-256.
const (
	VMIdentityUUID     = "uuid+separator"      // E(E(0, H("UUID: "+id)), H(separator))
	VMIdentityUUIDArch = "uuid+arch+separator" // the architecture event between the two
	VMIdentityMismatch = "mismatch"            // neither form for this vmUniqueId
	VMIdentityUnknown  = "unknown"             // the evidence carries no PCR values
)

// pcr6Forms returns the accepted measurements of PCR 6, in the order tried.
func pcr6Forms() [3]struct{ form, arch string } {
	return [3]struct{ form, arch string }{
		{VMIdentityUUID, ""},
		{VMIdentityUUIDArch, hcl.ArchX64},
		{VMIdentityUUIDArch, hcl.ArchARM64},
	}
}

// MatchPCR6 returns the VM identity of the SHA-256 value pcr6 for
// vmUniqueID; a nil pcr6 means the value is unknown. The firmware measures
// the GUID in upper case, while the runtime data may name it in lower case
// (a real Azure TDX CVM of 2025, testdata/flashbots-azure-tdx): a
// vmUniqueId that is a GUID also matches the measurement of its upper-case
// form, which is the same GUID.
func MatchPCR6(pcr6 []byte, vmUniqueID string) VMIdentity {
	id := VMIdentity{VMUniqueID: vmUniqueID, Form: VMIdentityUnknown}
	if pcr6 == nil {
		return id
	}
	id.Form = VMIdentityMismatch
	if matchPCR6(&id, pcr6, vmUniqueID) || !isGUID(vmUniqueID) {
		return id
	}
	if upper := strings.ToUpper(vmUniqueID); upper != vmUniqueID {
		matchPCR6(&id, pcr6, upper)
	}
	return id
}

// matchPCR6 reports whether pcr6 is a measurement of name in one of
// pcr6Forms, and sets id's form and architecture when it is.
func matchPCR6(id *VMIdentity, pcr6 []byte, name string) bool {
	for _, f := range pcr6Forms() {
		want := hcl.PCR6(name, f.arch)
		if subtle.ConstantTimeCompare(pcr6, want[:]) == 1 {
			id.PCR6Bound, id.Form, id.Architecture = true, f.form, f.arch
			return true
		}
	}
	return false
}

// isGUID reports whether s is a GUID in its text form: 8-4-4-4-12
// hexadecimal digits of either case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// InitData is the state of PCR 8, where Confidential Containers peer pods
// measure their init-data document: PCR 8 = E(0^32, SHA-256(init-data)).
type InitData struct {
	// PCR8 is the quoted PCR 8; nil when the evidence carries no PCR values.
	PCR8 HexBytes `json:"pcr8,omitempty"`
	// State says what is known of PCR 8: InitDataUnknown when the evidence
	// carries no PCR values (Measured and Bound are then false because
	// nothing is known, not because nothing was measured), otherwise
	// InitDataZero, InitDataMeasured or InitDataBound.
	State string `json:"state"`
	// Measured is true when PCR 8 is known and not all zeros (something
	// was extended).
	Measured bool `json:"measured"`
	// Digest is the expected SHA-256 of the init-data that was checked
	// (Policy.InitDataDigest); absent when none was given.
	Digest HexBytes `json:"digest,omitempty"`
	// Bound is true when Digest was given and PCR 8 = E(0^32, Digest).
	Bound bool `json:"bound"`
}

// Values of InitData.State.
const (
	InitDataUnknown  = "unknown"  // the evidence carries no PCR values
	InitDataZero     = "zero"     // PCR 8 is all zeros: nothing was measured
	InitDataMeasured = "measured" // PCR 8 holds a measurement; no digest was checked
	InitDataBound    = "bound"    // PCR 8 = E(0^32, Digest)
)

// InitDataPCR8 returns the value of PCR 8 once the init-data whose SHA-256
// is digest is measured, as trustee checks it: SHA-256(0^32 ‖ digest).
func InitDataPCR8(digest []byte) [32]byte {
	var zero [32]byte
	return hcl.Extend(zero[:], digest)
}

// sha256Selected reports whether the signed SHA-256 selection holds idx.
func (c *Claims) sha256Selected(idx int) bool {
	for _, b := range c.PCRSelection {
		if b.Hash == quote.AlgName(quote.AlgSHA256) {
			for _, i := range b.PCRs {
				if i == idx {
					return true
				}
			}
		}
	}
	return false
}

// fillPlatformIdentity fills VMIdentity (PCR 6) and InitData (PCR 8)
// from the quoted PCRs, when the signed selection holds them.
func (c *Claims) fillPlatformIdentity(pol *Policy) {
	if c.sha256Selected(6) && c.VMConfig != nil && c.VMConfig.VMUniqueID != "" {
		id := MatchPCR6(c.PCRs[6], c.VMConfig.VMUniqueID)
		c.VMIdentity = &id
	}
	if c.sha256Selected(8) {
		c.InitData = initDataOf(c.PCRs[8], pol.InitDataDigest)
	}
}

// initDataOf returns the init-data claim of the quoted PCR 8 (nil: its
// value is unknown) against digest (nil: none given).
func initDataOf(pcr8, digest []byte) *InitData {
	d := &InitData{PCR8: bytes.Clone(pcr8), State: InitDataUnknown}
	if digest != nil {
		d.Digest = bytes.Clone(digest)
	}
	if pcr8 == nil {
		return d
	}
	d.Measured = !format.AllZero(pcr8)
	d.State = InitDataZero
	if d.Measured {
		d.State = InitDataMeasured
	}
	if digest != nil {
		// Not bound is a rejection (check init-data): no claims show it.
		want := InitDataPCR8(digest)
		if d.Bound = subtle.ConstantTimeCompare(pcr8, want[:]) == 1; d.Bound {
			d.State = InitDataBound
		}
	}
	return d
}

// checkPlatformIdentity applies require_vm_identity and init_data_digest.
func (c *Claims) checkPlatformIdentity(pol *Policy) error {
	if pol.RequireVMIdentity {
		switch id := c.VMIdentity; {
		case c.VMConfig == nil || c.VMConfig.VMUniqueID == "":
			return failf(CheckVMIdentity, "the policy requires the VM identity in PCR 6, but the runtime data names no vmUniqueId")
		case id == nil:
			return failf(CheckVMIdentity, "the policy requires the VM identity in PCR 6, but the quote's signed SHA-256 selection does not hold PCR 6")
		case id.Form == VMIdentityUnknown:
			return failf(CheckVMIdentity, "the policy requires the VM identity in PCR 6, but the evidence carries no PCR values")
		case !id.PCR6Bound:
			return failf(CheckVMIdentity, "PCR 6 is %x, which is not the firmware's measurement of vmUniqueId %q", []byte(c.PCRs[6]), id.VMUniqueID)
		}
	}
	if pol.InitDataDigest != nil {
		switch d := c.InitData; {
		case d == nil:
			return failf(CheckInitData, "the policy requires init-data %x in PCR 8, but the quote's signed SHA-256 selection does not hold PCR 8", []byte(pol.InitDataDigest))
		case d.PCR8 == nil:
			return failf(CheckInitData, "the policy requires init-data %x in PCR 8, but the evidence carries no PCR values", []byte(pol.InitDataDigest))
		case !d.Bound:
			want := InitDataPCR8(pol.InitDataDigest)
			return failf(CheckInitData, "PCR 8 is %x, want %x = SHA-256(0^32 ‖ init-data digest %x)", []byte(d.PCR8), want[:], []byte(pol.InitDataDigest))
		}
	}
	return nil
}
