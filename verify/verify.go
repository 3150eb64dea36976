// Package verify is the complete verification of vTPM-based evidence from
// Azure Confidential VMs. On AMD SEV-SNP: AMD chain pinned per product
// line, VCEK validity, report signature, VCEK chip id and TCB, guest
// policy, paravisor identity (ID_KEY_DIGEST, see DefaultParavisors). On
// Intel TDX: the TD quote under Intel's pinned root, its binding to the
// TDREPORT, Intel's TCB status with collateral (Config.TDXCollateral),
// paravisor identity (MRTD, see DefaultTDXParavisors). On both: runtime-data
// binding, attestation-key quote, nonce, PCRs and policy. Claims.Platform
// says which kind of CVM the evidence came from.
//
// A Verifier (New) is the entry point: its Evidence, Decoded, Report and
// TDXReport methods verify, and it owns the caches of verified results
// that calls share. It does no I/O: a VCEK that the evidence does not
// carry is obtained only through Config.VCEKGetter (package collateral's
// Chain fetches and caches them). The function Evidence verifies one
// document without a cache.
//
// # Errors
//
// An error of a verification is one of three kinds, to be told apart in
// this order:
//
//   - A rejection, the verdict "not accepted": an *Error (errors.As) naming
//     the failed Check, matching ErrRejected (errors.Is). Its Err says why;
//     for CheckParavisorIdentity it holds an *UntrustedParavisorError, for
//     a parse failure of the evidence, HCL report or quote a *format.Error
//     naming the field.
//   - No verdict, collateral unavailable: a certificate, CRL or Intel
//     collateral could not be obtained (the error matches
//     ErrCertificateUnavailable: a VCEKGetter, RevocationChecker or
//     TDXCollateralGetter failed on the way) or the Intel collateral given
//     is unusable at the verification time (ErrTDXCollateral). Nothing was
//     learnt about the evidence; a service answers "try again later".
//   - The context's error, when ctx ended first.
//
// New's errors are configuration errors (a policy that contradicts
// itself, a bad cache bound); ParsePolicy's say which member is wrong.
// The Example named "Errors" shows the classification.
package verify

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"weak"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// decoded is Verifier.Decoded; p collects what a success may cache.
func decoded(ctx context.Context, ev *evidence.Evidence, nonce []byte, opts *Config, p *pending) (*Claims, error) {
	if ev == nil {
		return nil, failf(CheckEvidenceFormat, "no evidence")
	}
	if ev.Version < 0 || ev.Version > 2 {
		// Decode reads versions 0 to 2 only; another would pass as a bare
		// report's claims (-1) or be treated as a refreshed v2 (3 on).
		return nil, fail(CheckEvidenceFormat, format.Field("evidence", "version", fmt.Errorf("%w (%d)", format.ErrUnsupportedVersion, ev.Version)))
	}
	if err := ev.CheckPlatformMembers(); err != nil {
		// Decode refuses it: an Evidence built by the caller is held to
		// the same (a VCEK that nothing reads must not ride along).
		return nil, fail(CheckEvidenceFormat, err)
	}
	if len(nonce) == 0 && !opts.AllowNoNonce {
		// An empty nonce would accept a quote with empty extraData: a
		// replay of any such quote. It is "no nonce", never a value.
		return nil, failf(CheckNonce, "no expected nonce given")
	}
	claims := &Claims{EvidenceVersion: ev.Version}
	var h *hclEntry
	var err error
	if ev.TDQuote != nil {
		h, err = verifyTDXEvidence(ctx, claims, ev, opts, p)
	} else {
		h, err = verifySNPEvidence(ctx, claims, ev, opts, p)
	}
	if err != nil {
		return nil, err
	}
	if err := opts.Policy.checkPlatform(claims.Platform); err != nil {
		return nil, err
	}
	if h.akErr != nil {
		return nil, fail(CheckAttestationKey, h.akErr)
	}
	claims.AKPublic = bytes.Clone(h.akDER)

	if err := verifyQuote(claims, &ev.Quote, h.akKey, nonce, opts); err != nil {
		return nil, err
	}
	if ev.Version >= 2 || opts.Policy.RequireFreshReport {
		if err := checkUserData(h.report.RuntimeData.UserData, claims.Nonce); err != nil {
			return nil, err
		}
		// Fresh only when the quoted nonce was the verifier's: without a
		// nonce check the report may be a refreshed one replayed.
		claims.FreshReport = claims.NonceChecked
	}
	if opts.Policy.RequireFreshReport && !claims.FreshReport {
		return nil, failf(CheckUserData, "the policy requires a fresh report, which evidence verified without a nonce cannot prove")
	}
	if err := claims.checkPCRPolicy(opts.Policy.PCRs); err != nil {
		return nil, err
	}
	claims.fillPlatformIdentity(&opts.Policy)
	if err := claims.checkPlatformIdentity(&opts.Policy); err != nil {
		return nil, err
	}
	if err := claims.fillEventLog(ev.EventLog, &opts.Policy); err != nil {
		return nil, err
	}
	return claims, nil
}

