package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// isRejection reports whether err is a verdict on the input: a failed
// verification check, here or at a remote verifier.
func isRejection(err error) bool {
	return errors.Is(err, verify.ErrRejected) || errors.Is(err, server.ErrRejected) || errors.Is(err, result.ErrRejected)
}

// unavailableCollateral reports whether err says that collateral could not
// be obtained (a certificate source or the CRL down, offline without a
// cached CRL): nothing was learnt about the input.
func unavailableCollateral(err error) bool {
	if errors.Is(err, verify.ErrCertificateUnavailable) || errors.Is(err, verify.ErrTDXCollateral) {
		return true
	}
	verr, ok := errors.AsType[*verify.Error](err)
	if !ok {
		return false
	}
	switch verr.Check {
	case verify.CheckRevocation:
		return !errors.Is(err, collateral.ErrRevoked)
	case verify.CheckVCEKMissing:
		return offlineMiss(verr.Err)
	}
	return false
}

// offlineMiss reports whether a vcek-missing cause is only that no source
// could be asked (--offline, or no upstream source, and no VCEK cached):
// neither the evidence nor AMD said anything. A VCEK that was found and
// failed validation, or a chip that AMD KDS does not know, is a verdict.
func offlineMiss(cause error) bool {
	return errors.Is(cause, collateral.ErrOffline) && !errors.Is(cause, verify.ErrRejected) && !errors.Is(cause, kds.ErrNotFound)
}

// expected says, per check, what a passing input has.
var expected = map[verify.Check]string{
	verify.CheckEvidenceFormat:    "a well-formed evidence document (JSON v0/v1/v2) of at most 1 MiB",
	verify.CheckHCLFormat:         "an HCL report (header, SNP report, runtime data) or a raw SNP report",
	verify.CheckReportType:        "an HCL report carrying an SEV-SNP report, or a TDREPORT with its TD quote",
	verify.CheckTDReportFormat:    "a 1024-byte TDREPORT of type TDX in the HCL report",
	verify.CheckTDXQuoteFormat:    "a TD quote (DCAP v4 or v5, ECDSA P-256) with its QE report and PCK chain",
	verify.CheckTDXPCKChain:       "a PCK chain to the pinned Intel SGX Root CA, valid at the verification time (--at)",
	verify.CheckTDXQEReport:       "a QE report signed by the PCK that binds the attestation key",
	verify.CheckTDXQuoteSignature: "a TD quote signed by its attestation key",
	verify.CheckTDXModule:         "a TD quote body naming Intel's production TDX module (MRSIGNERSEAM and SEAMATTRIBUTES zero)",
	verify.CheckTDXBinding:        "a TD quote whose body equals the HCL report's TDREPORT",
	verify.CheckTDXPCKRevoked:     "a PCK certificate and CA that Intel's CRLs (--collateral) do not revoke",
	verify.CheckTDXQEIdentity:     "a QE report of Intel's TD quoting enclave, not in debug mode (and its QE identity in --collateral)",
	verify.CheckTDXTCBStatus:      "an Intel TCB status the policy accepts (tdx_tcb_statuses; default UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded)",
	verify.CheckReportFormat:      "a 1184-byte SNP report of a known version signed with ECDSA P-384",
	verify.CheckProduct:           "a known AMD product line, the same in the report and the VCEK",
	verify.CheckVCEKMissing:       "a VCEK in the evidence, the cache, Azure IMDS or AMD KDS; for a VLEK-signed report, its VLEK in the evidence or --vcek (KDS serves none)",
	verify.CheckVCEKFormat:        "a VCEK certificate with AMD's extensions",
	verify.CheckVCEKChain:         "a VCEK signed by a trusted AMD ASK and ARK (the pinned roots)",
	verify.CheckCertValidity:      "certificates valid at the verification time (--at)",
	verify.CheckRevocation:        "certificates neither of the ARK's CRLs lists (AMD's VCEK CRL and VLEK CRL, two different documents; the emulated chain's own fake ones)",
	verify.CheckChipID:            "a VCEK issued for the chip that signed the report",
	verify.CheckVCEKTCB:           "a VCEK (or VLEK) for the report's reported TCB",
	verify.CheckReportSignature:   "an SNP report signed by the VCEK or VLEK its SIGNER_INFO names",
	verify.CheckVMPL:              "a report made at VMPL 0 (the paravisor)",
	verify.CheckDebug:             "a guest policy (SNP) or TD attributes (TDX) that forbid debugging",
	verify.CheckGuestPolicy:       "a guest policy without migration agent (SMT as the policy allows)",
	verify.CheckCommittedTCB:      "the reported TCB equal to the committed TCB",
	verify.CheckMinTCB:            "a reported TCB at least the policy's min_tcb",
	verify.CheckMinLaunchTCB:      "a launch TCB (the firmware the guest was launched under) at least the policy's min_launch_tcb",
	verify.CheckMeasurement:       "a launch measurement listed by the policy",
	verify.CheckParavisorIdentity: "the ID key digest (SNP) or MRTD (TDX) of a trusted paravisor",
	verify.CheckRuntimeData:       "REPORT_DATA = SHA-256 of the runtime data, zero-padded",
	verify.CheckAttestationKey:    "an attestation key (HCLAkPub) in the runtime data; on a CVM, the vTPM's own (0x81000003)",
	verify.CheckQuoteFormat:       "a well-formed TPM quote (TPMS_ATTEST) and PCR list",
	verify.CheckQuoteSignature:    "a quote signed by the attestation key",
	verify.CheckNonce:             "a quote over the nonce given with --nonce/--nonce-hex",
	verify.CheckPCRDigest:         "PCR values that hash to the quoted digest",
	verify.CheckUserData:          "v2 evidence whose runtime user-data is the quoted nonce",
	verify.CheckPCRPolicy:         "the PCR values the policy requires",
	verify.CheckPlatform:          "evidence of a kind of CVM (sev-snp, tdx) the policy is for: its platforms, or the members it sets",
	verify.CheckVMIdentity:        "a quoted PCR 6 that is the firmware's measurement of the runtime data's vmUniqueId (require_vm_identity)",
	verify.CheckInitData:          "a quoted PCR 8 extended once, with the init-data digest (init_data_digest, --init-data)",
	verify.CheckEventLog:          "an event log that replays to the quoted PCRs and satisfies the policy's secure_boot, secure_boot_db_certs, kernel_cmdline and event_log_pcrs",
}

