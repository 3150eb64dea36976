package verify

import (
	"errors"
	"fmt"
)

// ErrRejected is matched (errors.Is) by every verification failure: the
// evidence was examined and is not accepted (a verdict). An error that does
// not match it is no verdict: collateral that could not be obtained or used
// (an *UnavailableError naming the check, matching ErrCertificateUnavailable
// or ErrTDXCollateral: try again later), the
// context's error, or a configuration error of New. See the package
// documentation, "Errors".
var ErrRejected = errors.New("evidence rejected")

// ErrEmulatedKey is matched by a CheckVCEKChain rejection whose VCEK (or
// VLEK) chains to a trusted chain that holds a key of the emulated CVM's
// fake AMD chain (fakeamd.IsFakeKey: the fake ARK's or ASK's, whose
// private keys are committed) without being marked snp.Chain.Emulated: a
// chain re-issued with those keys under another name, serial or validity,
// given as Config.Roots (the CLI's --roots). Anyone can sign with them, so
// the emulated chain is trusted only as itself (fakeamd.Chain, the CLI's
// --trust-emulated), whose claims say Emulated.
var ErrEmulatedKey = errors.New("the trusted chain holds a public fake key of the emulated CVM but is not marked emulated")

// ErrEmulatedChain is matched by a CheckVCEKChain or CheckTDXPCKChain
// rejection of what the emulated CVMs signed (a VCEK or VLEK under the
// fake AMD chain, fakeamd.Chain; a PCK chain to the fake Intel root,
// fakeintel.Root) when that chain is not trusted: their private keys are
// public, so such evidence is accepted only with the emulated chain
// trusted as itself (Config.Roots holding fakeamd.Chain,
// Config.TrustEmulatedTDX; the CLI's --trust-emulated), and its claims
// then say Emulated.
var ErrEmulatedChain = errors.New("signed under the emulated CVM's fake chain (public keys, not AMD's or Intel's), which is not trusted here")

// Check names one verification step. A failed check is reported as an
// *Error carrying its Check.
type Check string