// verifySNPEvidence verifies the SNP part of evidence (the HCL report, its
// SNP report and VCEK) and returns the parsed HCL report.
func verifySNPEvidence(ctx context.Context, claims *Claims, ev *evidence.Evidence, opts *Config, p *pending) (*hclEntry, error) {
	h, cached, err := parseHCL(ev.HCLReport, p.c)
	if err != nil {
		return nil, err
	}
	vcekSource := "evidence"
	if ev.VCEK == nil {
		vcekSource = "fetched"
	}
	// A v2 report was refreshed with this nonce: it never comes again,
	// so only its VCEK's chain is worth caching.
	refreshed := ev.Version >= 2
	if err := verifyHCL(ctx, claims, h, snpInput{vcekDER: ev.VCEK, carried: ev.VCEKChain, source: vcekSource, once: refreshed}, opts, p); err != nil {
		return nil, err
	}
	if !cached && !refreshed {
		p.addHCL(ev.HCLReport, h)
	}
	return h, nil
}

// reportOnlyPolicy fails closed, for a report without a TPM quote, on
// the policy members that need one, rather than silently skip them.
func reportOnlyPolicy(p *Policy) error {
	if len(p.PCRs) > 0 {
		return failf(CheckPCRPolicy, "the policy requires PCR values, which a report without a quote cannot prove")
	}
	if p.RequireFreshReport {
		return failf(CheckUserData, "the policy requires a fresh report bound to a nonce, which a report without a quote cannot prove")
	}
	return quoteOnlyPolicy(p)
}

// quoteOnlyPolicy fails closed, for a report without a quote, on the
// policy members that only quoted PCRs can prove.
func quoteOnlyPolicy(p *Policy) error {
	switch {
	case p.RequireVMIdentity:
		return failf(CheckVMIdentity, "the policy requires the VM identity in PCR 6, which a report without a quote cannot prove")
	case p.InitDataDigest != nil:
		return failf(CheckInitData, "the policy requires init-data in PCR 8, which a report without a quote cannot prove")
	case p.requiresEventLog():
		return failf(CheckEventLog, "the policy requires a replayed boot event log, which a report without a quote cannot prove")
	}
	return nil
}

// snpInput is how one SNP report is verified: with which VCEK and what
// it may be.
type snpInput struct {
	// vcekDER is the VCEK to verify against; nil fetches it (VCEKGetter).
	vcekDER []byte
	// carried are the certificates the evidence stacks after its VCEK
	// (evidence.Evidence.VCEKChain): they must be the verified chain's.
	carried [][]byte
	// source is Claims.VCEKSource.
	source string
	// once says the report never comes again (refreshed with a nonce):
	// its signature is not cached.
	once bool
	// maxVMPL is the highest accepted VMPL.
	maxVMPL uint32
}

// verifyHCL verifies the SNP report of the parsed HCL report h at VMPL 0
// (see verifySNP), then, in this order, the paravisor identity and the
// runtime-data binding, and fills the runtime claims. The binding is a
// verdict on the runtime data: it is checked only once the report that
// carries its hash verified.
func verifyHCL(ctx context.Context, claims *Claims, h *hclEntry, in snpInput, opts *Config, p *pending) error {
	// The paravisor runs at VMPL 0: a report from any other level is not
	// the paravisor's, whatever the policy says of bare reports.
	in.maxVMPL = 0
	if err := verifySNP(ctx, claims, h.snp, in, opts, p); err != nil {
		return err
	}
	// The AK, user data and VM configuration come from the runtime data:
	// only a trusted paravisor's word makes them worth anything.
	if err := checkParavisor(ctx, claims, h.snp, &opts.Policy, opts.ParavisorVoucher, true, claims.Emulated); err != nil {
		return err
	}
	if h.bindErr != nil {
		return fail(CheckRuntimeData, h.bindErr)
	}
	fillRuntime(claims, h.report)
	return nil
}

