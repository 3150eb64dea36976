package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// detailedChecks are the checks whose failure the client is told in full:
// they judge the evidence's own bytes (formats, signatures, bindings, the
// nonce) against the pinned roots, never against the operator's policy
// or certificate sources, so their messages quote only the evidence and
// public facts. Every other check, including any added later, answers
// with policyReason instead: its message may quote the policy's reference
// values (PCR values, measurements, minimum TCB, init-data, kernel
// command line, accepted TCB statuses) or the verifier's configuration
// (a KDS mirror's URL), which a careful operator keeps to itself.
var detailedChecks = map[verify.Check]bool{
	verify.CheckEvidenceFormat:    true,
	verify.CheckHCLFormat:         true,
	verify.CheckReportType:        true,
	verify.CheckTDReportFormat:    true,
	verify.CheckTDXQuoteFormat:    true,
	verify.CheckTDXPCKChain:       true,
	verify.CheckTDXQEReport:       true,
	verify.CheckTDXQuoteSignature: true,
	verify.CheckTDXModule:         true,
	verify.CheckTDXBinding:        true,
	verify.CheckReportFormat:      true,
	verify.CheckVCEKFormat:        true,
	verify.CheckVCEKChain:         true,
	verify.CheckCertValidity:      true,
	verify.CheckChipID:            true,
	verify.CheckVCEKTCB:           true,
	verify.CheckReportSignature:   true,
	verify.CheckVMPL:              true,
	verify.CheckRuntimeData:       true,
	verify.CheckAttestationKey:    true,
	verify.CheckQuoteFormat:       true,
	verify.CheckQuoteSignature:    true,
	verify.CheckNonce:             true,
	verify.CheckPCRDigest:         true,
	verify.CheckUserData:          true,
}

// policyReason is the reason a client is given for a check outside
// detailedChecks: which check failed, not what the verifier expected.
const policyReason = "the evidence does not satisfy the verifier's policy or trust configuration " +
	"(its reference values are not disclosed; the verifier's log has the details)"

// rejectionMessage is the message of the 403 answer to a rejection:
// verr's own text for a detailed check, else the check and policyReason,
// in the same "<check> check failed: <reason>" form.
func rejectionMessage(verr *verify.Error) string {
	if detailedChecks[verr.Check] {
		return verr.Error()
	}
	return string(verr.Check) + " check failed: " + policyReason
}

// rejected logs the operator's line of a rejection (logRejection) and
// returns the client's 403 outcome (rejectionMessage); a rejection by a
// resource's extra policy (resource != "") says so in the message.
func (s *Server) rejected(ctx context.Context, r *http.Request, resource string, verr *verify.Error) attestOutcome {
	s.logRejection(ctx, r, resource, verr)
	msg := rejectionMessage(verr) + maaCheckHint(verr)
	if resource != "" {
		msg = "resource policy: " + msg
	}
	return attestOutcome{http.StatusForbidden, resultRejected, string(verr.Check), msg}
}

// logRejection writes the operator's line of a rejection: the check and
// the full reason (reference values included), which the 403 may not
// carry. resource is the resource whose extra policy rejected the
// evidence ("" for the server's policy). The reason is a verify.Error's
// text: it quotes evidence and policy, never a secret or a key; it is
// bounded and escaped (format.Printable), as the evidence's strings are the
// client's.
func (s *Server) logRejection(ctx context.Context, r *http.Request, resource string, verr *verify.Error) {
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("check", string(verr.Check)),
		slog.String("reason", format.Printable(verr.Error(), maxErrorMessage)),
		slog.String("remote", r.RemoteAddr),
	}
	if resource != "" {
		attrs = append(attrs, slog.String("resource", resource))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "evidence rejected", attrs...)
}