// The checks, in the order Evidence runs them. TDX evidence runs the
// tdx-* checks instead of SNP's product-line..measurement, then debug,
// paravisor identity and everything from runtime-data-binding on.
const (
	CheckEvidenceFormat    Check = "evidence-format"      // the evidence document decodes
	CheckHCLFormat         Check = "hcl-report-format"    // HCL header, sizes, runtime-data JSON
	CheckReportType        Check = "hcl-report-type"      // the hardware report is SNP, or TDX with a TD quote
	CheckTDReportFormat    Check = "tdx-report-format"    // TDX: the HCL report's TDREPORT (size, type)
	CheckTDXQuoteFormat    Check = "tdx-quote-format"     // TDX: TD quote v4/v5 header, body type and size, sizes, certification data
	CheckTDXPCKChain       Check = "tdx-pck-chain"        // TDX: PCK <- Platform/Processor CA <- pinned Intel SGX Root CA, valid
	CheckTDXQEReport       Check = "tdx-qe-report"        // TDX: PCK signs the QE report, whose data binds the attestation key
	CheckTDXQuoteSignature Check = "tdx-quote-signature"  // TDX: the attestation key signs the quote header and body
	CheckTDXModule         Check = "tdx-module"           // TDX: the signed body names Intel's production TDX module (MRSIGNERSEAM, SEAMATTRIBUTES zero)
	CheckTDXBinding        Check = "tdx-binding"          // TDX: every quote body field equals the TDREPORT's
	CheckTDXCollateral     Check = "tdx-collateral"       // TDX: Intel's collateral verifies and is current (not a rejection: ErrTDXCollateral)
	CheckTDXPCKRevoked     Check = "tdx-pck-revoked"      // TDX: the PCK and its CA are not on Intel's CRLs
	CheckTDXQEIdentity     Check = "tdx-qe-identity"      // TDX: the QE report is Intel's TD quoting enclave, not debug (always; with collateral also its QE identity)
	CheckTDXTCBStatus      Check = "tdx-tcb-status"       // TDX: Intel's TCB status is one the policy accepts
	CheckReportFormat      Check = "snp-report-format"    // SNP report size, version, reserved bytes, guest policy bits, algorithm, SIGNER_INFO
	CheckProduct           Check = "product-line"         // CPUID / VCEK product line known and consistent
	CheckVCEKMissing       Check = "vcek-missing"         // no VCEK in the evidence and none could be obtained
	CheckVCEKFormat        Check = "vcek-format"          // VCEK DER and AMD extensions
	CheckVCEKChain         Check = "vcek-chain"           // VCEK <- ASK <- ARK, pinned per product line
	CheckCertValidity      Check = "certificate-validity" // VCEK, ASK, ARK valid at the verification time
	CheckRevocation        Check = "revocation"           // ASK/VCEK not in AMD's CRL (when enabled)
	CheckChipID            Check = "vcek-chip-id"         // VCEK hwID == CHIP_ID (before the signature: names the real cause)
	CheckVCEKTCB           Check = "vcek-tcb"             // VCEK TCB == REPORTED_TCB
	CheckReportSignature   Check = "report-signature"     // VCEK signs the SNP report (SIGNER_INFO names its kind, VCEK or VLEK, checked before the chip id)
	CheckVMPL              Check = "vmpl"                 // VMPL 0 (a bare report: at most the policy's vmpl)
	CheckDebug             Check = "debug-policy"         // guest policy (SNP) or TDATTRIBUTES.DEBUG (TDX) forbids debugging
	CheckGuestPolicy       Check = "guest-policy"         // no migration agent; SMT only if the policy allows
	CheckCommittedTCB      Check = "committed-tcb"        // REPORTED_TCB == COMMITTED_TCB
	CheckMinTCB            Check = "minimum-tcb"          // policy: REPORTED_TCB >= minimum
	CheckMinLaunchTCB      Check = "minimum-launch-tcb"   // policy: LAUNCH_TCB >= minimum (the firmware the guest was launched under)
	CheckMeasurement       Check = "measurement"          // policy: allowed launch measurements
	CheckParavisorIdentity Check = "paravisor-identity"   // ID_KEY_DIGEST (SNP) or MRTD (TDX) of a trusted paravisor (and policy's author keys)
	CheckRuntimeData       Check = "runtime-data-binding" // SHA-256(runtime data) == REPORT_DATA[0:32], rest zero (after the signature)
	CheckAttestationKey    Check = "attestation-key"      // HCLAkPub present and usable
	CheckQuoteFormat       Check = "quote-format"         // TPMS_ATTEST magic, type, sizes; PCR list
	CheckQuoteSignature    Check = "quote-signature"      // AK signs the quote
	CheckNonce             Check = "quote-nonce"          // extraData == nonce (constant time)
	CheckPCRDigest         Check = "pcr-digest"           // PCR values hash to the signed digest
	CheckUserData          Check = "user-data"            // v2: runtime data user-data == the quoted nonce zero-padded to 64 bytes
	CheckPCRPolicy         Check = "pcr-policy"           // policy: required PCR values
	CheckPlatform          Check = "platform"             // policy: the evidence's kind of CVM (sev-snp, tdx) is one the policy is for
	CheckVMIdentity        Check = "vm-identity"          // policy: PCR 6 is the firmware's measurement of the runtime data's vmUniqueId
	CheckInitData          Check = "init-data"            // policy: PCR 8 = E(0, SHA-256(init-data)) (CoCo peer pods)
	CheckEventLog          Check = "event-log"            // the TCG event log parses (and, per policy, replays to the quoted PCRs)
)

// Error is a verification failure: Check names the step that failed and Err
// says why. Every Error matches ErrRejected.
type Error struct {
	Check Check
	Err   error
}

// Error returns "<check> check failed: <why>".
func (e *Error) Error() string { return fmt.Sprintf("%s check failed: %v", e.Check, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrRejected.
func (e *Error) Is(target error) bool { return target == ErrRejected }

func fail(c Check, err error) error { return &Error{Check: c, Err: err} }

// UnavailableError ends a verification without a verdict: what Check
// needed (a VCEK, a CRL, Intel's collateral) could not be obtained, or is
// not usable at the verification time. It matches what Err matches
// (ErrCertificateUnavailable, ErrTDXCollateral), never ErrRejected: try
// again later. A service can label it by Check as it labels an *Error.
type UnavailableError struct {
	Check Check
	Err   error
}

// Error returns "verify: <check>: <why>".
func (e *UnavailableError) Error() string { return fmt.Sprintf("verify: %s: %v", e.Check, e.Err) }

// Unwrap returns the underlying error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// unavailableErr returns an *UnavailableError of c.
func unavailableErr(c Check, err error) error { return &UnavailableError{Check: c, Err: err} }

func failf(c Check, format string, args ...any) error {
	return &Error{Check: c, Err: fmt.Errorf(format, args...)}
}
