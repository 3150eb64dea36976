package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// emulatedBanner is printed on every output made in or about emulated mode.
const emulatedBanner = "*** EMULATED: not a real Azure CVM, not signed by AMD or Intel ***"

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// maxRowName and maxRowText bound a row's name and value of printClaims:
// far above any of ours, they only cut what the evidence made long.
const maxRowName, maxRowText = 256, 4096

// claimRow is one extra "name value" line of printClaims; without a
// name, a note printed as it is.
type claimRow struct{ name, value string }

// printClaims writes verified claims in a readable form. full adds every
// report field (the -p output). extra rows are printed after the claims,
// before the closing emulated banner.
func printClaims(w io.Writer, title string, c *verify.Claims, full bool, extra ...claimRow) {
	if c.Emulated {
		fmt.Fprintln(w, emulatedBanner)
	}
	fmt.Fprintln(w, title)
	// Rows carry text the evidence chose (the runtime data's vmUniqueId,
	// root-cert-thumbprint and key ids, the event log's names): escaped,
	// it can neither move the cursor nor write lines of its own over the
	// verdict (a paravisor that is not trusted, allow_any_paravisor).
	row := func(k string, f string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", format.Printable(k, maxRowName), format.Printable(fmt.Sprintf(f, args...), maxRowText))
	}
	if c.Platform == verify.PlatformTDX {
		printTDX(row, c, full)
	} else {
		printSNP(row, c, full)
	}
	printRuntime(row, c)
	for _, r := range extra {
		if r.name == "" {
			fmt.Fprintf(w, "  %s\n", format.Printable(r.value, maxRowText))
			continue
		}
		row(r.name, "%s", r.value)
	}
	if c.Emulated {
		fmt.Fprintln(w, emulatedBanner)
	}
}

// rowFunc prints one "name value" line.
type rowFunc func(k string, format string, args ...any)

// printSNP prints the SNP report's claims.
func printSNP(row rowFunc, c *verify.Claims, full bool) {
	roots := c.RootsSource
	if !c.PinnedRoots {
		roots += " (NON-DEFAULT ROOTS)"
	}
	row("platform", "%s", verify.PlatformSNP)
	row("product", "%s", c.Product)
	row("roots", "%s", roots)
	row(strings.ToLower(signingKey(c)), "%s", c.VCEKSource)
	row("chip id", "%s", c.ChipID)
	row("report version", "%d", c.ReportVersion)
	row("reported tcb", "%s", tcbString(c.ReportedTCB.Bootloader, c.ReportedTCB.TEE, c.ReportedTCB.SNP, c.ReportedTCB.Microcode, c.ReportedTCB.FMC, c.Product))
	if full {
		row("committed tcb", "%s", tcbString(c.CommittedTCB.Bootloader, c.CommittedTCB.TEE, c.CommittedTCB.SNP, c.CommittedTCB.Microcode, c.CommittedTCB.FMC, c.Product))
		row("current tcb", "%s", tcbString(c.CurrentTCB.Bootloader, c.CurrentTCB.TEE, c.CurrentTCB.SNP, c.CurrentTCB.Microcode, c.CurrentTCB.FMC, c.Product))
		row("launch tcb", "%s", tcbString(c.LaunchTCB.Bootloader, c.LaunchTCB.TEE, c.LaunchTCB.SNP, c.LaunchTCB.Microcode, c.LaunchTCB.FMC, c.Product))
	}
	row("guest policy", "0x%x (debug %s, smt %s)", c.GuestPolicy, onOff(c.Debug), onOff(c.SMT))
	row("vmpl", "%d", c.VMPL)
	row("paravisor", "%s", paravisorString(c.Paravisor, false))
	if c.ParavisorVoucher != "" {
		row("paravisor voucher", "%s (an MAA token of this instance vouched for the report)", c.ParavisorVoucher)
	}
	row("id key digest", "%s", c.IDKeyDigest)
	row("measurement", "%s", c.Measurement)
	if full {
		row("guest svn", "%d", c.GuestSVN)
		row("family id", "%s", c.FamilyID)
		row("image id", "%s", c.ImageID)
		row("host data", "%s", c.HostData)
		row("author key digest", "%s", c.AuthorKeyDigest)
		row("platform info", "0x%x", c.PlatformInfo)
		row("report data", "%s", c.ReportData)
	}
}

