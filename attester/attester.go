// Package attester gathers attestation evidence inside an Azure
// Confidential VM (AMD SEV-SNP): the HCL report from the vTPM (refreshed with
// user data on request), a TPM quote over the verifier's nonce, the PCRs and,
// when Azure IMDS is reachable, the VCEK of the chip.
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
// Nothing read from IMDS is trusted here: only the VCEK is copied into the
// evidence (the chain IMDS serves is ignored), and only when it names the
// chip id and TCB of the report. A verifier checks it against pinned AMD
// roots.
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

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/imds"
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
// from it would be rejected by any verifier, so none is returned.
var ErrInconsistent = errors.New("attester: inconsistent vTPM state")

// Attester gathers evidence from a vTPM. Its fields must not change while it
// is in use; its methods are as safe for concurrent use as TPM is.
type Attester struct {
	// TPM is the vTPM: vtpm.Open's device on a CVM, or an emulated CVM's TPM.
	TPM transport.TPM
	// IMDS is where the VCEK comes from; nil means evidence without a VCEK
	// (a verifier then fetches it from AMD KDS).
	IMDS *imds.Client
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Verifier verifies what Evidence and VerifiedReport gathered before
	// they return it. Nil means verify.New(verify.Config{}): AMD's pinned
	// roots, the default policy and no certificate source other than the
	// VCEK from IMDS. Give one with a VCEKGetter (package kds) to verify
	// evidence whose VCEK IMDS cannot supply, or one trusting the emulated
	// chain for an emulated CVM.
	Verifier *verify.Verifier
}

// Result is what the attester gathered and the claims it verified.
type Result struct {
	// Evidence is the gathered evidence (nil from VerifiedReport).
	Evidence *evidence.Evidence
	// Report is the HCL report blob the claims come from.
	Report []byte
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
	if err != nil {
		return nil, fmt.Errorf("attester: refreshing the HCL report: %w", err)
	}
	return blob, nil
}

// Quote returns a TPM2_Quote by the attestation key over SHA-256 PCRs 0-23
// with qualifyingData = quote.ExpectedExtraData(nonce), and the PCR values
// read after it. Before returning, it verifies the quote (signature, nonce,
// PCR digest) against the attestation key read from the TPM and fails
// closed: a quote that does not verify is never returned.
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
	if err != nil {
		return nil, fmt.Errorf("attester: quoting: %w", err)
	}
	ak, err := vtpm.AKPublic(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("attester: reading the attestation key: %w", err)
	}
	if _, err := quote.Verify(q, ak, nonce); err != nil {
		return nil, fmt.Errorf("%w: the vTPM's quote does not verify against its attestation key: %w", ErrInconsistent, err)
	}
	return q, nil
}

// VCEK asks IMDS for the VCEK and returns it in DER. The result is not
// trusted: a verifier checks it against pinned AMD roots. It returns
// (nil, nil) when a.IMDS is nil.
func (a *Attester) VCEK(ctx context.Context) ([]byte, error) {
	if a.IMDS == nil {
		return nil, nil
	}
	cert, err := a.IMDS.Certification(ctx)
	if err != nil {
		return nil, fmt.Errorf("attester: VCEK from IMDS: %w", err)
	}
	return bytes.Clone(cert.VCEK), nil
}

// VCEKFor returns the VCEK from IMDS (DER) if it names the chip id and TCB
// of the SNP report inside the HCL report blob, and an error otherwise
// (for example after a TCB update, when IMDS may serve a VCEK for another
// TCB). Matching establishes no trust: no signature is checked. It returns
// (nil, nil) when a.IMDS is nil.
func (a *Attester) VCEKFor(ctx context.Context, blob []byte) ([]byte, error) {
	if a.IMDS == nil {
		return nil, nil
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		return nil, fmt.Errorf("attester: the HCL report: %w", err)
	}
	if r.Type != hcl.ReportTypeSNP {
		return nil, fmt.Errorf("attester: the HCL report carries a %v report, not SEV-SNP", r.Type)
	}
	sr, err := snp.ParseReport(r.SNPReport)
	if err != nil {
		return nil, fmt.Errorf("attester: the SNP report: %w", err)
	}
	return a.vcekFor(ctx, sr)
}

