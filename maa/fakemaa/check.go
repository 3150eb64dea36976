package fakemaa

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// AttestedPCRs are the PCRs the quote and the ephemeral key must cover.
var attestedPCRs = [...]int{0, 1, 2, 3, 4, 5, 6, 7}

// Rejection is the fake MAA's answer to a request it does not accept: the
// check that failed and why. It is returned as HTTP 400.
type Rejection struct {
	// Check names the failed check: "protocol", "isolation-evidence",
	// "aik", "pcr-quote", "ephemeral-key", "tcg-log".
	Check string
	// Reason says why.
	Reason string
}

// Error returns "fake MAA: <check>: <reason>".
func (r *Rejection) Error() string { return "fake MAA: " + r.Check + ": " + r.Reason }

func reject(check, format string, args ...any) error {
	return &Rejection{Check: check, Reason: fmt.Sprintf(format, args...)}
}

// checked is what a request proved.
type checked struct {
	ev         *verify.Claims
	reportID   []byte // the verified SNP report's REPORT_ID (nil on TDX)
	encKey     *rsa.PublicKey
	secureBoot bool
	nonce      string
	hasNonce   bool
}

// check verifies a request: the SNP report through the Verifier, the AK
// against the report's runtime data, the quote of PCRs 0-7, the
// ephemeral key's certification and PolicyPCR digest, the TCG log.
func (s *Service) check(ctx context.Context, a *maa.AttestationInfo) (*checked, error) {
	if a.AttestationProtocolVersion != maa.ProtocolVersion ||
		(a.IsolationInfo.Type != maa.IsolationSEVSNP && a.IsolationInfo.Type != maa.IsolationTDX) {
		return nil, reject("protocol", "AttestationProtocolVersion %.16q and isolation type %.16q: want %q and %q or %q",
			a.AttestationProtocolVersion, a.IsolationInfo.Type, maa.ProtocolVersion, maa.IsolationSEVSNP, maa.IsolationTDX)
	}
	c := &checked{}
	c.nonce, c.hasNonce = a.ClientPayload["nonce"]
	var err error
	if a.IsolationInfo.Type == maa.IsolationTDX {
		c.ev, err = s.checkTDX(ctx, a)
	} else {
		c.ev, c.reportID, err = s.checkIsolation(ctx, a)
	}
	if err != nil {
		return nil, err
	}
	ak, err := checkAK(a.TpmInfo.AikPub, c.ev)
	if err != nil {
		return nil, err
	}
	if err := checkAikCert(a.TpmInfo.AikCert, ak); err != nil {
		return nil, err
	}
	pcrs, err := checkQuote(&a.TpmInfo, ak, c)
	if err != nil {
		return nil, err
	}
	if c.encKey, err = checkEncKey(&a.TpmInfo, ak, pcrs); err != nil {
		return nil, err
	}
	if c.secureBoot, err = checkLog(a.TcgLogs, pcrs); err != nil {
		return nil, err
	}
	return c, nil
}

// checkIsolation rebuilds the HCL report from the SNP report and the
// runtime data and verifies it with the Verifier: the VCEK chain, the
// signature, the policy, the paravisor and REPORT_DATA = SHA-256(runtime
// data); it returns the claims and the report's REPORT_ID.
func (s *Service) checkIsolation(ctx context.Context, a *maa.AttestationInfo) (*verify.Claims, []byte, error) {
	report, chain, err := a.SNPProof()
	if err != nil {
		return nil, nil, reject("isolation-evidence", "%v", err)
	}
	block, _ := pem.Decode(chain)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, reject("isolation-evidence", "VcekCertChain does not start with a PEM certificate (the VCEK)")
	}
	if len(report) != hcl.SNPReportSize || len(a.IsolationInfo.Evidence.RunTimeData) == 0 {
		return nil, nil, reject("isolation-evidence", "a %d-byte SNP report and %d bytes of runtime data: want %d and some",
			len(report), len(a.IsolationInfo.Evidence.RunTimeData), hcl.SNPReportSize)
	}
	blob, err := hcl.Build(hcl.ReportTypeSNP, report, a.IsolationInfo.Evidence.RunTimeData, 0)
	if err != nil {
		return nil, nil, reject("isolation-evidence", "%v", err)
	}
	ev, err := s.cfg.Verifier.Report(ctx, blob, block.Bytes)
	if err != nil {
		return nil, nil, reject("isolation-evidence", "the SNP report does not verify: %v", err)
	}
	return ev, bytes.Clone(report[snp.OffsetReportID : snp.OffsetReportID+32]), nil
}

