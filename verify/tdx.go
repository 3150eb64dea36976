package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Values of Claims.Platform.
const (
	PlatformSNP = "sev-snp"
	PlatformTDX = "tdx"
)

// TCBNotEvaluated is TDXClaims.TCBStatus when Intel's TCB status was not
// evaluated (no Intel collateral was given).
const TCBNotEvaluated = "not-evaluated"

// TDXClaims are the facts of a verified Azure TDX CVM: every field comes
// from the TD quote signed by Intel's quoting enclave, whose body equals
// the TDREPORT in the HCL report, or from its PCK certificate.
type TDXClaims struct {
	// MRTD is the TD's initial measurement: on Azure, the paravisor's.
	MRTD HexBytes `json:"mr_td"`
	// RTMR are RTMR0..3 (zero on Azure: the vTPM PCRs measure the guest).
	RTMR [4]HexBytes `json:"rtmr"`
	// XFAM and TDAttributes are the TD's XFAM and TDATTRIBUTES (8 bytes,
	// little-endian; TDATTRIBUTES bit 0 is DEBUG).
	XFAM         HexBytes `json:"xfam"`
	TDAttributes HexBytes `json:"td_attributes"`
	// TEETCBSVN, MRSEAM, MRSignerSEAM and SEAMAttributes name the TDX module.
	TEETCBSVN      HexBytes `json:"tee_tcb_svn"`
	MRSEAM         HexBytes `json:"mr_seam"`
	MRSignerSEAM   HexBytes `json:"mr_signer_seam"`
	SEAMAttributes HexBytes `json:"seam_attributes"`
	// TEETCBSVN2 and MRServiceTD are the TDX 1.5 fields of a version 5
	// quote with a TDX 1.5 body (TEE_TCB_SVN_2, MR_SERVICETD: SVNs for
	// TD-preserving module updates, hash of the bound service TDs or
	// zero); absent for a TDX 1.0 body (version 4 quotes).
	TEETCBSVN2  HexBytes `json:"tee_tcb_svn2,omitempty"`
	MRServiceTD HexBytes `json:"mr_servicetd,omitempty"`
	// MRConfigID, MROwner and MROwnerConfig are the host-provided values.
	MRConfigID    HexBytes `json:"mr_config_id"`
	MROwner       HexBytes `json:"mr_owner"`
	MROwnerConfig HexBytes `json:"mr_owner_config"`
	// FMSPC and PCESVN come from the PCK certificate's SGX extensions.
	FMSPC  HexBytes `json:"fmspc"`
	PCESVN uint16   `json:"pce_svn"`
	// QESVN is the quoting enclave's ISVSVN (its QE report's).
	QESVN uint16 `json:"qe_svn"`
	// TCBStatus is Intel's TCB status (pcs.UpToDate, ...: platform, TDX
	// module and QE folded together); TCBNotEvaluated without Intel's
	// collateral (Config.TDXCollateral).
	TCBStatus string `json:"tcb_status"`
	// AdvisoryIDs are Intel's security advisories of the matched TCB
	// levels (empty when up to date; null when not evaluated).
	AdvisoryIDs []string `json:"advisory_ids"`
	// TCBDate is the earliest tcbDate of the matched levels (RFC 3339),
	// and TCBEvaluationDataNumber the TCB info's; both absent when not
	// evaluated.
	TCBDate                 string `json:"tcb_date,omitempty"`
	TCBEvaluationDataNumber int    `json:"tcb_evaluation_data_number,omitempty"`
}

// intelRoots names the chain of a verified TD quote (Claims.RootsSource).
const intelRoots = "Intel SGX Root CA (pinned)"

// emulatedIntelRoots names the emulated TDX CVM's fake Intel chain.
const emulatedIntelRoots = "emulated TDX CVM's fake Intel root (fakeintel, NOT Intel)"