// expectedToken says, per check of an MAA token (maa verify, maa attest)
// or of an attestation-result token (result verify), what a passing token
// has. maa-jwks is never a rejection (exit 1).
var expectedToken = map[string]string{
	string(maa.CheckFormat):         "a compact JWS (three base64url parts) with a strict JSON header",
	string(maa.CheckAlg):            "a token signed with RS256",
	string(maa.CheckKey):            "a kid naming a usable RSA key of the instance's JWKS (--jwks, --instance)",
	string(maa.CheckSignature):      "an RS256 signature by the key the kid names",
	string(maa.CheckClaims):         "claims of the documented JSON types, strictly encoded",
	string(maa.CheckIssuer):         "iss equal to the MAA instance (--issuer, --instance)",
	string(maa.CheckAudience):       "a token that names no aud (MAA's AzureGuest tokens name none), or, with --audience, an aud (a string or an array of distinct non-empty strings) that names it",
	string(maa.CheckExpired):        "exp after the verification time (60 s of skew)",
	string(maa.CheckNotYetValid):    "nbf and iat before the verification time (60 s of skew)",
	string(maa.CheckLifetime):       "iat and nbf present and exp at most --max-lifetime (default 24h; MAA's tokens: 8 h) after each",
	string(maa.CheckNotCVM):         "a token of an Azure confidential VM (SEV-SNP or TDX) that MAA found azure-compliant-cvm",
	string(maa.CheckVMPL):           "an SEV-SNP report requested at VMPL 0 (x-ms-sevsnpvm-vmpl 0)",
	string(maa.CheckSecureBoot):     "secure boot on, in the token and in the VM configuration",
	string(maa.CheckDebug):          "every debug claim false",
	string(maa.CheckNonce):          "the nonce given with --nonce in the token's client payload",
	string(maa.CheckBinding):        "a token of the same VM and report as the verified --evidence",
	string(result.CheckFormat):      "a compact JWS (three base64url parts) with a strict JSON header",
	string(result.CheckAlg):         "a token signed with ES256",
	string(result.CheckKey):         "a kid naming a key of the verifier's JWKS (--jwks)",
	string(result.CheckSignature):   "an ES256 signature (r || s, low S) by the key the kid names",
	string(result.CheckClaims):      "claims of the documented shape, strictly encoded",
	string(result.CheckProfile):     "snp-vtpm's EAR profile with its one submodule",
	string(result.CheckIssuer):      "iss equal to --issuer (default: the --jwks URL's verifier)",
	string(result.CheckAudience):    "aud equal to --audience, and none without it",
	string(result.CheckExpired):     "exp after the verification time (60 s of skew)",
	string(result.CheckNotYetValid): "nbf and iat before the verification time (60 s of skew)",
	string(result.CheckStatus):      "ear.status affirming (contraindicated, for the emulated CVM, with --trust-emulated)",
	string(result.CheckNonce):       "eat_nonce equal to --nonce/--nonce-hex",
	string(result.CheckResource):    "snp-vtpm.resource equal to --resource",
}

