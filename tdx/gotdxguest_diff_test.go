package tdx_test

// Differential tests of this package's TD quote handling (and tdx/pcs's
// evaluation of Intel's collateral) against github.com/google/go-tdx-guest
// at the version in go.mod. It is a test-only dependency: the release
// binary links none of its packages (`go list -deps ./cmd/snp-vtpm`).
//
// Every quote is run through both sides: the real TD quotes of testdata/
// as found (under Intel's pinned root, with Intel's collateral where
// testdata/ has it), and the real and synthetic quotes (internal/tdxtest,
// emulator/fakeintel) re-signed under a self-made Intel-like chain that
// both sides are told to trust (with Intel's documents re-signed under it
// as collateral), mutated. Each side's verdict is compared stage by stage:
//
//   - parse: tdx.ParseQuote vs abi.QuoteToProto;
//   - pck-chain: Quote.VerifyChain vs verify.TdxQuote's chain extraction,
//     PCK extensions and chain checks;
//   - qe-report-signature, qe-report-data (SHA-256 of the attestation key
//     and QE auth data), quote-signature: Quote.VerifySigned vs the same
//     steps of verify.TdxQuote;
//   - with collateral: collateral (signatures, windows, FMSPC), revocation,
//     tcb (platform and TDX module status), qe-identity-collateral (the QE
//     identity and its status): pcs.Collateral.Evaluate vs verify.TdxQuote
//     with GetCollateral and CheckRevocations, a status other than UpToDate
//     counting as a rejection on both sides;
//   - fields, where both parse: every field of the quote.
//
// Two stages of ours have no counterpart (qe-identity: the QE report is
// Intel's TD QE, not in debug mode; tdx-module: the body names Intel's
// production TDX module), and the stages run in another order on each
// side, so a stage is compared only where both sides reached it. A
// disagreement must be one of the documented differences (reasons below):
// a rule of ours that is stricter on purpose, one of go-tdx-guest that is
// stricter than ours, or a go-tdx-guest bug. Anything else fails.

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// The documented differences. Each names who is stricter and why, and
// where the rule is.
const (
	// go-tdx-guest (this version) reads quote version 4 only
	// (abi.QuoteToProto: "quote format not supported"); we read version 5
	// too, with a TDX 1.0 or 1.5 body (tdx.QuoteVersion5, readBodyDescriptor),
	// which Azure produces (testdata/azure-cvm-attestation-tools/td-quote-v5.bin).
	// Ours is the broader support, not a weaker check.
	reasonV5 = "quote-v5"
	// We require the header's QE vendor id to be Intel's (readHeader,
	// intelQEVendorID): the only QE whose reports we can judge.
	// go-tdx-guest does not look at it.
	reasonQEVendorID = "qe-vendor-id"
	// We require the bytes after the signed data to be zeros, as Azure
	// IMDS appends them (ParseQuote); go-tdx-guest keeps any bytes there
	// (QuoteV4.ExtraBytes).
	reasonTrailing = "trailing-bytes"
	// We refuse a quote blob above tdx.MaxQuoteSize (64 KiB; real ones are
	// about 5 KiB) before reading it; go-tdx-guest reads any size.
	reasonTooLarge = "too-large"
	// An empty PCK certification data (size 0): we reject it at parse
	// (certData: format.ErrEmpty), go-tdx-guest when it reads the chain.
	reasonEmptyPCKData = "empty-pck-data"
	// go-tdx-guest BUG (noted, not worked around): abi.QuoteToProto panics
	// (slice bounds out of range) when the signed data, the certification
	// data, the QE report certification data or the PCK certification data
	// is shorter than its fixed part, or the QE auth data size points past
	// the data: its parsers slice before checking lengths. We reject these
	// at parse (format.ErrTruncated, ErrExceedsBlob, ErrSizeMismatch).
	reasonTheirPanic = "go-tdx-guest-panics"
	// Our PCK chain is PEM and nothing else: only whitespace and NUL
	// padding before, between and after the blocks, no PEM headers
	// (PEMChain.SplitPEM, pckChain). go-tdx-guest uses encoding/pem, which
	// skips text before a block and accepts headers.
	reasonPEMStrict = "pem-strict"
	// After the last PEM block we accept whitespace and NUL padding
	// (pckChain's Padding); go-tdx-guest accepts nothing but one NUL byte
	// (extractChainFromQuoteV4: "unexpected trailing bytes"). Ours is the
	// broader reading of bytes that carry nothing.
	reasonChainPadding = "chain-padding"
	// A chain of the PCK and its CA without the root: we verify it under
	// the pinned root (PCKCertificates: "optionally the root"),
	// go-tdx-guest requires three certificates (ErrPCKCertChainInvalid).
	reasonChainNoRoot = "chain-without-root"
	// The chain's root must be the pinned root byte for byte (VerifyChain);
	// go-tdx-guest checks that it is a self-signed "Intel SGX Root CA" that
	// signed the CA and then verifies the chain under its trusted roots, so
	// it accepts another certificate of the root's key (a re-issued root).
	reasonRootBytes = "root-bytes"
	// A PCK issued by the "Intel SGX PCK Processor CA": we accept it as we
	// accept the Platform CA (verifyPCKChain), as Intel issues PCKs from
	// both; go-tdx-guest's chain check names the Platform CA only
	// (validateCertificate with intermediateCertPhrase), although its
	// collateral code knows the processor CA's CRL. A go-tdx-guest
	// limitation.
	reasonProcessorCA = "processor-ca"
	// go-tdx-guest requires Intel's PCK profile: exactly six certificate
	// extensions and at least four SGX extension entries
	// (pcs.PckCertificateExtensions); we read the SGX extension's FMSPC,
	// PCE-ID and TCB and nothing else (ParsePCKExtensions).
	reasonPCKProfile = "pck-profile"
	// go-tdx-guest requires the root to be named "Intel SGX Root CA"
	// (validateCertificate with rootCertPhrase); we trust the configured
	// root whatever its name (VerifyOptions.Root: the emulator's root,
	// which says it is not Intel's).
	reasonRootCN = "root-cn"
	// The QE report must be Intel's TD quoting enclave, not in debug mode,
	// offline (checkQEIdentity: MRSIGNER, ISVPRODID, DEBUG);
	// go-tdx-guest checks the QE only against Intel's QE identity, with
	// collateral.
	reasonQEIdentityOffline = "qe-identity-offline"
	// The signed body must name Intel's production TDX module, offline
	// (Body.CheckTDXModule: MRSIGNERSEAM and SEAMATTRIBUTES zero);
	// go-tdx-guest checks them only against the TCB info, with collateral.
	reasonTDXModuleOffline = "tdx-module-offline"
	// go-tdx-guest BUG (noted, not worked around): when TEE_TCB_SVN[1] > 0
	// its TCB status is the TDX module identity's level alone
	// (readTcbInfoTcbStatus returns the module level in place of the
	// platform level), so a platform below UpToDate with an up-to-date
	// module passes. Intel's rule, ours (tdx/pcs converge), folds the
	// module's status into the platform's.
	reasonModuleOverridesPlatform = "module-status-overrides-platform"
	// go-tdx-guest BUG (latent, noted): it names the TDX module identity
	// "TDX_" + lower-case hex of TEE_TCB_SVN[1] and compares it with the
	// TCB info's ids byte for byte (getMatchingTdxModuleTcbLevel); Intel
	// writes them in upper case ("TDX_01", "TDX_03"), so a module version
	// written with a hex letter (0x0A, 0x1B, ...) would find no identity. We compare
	// without case (tdx/pcs moduleLevel). No Intel TCB info lists such a
	// version yet: shown with Intel's document edited
	// (TestGoTDXGuestModuleIDCase).
	reasonModuleIDCase = "module-id-case"
	// We require every collateral document and CRL to be issued by the
	// verification time (tdx/pcs window: issueDate or thisUpdate <= now <=
	// nextUpdate); go-tdx-guest checks only the next update.
	reasonNotYetValid = "collateral-not-yet-valid"
)