// verifyTDXEvidence verifies the TDX part of evidence: the HCL report must
// carry a TDREPORT, and the TD quote, verified offline under the pinned
// Intel root, must be for exactly that TDREPORT (tdx-binding). Then the
// TD's DEBUG attribute, the paravisor identity (MRTD) and the runtime-data
// binding are checked, and the HCL report's AK is returned for the quote
// checks that follow, as for SNP.
func verifyTDXEvidence(ctx context.Context, claims *Claims, ev *evidence.Evidence, opts *Config, p *pending) (*hclEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, cached, err := parseTDXEntry(ev.HCLReport, p.c)
	if err != nil {
		return nil, err
	}
	// A v2 HCL report was refreshed with this nonce, and the TD quote
	// must equal its TDREPORT (tdx-binding), whose REPORT_DATA binds the
	// runtime data, user-data = the nonce: neither comes again, so only
	// the PCK chain is worth caching.
	refreshed := ev.Version >= 2
	tq, err := parseTDQuote(ev.TDQuote, refreshed, p)
	if err != nil {
		return nil, err
	}
	if err := verifyTDQuote(ctx, claims, tq, h.td, opts, p); err != nil {
		return nil, err
	}
	if h.bindErr != nil {
		return nil, fail(CheckRuntimeData, h.bindErr)
	}
	fillRuntime(claims, h.report)
	if !cached && !refreshed {
		p.addHCL(ev.HCLReport, h)
	}
	return h, nil
}

// parseTDXEntry parses the HCL report of TDX evidence (parseTDXHCL),
// computes its runtime-data binding's verdict (reported only once the TD
// quote verified) and decodes its AK, or returns the entry of a blob that
// an earlier successful verification parsed.
func parseTDXEntry(blob []byte, c *cache) (e *hclEntry, cached bool, err error) {
	if c != nil {
		if e, ok := c.hcls.get(blob, func(e *hclEntry) bool { return e.td != nil }); ok {
			return e, true, nil
		}
	}
	r, tr, err := parseTDXHCL(blob)
	if err != nil {
		return nil, false, err
	}
	e = &hclEntry{report: r, td: tr, bindErr: r.CheckBinding()}
	e.decodeAK(r)
	return e, false, nil
}

// parseTDXHCL parses an HCL report that must carry a TDREPORT (a TD
// quote came with it) and the TDREPORT.
func parseTDXHCL(blob []byte) (*hcl.Report, *tdx.TDReport, error) {
	return parseHCLOfType(blob, hcl.ReportTypeTDX, "a TD quote came with an HCL report of type %v, not TDX",
		func(r *hcl.Report) []byte { return r.TDReport }, tdx.ParseTDReport, CheckTDReportFormat)
}

// tdQuote is a parsed TD quote, the bytes it was parsed from and, when
// the parse came from the cache, its entry.
type tdQuote struct {
	*tdx.Quote
	raw    []byte
	cached *tdQuoteEntry
	// once: the quote never comes again (see parseTDQuote); not cached.
	once bool
}

// verifyTDQuote verifies the TD quote q (under the pinned Intel root, or
// the emulated one when trusted), its binding to the TDREPORT tr (nil: a
// bare quote), Intel's TCB status, DEBUG and the paravisor identity, and
// fills the TDX claims; p records what a success may cache.
func verifyTDQuote(ctx context.Context, claims *Claims, tq tdQuote, tr *tdx.TDReport, opts *Config, p *pending) error {
	q := tq.Quote
	root, emulated := opts.tdxRoot, false
	if root == nil {
		root = opts.intelRoot
	}
	v, err := verifyTDQuoteSignatures(tq, root, opts.now(), p)
	if err != nil && opts.TrustEmulatedTDX && errors.Is(err, tdx.ErrPCKChain) {
		// Not under Intel's root: perhaps under the emulated one.
		if ve, errEmu := verifyTDQuoteSignatures(tq, fakeintel.Root(), opts.now(), p); errEmu == nil {
			v, err, root, emulated = ve, nil, fakeintel.Root(), true
		}
	}
	if err != nil && !opts.TrustEmulatedTDX && errors.Is(err, tdx.ErrPCKChain) && emulatedPCKChain(q) {
		err = fmt.Errorf("%w: %w", ErrEmulatedChain, err)
	}
	if err != nil {
		return tdxFailure(err)
	}
	if tr != nil {
		if err := tdx.CheckBinding(q, tr); err != nil {
			return fail(CheckTDXBinding, err)
		}
	}
	claims.fillTDX(q, v, opts.tdxRoot == nil && !emulated)
	if emulated {
		claims.Emulated, claims.RootsSource = true, emulatedIntelRoots
	}
	if err := checkTDXTCB(ctx, claims, q, v, opts, root, emulated); err != nil {
		return err
	}
	if q.Body.UnderDebug() && !opts.Policy.AllowDebug {
		if q.Body.Debug() {
			return failf(CheckDebug, "TDATTRIBUTES %x: DEBUG is set (the host can read and write the TD's memory)", q.Body.TDAttributes[:])
		}
		return failf(CheckDebug, "TDATTRIBUTES %x: a TD-under-debug flag (bits 7:0: a future debug flag, or host profiling of the TD) is set, so the TD is not a production TD", q.Body.TDAttributes[:])
	}
	return checkTDXParavisor(ctx, claims, q, opts, emulated)
}