// expectedFor returns what a passing input has for the check that err
// names, or "".
func expectedFor(err error) string {
	if verr, ok := errors.AsType[*verify.Error](err); ok {
		return expected[verr.Check]
	}
	if merr, ok := errors.AsType[*maa.Error](err); ok {
		return expectedToken[string(merr.Check)]
	}
	if rerr, ok := errors.AsType[*result.Error](err); ok {
		return expectedToken[string(rerr.Check)]
	}
	return ""
}

// describe turns err into the one line printed on stderr: a sentence
// without Go internals unless -v.
func (g *globals) describe(err error, code int) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "error: " + g.timeoutMessage(err)
	case errors.Is(err, context.Canceled):
		return "error: interrupted"
	}
	text := err.Error()
	if !g.verbose {
		text = plain(text)
	}
	if code == exitRejected {
		if e := expectedFor(err); e != "" {
			text += " (expected: " + e + ")"
		}
	}
	if code == exitRejected {
		return "REJECTED: " + text
	}
	if hint := g.hintFor(err); hint != "" && (unavailableCollateral(err) || lastAttemptError(err) != "") {
		text += ". Next: " + hint
	} else if hint := notAzureVTPMHint(err); hint != "" {
		text += ". Next: " + hint
	}
	return "error: " + text
}

// notAzureVTPMHint returns the next step when the TPM answered but is not
// an Azure CVM's vTPM: it lacks the HCL report or the attestation key (a
// Trusted Launch VM's or a physical TPM), or --tpm names a device that is
// no TPM at all (its answer ended at once, as /dev/null's does).
func notAzureVTPMHint(err error) string {
	terr, ok := errors.AsType[*vtpm.TPMError](err)
	if !ok {
		return ""
	}
	switch {
	case terr.Handle == vtpm.NVIndexHCLReport && errors.Is(err, vtpm.ErrIndexMissing),
		terr.Handle == vtpm.AKHandle && errors.Is(err, vtpm.ErrHandleMissing):
		return "this TPM is not an Azure Confidential VM's vTPM (it has no HCL report or attestation key; a Trusted Launch VM or a physical TPM has none): run this command inside an Azure CVM (SEV-SNP or TDX), or try --emulate"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the device did not answer as a TPM: give --tpm the vTPM's device (default " + vtpm.DefaultDevice + "), or try --emulate"
	}
	return ""
}

// tdxCollateralHint is the next step when Intel's collateral is missing:
// the AMD sources of g.hint do not serve it.
const tdxCollateralHint = "give --collateral DIR with Intel's PCS collateral, or name a reachable Intel PCS or PCCS with --pcs-url URL, e.g. https://api.trustedservices.intel.com (not with --offline)"

// hintFor returns the next step for err: g.hint, or the TDX collateral's
// when err is Intel's collateral that could not be had.
func (g *globals) hintFor(err error) string {
	if u, ok := errors.AsType[*verify.UnavailableError](err); ok && u.Check == verify.CheckTDXCollateral {
		return tdxCollateralHint
	}
	return g.hint
}

// timeoutMessage names what the command waited for and the next step. A
// client that stopped retrying before the deadline (its next retry would
// have passed it) is not said to have waited the whole --timeout, and the
// last attempt's error is named.
func (g *globals) timeoutMessage(err error) string {
	s := fmt.Sprintf("gave up after %s (--timeout) waiting for %s", g.timeout, g.waitingFor())
	if !g.deadline.IsZero() && time.Now().Before(g.deadline) {
		s = fmt.Sprintf("gave up waiting for %s: its next retry would pass --timeout %s", g.waitingFor(), g.timeout)
		if last := lastAttemptError(err); last != "" {
			if !g.verbose {
				last = plain(last) // "cannot connect to HOST", not the net package's "dial tcp HOST: connect"
			}
			s += " (last attempt: " + last + ")"
		}
	}
	if hint := g.hintFor(err); hint != "" {
		s += ". Next: " + hint
	}
	return s
}

// lastAttemptError names, in a few words, why the last network attempt in
// err failed: an HTTP status, a DNS failure or a refused connection; "" if
// err holds none of them. A failure to listen (serve's --listen) is no
// attempt to reach a host, and the next steps of one do not apply to it.
func lastAttemptError(err error) string {
	if herr, ok := errors.AsType[*httpget.HTTPError](err); ok {
		return fmt.Sprintf("HTTP %d %s", herr.StatusCode, http.StatusText(herr.StatusCode))
	}
	if derr, ok := errors.AsType[*net.DNSError](err); ok {
		return derr.Error()
	}
	if oerr, ok := errors.AsType[*net.OpError](err); ok && oerr.Op != "listen" {
		return oerr.Error()
	}
	return ""
}