// report is Verifier.Report; p collects what a success may cache.
func report(ctx context.Context, blob []byte, vcekDER []byte, opts *Config, p *pending) (*Claims, error) {
	if err := reportOnlyPolicy(&opts.Policy); err != nil {
		return nil, err
	}
	claims := &Claims{EvidenceVersion: -1}
	in := snpInput{vcekDER: vcekDER, source: "given", maxVMPL: uint32(opts.Policy.VMPL)}
	if vcekDER == nil {
		in.source = "fetched"
	}
	if len(blob) == snp.ReportSize+hcl.IGVMHeaderSize {
		// A stored report with the IGVM request header but without the
		// runtime data: a bare report once the header is checked.
		if _, err := hcl.ParseIGVMHeader(blob[snp.ReportSize:]); err != nil {
			return nil, fail(CheckHCLFormat, err)
		}
		blob = blob[:snp.ReportSize]
	}
	if len(blob) == snp.ReportSize {
		r, err := snp.ParseReport(blob)
		if err != nil {
			return nil, fail(CheckReportFormat, err)
		}
		if err := verifySNP(ctx, claims, r, in, opts, p); err != nil {
			return nil, err
		}
		// Nothing vouches for a key here: the identity is checked only
		// when the policy asks for one.
		if err := checkParavisor(ctx, claims, r, &opts.Policy, opts.ParavisorVoucher, false, claims.Emulated); err != nil {
			return nil, err
		}
		return claims, nil
	}
	h, cached, err := parseHCL(blob, p.c)
	if err != nil {
		return nil, storedSizeHint(err, blob)
	}
	if err := verifyHCL(ctx, claims, h, in, opts, p); err != nil {
		return nil, err
	}
	if !cached {
		p.addHCL(blob, h)
	}
	if h.akErr == nil {
		claims.AKPublic = bytes.Clone(h.akDER)
	}
	return claims, nil
}

// storedSizeHint adds to an HCL format error of a stored report that is
// too short or lacks the HCL magic the sizes Report takes: a blob of
// another size (a report cut short, or with a header or padding of
// another tool) fails as an HCL report, which alone would not say so. A
// blob that notAReport recognises as another kind of file already says
// what it is instead.
func storedSizeHint(err error, blob []byte) error {
	n := len(blob)
	verr, ok := errors.AsType[*Error](err)
	if !ok || notAReport(blob) != "" || verr.Check != CheckHCLFormat || !(errors.Is(err, format.ErrTruncated) || errors.Is(err, format.ErrBadMagic)) {
		return err
	}
	return &Error{Check: verr.Check, Err: fmt.Errorf("%w; a stored report is a %d-byte SNP report, that report and its %d-byte IGVM request header (%d bytes), or an HCL report (at least %d bytes, magic HCLA): this is %d bytes",
		verr.Err, snp.ReportSize, hcl.IGVMHeaderSize, snp.ReportSize+hcl.IGVMHeaderSize, hcl.RuntimeDataOffset, n)}
}

func fillRuntime(claims *Claims, r *hcl.Report) {
	// Copies: r may be shared through the cache of an Options, and the
	// claims belong to the caller.
	if rd := r.RuntimeData; rd != nil {
		if rd.VMConfig != nil {
			vc := *rd.VMConfig
			claims.VMConfig = &vc
		}
		if rd.UserData != nil {
			claims.UserData = slices.Clone(rd.UserData)
		}
	}
}

// parseHCL parses an HCL report, checks that it carries an SNP report,
// checks (for verifyHCL to report) that the report binds its runtime data,
// and decodes the AK. A parse of the same blob is
// taken from c (cached is then true); the caller records a new one with
// pending.addHCL, stored only once the whole verification succeeded, so
// that only evidence that verified takes room in the cache.
func parseHCL(blob []byte, c *cache) (e *hclEntry, cached bool, err error) {
	if c != nil {
		if e, ok := c.hcls.get(blob, func(e *hclEntry) bool { return e.snp != nil }); ok {
			return e, true, nil
		}
	}
	r, sr, err := parseHCLOfType(blob, hcl.ReportTypeSNP, "hardware report type is %v; an SEV-SNP report is verified here (TDX evidence must carry its TD quote)",
		func(r *hcl.Report) []byte { return r.SNPReport }, snp.ParseReport, CheckReportFormat)
	if err != nil {
		return nil, false, err
	}
	// The binding is reported only after the report's signature verified
	// (verifyHCL): never a verdict on unsigned bytes first.
	e = &hclEntry{report: r, snp: sr, bindErr: r.CheckBinding()}
	e.decodeAK(r)
	return e, false, nil
}

// decodeAK decodes r's attestation key into e (or records why not in
// e.akErr) and prepares it for quote verification.
func (e *hclEntry) decodeAK(r *hcl.Report) {
	if r.RuntimeData == nil {
		e.akErr = errors.New("no runtime data")
	} else if e.ak, e.akErr = r.RuntimeData.AK(); e.akErr == nil {
		e.akDER, _ = x509.MarshalPKIXPublicKey(e.ak)
		e.akKey = quote.NewAK(e.ak)
	}
}