// allowed lists, per stage and direction, the documented differences that
// may explain a disagreement there.
var allowed = map[string][]string{
	"parse: go-tdx-guest panics":           {reasonTheirPanic},
	"parse: only we reject":                {reasonQEVendorID, reasonTrailing, reasonTooLarge, reasonEmptyPCKData},
	"parse: only go-tdx-guest rejects":     {reasonV5},
	"pck-chain: only we reject":            {reasonPEMStrict, reasonRootBytes},
	"pck-chain: only go-tdx-guest rejects": {reasonPCKProfile, reasonProcessorCA, reasonChainNoRoot, reasonChainPadding, reasonRootCN},
	"qe-identity: only we reject":          {reasonQEIdentityOffline},
	"tdx-module: only we reject":           {reasonTDXModuleOffline},
	"tcb: only we reject":                  {reasonModuleOverridesPlatform},
	"tcb: only go-tdx-guest rejects":       {reasonModuleIDCase},
	"collateral: only we reject":           {reasonNotYetValid},
}

// stage is a step of either side's verification.
type stage string

const (
	stParse      stage = "parse"
	stChain      stage = "pck-chain"
	stQESig      stage = "qe-report-signature"
	stQEIdentity stage = "qe-identity" // ours only
	stQEData     stage = "qe-report-data"
	stQuoteSig   stage = "quote-signature"
	stTDXModule  stage = "tdx-module" // ours only
	stCollateral stage = "collateral"
	stRevocation stage = "revocation"
	stTCB        stage = "tcb"
	stQEColl     stage = "qe-identity-collateral"
)