// checkTDX verifies the TD quote through the Verifier (Intel's chain, or
// the emulated one when the Verifier trusts it; DEBUG; MRTD a trusted
// paravisor) and requires its REPORTDATA to bind the runtime data as the
// paravisor does: SHA-256(runtime data) then 32 zero bytes. The claims
// get the runtime data's AK and VM configuration.
func (s *Service) checkTDX(ctx context.Context, a *maa.AttestationInfo) (*verify.Claims, error) {
	rt := a.IsolationInfo.Evidence.RunTimeData
	if len(a.IsolationInfo.Evidence.Proof) == 0 || len(rt) == 0 {
		return nil, reject("isolation-evidence", "a TD quote (Proof) and runtime data are required")
	}
	ev, err := s.cfg.Verifier.TDXReport(ctx, nil, a.IsolationInfo.Evidence.Proof)
	if err != nil {
		return nil, reject("isolation-evidence", "the TD quote does not verify: %v", err)
	}
	want := sha256.Sum256(rt)
	if len(ev.ReportData) != hcl.ReportDataSize || !bytes.Equal(ev.ReportData[:32], want[:]) || !format.AllZero(ev.ReportData[32:]) {
		return nil, reject("isolation-evidence", "the TD quote's REPORTDATA is not SHA-256(runtime data) and zeros")
	}
	rd, err := hcl.ParseRuntimeData(rt)
	if err != nil {
		return nil, reject("isolation-evidence", "the runtime data: %v", err)
	}
	ak, err := rd.AK()
	if err != nil || rd.VMConfig == nil {
		return nil, reject("isolation-evidence", "the runtime data has no HCLAkPub or vm-configuration")
	}
	if ev.AKPublic, err = x509.MarshalPKIXPublicKey(ak); err != nil {
		return nil, err
	}
	vc := *rd.VMConfig
	ev.VMConfig = &vc
	return ev, nil
}

// checkAikCert requires the AK certificate, when sent, to certify the AK:
// a DER X.509 certificate whose public key is the AK's. (Its issuer is
// not checked: the real service knows Azure's vTPM CA, the fake one does
// not trust the emulated CA any more than the AK itself.)
func checkAikCert(der []byte, ak *rsa.PublicKey) error {
	if len(der) == 0 {
		return nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return reject("aik", "AikCert is not a DER X.509 certificate: %v", err)
	}
	if !ak.Equal(cert.PublicKey) {
		return reject("aik", "AikCert certifies another key than the AK (AikPub)")
	}
	return nil
}

// checkAK requires AikPub to be the HCL report's HCLAkPub: the key that
// signs the quote is the one the hardware report vouches for.
func checkAK(aikPub []byte, ev *verify.Claims) (*rsa.PublicKey, error) {
	p, err := vtpm.ParsePublic(aikPub)
	if err != nil {
		return nil, reject("aik", "AikPub: %v", err)
	}
	if !p.Area.ObjectAttributes.Restricted || !p.Area.ObjectAttributes.SignEncrypt || !p.Area.ObjectAttributes.FixedTPM {
		return nil, reject("aik", "AikPub is not a restricted fixedTPM signing key")
	}
	ours, err := x509.ParsePKIXPublicKey(ev.AKPublic)
	if err != nil || !p.Key.Equal(ours) {
		return nil, reject("aik", "AikPub is not the HCLAkPub of the SNP report's runtime data (another VM or vTPM)")
	}
	return p.Key, nil
}