// emulatedPCKChain reports whether q's PCK chain is the emulated TDX
// CVM's: it verifies under the fake Intel root (validity aside). It only
// explains a rejection.
func emulatedPCKChain(q *tdx.Quote) bool {
	certs, err := q.PCKCertificates()
	if err != nil {
		return false
	}
	var at time.Time // when each certificate the quote carries is valid
	for _, c := range certs {
		if c.NotBefore.After(at) {
			at = c.NotBefore
		}
	}
	_, err = q.VerifyChain(tdx.VerifyOptions{Now: at, Root: fakeintel.Root()})
	return err == nil
}

// tdxFailure names the check of a tdx.Quote.Verify failure.
func tdxFailure(err error) error {
	for _, m := range []struct {
		kind  error
		check Check
	}{
		{tdx.ErrPCKChain, CheckTDXPCKChain},
		{tdx.ErrQEReportSignature, CheckTDXQEReport},
		{tdx.ErrQEIdentity, CheckTDXQEIdentity},
		{tdx.ErrQEReportData, CheckTDXQEReport},
		{tdx.ErrQuoteSignature, CheckTDXQuoteSignature},
		{tdx.ErrTDXModule, CheckTDXModule},
	} {
		if errors.Is(err, m.kind) {
			return fail(m.check, err)
		}
	}
	return fail(CheckTDXQuoteSignature, err) // not reached: Verify wraps one of the kinds
}

// fillTDX fills the platform claims of a verified TD quote.
func (c *Claims) fillTDX(q *tdx.Quote, v *tdx.Verified, pinned bool) {
	b := &q.Body
	cp := func(x []byte) HexBytes { return bytes.Clone(x) }
	c.Platform = PlatformTDX
	c.RootsSource = intelRoots
	c.PinnedRoots = pinned
	if !pinned {
		c.RootsSource = "a test's Intel-like root"
	}
	c.ReportData = cp(b.ReportData[:])
	t := &TDXClaims{
		MRTD: cp(b.MRTD[:]), XFAM: cp(b.XFAM[:]), TDAttributes: cp(b.TDAttributes[:]),
		TEETCBSVN: cp(b.TEETCBSVN[:]), MRSEAM: cp(b.MRSEAM[:]), MRSignerSEAM: cp(b.MRSignerSEAM[:]),
		SEAMAttributes: cp(b.SEAMAttributes[:]), MRConfigID: cp(b.MRConfigID[:]), MROwner: cp(b.MROwner[:]),
		MROwnerConfig: cp(b.MROwnerConfig[:]), FMSPC: cp(v.SGX.FMSPC[:]), PCESVN: v.SGX.PCESVN,
		QESVN: q.QEISVSVN(), TCBStatus: TCBNotEvaluated,
	}
	if q.BodyType == tdx.BodyTypeTD15 {
		t.TEETCBSVN2, t.MRServiceTD = cp(b.TEETCBSVN2[:]), cp(b.MRServiceTD[:])
	}
	for i := range t.RTMR {
		t.RTMR[i] = cp(b.RTMR[i][:])
	}
	c.TDX = t
	c.Debug = b.Debug()
}