// The order in which each side runs its stages (the collateral stages
// only with collateral), and the stages both have.
var (
	ourOrder     = []stage{stParse, stChain, stQESig, stQEIdentity, stQEData, stQuoteSig, stTDXModule, stCollateral, stRevocation, stTCB, stQEColl}
	theirOrder   = []stage{stParse, stChain, stRevocation, stCollateral, stQuoteSig, stQESig, stQEData, stTCB, stQEColl}
	commonStages = []stage{stParse, stChain, stQESig, stQEData, stQuoteSig, stCollateral, stRevocation, stTCB, stQEColl}
	collStages   = []stage{stCollateral, stRevocation, stTCB, stQEColl}
)

// outcome is one side's verdict: the stage that failed (empty: accepted)
// and its error, among the stages it runs in order.
type outcome struct {
	failed stage
	err    error
	order  []stage
	// skipped are stages before the failed one that were not judged.
	skipped []stage
	// result is ours with collateral, once Evaluate returned one.
	result *pcs.Result
}

func (o outcome) accepted() bool { return o.failed == "" }

// stageState is a stage's state in an outcome.
type stageState int

const (
	passed stageState = iota
	failed
	notReached // after the failed stage, or not a stage of this side
)

func (o outcome) state(s stage) stageState {
	i := slices.Index(o.order, s)
	switch f := slices.Index(o.order, o.failed); {
	case i < 0 || (f >= 0 && i > f) || slices.Contains(o.skipped, s):
		return notReached
	case i == f:
		return failed
	}
	return passed
}

// stagesFor are the stages of order that run with collateral or without.
func stagesFor(order []stage, coll bool) []stage {
	if coll {
		return order
	}
	return slices.DeleteFunc(slices.Clone(order), func(s stage) bool { return slices.Contains(collStages, s) })
}

// ours runs this package (and tdx/pcs with collateral) on b.
func ours(b []byte, s *diffSeed, c *collSet) (outcome, *tdx.Quote) {
	o := outcome{order: stagesFor(ourOrder, c != nil)}
	fail := func(st stage, err error) outcome { o.failed, o.err = st, err; return o }
	q, err := tdx.ParseQuote(b)
	if err != nil {
		return fail(stParse, err), nil
	}
	v, err := q.VerifyChain(tdx.VerifyOptions{Now: s.now, Root: s.root})
	if err != nil {
		return fail(stChain, err), q
	}
	if err := q.VerifySigned(v); err != nil {
		return fail(ourSignedStage(err), err), q
	}
	if c == nil {
		return o, q
	}
	r, err := c.ours.Evaluate(q, v, pcs.Options{Now: s.now, Root: s.root})
	o.result = r
	switch {
	case err != nil:
		if st := ourCollateralStage(err); st == stQEColl {
			// Evaluate matches the QE after the platform's and module's
			// levels, but rates their statuses after the QE's.
			o.skipped = []stage{stTCB}
		}
		return fail(ourCollateralStage(err), err), q
	case r.PlatformStatus != pcs.UpToDate || (r.ModuleStatus != "" && r.ModuleStatus != pcs.UpToDate):
		return fail(stTCB, fmt.Errorf("platform %s, TDX module %q", r.PlatformStatus, r.ModuleStatus)), q
	case r.QEStatus != pcs.UpToDate:
		return fail(stQEColl, fmt.Errorf("QE %s", r.QEStatus)), q
	}
	return o, q
}

// stUnclassified marks an error neither stage table knows: the test
// fails on it (a new error of either side must be placed in a stage).
const stUnclassified stage = "unclassified"

func ourSignedStage(err error) stage {
	for _, k := range []struct {
		kind error
		st   stage
	}{{tdx.ErrPCKChain, stChain}, {tdx.ErrQEReportSignature, stQESig}, {tdx.ErrQEIdentity, stQEIdentity},
		{tdx.ErrQEReportData, stQEData}, {tdx.ErrQuoteSignature, stQuoteSig}, {tdx.ErrTDXModule, stTDXModule}} {
		if errors.Is(err, k.kind) {
			return k.st
		}
	}
	return stUnclassified
}