// goPrefix matches the standard library's "x509: " and the like ("time: "
// of a --timeout that does not parse).
var goPrefix = regexp.MustCompile(`(^|[ (])(x509|json|jsontext|asn1|tls|pem|base64|strconv|time|encoding/[a-z0-9]+): `)

// goHTTPMethod matches net/http's `Get "URL": ` prefix (the URL is named
// again by our own message or by the dial error that follows).
var goHTTPMethod = regexp.MustCompile(`\b(?:Get|Post|Put|Head|Delete) "[^"]*": `)

// goDialRefused matches the net package's "dial tcp HOST: connect: ".
var goDialRefused = regexp.MustCompile(`\bdial tcp (\S+): connect: `)

// goLookup matches the net package's DNS failure "dial tcp: lookup HOST on
// RESOLVER: ".
var goLookup = regexp.MustCompile(`\bdial tcp: lookup (\S+)(?: on \S+)?: `)

// goTypeMismatch matches the JSON decoders' type errors, and the ": " that
// precedes a field's own complaint about a value of the right JSON kind.
var goTypeMismatch = regexp.MustCompile(`(?:cannot unmarshal|JSON) (\w+) (?:for|into) Go (?:struct field |value of type |)([^\s:]+)(: )?`)

// goTypeName matches a Go type name such as verify.HexBytes.
var goTypeName = regexp.MustCompile(`\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*\b`)

// checkFailed matches the "<check> check failed: " of a verify.Error.
var checkFailed = regexp.MustCompile(`([a-z0-9-]+) check failed: `)

// plain rewrites err's text as the CLI prints it without -v: one line (the
// lines of joined errors separated by "; "), the check named once, no
// standard-library prefixes, JSON type errors in words, and cut before
// any Go type name that remains.
func plain(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
	seen := map[string]bool{}
	s = checkFailed.ReplaceAllStringFunc(s, func(m string) string {
		if seen[m] {
			return ""
		}
		seen[m] = true
		return m
	})
	s = goPrefix.ReplaceAllString(s, "$1")
	s = goHTTPMethod.ReplaceAllString(s, "")
	s = goDialRefused.ReplaceAllString(s, "cannot connect to $1: ")
	s = goLookup.ReplaceAllString(s, "cannot resolve $1: ")
	s = format.ReadableName(s)
	s = goTypeMismatch.ReplaceAllStringFunc(s, func(m string) string {
		sub := goTypeMismatch.FindStringSubmatch(m)
		kind := jsonKind(sub[2])
		if sub[3] != "" && strings.TrimPrefix(strings.TrimPrefix(kind, "an "), "a ") == sub[1] {
			return "" // the right kind of value; what follows says what is wrong with it
		}
		return "a JSON " + sub[1] + " where " + kind + " was expected" + sub[3]
	})
	loc := goTypeName.FindStringIndex(s)
	if loc == nil {
		return s
	}
	head := strings.TrimRight(s[:loc[0]], " :(,")
	if head == "" {
		head = "malformed input"
	}
	// A cut inside parentheses closes them: "name one (--resource NAME, a.B)"
	// reads "name one (--resource NAME) (-v ...", not an open parenthesis.
	if open := strings.Count(head, "(") - strings.Count(head, ")"); open > 0 {
		head += strings.Repeat(")", open)
	}
	return head + " (-v shows the details)"
}

// jsonKind names the JSON form a Go type takes.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"): // before HexBytes: []verify.HexBytes is an array
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasSuffix(goType, "TCBParts"),
		strings.HasSuffix(goType, ".Policy"), strings.HasSuffix(goType, ".pcrsDoc"):
		return "an object"
	case goType == "string" || strings.HasSuffix(goType, "HexBytes"):
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "another type"
}

// newLogger returns the CLI's log: warnings only, as plain sentences, by
// default, and on a terminal also the progress of slow steps (KDS retries
// and their wait); everything with the attributes under -v.
func newLogger(w io.Writer, verbose, terminal bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	level := slog.LevelWarn
	if terminal {
		level = slog.LevelInfo
	}
	return slog.New(&quietHandler{w: w, min: level})
}

// quietHandler prints records from min up as "warning: message" (or
// "... message" below warnings), without time or level keys.
type quietHandler struct {
	w     io.Writer
	min   slog.Level
	attrs []slog.Attr
}

func (h *quietHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *quietHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && !httpget.IsProgress(r.Message) {
		return nil // a diagnostic (the emulator started, a VCEK's source): -v shows it
	}
	var b strings.Builder
	if r.Level >= slog.LevelWarn {
		b.WriteString("warning: ")
	} else {
		b.WriteString("... ")
	}
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key != "err" && a.Key != "error" {
			fmt.Fprintf(&b, " (%s: %s)", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietHandler{w: h.w, min: h.min, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *quietHandler) WithGroup(string) slog.Handler { return h }