// parseHCLOfType parses an HCL report, checks that it carries the hardware
// report of type want (mismatch, with the type found as its only argument,
// says why not), and parses that report (hw selects its bytes, parse
// reads them, failing check).
func parseHCLOfType[T any](blob []byte, want hcl.ReportType, mismatch string,
	hw func(*hcl.Report) []byte, parse func([]byte) (T, error), check Check) (*hcl.Report, T, error) {
	var zero T
	r, err := hcl.Parse(blob)
	if err != nil {
		if hint := notAReport(blob); hint != "" && errors.Is(err, format.ErrBadMagic) {
			err = fmt.Errorf("%w (%s)", err, hint)
		}
		return nil, zero, fail(hclCheck(err), err)
	}
	if r.Type != want {
		return nil, zero, failf(CheckReportType, mismatch, r.Type)
	}
	inner, err := parse(hw(r))
	if err != nil {
		return nil, zero, fail(check, err)
	}
	return r, inner, nil
}

// hclCheck names the check of an HCL report's parse error: a report type
// other than SNP and TDX (VBS, TVM, an unknown one) is a hardware report
// of the wrong type, hcl-report-type, as a TDX report given as SNP is;
// every other error is hcl-report-format. (A stored report's lone IGVM
// header naming another type than the SNP report it follows is a format
// error of that file.)
func hclCheck(err error) Check {
	if errors.Is(err, hcl.ErrUnsupportedReportType) {
		return CheckReportType
	}
	return CheckHCLFormat
}

// notAReport names what a blob that is no HCL report looks like, when it
// looks like one of the files that sit next to reports (a certificate, a
// key, an evidence document), or "" otherwise.
func notAReport(blob []byte) string {
	trimmed := bytes.TrimLeft(blob, " \t\r\n")
	head := blob[:min(len(blob), 512)]
	switch {
	case bytes.Contains(head, []byte("-----BEGIN ")): // PEM, maybe after comment lines
		return "the file is PEM text, such as a certificate, not a report"
	case len(blob) >= 2 && blob[0] == 0x30 && blob[1]&0xf0 == 0x80:
		return "the file starts like DER, such as a certificate, not a report"
	case bytes.HasPrefix(trimmed, []byte("{")):
		return "the file is JSON, such as an evidence document, not a binary report"
	case len(blob) >= 8 && (blob[0] == 4 || blob[0] == 5) && blob[1] == 0 && bytes.Equal(blob[4:8], []byte{0x81, 0, 0, 0}):
		return "the file starts like a TD quote (TEE type TDX): give it as the TD quote, --td-quote"
	}
	return ""
}

// putHCL caches the parse of blob. The entry holds about twice the blob
// (the blob as key, the report's copies of its parts) and the AK: its DER,
// the parsed key and the prepared one (two modulus-sized limb arrays), each
// about the size of the DER.
func (c *cache) putHCL(blob []byte, e *hclEntry) {
	c.hcls.put(blob, e, 2*len(blob)+4*len(e.akDER)+1024)
}

// vlekProductLine names the product line of a VLEK-signed report for the
// vcek-missing error: from its CPUID (version 3 on; the VLEK to supply is
// then one under that line's ASVK, SEV-VLEK-<line>), or that a version 1
// or 2 report names none.
func vlekProductLine(version uint32, product snp.Product, haveCPUID bool) string {
	if haveCPUID {
		return fmt.Sprintf("a %s chip: its certificate is issued by SEV-VLEK-%s", product, product)
	}
	return fmt.Sprintf("product line not named: a version %d report carries no CPUID", version)
}

// verifySNP verifies the SNP report r with its VCEK and fills claims; p
// records what a success may cache. The order names the real cause: the
// VCEK's chain, then whether the VCEK is the chip's at the report's TCB,
// and only then the report's signature (a VCEK of another chip is a
// vcek-chip-id failure, not a bad signature); the report's fields are
// judged (checkReportPolicy) only once signed.
func verifySNP(ctx context.Context, claims *Claims, r *snp.Report, in snpInput, opts *Config, p *pending) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	product, haveCPUID, err := r.ProductFromCPUID()
	if err != nil {
		return fail(CheckProduct, err)
	}
	vcekDER := in.vcekDER
	if vcekDER == nil && r.SignerKey() == snp.SigningKeyVLEK {
		return failf(CheckVCEKMissing, "the report is signed by a VLEK (%s), which AMD's KDS does not serve: the evidence (or --vcek) must carry the VLEK certificate", vlekProductLine(r.Version, product, haveCPUID))
	}
	if vcekDER == nil {
		// A masked or zero chip id names no VCEK to fetch.
		if err := r.CheckChipID(); err != nil {
			return fail(CheckChipID, err)
		}
		if vcekDER, err = fetchVCEK(ctx, r, product, haveCPUID, opts, p); err != nil {
			return err
		}
	}
	v, chain, err := verifyVCEK(vcekDER, opts.roots(), opts.now(), p)
	if err != nil {
		return err
	}
	if err := checkCarriedChain(in.carried, v, chain); err != nil {
		return err
	}
	if haveCPUID && v.Product != product {
		name := ""
		if v.ProductName != string(v.Product) {
			name = " (" + v.ProductName + ")"
		}
		return failf(CheckProduct, "report CPUID names %s but the VCEK is for %s%s", product, v.Product, name)
	}
	product = v.Product
	rc := opts.Revocation
	if chain.Emulated {
		rc = opts.EmulatedRevocation
	}
	if err := checkRevocation(ctx, rc, product, chain, v); err != nil {
		return err
	}
	if err := checkVCEKBinding(v, r); err != nil {
		return err
	}
	rp := p
	if in.once {
		rp = nil
	}
	if err := verifyReportSignature(r, v, rp); err != nil {
		return err
	}
	// The claims show each TCB's parts: no reserved byte may hide there.
	if err := r.CheckTCBs(product); err != nil {
		return fail(CheckReportFormat, err)
	}
	claims.fillReport(r, product)
	claims.VCEKSource = in.source
	claims.RootsSource = chain.Source
	claims.PinnedRoots = chain.Pinned
	claims.Emulated = chain.Emulated
	return checkReportPolicy(claims, r, product, &opts.Policy, in.maxVMPL)
}