// printTDX prints the TD's claims (every one with full, the -p output).
func printTDX(row rowFunc, c *verify.Claims, full bool) {
	x := c.TDX
	row("platform", "%s", verify.PlatformTDX)
	row("roots", "%s", c.RootsSource)
	row("paravisor", "%s", paravisorString(c.Paravisor, true))
	row("mr td", "%s", x.MRTD)
	row("td attributes", "%s (debug %s)", x.TDAttributes, onOff(c.Debug))
	row("tee tcb svn", "%s", x.TEETCBSVN)
	if x.TEETCBSVN2 != nil { // a TDX 1.5 quote body (v5)
		row("tee tcb svn 2", "%s", x.TEETCBSVN2)
		row("mr servicetd", "%s", x.MRServiceTD)
	}
	row("fmspc", "%s", x.FMSPC)
	row("pce svn", "%d", x.PCESVN)
	row("qe svn", "%d", x.QESVN)
	row("tcb status", "%s", tdxTCBString(x.TCBStatus))
	if x.TCBStatus != verify.TCBNotEvaluated {
		row("tcb date", "%s (evaluation data %d)", x.TCBDate, x.TCBEvaluationDataNumber)
		row("advisory ids", "%s", advisoryString(x.AdvisoryIDs))
	}
	if !full {
		return
	}
	for i, r := range x.RTMR {
		row(fmt.Sprintf("rtmr %d", i), "%s", r)
	}
	for _, f := range []struct {
		name  string
		value verify.HexBytes
	}{{"xfam", x.XFAM}, {"mr seam", x.MRSEAM}, {"mr signer seam", x.MRSignerSEAM}, {"seam attributes", x.SEAMAttributes},
		{"mr config id", x.MRConfigID}, {"mr owner", x.MROwner}, {"mr owner config", x.MROwnerConfig}, {"report data", c.ReportData}} {
		row(f.name, "%s", f.value)
	}
}