func ourCollateralStage(err error) stage {
	switch {
	case errors.Is(err, pcs.ErrCollateral):
		return stCollateral
	case errors.Is(err, pcs.ErrRevoked):
		return stRevocation
	case errors.Is(err, pcs.ErrQEIdentity), errors.Is(err, pcs.ErrTCBLevel) && strings.Contains(err.Error(), "QE identity level"):
		return stQEColl
	case errors.Is(err, pcs.ErrTCBLevel):
		return stTCB
	}
	return stUnclassified
}

// theirStages places go-tdx-guest's errors (this version's messages) in
// stages; the first match wins.
var theirStages = []struct {
	sub string
	st  stage
}{
	{"QuoteV4 invalid", stParse}, {"unsupported quote type", stParse},
	{"attestation key in the quote is invalid", stQuoteSig}, {"QuoteV4's signature to DER", stQuoteSig},
	{"unable to verify message digest", stQuoteSig},
	{"error verifying QE report signature", stQESig}, {"error verifying QE report data", stQEData},
	{"response verification failed", stCollateral}, {"was revoked", stRevocation},
	{"CRL verification failed", stCollateral}, {"in PCK CRL does not match", stCollateral},
	{"could not verify collaterals", stCollateral}, {"unable to receive", stCollateral},
	{"FMSPC from PCK Certificate", stCollateral}, {"PCEID from PCK Certificate", stCollateral},
	{"tcbInfo ", stCollateral}, {"QeIdentity ", stCollateral},
	{"QE Identity reported by Intel PCS", stQEColl}, {"MISCSELECT", stQEColl},
	{"in Intel PCS's reported QE Identity", stQEColl}, {"ISV PRODID value", stQEColl},
	{"TDX TCB info reported by Intel PCS", stTCB}, {"from TD Quote Body", stTCB}, {"TdxModule.Attributes", stTCB},
	{"PCK certificate chain is empty", stChain}, {"incomplete PCK Certificate chain", stChain},
	{"could not interpret", stChain}, {"trailing bytes were found in PCK Certificate Chain", stChain},
	{"could not get PCK certificate extensions", stChain}, {"could not find CA from PCK certificate", stChain},
	{"unable to validate", stChain}, {"error verifying PCK Certificate", stChain},
	{"in PCK certificate chain has expired", stChain},
}

func theirStage(err error) stage {
	for _, e := range theirStages {
		if strings.Contains(err.Error(), e.sub) {
			return e.st
		}
	}
	return stUnclassified
}

// theirs runs go-tdx-guest on b; a panic is returned apart (the caller
// checks that it is the documented bug).
func theirs(t testing.TB, b []byte, s *diffSeed, c *collSet) (o outcome, p *pb.QuoteV4, panicked error) {
	o = outcome{order: stagesFor(theirOrder, c != nil)}
	defer func() {
		if e := recover(); e != nil {
			o.failed, o.err, panicked = stParse, fmt.Errorf("panic: %v", e), fmt.Errorf("go-tdx-guest panicked: %v", e)
		}
	}()
	parsed, err := abi.QuoteToProto(b)
	if err != nil {
		o.failed, o.err = stParse, err
		return o, nil, nil
	}
	p = parsed.(*pb.QuoteV4)
	roots := x509.NewCertPool()
	roots.AddCert(s.root)
	now := s.now
	opts := tdxverify.Options{TrustedRoots: roots,
		Now: &tdxverify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now}}
	if c != nil {
		opts.GetCollateral, opts.CheckRevocations, opts.Getter = true, true, c
	}
	if err := tdxtest.GoTDXGuestQuote(t, p, opts); err != nil {
		o.failed, o.err = theirStage(err), err
	}
	return o, p, nil
}

// diffResult is the comparison of both sides on one quote.
type diffResult struct {
	ours, theirs outcome
	// explained lists the disagreements with the reason that explains each;
	// unexplained those no documented difference explains.
	explained, unexplained []string
}