// checkCarriedChain checks the certificates that evidence stacks after
// its VCEK (a v0 "vcek" PEM stack): nothing signs them for the verifier,
// so they must be those of the chain that verified v, in order: the ASK
// (the ASVK of a VLEK), then the ARK. Otherwise they would be bytes of the
// sender's choice, claiming to be AMD's certificates, riding along with
// evidence that verifies.
func checkCarriedChain(carried [][]byte, v *snp.VCEK, chain *snp.Chain) error {
	if len(carried) == 0 {
		return nil
	}
	ica := "ASK"
	if v.SigningKey == snp.SigningKeyVLEK {
		ica = "ASVK"
	}
	want := [...]struct {
		name string
		cert *x509.Certificate
	}{{ica, chain.Intermediate(v)}, {"ARK", chain.ARK}}
	if len(carried) > len(want) {
		return failf(CheckVCEKChain, "the evidence stacks %d certificates after its %s; its chain has %d (%s, then %s)", len(carried), v.KeyName(), len(want), want[0].name, want[1].name)
	}
	for i, der := range carried {
		if w := want[i]; w.cert == nil || !bytes.Equal(der, w.cert.Raw) {
			// Not chain.Source: serve tells the client this check in
			// full, and a --roots file's path is the operator's.
			return failf(CheckVCEKChain, "certificate %d after the %s in the evidence is not the %s of the %s chain that verified it",
				i+1, v.KeyName(), w.name, chain.Product)
		}
	}
	return nil
}

// checkRevocation asks rc (nil: no revocation checking) whether the
// intermediate or the leaf that chain verified is revoked: the ASK and
// the VCEK of a VCEK-signed report (AMD's VCEK CRL), the ASVK and the VLEK
// of a VLEK-signed one (AMD's VLEK CRL), v.SigningKey saying which. An
// error of rc wrapping ErrCertificateUnavailable (the CRL source down) is
// returned as it is, not as a rejection. The caller picks rc by chain:
// Config.EmulatedRevocation (the fake chain's own CRLs) for a chain marked
// Emulated, whose certificates AMD's CRLs say nothing of, and
// Config.Revocation (AMD's CRLs) for every other.
func checkRevocation(ctx context.Context, rc RevocationChecker, product snp.Product, chain *snp.Chain, v *snp.VCEK) error {
	if rc == nil {
		return nil
	}
	intermediate := chain.ASK
	if v.SigningKey == snp.SigningKeyVLEK {
		intermediate = chain.ASVK
	}
	if intermediate == nil || (v.SigningKey != snp.SigningKeyVCEK && v.SigningKey != snp.SigningKeyVLEK) {
		return failf(CheckRevocation, "no %s chain to check for revocation", v.KeyName())
	}
	if err := rc.CheckRevoked(ctx, string(product), v.SigningKey, intermediate, v.Cert); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrCertificateUnavailable) {
			// Not a verdict: the CRL could not be obtained.
			return unavailableErr(CheckRevocation, fmt.Errorf("the CRL could not be obtained: %w", err))
		}
		return fail(CheckRevocation, err)
	}
	return nil
}

// checkVCEKBinding checks that v is the kind of key r's SIGNER_INFO names
// (a VCEK or a VLEK: report-signature otherwise, the real cause, rather
// than the zero chip id of a VLEK-signed report or the other TCB of a
// VLEK) and then that v is the VCEK of r's chip at r's REPORTED_TCB. A
// report that says MASK_CHIP_KEY is signed by no VCEK at all: given a
// VCEK, that is named first (vcek-chip-id), whatever key it names.
func checkVCEKBinding(v *snp.VCEK, r *snp.Report) error {
	if v.SigningKey == snp.SigningKeyVCEK && r.ChipKeyMasked() {
		return fail(CheckChipID, r.CheckChipID())
	}
	if err := v.CheckSigningKey(r); err != nil {
		return fail(CheckReportSignature, err)
	}
	if err := v.CheckBinding(r); err != nil {
		if errors.Is(err, snp.ErrChipID) {
			return fail(CheckChipID, err)
		}
		return fail(CheckVCEKTCB, err)
	}
	return nil
}

