// Package attester gathers attestation evidence inside an Azure
// Confidential VM (AMD SEV-SNP, or Intel TDX with Attester.TDQuotes): the HCL
// report from the vTPM (refreshed with user data on request), a TPM quote over
// the verifier's nonce, the PCRs and the VCEK of the chip from a certificate
// chain (package collateral: Azure IMDS first, then AMD KDS; on TDX the TD
// quote of the HCL report's TDREPORT instead).
//
// The evidence is built so that package verify accepts it:
//
//   - the quote's qualifyingData is quote.ExpectedExtraData(nonce): the nonce
//     itself when it is at most 48 bytes, else SHA-256(nonce) (the Azure vTPM
//     rejects longer qualifyingData);
//   - with a fresh report, the report is refreshed first with user data =
//     quote.ExpectedExtraData(nonce), so the runtime data's "user-data" starts
//     with exactly the quoted nonce, and the evidence is format version 2;
//     without it the boot-time report is used and the evidence is version 1
//     (same JSON shape, see package evidence).
//
// The VCEK comes through the one certificate path, a collateral.Chain,
// which validates every hop before it returns or caches anything: here
// with the checks of the Attester's Verifier (pinned roots, product line,
// chip id and TCB of the report). A remote verifier checks it again.
//
// Evidence and VerifiedReport return what they gathered together with the
// claims verified locally by the Attester's Verifier (package verify), the
// same verification a remote verifier runs: a caller never wires
// verification itself, and never hands out evidence that its own checks
// reject.
package attester

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// Evidence format versions written by Evidence.
const (
	// VersionBootReport is the version of evidence whose HCL report is the
	// one the paravisor published at boot (freshness from the quote only).
	VersionBootReport = 1
	// VersionFreshReport is the version of evidence whose HCL report was
	// refreshed with the (possibly hashed) nonce as user data.
	VersionFreshReport = 2
)

// MaxUserData is the largest user data a refreshed report can carry.
const MaxUserData = vtpm.UserDataSize

// ErrNoNonce means Evidence or Quote was called without a nonce.
var ErrNoNonce = errors.New("attester: a nonce is required")

// ErrInconsistent means what the vTPM returned does not fit together (for
// example the report's attestation key is not the TPM's): evidence built
// from it would be rejected by any verifier, so none is returned. Such an
// error is also a *verify.Error naming the check that a verifier would fail
// (so it matches verify.ErrRejected): the gathered material was examined
// and rejected, as a verifier would reject it.
var ErrInconsistent = errors.New("attester: inconsistent vTPM state")

// inconsistent returns err, what the gathered material failed, as an error
// matching ErrInconsistent and the *verify.Error of check.
func inconsistent(check verify.Check, err error) error {
	return fmt.Errorf("%w: %w", ErrInconsistent, &verify.Error{Check: check, Err: err})
}

// quoteCheck names the check a quote.Verify error fails.
func quoteCheck(err error) verify.Check {
	switch {
	case errors.Is(err, quote.ErrSignature):
		return verify.CheckQuoteSignature
	case errors.Is(err, quote.ErrNonce):
		return verify.CheckNonce
	case errors.Is(err, quote.ErrPCRDigest):
		return verify.CheckPCRDigest
	}
	return verify.CheckQuoteFormat
}