func (a *Attester) vcekFor(ctx context.Context, r *snp.Report) ([]byte, error) {
	der, err := a.VCEK(ctx)
	if err != nil {
		return nil, err
	}
	v, err := snp.ParseVCEK(der)
	if err != nil {
		return nil, fmt.Errorf("attester: the VCEK from IMDS: %w", err)
	}
	if err := v.CheckBinding(r); err != nil {
		return nil, fmt.Errorf("attester: the VCEK from IMDS does not match the report: %w", err)
	}
	return der, nil
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
	ev, err := a.gather(ctx, nonce, fresh)
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
// unless nil, see Report), takes the VCEK from IMDS when it names the
// report's chip and TCB (else, with a warning, leaves it to the Verifier's
// VCEKGetter), and verifies the report with a's Verifier. Claims.VCEKSource
// is "Azure IMDS" when IMDS supplied the VCEK.
func (a *Attester) VerifiedReport(ctx context.Context, userData []byte) (*Result, error) {
	v, err := a.verifier()
	if err != nil {
		return nil, err
	}
	blob, err := a.Report(ctx, userData)
	if err != nil {
		return nil, err
	}
	vcek, err := a.VCEKFor(ctx, blob)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.log().WarnContext(ctx, "no usable VCEK from IMDS; the verifier's certificate source is asked", "err", err)
		vcek = nil
	}
	claims, err := v.Report(ctx, blob, vcek)
	if err != nil {
		return nil, fmt.Errorf("attester: the report does not verify: %w", err)
	}
	if vcek != nil {
		claims.VCEKSource = "Azure IMDS"
	}
	return &Result{Report: blob, Claims: claims}, nil
}

// gather gathers evidence for nonce (required; nonces over 48 bytes are
// bound as their SHA-256). In order: with fresh, the HCL report is refreshed
// with user data = quote.ExpectedExtraData(nonce); otherwise the published
// report is read. Then the quote is taken and the PCRs read, and the VCEK is
// fetched from IMDS when a.IMDS is set.
//
// The result has Version 2 (VersionFreshReport) when fresh and Version 1
// (VersionBootReport) otherwise: a verifier requires the user-data binding
// for version 2.
//
// Before returning, gather checks that the pieces fit (the report's
// attestation key is the TPM's, the quote verifies, a fresh report carries
// the nonce), so that it does not hand out evidence every verifier rejects.
// A VCEK from IMDS that does not name the report's chip and TCB is left out
// (with a warning) rather than included, and so is the VCEK when IMDS
// fails: that is not an error, a verifier can fetch the VCEK from AMD KDS.
func (a *Attester) gather(ctx context.Context, nonce []byte, fresh bool) (*evidence.Evidence, error) {
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
	sr, err := a.checkReport(ctx, blob, userData)
	if err != nil {
		return nil, err
	}
	ev := &evidence.Evidence{Version: version, Quote: *q, HCLReport: blob}
	if a.IMDS != nil {
		der, err := a.vcekFor(ctx, sr)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			a.log().WarnContext(ctx, "evidence without VCEK: a verifier must fetch it from AMD KDS", "err", err)
		default:
			ev.VCEK = der
		}
	}
	a.log().DebugContext(ctx, "evidence gathered", "version", ev.Version, "nonce_bytes", len(nonce), "vcek", ev.VCEK != nil)
	return ev, nil
}

// checkReport parses blob and checks that it is an SNP HCL report whose
// attestation key is the TPM's and, when userData is set, whose runtime
// data carries it.
func (a *Attester) checkReport(ctx context.Context, blob, userData []byte) (*snp.Report, error) {
	r, err := hcl.Parse(blob)
	if err != nil {
		return nil, fmt.Errorf("%w: the HCL report: %w", ErrInconsistent, err)
	}
	if r.Type != hcl.ReportTypeSNP {
		return nil, fmt.Errorf("%w: the HCL report carries a %v report, not SEV-SNP", ErrInconsistent, r.Type)
	}
	sr, err := snp.ParseReport(r.SNPReport)
	if err != nil {
		return nil, fmt.Errorf("%w: the SNP report: %w", ErrInconsistent, err)
	}
	if r.RuntimeData == nil {
		return nil, fmt.Errorf("%w: the HCL report has no runtime data", ErrInconsistent)
	}
	reportAK, err := r.RuntimeData.AK()
	if err != nil {
		return nil, fmt.Errorf("%w: the runtime data's attestation key: %w", ErrInconsistent, err)
	}
	tpmAK, err := vtpm.AKPublic(ctx, a.TPM)
	if err != nil {
		return nil, fmt.Errorf("attester: reading the attestation key: %w", err)
	}
	if !reportAK.Equal(tpmAK) {
		return nil, fmt.Errorf("%w: the HCL report names another attestation key than the TPM's", ErrInconsistent)
	}
	if userData != nil {
		ud := r.RuntimeData.UserData
		if len(ud) < len(userData) || !bytes.Equal(ud[:len(userData)], userData) {
			return nil, fmt.Errorf("%w: the refreshed report does not carry the nonce as user-data", ErrInconsistent)
		}
	}
	return sr, nil
}