// fetchVCEK obtains the report's VCEK from opts.VCEKGetter. The chain that
// the getter's Validate verified is handed to p, so the check of the
// returned VCEK in verifySNP is a hit rather than a second RSA-4096
// verification; it reaches the cache only if the whole verification
// succeeds.
func fetchVCEK(ctx context.Context, r *snp.Report, product snp.Product, haveCPUID bool, opts *Config, p *pending) ([]byte, error) {
	if opts.VCEKGetter == nil {
		return nil, failf(CheckVCEKMissing, "the evidence carries no VCEK and no certificate source is configured (offline)")
	}
	candidates := []snp.Product{product}
	if !haveCPUID {
		// Version 2 reports do not name their product line; only Milan
		// and Genoa produced them.
		candidates = []snp.Product{snp.Milan, snp.Genoa}
	}
	var lastErr error
	unavailable := false
	// validated collects the chains that Validate verified (a getter may
	// call it from other goroutines, once per candidate certificate).
	var mu sync.Mutex
	validated := pending{c: p.c}
	for _, pl := range candidates {
		req := VCEKRequest{
			Product:     string(pl),
			ChipID:      append([]byte(nil), r.ChipID[:]...),
			ReportedTCB: uint64(r.ReportedTCB),
			Validate: func(der []byte) error {
				mu.Lock()
				defer mu.Unlock()
				return validateVCEK(der, opts.roots(), opts.now(), r, pl, &validated)
			},
		}
		der, err := opts.VCEKGetter.GetVCEK(ctx, req)
		if err == nil {
			mu.Lock()
			p.adoptVCEK(&validated, der)
			mu.Unlock()
			return der, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = errors.Join(lastErr, err) // each candidate names its product line
		if errors.Is(err, ErrCertificateUnavailable) {
			// The source is down or over its upstream budget: asking it
			// for the next candidate would only cost another request.
			unavailable = true
			break
		}
	}
	if unavailable {
		// Not a verdict on the evidence: the certificate source failed.
		return nil, unavailableErr(CheckVCEKMissing, fmt.Errorf("no VCEK could be obtained: %w", lastErr))
	}
	// Includes a source that only offered VCEKs our validation rejected:
	// the evidence cannot be verified without its VCEK.
	return nil, fail(CheckVCEKMissing, fmt.Errorf("no VCEK could be obtained: %w", lastErr))
}

// ValidateVCEK makes the checks a Verifier makes of a VCEK (or VLEK) der
// obtained for report r as product line pl: its format, its chain to
// cfg's roots at cfg's time (never an unmarked chain of the emulated
// CVM's keys: CheckEmulatedKey), its product line, and its chip id and
// TCB binding to r; each failure is a *Error naming its check. It is the
// Validate of the VCEKRequests a Verifier makes, for code that obtains a
// VCEK itself (the attester's certificate sources).
func ValidateVCEK(cfg Config, r *snp.Report, pl snp.Product, der []byte) error {
	return validateVCEK(der, cfg.roots(), cfg.now(), r, pl, nil)
}

// validateVCEK is ValidateVCEK, recording a verified chain in p.
func validateVCEK(der []byte, roots *snp.Roots, now time.Time, r *snp.Report, pl snp.Product, p *pending) error {
	v, _, err := verifyVCEK(der, roots, now, p)
	if err != nil {
		return err
	}
	if v.Product != pl {
		return failf(CheckProduct, "VCEK is for %s, want %s", v.Product, pl)
	}
	return checkVCEKBinding(v, r)
}

// verifyVCEK parses der and verifies it against roots at now. A verified
// chain is recorded in p for der and roots; validity at now is checked on
// every call.
func verifyVCEK(der []byte, roots *snp.Roots, now time.Time, p *pending) (*snp.VCEK, *snp.Chain, error) {
	if e, ok := p.lookupVCEK(der, roots); ok {
		if err := e.chain.CheckValidity(e.vcek, now); err != nil {
			return nil, nil, fail(CheckCertValidity, err)
		}
		return e.vcek, e.chain, nil
	}
	if p.recording() {
		// A parsed certificate aliases its DER: let a cached one keep
		// only its own copy, not the caller's buffer.
		der = bytes.Clone(der)
	}
	v, err := snp.ParseVCEK(der)
	if err != nil {
		return nil, nil, fail(CheckVCEKFormat, err)
	}
	chain, err := roots.VerifyVCEK(v, now)
	if err != nil {
		if errors.Is(err, snp.ErrValidity) {
			return nil, nil, fail(CheckCertValidity, err)
		}
		return nil, nil, fail(CheckVCEKChain, emulatedVCEK(v, err))
	}
	if err := CheckEmulatedKey(chain); err != nil {
		return nil, nil, err
	}
	if p.recording() {
		p.addVCEK(der, &vcekEntry{roots: roots, vcek: v, chain: chain})
	}
	return v, chain, nil
}

// emulatedVCEK returns err, the chain rejection of v, wrapped with
// ErrEmulatedChain when v is signed by the emulated CVM's fake ASK (its
// issuer names it and its signature verifies with it): the roots that
// rejected it do not trust the emulated chain, and the rejection says why.
func emulatedVCEK(v *snp.VCEK, err error) error {
	c, cerr := fakeamd.Chain()
	if cerr != nil || c.Product != v.Product {
		return err
	}
	// Validity aside (checked after the signatures): only who signed matters here.
	if _, cerr := (*snp.Roots)(nil).Add(c).VerifyVCEK(v, c.ASK.NotBefore); cerr != nil && !errors.Is(cerr, snp.ErrValidity) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrEmulatedChain, err)
}