// Attester gathers evidence from a vTPM. Its fields must not change while it
// is in use; its methods are as safe for concurrent use as TPM is.
type Attester struct {
	// TPM is the vTPM: vtpm.Open's device on a CVM, or an emulated CVM's TPM.
	TPM transport.TPM
	// Certs is where the VCEK comes from: on a CVM a collateral.Chain
	// asking a collateral.IMDS source first, then collateral.KDS (see
	// VCEKFor). Nil means evidence without a VCEK (a verifier then needs
	// its own VCEKGetter).
	Certs *collateral.Chain
	// RequireVCEK makes Evidence fail, rather than hand out SEV-SNP
	// evidence without "vcek", when Certs is nil or supplies no VCEK for
	// the report (Azure IMDS down, say): the error matches ErrNoVCEK and
	// verify.ErrCertificateUnavailable (nothing was learnt about the
	// evidence). Verifiers that fetch no VCEK, such as the Confidential
	// Containers verifier (trustee), refuse evidence without one. It does
	// not apply to TDX evidence (the TD quote carries its PCK chain) nor
	// to VerifiedReport.
	RequireVCEK bool
	// EventLogPath is the TCG boot event log carried in the evidence
	// ("event_log"); empty means DefaultEventLogPath. An absent log is
	// normal; see eventLog.
	EventLogPath string
	// EventLog, when not nil, is the boot event log carried in the
	// evidence instead of the file at EventLogPath: an emulated CVM's
	// (emulator.CVM.EventLog), which replays to its vTPM's PCRs.
	EventLog []byte
	// NoEventLog leaves the boot event log out of the evidence.
	NoEventLog bool
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// TDQuotes quotes the TDREPORT of a TDX CVM's HCL report (Azure IMDS
	// /acc/tdquote: an *imds.Client). Nil means TDX evidence cannot be
	// gathered; SEV-SNP evidence does not use it.
	TDQuotes TDQuoter
	// Verifier verifies what Evidence and VerifiedReport gathered before
	// they return it; its roots and time also validate the VCEK from
	// Certs. Nil means verify.New(verify.Config{}): AMD's pinned roots, the
	// default policy and no certificate source other than Certs. Give one
	// with a VCEKGetter (normally Certs too) to verify a report whose VCEK
	// Certs cannot supply, or one trusting the emulated chain for an
	// emulated CVM.
	Verifier *verify.Verifier
}

// TDQuoter returns the TD quote of a TDREPORT (imds.Client.TDQuote).
type TDQuoter interface {
	TDQuote(ctx context.Context, tdReport []byte) ([]byte, error)
}

// ErrNoVCEK means Evidence was asked, with RequireVCEK, for SEV-SNP
// evidence whose VCEK no certificate source supplied.
var ErrNoVCEK = errors.New("attester: the VCEK is required, and no certificate source supplied it")

// ErrNoTDQuoter means a TDX CVM's evidence was asked for without a
// TDQuoter.
var ErrNoTDQuoter = errors.New("attester: the HCL report carries a TDREPORT, and no TD quote source is configured")

// Result is what the attester gathered and the claims it verified.
type Result struct {
	// Evidence is the gathered evidence (nil from VerifiedReport).
	Evidence *evidence.Evidence
	// Report is the HCL report blob the claims come from.
	Report []byte
	// TDQuote is the TD quote of a TDX CVM's report (nil on SEV-SNP).
	TDQuote []byte
	// Claims are the claims verified locally.
	Claims *verify.Claims
}

// verifier returns a.Verifier or the default one.
func (a *Attester) verifier() (*verify.Verifier, error) {
	if a.Verifier != nil {
		return a.Verifier, nil
	}
	return verify.New(verify.Config{})
}

func (a *Attester) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (a *Attester) tpm() (transport.TPM, error) {
	if a == nil || a.TPM == nil {
		return nil, errors.New("attester: no TPM")
	}
	return a.TPM, nil
}