// checkQuote verifies the quote: AK signature, exactly SHA-256 PCRs 0-7,
// the PCR values' digest, and the nonce as qualifying data. It returns the
// PCR values (index i = PCR i).
func checkQuote(t *maa.TPMInfo, ak *rsa.PublicKey, c *checked) ([][]byte, error) {
	if err := quote.VerifySignature(ak, t.PcrQuote, t.PcrSignature); err != nil {
		return nil, reject("pcr-quote", "the PCR quote is not signed by the AK: %v", err)
	}
	att, err := quote.Parse(t.PcrQuote)
	if err != nil {
		return nil, reject("pcr-quote", "%v", err)
	}
	sel := att.Selection
	if len(sel) != 1 || sel[0].Hash != quote.AlgSHA256 || fmt.Sprint(sel[0].PCRs) != fmt.Sprint(attestedPCRs[:]) ||
		fmt.Sprint(t.PcrSet) != fmt.Sprint(attestedPCRs[:]) {
		return nil, reject("pcr-quote", "the quote must select exactly SHA-256 PCRs 0-7 (and PcrSet say so)")
	}
	pcrs := make([][]byte, len(attestedPCRs))
	for _, p := range t.PCRs {
		if p.Index >= len(pcrs) || pcrs[p.Index] != nil || len(p.Digest) != 32 {
			return nil, reject("pcr-quote", "PCRs: index %d repeated, out of 0-7 or not a SHA-256 value", p.Index)
		}
		pcrs[p.Index] = p.Digest
	}
	if _, err := att.CheckPCRs(pcrs); err != nil {
		return nil, reject("pcr-quote", "the PCR values do not match the quoted digest: %v", err)
	}
	var nonce []byte
	if c.hasNonce {
		if nonce, err = format.Base64(base64.StdEncoding, c.nonce); err != nil || len(nonce) == 0 {
			return nil, reject("pcr-quote", "the client payload's nonce is not standard base64")
		}
	}
	if err := att.CheckNonce(nonce); err != nil {
		return nil, reject("pcr-quote", "the quote's qualifying data is not the client payload's nonce: %v", err)
	}
	return pcrs, nil
}

// checkEncKey verifies the ephemeral key: certified by the AK (TPM2_Certify
// of exactly this public area), decrypt-only, usable only through
// PolicyPCR over PCRs 0-7 at the quoted values.
func checkEncKey(t *maa.TPMInfo, ak *rsa.PublicKey, pcrs [][]byte) (*rsa.PublicKey, error) {
	p, err := vtpm.ParsePublic(t.EncKeyPub)
	if err != nil {
		return nil, reject("ephemeral-key", "EncKeyPub: %v", err)
	}
	if err := quote.VerifySignature(ak, t.EncKeyCertifyInfo, t.EncKeyCertifyInfoSignature); err != nil {
		return nil, reject("ephemeral-key", "the key's certification is not signed by the AK: %v", err)
	}
	ci, err := vtpm.ParseCertifyInfo(t.EncKeyCertifyInfo)
	if err != nil {
		return nil, reject("ephemeral-key", "EncKeyCertifyInfo: %v", err)
	}
	if !bytes.Equal(ci.Name, p.Name) {
		return nil, reject("ephemeral-key", "the AK certified another key than EncKeyPub (names differ)")
	}
	at := p.Area.ObjectAttributes
	if !at.Decrypt || at.SignEncrypt || at.Restricted || !at.FixedTPM || at.UserWithAuth {
		return nil, reject("ephemeral-key", "EncKeyPub must be a fixedTPM decrypt-only key usable only through its policy")
	}
	want, err := vtpm.PCRPolicyDigest(attestedPCRs[:], pcrs)
	if err != nil {
		return nil, reject("ephemeral-key", "%v", err)
	}
	if !bytes.Equal(p.Area.AuthPolicy.Buffer, want) {
		return nil, reject("ephemeral-key", "the key's authPolicy is not PolicyPCR over PCRs 0-7 at the quoted values")
	}
	return p.Key, nil
}

// checkLog replays the TCG log against the quoted PCRs 0-7 and returns the
// Secure Boot state it measured into PCR 7.
func checkLog(log []byte, pcrs [][]byte) (bool, error) {
	if len(log) == 0 {
		return false, reject("tcg-log", "TcgLogs is empty")
	}
	quoted := make(map[int][]byte, len(pcrs))
	for i, v := range pcrs {
		quoted[i] = v
	}
	res, err := eventlog.Replay(log, quoted)
	if err != nil {
		return false, reject("tcg-log", "%v", err)
	}
	for i := range pcrs {
		if st := res.Status(i); st == eventlog.Mismatch {
			return false, reject("tcg-log", "the TCG log does not replay to quoted PCR %d", i)
		}
	}
	if res.Status(7) != eventlog.Replayed || res.State.SecureBoot == nil {
		return false, reject("tcg-log", "the TCG log does not measure the Secure Boot state into PCR 7")
	}
	return *res.State.SecureBoot, nil
}