// advisoryString lists Intel's advisory IDs, or says there are none.
func advisoryString(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// tdxTCBString explains TDXClaims.TCBStatus.
func tdxTCBString(s string) string {
	if s == verify.TCBNotEvaluated {
		return s + " (no Intel collateral: Intel's TCB status of this platform is unknown)"
	}
	return s
}

// printRuntime prints the claims of the runtime data and the quote.
func printRuntime(row rowFunc, c *verify.Claims) {
	printVMConfig(row, c)
	if c.UserData != nil {
		row("user data", "%s", c.UserData)
	}
	if c.EvidenceVersion >= 0 {
		if c.NonceChecked {
			row("nonce", "%s (checked)", c.Nonce)
		} else {
			row("nonce", "%s (NOT CHECKED: no freshness)", c.Nonce)
		}
		row("fresh report", "%s", yesNo(c.FreshReport))
		if c.PCRValues == verify.PCRValuesAbsent {
			row("pcrs", "UNKNOWN: the evidence carries no PCR values (quote digest %s)", c.PCRDigest)
		}
		if c.InitData != nil {
			row("init-data (pcr 8)", "%s", initDataString(c.InitData))
		} else {
			row("init-data (pcr 8)", "UNKNOWN: the quote's signed SHA-256 selection does not hold PCR 8")
		}
		if c.EventLog != nil {
			row("event log", "%s", eventLogString(c.EventLog))
			printBootState(row, c.EventLog.State)
		}
		idx := make([]int, 0, len(c.PCRs))
		for i := range c.PCRs {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		for _, i := range idx {
			row(fmt.Sprintf("pcr %d", i), "%s", c.PCRs[i])
		}
	}
}

// printVMConfig writes the runtime data's vm-configuration and the VM
// identity of PCR 6 with row (printClaims').
func printVMConfig(row func(k, format string, args ...any), c *verify.Claims) {
	vc := c.VMConfig
	if vc == nil {
		return
	}
	row("vm unique id", "%s", vc.VMUniqueID)
	switch {
	case c.VMIdentity != nil:
		row("vm identity", "%s", vmIdentityString(c.VMIdentity))
	case c.EvidenceVersion < 0:
		row("vm identity", "not checked: a report carries no quote, so PCR 6 is unknown (verify checks it)")
		row("boot event log", "not replayed: a report carries no quote (evidence carries the log; verify replays it)")
	case vc.VMUniqueID == "":
		row("vm identity", "UNKNOWN: the runtime data names no vmUniqueId")
	default:
		row("vm identity", "UNKNOWN: the quote's signed SHA-256 selection does not hold PCR 6")
	}
	row("secure boot", "%s", onOff(vc.SecureBoot))
	row("tpm enabled", "%s", onOff(vc.TPMEnabled))
	row("console enabled", "%s", onOff(vc.ConsoleEnabled))
}

// vmIdentityString explains Claims.VMIdentity.
func vmIdentityString(id *verify.VMIdentity) string {
	switch {
	case id.PCR6Bound && id.Architecture != "":
		return fmt.Sprintf("bound: PCR 6 measures vmUniqueId %s (%s, %s)", id.VMUniqueID, id.Form, id.Architecture)
	case id.PCR6Bound:
		return fmt.Sprintf("bound: PCR 6 measures vmUniqueId %s (%s)", id.VMUniqueID, id.Form)
	case id.Form == verify.VMIdentityUnknown:
		return "UNKNOWN: the evidence carries no PCR values"
	}
	return fmt.Sprintf("NOT BOUND: PCR 6 is not the firmware's measurement of vmUniqueId %s", id.VMUniqueID)
}

// initDataString explains Claims.InitData.
func initDataString(d *verify.InitData) string {
	switch {
	case d.PCR8 == nil:
		return "UNKNOWN: the evidence carries no PCR values"
	case d.Bound:
		return fmt.Sprintf("bound to init-data digest %s", d.Digest)
	case d.Digest != nil:
		return fmt.Sprintf("NOT BOUND to init-data digest %s (PCR 8 %s)", d.Digest, d.PCR8)
	case d.Measured:
		return fmt.Sprintf("measured, not checked (PCR 8 %s; --init-data or init_data_digest checks it)", d.PCR8)
	}
	return "nothing measured (PCR 8 is zero)"
}

// eventLogString summarises Claims.EventLog: the PCRs by verdict, then
// the state from the replayed ones.
func eventLogString(el *verify.EventLogClaims) string {
	if el.Error != "" {
		return "NOT REPLAYED: " + el.Error
	}
	by := map[eventlog.Status][]string{}
	for _, i := range slices.Sorted(maps.Keys(el.PCRs)) {
		by[el.PCRs[i]] = append(by[el.PCRs[i]], strconv.Itoa(i))
	}
	parts := []string{"replayed PCRs [" + strings.Join(by[eventlog.Replayed], ",") + "]"}
	if m := by[eventlog.Mismatch]; len(m) > 0 {
		parts = append(parts, "MISMATCH ["+strings.Join(m, ",")+"]")
	}
	if sb := el.State.SecureBoot; sb != nil {
		parts = append(parts, "secure boot "+onOff(*sb))
	}
	if cl := el.State.KernelCmdline; cl != nil {
		parts = append(parts, "kernel command line "+strconv.Quote(*cl))
	}
	return strings.Join(parts, "; ")
}

// printBootState writes what the replayed PCRs of a boot event log say
// beyond eventLogString's summary: the firmware, the Secure Boot
// databases and authorities, the EFI applications. Certificate subjects
// and the firmware string are the log's bytes: quoted.
func printBootState(row func(k, format string, args ...any), st eventlog.State) {
	if st.Firmware != nil {
		row("boot firmware", "%q", *st.Firmware)
	}
	for _, v := range []struct {
		name string
		db   *eventlog.SignatureDB
	}{{"secure boot pk", st.PK}, {"secure boot kek", st.KEK}, {"secure boot db", st.DB}, {"secure boot dbx", st.DBX}} {
		if v.db == nil {
			continue
		}
		for _, c := range v.db.Certs {
			row(v.name, "%s", certString(c))
		}
		if n := len(v.db.Hashes); n > 0 {
			row(v.name, "%d image digests", n)
		}
	}
	for _, c := range st.Authorities {
		row("boot authority", "%s", certString(c))
	}
	for _, a := range st.EFIApps {
		row("efi application", "%s", a)
	}
	if n, m := len(st.GRUBCommands), len(st.GRUBFiles); n+m > 0 {
		row("grub", "%d commands (PCR 8), %d files (PCR 9); --json lists them", n, m)
	}
}

// certString describes a Secure Boot certificate: its SHA-256 and subject.
func certString(c eventlog.Cert) string {
	s := c.SHA256 + " " + strconv.Quote(c.Subject)
	if c.WellKnown != "" {
		s += " (" + c.WellKnown + ")"
	}
	return s
}

// paravisorString explains Claims.Paravisor, whose identity is an ID key
// on SEV-SNP and an MRTD on TDX (tdx).
func paravisorString(name string, tdx bool) string {
	what := "ID key"
	if tdx {
		what = "MRTD"
	}
	switch name {
	case verify.ParavisorAzure:
		return name + " (Azure's paravisor " + what + ")"
	case verify.ParavisorEmulated:
		return name + " (the emulated CVM's fake " + what + ")"
	case verify.ParavisorPolicy:
		return name + " (an " + what + " listed by the policy)"
	case verify.ParavisorNone:
		return name + " (no ID key: nothing vouches for the code at VMPL0)"
	case verify.ParavisorVouched:
		return name + " (an " + what + " this verifier does not know, vouched for by the policy's MAA instance)"
	case verify.ParavisorUnknown, "":
		return verify.ParavisorUnknown + " (NOT A TRUSTED PARAVISOR)"
	}
	return name
}

func tcbString(bl, tee, snp, ucode, fmc uint8, product string) string {
	s := fmt.Sprintf("bootloader %d, tee %d, snp %d, microcode %d", bl, tee, snp, ucode)
	if strings.EqualFold(product, "Turin") {
		s = fmt.Sprintf("fmc %d, ", fmc) + s
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// signingKey names the kind of key that signed c's SNP report: "VLEK" for
// a VLEK-signed report, "VCEK" otherwise.
func signingKey(c *verify.Claims) string {
	if c.SigningKey == "VLEK" {
		return "VLEK"
	}
	return "VCEK"
}