// CheckEmulatedKey returns the CheckVCEKChain rejection, matching
// ErrEmulatedKey, of a trusted chain c that holds a key of the emulated
// CVM's fake AMD chain (fakeamd.FakeKeyIn) but is not marked Emulated,
// and nil for any other chain: evidence under such a chain would verify
// with claims that do not say emulated, and with any paravisor ID key
// digest the forger writes. The Verifier (and ValidateVCEK) applies it to
// the chain that verified each VCEK or VLEK; code that validates a VCEK
// against snp.Roots itself should too.
func CheckEmulatedKey(c *snp.Chain) error {
	if c.Emulated {
		return nil
	}
	if which := fakeamd.FakeKeyIn(c); which != "" {
		return fail(CheckVCEKChain, fmt.Errorf("%w: the %s of the %s chain %q holds a key of the emulated CVM's fake AMD chain, whose private keys are public; trust the emulated chain only as itself (fakeamd.Chain, --trust-emulated), so that its claims say emulated",
			ErrEmulatedKey, which, c.Product, format.Truncate(c.Source, 64)))
	}
	return nil
}

// verifyReportSignature checks the report's signature with v. A success is
// recorded in p for the report's bytes and v (by identity: the cache's
// VCEK entries keep one *snp.VCEK per certificate); nil p caches nothing.
func verifyReportSignature(r *snp.Report, v *snp.VCEK, p *pending) error {
	if p.recording() {
		if _, ok := p.c.reports.get(r.Raw, func(by weak.Pointer[snp.VCEK]) bool { return by.Value() == v }); ok {
			return nil
		}
	}
	if err := v.VerifyReportSignature(r); err != nil {
		return fail(CheckReportSignature, err)
	}
	p.addReport(r.Raw, v)
	return nil
}

// checkReportPolicy judges the signed report's fields: VMPL (at most
// maxVMPL), guest policy, TCBs and the policy's requirements.
func checkReportPolicy(claims *Claims, r *snp.Report, p snp.Product, pol *Policy, maxVMPL uint32) error {
	if r.VMPL > maxVMPL {
		if maxVMPL == 0 {
			return failf(CheckVMPL, "report requested at VMPL %d, want 0", r.VMPL)
		}
		return failf(CheckVMPL, "report requested at VMPL %d; the policy accepts VMPL %d at most (vmpl)", r.VMPL, maxVMPL)
	}
	if r.Debug() && !pol.AllowDebug {
		return failf(CheckDebug, "guest policy 0x%x allows debugging", r.Policy)
	}
	if r.Policy&snp.PolicyMigrateMA != 0 && !pol.AllowMigrationAgent {
		return failf(CheckGuestPolicy, "guest policy 0x%x allows a migration agent", r.Policy)
	}
	if pol.DenySMT && r.SMT() {
		return failf(CheckGuestPolicy, "guest policy 0x%x allows SMT, which the policy forbids", r.Policy)
	}
	if l, _ := snp.ReportVersionLayout(r.Version); !l.TCBs && !pol.AllowUncommittedTCB {
		// Policy default: a version 1 report has no COMMITTED_TCB to compare.
		return failf(CheckCommittedTCB, "report version %d carries no committed TCB (AMD's ABI added it in version 2); allow_uncommitted_tcb accepts it", r.Version)
	}
	if r.ReportedTCB != r.CommittedTCB && !pol.AllowUncommittedTCB {
		return failf(CheckCommittedTCB, "reported TCB %s differs from committed TCB %s", claims.ReportedTCB, claims.CommittedTCB)
	}
	if len(pol.Products) > 0 && !slices.Contains(pol.Products, string(p)) {
		return failf(CheckProduct, "product line %s is not allowed by policy", p)
	}
	if pol.MinTCB != nil && !claims.ReportedTCB.AtLeast(*pol.MinTCB) {
		return failf(CheckMinTCB, "reported TCB %s is below the policy minimum %s", claims.ReportedTCB, *pol.MinTCB)
	}
	if err := checkMinLaunchTCB(claims, r, pol); err != nil {
		return err
	}
	if len(pol.Measurements) > 0 {
		ok := false
		for _, m := range pol.Measurements {
			if subtle.ConstantTimeCompare(m, r.Measurement[:]) == 1 {
				ok = true
			}
		}
		if !ok {
			return failf(CheckMeasurement, "measurement %x is not allowed by policy", r.Measurement[:])
		}
	}
	return nil
}