// compareQuote runs both sides on b (with collateral c, or none) and
// explains every disagreement.
func compareQuote(t testing.TB, b []byte, s *diffSeed, c *collSet) diffResult {
	t.Helper()
	o, q := ours(b, s, c)
	th, p, panicked := theirs(t, b, s, c)
	res := diffResult{ours: o, theirs: th}
	reasons := diffReasons(b, s, c, o.result)
	explain := func(key, detail string) {
		for _, why := range allowed[key] {
			if reasons[why] {
				res.explained = append(res.explained, key+": "+why)
				return
			}
		}
		res.unexplained = append(res.unexplained, key+" ("+detail+")")
	}
	detail := fmt.Sprintf("ours: %s %v; go-tdx-guest: %s %v", o.failed, o.err, th.failed, th.err)
	if panicked != nil {
		explain("parse: go-tdx-guest panics", panicked.Error())
	}
	if o.failed == stUnclassified || th.failed == stUnclassified {
		res.unexplained = append(res.unexplained, "unclassified error ("+detail+")")
	}
	for _, st := range commonStages {
		we, they := o.state(st), th.state(st)
		if we == notReached || they == notReached || we == they {
			continue
		}
		if we == failed {
			explain(string(st)+": only we reject", detail)
		} else {
			explain(string(st)+": only go-tdx-guest rejects", detail)
		}
	}
	if (o.failed == stQEIdentity || o.failed == stTDXModule) && th.accepted() {
		explain(string(o.failed)+": only we reject", detail)
	}
	if o.accepted() != th.accepted() && len(res.explained)+len(res.unexplained) == 0 {
		res.unexplained = append(res.unexplained, "verdict ("+detail+")")
	}
	if q != nil && p != nil {
		for _, d := range fieldDiffs(q, p) {
			res.unexplained = append(res.unexplained, "field "+d+" differs")
		}
	}
	return res
}

// fieldDiffs returns the names of the fields the two parses of one quote
// disagree on: every field of the header, the body and the signature data.
// go-tdx-guest names header bytes 8..9 PceSvn and 10..11 QeSvn, the other
// way round from Intel's header (QE_SVN first; ours: Header.QESVN): the
// bytes are compared where they are (TestGoTDXGuestHeaderSVNNames).
func fieldDiffs(q *tdx.Quote, p *pb.QuoteV4) []string {
	le := binary.LittleEndian
	h, ph := q.Header, p.GetHeader()
	qeReport, _ := abi.EnclaveReportToAbiBytes(p.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeReport())
	qc := p.GetSignedData().GetCertificationData().GetQeReportCertificationData()
	fields := []struct {
		name      string
		got, want []byte
	}{
		{"version", le.AppendUint16(nil, h.Version), le.AppendUint16(nil, uint16(ph.GetVersion()))},
		{"attestation_key_type", le.AppendUint16(nil, h.AttestationKeyType), le.AppendUint16(nil, uint16(ph.GetAttestationKeyType()))},
		{"tee_type", le.AppendUint32(nil, h.TEEType), le.AppendUint32(nil, ph.GetTeeType())},
		{"header[8:10]", le.AppendUint16(nil, h.QESVN), ph.GetPceSvn()}, {"header[10:12]", le.AppendUint16(nil, h.PCESVN), ph.GetQeSvn()},
		{"qe_vendor_id", h.QEVendorID[:], ph.GetQeVendorId()}, {"user_data", h.UserData[:], ph.GetUserData()},
		{"signature", q.Signature[:], p.GetSignedData().GetSignature()},
		{"attestation_key", q.AttestationKey[:], p.GetSignedData().GetEcdsaAttestationKey()},
		{"qe_report", q.QEReport[:], qeReport}, {"qe_report_signature", q.QEReportSignature[:], qc.GetQeReportSignature()},
		{"qe_auth_data", q.QEAuthData, qc.GetQeAuthData().GetData()},
		{"pck_chain", q.PCKChain, qc.GetPckCertificateChainData().GetPckCertChain()},
		{"trailing", make([]byte, q.Trailing), p.GetExtraBytes()},
	}
	fields = append(fields, bodyFields(&q.Body, p.GetTdQuoteBody())...)
	var diffs []string
	for _, f := range fields {
		if !bytes.Equal(f.got, f.want) && (len(f.got) != 0 || len(f.want) != 0) {
			diffs = append(diffs, f.name)
		}
	}
	return diffs
}

// bodyFields pairs every field of our body with go-tdx-guest's.
func bodyFields(b *tdx.Body, pbody *pb.TDQuoteBody) []struct {
	name      string
	got, want []byte
} {
	theirs := [][]byte{pbody.GetTeeTcbSvn(), pbody.GetMrSeam(), pbody.GetMrSignerSeam(), pbody.GetSeamAttributes(),
		pbody.GetTdAttributes(), pbody.GetXfam(), pbody.GetMrTd(), pbody.GetMrConfigId(), pbody.GetMrOwner(),
		pbody.GetMrOwnerConfig()}
	theirs = append(append(theirs, pbody.GetRtmrs()...), pbody.GetReportData())
	var out []struct {
		name      string
		got, want []byte
	}
	for i, f := range b.Fields() {
		var want []byte
		if i < len(theirs) {
			want = theirs[i]
		}
		out = append(out, struct {
			name      string
			got, want []byte
		}{"body." + f.Name, f.Bytes, want})
	}
	return out
}
