package maa

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Bind checks that a verified token and our own verified evidence describe
// the same VM and the same SNP report (CheckBinding): HCLAkPub equals the
// evidence's attestation key, x-ms-azurevm-vmid (and the echoed
// vm-configuration's vmUniqueId) the runtime data's vmUniqueId, and the
// report data, launch measurement, ID key digest, guest SVN, VMPL and the
// reported TCB's SVNs the report's. A claim Bind needs that the token
// lacks is a failure; host data, family and image ids, author key digest
// and is-debuggable are compared when the token has them.
//
// A tdxvm token is bound to TDX evidence (see bindTDX): the same AK and
// VM id, and tdx_report_data and tdx_mrtd equal to the verified TD
// quote's REPORTDATA and MRTD. The token's platform must be the
// evidence's: a sevsnpvm token never binds TDX evidence, nor the reverse.
// A token of the emulated MAA (iss EmulatedIssuer: anyone can mint one
// with its public test key) binds only evidence of the emulated CVM
// (ev.Emulated), never evidence verified under a real chain; and a token
// of any other issuer never binds evidence of the emulated CVM, which no
// real instance attests (evidence under the emulated chain is forged by
// whoever has its public keys, so the pair would look like a real token
// vouching for it).
// ev must come from a successful verification.
func Bind(c *Claims, ev *verify.Claims) error {
	if c.IsolationTEE == nil {
		return failf(CheckBinding, "the token has no x-ms-isolation-tee")
	}
	switch {
	case c.Emulated() && !ev.Emulated:
		return failf(CheckBinding, "the token is the emulated MAA's (a public test key anyone can sign with), the evidence is not the emulated CVM's (verified under %s): an emulated token vouches for no real VM", format.Truncate(ev.RootsSource, 64))
	case !c.Emulated() && ev.Emulated:
		return failf(CheckBinding, "the evidence is the emulated CVM's (verified under %s, whose keys are public), the token is %s's: no real MAA instance attests the emulated CVM, so the pair is forged", format.Truncate(ev.RootsSource, 64), format.Truncate(c.Issuer, 64))
	}
	if err := bindPlatform(c, ev); err != nil {
		return err
	}
	if ev.VMConfig == nil || len(ev.AKPublic) == 0 {
		return failf(CheckBinding, "the evidence has no runtime data (a bare hardware report cannot be bound)")
	}
	if err := bindAK(c, ev.AKPublic); err != nil {
		return err
	}
	if err := bindVMID(c, ev.VMConfig.VMUniqueID); err != nil {
		return err
	}
	if ev.Platform == verify.PlatformTDX {
		return bindTDX(&c.IsolationTEE.TDX, ev)
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

// bindPlatform requires the token's isolation TEE to be the evidence's
// platform.
func bindPlatform(c *Claims, ev *verify.Claims) error {
	want := TEESEVSNP
	if ev.Platform == verify.PlatformTDX {
		want = TEETDX
	}
	if got := c.Platform(); got != want {
		return failf(CheckBinding, "the token attests a %q isolation TEE, our evidence is %s (want %q): another platform, not this VM",
			format.Truncate(got, 32), ev.Platform, want)
	}
	return nil
}

// bindTDX compares a tdxvm token's TD claims with the verified TD quote's:
// tdx_report_data (which binds the HCL runtime data, hence the AK) and
// tdx_mrtd (the paravisor) are required; the other quote body fields are
// compared when the token has them.
func bindTDX(t *TDX, ev *verify.Claims) error {
	q := ev.TDX
	if q == nil {
		return failf(CheckBinding, "the evidence has no TDX claims")
	}
	return compareClaims("our verified TD quote", []byteClaim{
		{"tdx_report_data", t.ReportData, ev.ReportData, false},
		{"tdx_mrtd", t.MRTD, q.MRTD, false},
		{"tdx_rtmr0", t.RTMR0, q.RTMR[0], true},
		{"tdx_rtmr1", t.RTMR1, q.RTMR[1], true},
		{"tdx_rtmr2", t.RTMR2, q.RTMR[2], true},
		{"tdx_rtmr3", t.RTMR3, q.RTMR[3], true},
		{"tdx_xfam", t.XFAM, q.XFAM, true},
		{"tdx_td_attributes", t.TDAttributes, q.TDAttributes, true},
		{"tdx_tee_tcb_svn", t.TEETCBSVN, q.TEETCBSVN, true},
		{"tdx_mrseam", t.MRSEAM, q.MRSEAM, true},
		{"tdx_mrsignerseam", t.MRSignerSEAM, q.MRSignerSEAM, true},
		{"tdx_seam_attributes", t.SEAMAttributes, q.SEAMAttributes, true},
		{"tdx_mrconfigid", t.MRConfigID, q.MRConfigID, true},
		{"tdx_mrowner", t.MROwner, q.MROwner, true},
		{"tdx_mrownerconfig", t.MROwnerConfig, q.MROwnerConfig, true},
	}, boolClaim{"tdx_td_attributes_debug", t.TDAttributesDebug, ev.Debug})
}

// bindBytes compares the report's byte fields. Report data, launch
// measurement and ID key digest are required; the fields a token may omit
// (older protocol versions) must equal the report's when present.
func bindBytes(s *SEVSNP, ev *verify.Claims) error {
	return compareClaims("our verified report", []byteClaim{
		{"x-ms-sevsnpvm-reportdata", s.ReportData, ev.ReportData, false},
		{"x-ms-sevsnpvm-launchmeasurement", s.LaunchMeasurement, ev.Measurement, false},
		{"x-ms-sevsnpvm-idkeydigest", s.IDKeyDigest, ev.IDKeyDigest, false},
		{"x-ms-sevsnpvm-hostdata", s.HostData, ev.HostData, true},
		{"x-ms-sevsnpvm-familyId", s.FamilyID, ev.FamilyID, true},
		{"x-ms-sevsnpvm-imageId", s.ImageID, ev.ImageID, true},
		{"x-ms-sevsnpvm-authorkeydigest", s.AuthorKeyDigest, ev.AuthorKeyDigest, true},
	}, boolClaim{"x-ms-sevsnpvm-is-debuggable", s.IsDebuggable, ev.Debug})
}

// byteClaim is a byte claim of a token and the value it must have; an
// optional one is compared only when the token has it.
type byteClaim struct {
	name      string
	got, want []byte
	optional  bool
}

// boolClaim is an optional boolean claim of a token and the value it must
// have when the token has it.
type boolClaim struct {
	name string
	got  *bool
	want bool
}

// compareClaims requires every claim to equal its value (CheckBinding);
// source names where the values come from.
func compareClaims(source string, claims []byteClaim, flags ...boolClaim) error {
	for _, f := range claims {
		if (f.got != nil || !f.optional) && !bytes.Equal(f.got, f.want) {
			return failf(CheckBinding, "%s is %.200x, %s has %x", f.name, f.got, source, f.want)
		}
	}
	for _, f := range flags {
		if f.got != nil && *f.got != f.want {
			return failf(CheckBinding, "%s is %v, %s says %v", f.name, *f.got, source, f.want)
		}
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
		return failf(CheckBinding, "x-ms-azurevm-vmid is %q, our runtime data's vmUniqueId is %q (another VM)", format.Truncate(c.VMID, 32), want)
	}
	if rt := c.IsolationTEE.Runtime; rt != nil && rt.VMConfiguration != nil && rt.VMConfiguration.VMUniqueID != "" &&
		!strings.EqualFold(rt.VMConfiguration.VMUniqueID, want) {
		return failf(CheckBinding, "the token's vm-configuration vmUniqueId is %q, ours is %q", format.Truncate(rt.VMConfiguration.VMUniqueID, 32), want)
	}
	return nil
}

func numString[T uint8 | uint32](v *T) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprint(*v)
}