// Report returns the HCL report blob (NV index 0x01400001). With userData
// nil it is the report the paravisor last published; otherwise (1..64
// bytes) the report is first refreshed so that its runtime data carries
// userData zero-padded to 64 bytes (see vtpm.RefreshReport).
func (a *Attester) Report(ctx context.Context, userData []byte) ([]byte, error) {
	t, err := a.tpm()
	if err != nil {
		return nil, err
	}
	if userData == nil {
		a.log().DebugContext(ctx, "reading the HCL report")
		blob, err := vtpm.ReadHCLReport(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("attester: reading the HCL report: %w", err)
		}
		return blob, nil
	}
	a.log().DebugContext(ctx, "refreshing the HCL report", "user_data_bytes", len(userData))
	blob, err := vtpm.RefreshReport(ctx, t, userData)
	if _, ok := errors.AsType[*format.Error](err); ok {
		// As the report read without a refresh fails hcl.Parse in verify.
		return nil, inconsistent(verify.CheckHCLFormat, fmt.Errorf("the refreshed HCL report: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("attester: refreshing the HCL report: %w", err)
	}
	return blob, nil
}

// Quote returns a TPM2_Quote by the attestation key over SHA-256 PCRs 0-23
// with qualifyingData = quote.ExpectedExtraData(nonce), and the PCR values
// read after it. Before returning, it verifies the quote (signature, nonce,
// PCR digest) against the attestation key read from the TPM and fails
// closed: a quote that does not verify is never returned (the error
// matches ErrInconsistent and names the check, see ErrInconsistent).
func (a *Attester) Quote(ctx context.Context, nonce []byte) (*quote.Quote, error) {
	t, err := a.tpm()
	if err != nil {
		return nil, err
	}
	if len(nonce) == 0 {
		return nil, ErrNoNonce
	}
	if len(nonce) > quote.MaxQualifyingData {
		a.log().DebugContext(ctx, "nonce longer than 48 bytes: quoting its SHA-256", "nonce_bytes", len(nonce))
	}
	q, err := vtpm.Quote(ctx, t, nonce)
	if errors.Is(err, quote.ErrNonce) {
		return nil, inconsistent(verify.CheckNonce, fmt.Errorf("the vTPM quoted other qualifying data than the nonce's: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("attester: quoting: %w", err)
	}
	ak, err := vtpm.AKPublic(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("attester: reading the attestation key: %w", err)
	}
	if _, err := quote.Verify(q, ak, nonce); err != nil {
		return nil, inconsistent(quoteCheck(err), fmt.Errorf("the vTPM's quote does not verify against its attestation key: %w", err))
	}
	return q, nil
}

// VCEKFor returns the VCEK (DER) of the SNP report inside the HCL report
// blob from a.Certs, and the name of the source that supplied it. The
// Chain validates every hop with a's Verifier's roots and time: the VCEK
// must chain to a pinned root, be of the report's product line and name
// the report's chip id and TCB, before it is returned or cached. A VCEK
// the Verifier's roots reject is an error matching verify.ErrRejected. It
// returns (nil, "", nil) when a.Certs is nil.
func (a *Attester) VCEKFor(ctx context.Context, blob []byte) ([]byte, string, error) {
	if a.Certs == nil {
		return nil, "", nil
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		return nil, "", fmt.Errorf("attester: the HCL report: %w", err)
	}
	if r.Type != hcl.ReportTypeSNP {
		return nil, "", fmt.Errorf("attester: the HCL report carries a %v report, not SEV-SNP", r.Type)
	}
	sr, err := snp.ParseReport(r.SNPReport)
	if err != nil {
		return nil, "", fmt.Errorf("attester: the SNP report: %w", err)
	}
	v, err := a.verifier()
	if err != nil {
		return nil, "", err
	}
	return a.vcekFor(ctx, v.Config(), sr)
}

// vcekFor asks a.Certs for r's VCEK under each product line r may be of.
func (a *Attester) vcekFor(ctx context.Context, cfg verify.Config, r *snp.Report) ([]byte, string, error) {
	lines := []snp.Product{snp.Milan, snp.Genoa} // version 2 reports name no product line
	if p, ok, err := r.ProductFromCPUID(); err != nil {
		return nil, "", fmt.Errorf("attester: the SNP report: %w", err)
	} else if ok {
		lines = []snp.Product{p}
	}
	var lastErr error
	for _, pl := range lines {
		der, from, err := a.Certs.VCEKFrom(ctx, verify.VCEKRequest{
			Product:     string(pl),
			ChipID:      bytes.Clone(r.ChipID[:]),
			ReportedTCB: uint64(r.ReportedTCB),
			Validate:    func(der []byte) error { return verify.ValidateVCEK(cfg, r, pl, der) },
		})
		if err == nil {
			return der, from, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		lastErr = err
	}
	return nil, "", fmt.Errorf("attester: the VCEK: %w", lastErr)
}

// Evidence gathers evidence for nonce (see gather) and verifies it with
// a's Verifier against nonce, as a remote verifier would. It returns the
// evidence with the verified claims, or the verification's error (an
// *verify.Error naming the failed check when the evidence is rejected).
func (a *Attester) Evidence(ctx context.Context, nonce []byte, fresh bool) (*Result, error) {
	v, err := a.verifier()
	if err != nil {
		return nil, err
	}
	ev, err := a.gather(ctx, v, nonce, fresh)
	if err != nil {
		return nil, err
	}
	claims, err := v.Decoded(ctx, ev, nonce)
	if err != nil {
		return nil, fmt.Errorf("attester: the gathered evidence does not verify: %w", err)
	}
	return &Result{Evidence: ev, Report: ev.HCLReport, Claims: claims}, nil
}

// VerifiedReport reads the HCL report (refreshed with userData first
// unless nil, see Report), checks that its runtime data names the vTPM's
// attestation key (and carries userData), takes the VCEK from Certs (see
// VCEKFor; when Certs has none, with a warning, it leaves it to the
// Verifier's VCEKGetter), and verifies the report with a's Verifier. A
// report of another attestation key than the vTPM's is an error matching
// ErrInconsistent (check attestation-key): verified, it would pass for
// this vTPM's.
// Claims.VCEKSource names the source of Certs that supplied the VCEK
// ("Azure IMDS", "AMD KDS", "memory", ...).
func (a *Attester) VerifiedReport(ctx context.Context, userData []byte) (*Result, error) {
	v, err := a.verifier()
	if err != nil {
		return nil, err
	}
	blob, err := a.Report(ctx, userData)
	if err != nil {
		return nil, err
	}
	r, err := a.checkReport(ctx, blob, userData)
	if err != nil {
		return nil, err
	}
	if r.Type == hcl.ReportTypeTDX {
		return a.verifiedTDXReport(ctx, v, blob, r)
	}
	vcek, from, err := a.VCEKFor(ctx, blob)
	if err := a.vcekFailure(ctx, err, "the report does not verify", "no VCEK from the certificate chain; the verifier's certificate source is asked"); err != nil {
		return nil, err
	}
	claims, err := v.Report(ctx, blob, vcek)
	if err != nil {
		return nil, fmt.Errorf("attester: the report does not verify: %w", err)
	}
	if vcek != nil {
		claims.VCEKSource = from
	}
	return &Result{Report: blob, Claims: claims}, nil
}

// gather gathers evidence for nonce (required; nonces over 48 bytes are
// bound as their SHA-256). In order: with fresh, the HCL report is refreshed
// with user data = quote.ExpectedExtraData(nonce); otherwise the published
// report is read. Then the quote is taken and the PCRs read, the VCEK is
// obtained from a.Certs when set, validated with v's roots, and the boot
// event log is read when there is one (see eventLog).
//
// The result has Version 2 (VersionFreshReport) when fresh and Version 1
// (VersionBootReport) otherwise: a verifier requires the user-data binding
// for version 2.
//
// Before returning, gather checks that the pieces fit (the report's
// attestation key is the TPM's, the quote verifies, a fresh report carries
// the nonce), so that it does not hand out evidence every verifier rejects.
// When Certs has no VCEK for the report (its sources fail, or serve the
// VCEK of another chip or TCB) the evidence goes without one, with a
// warning: a verifier can fetch it from AMD KDS; with RequireVCEK the call
// fails instead (ErrNoVCEK). A VCEK that v's roots reject fails the call
// (an error matching verify.ErrRejected).
func (a *Attester) gather(ctx context.Context, v *verify.Verifier, nonce []byte, fresh bool) (*evidence.Evidence, error) {
	if _, err := a.tpm(); err != nil {
		return nil, err
	}
	if len(nonce) == 0 {
		return nil, ErrNoNonce
	}
	bound := quote.ExpectedExtraData(nonce)
	var userData []byte
	version := VersionBootReport
	if fresh {
		userData = bytes.Clone(bound)
		version = VersionFreshReport
	}
	blob, err := a.Report(ctx, userData)
	if err != nil {
		return nil, err
	}
	q, err := a.Quote(ctx, nonce)
	if err != nil {
		return nil, err
	}
	r, err := a.checkReport(ctx, blob, userData)
	if err != nil {
		return nil, err
	}
	ev := &evidence.Evidence{Version: version, Quote: *q, HCLReport: blob}
	if r.Type == hcl.ReportTypeTDX {
		if ev.TDQuote, err = a.tdQuote(ctx, r); err != nil {
			return nil, err
		}
	} else if err := a.addVCEK(ctx, v, r, ev); err != nil {
		return nil, err
	}
	ev.EventLog = a.eventLog(ctx)
	a.log().DebugContext(ctx, "evidence gathered", "version", ev.Version, "nonce_bytes", len(nonce), "vcek", ev.VCEK != nil, "td_quote", ev.TDQuote != nil, "event_log_bytes", len(ev.EventLog))
	return ev, nil
}

// tdQuote asks a.TDQuotes to quote the TDREPORT of r.
func (a *Attester) tdQuote(ctx context.Context, r *hcl.Report) ([]byte, error) {
	if a.TDQuotes == nil {
		return nil, ErrNoTDQuoter
	}
	q, err := a.TDQuotes.TDQuote(ctx, r.TDReport)
	if err != nil {
		return nil, fmt.Errorf("attester: quoting the TDREPORT: %w", err)
	}
	return q, nil
}

// addVCEK puts the VCEK of the SNP report of r into ev, from a.Certs
// when set (see gather). Without one it fails when a.RequireVCEK is set
// (ErrNoVCEK).
func (a *Attester) addVCEK(ctx context.Context, v *verify.Verifier, r *hcl.Report, ev *evidence.Evidence) error {
	sr, err := snp.ParseReport(r.SNPReport)
	if err != nil {
		return fmt.Errorf("%w: the SNP report: %w", ErrInconsistent, err)
	}
	if a.Certs == nil {
		if a.RequireVCEK {
			return fmt.Errorf("%w (%w: no certificate source is configured)", ErrNoVCEK, verify.ErrCertificateUnavailable)
		}
		return nil
	}
	der, _, err := a.vcekFor(ctx, v.Config(), sr)
	if err != nil && a.RequireVCEK && ctx.Err() == nil && !errors.Is(err, verify.ErrRejected) {
		if !errors.Is(err, verify.ErrCertificateUnavailable) {
			err = fmt.Errorf("%w: %w", verify.ErrCertificateUnavailable, err)
		}
		return fmt.Errorf("%w: %w", ErrNoVCEK, err)
	}
	if err := a.vcekFailure(ctx, err, "the gathered evidence does not verify", "evidence without VCEK: a verifier must fetch it from AMD KDS"); err != nil {
		return err
	}
	ev.VCEK = der
	return nil
}

// vcekFailure judges err, a failure to get the VCEK from Certs: a
// cancelled context, or a VCEK that the Verifier's roots reject (verdict
// names the consequence), ends the call; anything else (no source has
// it) is logged as warning and passed over (nil).
func (a *Attester) vcekFailure(ctx context.Context, err error, verdict, warning string) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, verify.ErrRejected):
		return fmt.Errorf("attester: %s: %w", verdict, err)
	}
	a.log().WarnContext(ctx, warning, "err", err)
	return nil
}

// checkReport parses blob and checks that it is an HCL report (SEV-SNP or
// TDX) whose attestation key is the TPM's and, when userData is set, whose
// runtime data carries it. A failure is an error matching ErrInconsistent
// that names the check (hcl-report-format, attestation-key, user-data),
// but for a TPM failure reading the attestation key.
func (a *Attester) checkReport(ctx context.Context, blob, userData []byte) (*hcl.Report, error) {
	r, err := hcl.Parse(blob)
	if err != nil {
		return nil, inconsistent(verify.CheckHCLFormat, fmt.Errorf("the vTPM's HCL report: %w", err))
	}
	if r.RuntimeData == nil {
		return nil, inconsistent(verify.CheckAttestationKey, errors.New("the vTPM's HCL report has no runtime data"))
	}
	reportAK, err := r.RuntimeData.AK()
	if err != nil {
		return nil, inconsistent(verify.CheckAttestationKey, fmt.Errorf("the runtime data's attestation key: %w", err))
	}
	tpmAK, err := vtpm.AKPublic(ctx, a.TPM)
	if err != nil {
		return nil, fmt.Errorf("attester: reading the attestation key: %w", err)
	}
	if !reportAK.Equal(tpmAK) {
		return nil, inconsistent(verify.CheckAttestationKey, fmt.Errorf("the runtime data's HCLAkPub is not the vTPM's attestation key (%#08x)", uint32(vtpm.AKHandle)))
	}
	if userData != nil {
		ud := r.RuntimeData.UserData
		if len(ud) < len(userData) || !bytes.Equal(ud[:len(userData)], userData) {
			return nil, inconsistent(verify.CheckUserData, errors.New("the refreshed report's runtime data does not carry the requested user-data"))
		}
	}
	return r, nil
}

// verifiedTDXReport quotes the TDREPORT of the TDX HCL report r (blob)
// and verifies both with v (verify.Verifier.TDXReport).
func (a *Attester) verifiedTDXReport(ctx context.Context, v *verify.Verifier, blob []byte, r *hcl.Report) (*Result, error) {
	q, err := a.tdQuote(ctx, r)
	if err != nil {
		return nil, err
	}
	claims, err := v.TDXReport(ctx, blob, q)
	if err != nil {
		return nil, fmt.Errorf("attester: the report does not verify: %w", err)
	}
	return &Result{Report: blob, TDQuote: q, Claims: claims}, nil
}
