package maa

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Bind checks that a verified token and our own verified evidence describe
// the same VM and the same SNP report (CheckBinding): HCLAkPub equals the
// evidence's attestation key, x-ms-azurevm-vmid (and the echoed
// vm-configuration's vmUniqueId) the runtime data's vmUniqueId, and the
// report data, launch measurement, ID key digest, guest SVN, VMPL and the
// reported TCB's SVNs the report's. A claim Bind needs that the token
// lacks is a failure; host data, family and image ids, author key digest
// and is-debuggable are compared when the token has them. ev must come from a successful verification.
func Bind(c *Claims, ev *verify.Claims) error {
	if c.IsolationTEE == nil {
		return failf(CheckBinding, "the token has no x-ms-isolation-tee")
	}
	if ev.VMConfig == nil || len(ev.AKPublic) == 0 {
		return failf(CheckBinding, "the evidence has no runtime data (a bare SNP report cannot be bound)")
	}
	if err := bindAK(c, ev.AKPublic); err != nil {
		return err
	}
	if err := bindVMID(c, ev.VMConfig.VMUniqueID); err != nil {
		return err
	}
	s := &c.IsolationTEE.SEVSNP
	if err := bindBytes(s, ev); err != nil {
		return err
	}
	tcb := ev.ReportedTCB
	for _, f := range []struct {
		name string
		got  *uint8
		want uint8
	}{
		{"x-ms-sevsnpvm-bootloader-svn", s.BootloaderSVN, tcb.Bootloader},
		{"x-ms-sevsnpvm-tee-svn", s.TEESVN, tcb.TEE},
		{"x-ms-sevsnpvm-snpfw-svn", s.SNPFwSVN, tcb.SNP},
		{"x-ms-sevsnpvm-microcode-svn", s.MicrocodeSVN, tcb.Microcode},
	} {
		if f.got == nil || *f.got != f.want {
			return failf(CheckBinding, "%s is %s, our verified report's reported TCB has %d", f.name, numString(f.got), f.want)
		}
	}
	if s.GuestSVN == nil || *s.GuestSVN != ev.GuestSVN {
		return failf(CheckBinding, "x-ms-sevsnpvm-guestsvn is %s, our verified report has %d", numString(s.GuestSVN), ev.GuestSVN)
	}
	if s.VMPL == nil || *s.VMPL != ev.VMPL {
		return failf(CheckBinding, "x-ms-sevsnpvm-vmpl is %s, our verified report has %d", numString(s.VMPL), ev.VMPL)
	}
	return nil
}

// bindBytes compares the report's byte fields. Report data, launch
// measurement and ID key digest are required; the fields a token may omit
// (older protocol versions) must equal the report's when present.
func bindBytes(s *SEVSNP, ev *verify.Claims) error {
	for _, f := range []struct {
		name      string
		got, want []byte
		optional  bool
	}{
		{"x-ms-sevsnpvm-reportdata", s.ReportData, ev.ReportData, false},
		{"x-ms-sevsnpvm-launchmeasurement", s.LaunchMeasurement, ev.Measurement, false},
		{"x-ms-sevsnpvm-idkeydigest", s.IDKeyDigest, ev.IDKeyDigest, false},
		{"x-ms-sevsnpvm-hostdata", s.HostData, ev.HostData, true},
		{"x-ms-sevsnpvm-familyId", s.FamilyID, ev.FamilyID, true},
		{"x-ms-sevsnpvm-imageId", s.ImageID, ev.ImageID, true},
		{"x-ms-sevsnpvm-authorkeydigest", s.AuthorKeyDigest, ev.AuthorKeyDigest, true},
	} {
		if (f.got != nil || !f.optional) && !bytes.Equal(f.got, f.want) {
			return failf(CheckBinding, "%s is %x, our verified report has %x", f.name, f.got, f.want)
		}
	}
	if s.IsDebuggable != nil && *s.IsDebuggable != ev.Debug {
		return failf(CheckBinding, "x-ms-sevsnpvm-is-debuggable is %v, our verified report's policy says %v", *s.IsDebuggable, ev.Debug)
	}
	return nil
}

// bindAK compares HCLAkPub with the evidence's attestation key (PKIX DER).
func bindAK(c *Claims, akDER []byte) error {
	tokAK, err := c.HCLAkPub()
	if err != nil {
		return &Error{Check: CheckBinding, Err: err}
	}
	ours, err := x509.ParsePKIXPublicKey(akDER)
	if err != nil {
		return failf(CheckBinding, "the evidence's attestation key: %v", err)
	}
	if !tokAK.Equal(ours) {
		return failf(CheckBinding, "HCLAkPub in the token is not the attestation key of our evidence (another VM or another vTPM)")
	}
	return nil
}

// bindVMID compares the token's VM ids with the runtime data's vmUniqueId
// (GUIDs: case-insensitive).
func bindVMID(c *Claims, want string) error {
	if want == "" {
		return failf(CheckBinding, "the evidence's runtime data has no vmUniqueId")
	}
	if !strings.EqualFold(c.VMID, want) {
		return failf(CheckBinding, "x-ms-azurevm-vmid is %q, our runtime data's vmUniqueId is %q (another VM)", short(c.VMID), want)
	}
	if rt := c.IsolationTEE.Runtime; rt != nil && rt.VMConfiguration != nil && rt.VMConfiguration.VMUniqueID != "" &&
		!strings.EqualFold(rt.VMConfiguration.VMUniqueID, want) {
		return failf(CheckBinding, "the token's vm-configuration vmUniqueId is %q, ours is %q", short(rt.VMConfiguration.VMUniqueID), want)
	}
	return nil
}

func numString[T uint8 | uint32](v *T) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprint(*v)
}