// checkMinLaunchTCB checks the policy's min_launch_tcb against the
// report's LAUNCH_TCB, which a version 1 report does not carry.
func checkMinLaunchTCB(claims *Claims, r *snp.Report, pol *Policy) error {
	if pol.MinLaunchTCB == nil || claims.LaunchTCB.AtLeast(*pol.MinLaunchTCB) {
		return nil
	}
	if l, _ := snp.ReportVersionLayout(r.Version); !l.TCBs {
		return failf(CheckMinLaunchTCB, "report version %d carries no launch TCB (AMD's ABI added it in version 2), so it cannot meet the policy minimum %s", r.Version, *pol.MinLaunchTCB)
	}
	return failf(CheckMinLaunchTCB, "launch TCB %s (the firmware the guest was launched under) is below the policy minimum %s", claims.LaunchTCB, *pol.MinLaunchTCB)
}

func verifyQuote(claims *Claims, q *quote.Quote, ak *quote.AK, nonce []byte, opts *Config) error {
	a, err := quote.Parse(q.Message)
	if err != nil {
		return fail(CheckQuoteFormat, err)
	}
	if err := ak.VerifySignature(q.Message, q.Signature); err != nil {
		return fail(CheckQuoteSignature, err)
	}
	if len(nonce) > 0 {
		if err := a.CheckNonce(nonce); err != nil {
			return fail(CheckNonce, err)
		}
		claims.NonceChecked = true
	}
	claims.fillQuote(a)
	// Copies: the claims must not alias the caller's evidence.
	claims.Nonce = bytes.Clone(a.ExtraData)
	if q.PCRs == nil {
		// Older evidence: message and signature only. The values are
		// unknown; the signed selection and digest are reported.
		claims.PCRValues = PCRValuesAbsent
		return nil
	}
	selected, err := a.CheckPCRs(q.PCRs)
	if err != nil {
		if errors.Is(err, quote.ErrPCRDigest) {
			return fail(CheckPCRDigest, err)
		}
		return fail(CheckQuoteFormat, err)
	}
	claims.PCRValues = PCRValuesPresent
	claims.PCRs = make(map[int]HexBytes, len(selected))
	// One backing array for the copies; each value's capacity ends at its
	// own bytes, so appending to one never writes into the next.
	n := 0
	for _, i := range selected {
		n += len(q.PCRs[i])
	}
	backing := make([]byte, 0, n)
	for _, i := range selected {
		start := len(backing)
		backing = append(backing, q.PCRs[i]...)
		claims.PCRs[i] = backing[start:len(backing):len(backing)]
	}
	return nil
}

// checkUserData checks that the runtime data's user-data is exactly what
// the attester wrote to request the report: the quoted nonce (the quote's
// extraData, quote.ExpectedExtraData of the verifier's nonce) zero-padded to
// hcl.UserDataSize bytes. All 64 bytes are compared, in constant time, so
// that no byte of the attacker's choice rides along.
func checkUserData(userData, quotedNonce []byte) error {
	if userData == nil {
		return failf(CheckUserData, "the runtime data carries no user-data")
	}
	if len(userData) != hcl.UserDataSize {
		return failf(CheckUserData, "user-data is %d bytes, want %d", len(userData), hcl.UserDataSize)
	}
	if len(quotedNonce) == 0 || len(quotedNonce) > hcl.UserDataSize {
		return failf(CheckUserData, "the nonce (%d bytes) cannot be carried in %d bytes of user-data", len(quotedNonce), hcl.UserDataSize)
	}
	want := make([]byte, hcl.UserDataSize)
	copy(want, quotedNonce)
	if subtle.ConstantTimeCompare(userData, want) != 1 {
		return failf(CheckUserData, "user-data is not the quoted nonce zero-padded to %d bytes", hcl.UserDataSize)
	}
	return nil
}
