package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// maaFlags are the flags of "maa verify".
type maaFlags struct {
	jwks, instance, issuer, evidence string
	jsonOut                          bool
	tok                              maaTokenFlags
	ev                               evidenceFlags
}

// maaTokenFlags are the token checks "maa verify" and "maa attest" let
// the user set: --audience and --max-lifetime.
type maaTokenFlags struct {
	audience    string
	maxLifetime time.Duration
}

// register adds --audience and --max-lifetime to fs.
func (f *maaTokenFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.audience, "audience", "", "the aud the token must name (a custom MAA policy's; default: the token must name none)")
	fs.DurationVar(&f.maxLifetime, "max-lifetime", maa.DefaultMaxLifetime, "the longest validity period (exp - iat, exp - nbf) accepted")
}

// apply sets cfg's Audience and MaxLifetime; a --max-lifetime that is
// not positive is a usage error.
func (f *maaTokenFlags) apply(cfg *maa.Config) error {
	if f.maxLifetime <= 0 {
		return fmt.Errorf("--max-lifetime %s: want a positive duration (default %s)", f.maxLifetime, maa.DefaultMaxLifetime)
	}
	cfg.Audience, cfg.MaxLifetime = f.audience, f.maxLifetime
	return nil
}

func newMAAVerifyCmd(g *globals) *cobra.Command {
	f := new(maaFlags)
	cmd := &cobra.Command{
		Args:  cobra.ExactArgs(1),
		Use:   "verify (--jwks FILE | --instance URL) [flags] TOKEN_FILE",
		Short: "Verify an MAA AzureGuest token (RS256, issuer, lifetime, SEV-SNP or TDX CVM claims, nonce, binding)",
		Long: `Verify a Microsoft Azure Attestation AzureGuest token (a JWT; TOKEN_FILE "-" reads stdin).

The signature must be RS256 (none, HS256 and every other algorithm are rejected) by the key
the header's kid names in the JWKS of --jwks FILE or of --instance URL (GET URL/certs, cached,
refetched once for an unknown kid; --offline fetches nothing, so it needs --jwks); the
token's jku is never followed. iss must equal the
instance URL (or --issuer). A token with an aud (meant for that audience) is rejected unless
--audience names one of its audiences (aud a string, or an array of distinct non-empty
strings; compared exactly), and with --audience a token without it is rejected. exp, nbf and
iat are checked at --at (default now) with 60 s of skew; iat and nbf must be present and the
token valid at most --max-lifetime (exp - iat and exp - nbf; MAA's tokens are valid 8 h).
The claims must describe an SEV-SNP (sevsnpvm, a report of VMPL 0) or Intel TDX (tdxvm)
confidential VM that MAA found azure-compliant-cvm, with secure boot on and every debug claim
off (on TDX tdx_td_attributes_debug false); a Trusted Launch token is rejected.

--nonce TEXT / --nonce-hex HEX: the client payload's nonce must be the standard base64 of these
bytes (Azure's convention: --nonce midnight-srs expects "bWlkbmlnaHQtc3Jz").
--trust-emulated (alone, without --jwks or --instance) accepts the tokens of the emulated MAA
("snp-vtpm --emulate maa attest"): its public test key and issuer ` + maa.EmulatedIssuer + `;
without it such a token is rejected (exit status 2, check maa-key or maa-issuer) whatever keys
are given, also with none; any other token without --jwks or --instance is a usage error (1),
and so is --instance under .invalid (the emulated MAA's host, which never resolves).
--evidence FILE verifies our own evidence (the trust flags, --policy and --at apply; a nonce or
--no-nonce is then required, as for verify) and binds the token to it: HCLAkPub, the VM id,
REPORT_DATA, the launch measurement, the ID key digest and the TCB SVNs must agree; for TDX
evidence the token must be tdxvm and HCLAkPub, the VM id, tdx_report_data (= the TD quote's
REPORTDATA) and tdx_mrtd (= MRTD) must agree. A token of another platform than the evidence's
is rejected.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMAAVerify(cmd.Context(), g, f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.jwks, "jwks", "", "JWKS file of the MAA instance's signing keys (x5c certificates)")
	fs.StringVar(&f.instance, "instance", "", "MAA instance URL, e.g. https://sharedeus2.eus2.attest.azure.net (keys from URL/certs)")
	fs.StringVar(&f.issuer, "issuer", "", "the iss the token must carry (default: --instance)")
	f.tok.register(fs)
	fs.StringVar(&f.evidence, "evidence", "", "our evidence file: verify it and bind the token to it")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	f.ev.register(cmd, g)
	offlineMAAKeys(fs, "--instance", "--jwks")
	fs.Lookup("trust-emulated").Usage = `also accept the emulated MAA's tokens ("--emulate maa attest"; alone, without --jwks or --instance: its public test key is built in) and, for --evidence, trust the emulated CVMs' fake chains and paravisor (testing only)`
	return cmd
}

// newMAACmd is "maa": Microsoft Azure Attestation tokens.
func newMAACmd(g *globals) *cobra.Command {
	return groupCmd("maa", "Microsoft Azure Attestation (MAA) tokens",
		"Microsoft Azure Attestation (MAA): request AzureGuest tokens on a CVM, verify them and bind them to our own evidence.",
		newMAAVerifyCmd(g), newMAAAttestCmd(g))
}

// maaResult is the --json output of a verified token.
type maaResult struct {
	Verified bool   `json:"verified"`
	Issuer   string `json:"issuer"`
	// Platform is the token's isolation TEE: "sevsnpvm" or "tdxvm".
	Platform string `json:"platform"`
	Kid      string `json:"kid"`
	// Emulated is true for a token of the emulated MAA (public test key,
	// --trust-emulated), and for evidence of the emulated CVM: it proves
	// nothing about a VM.
	Emulated     bool           `json:"emulated"`
	NonceChecked bool           `json:"nonce_checked"`
	Bound        bool           `json:"bound_to_evidence"`
	Claims       *maa.Claims    `json:"claims"`
	Evidence     *verify.Claims `json:"evidence,omitempty"`
}

func runMAAVerify(ctx context.Context, g *globals, f *maaFlags, file string) error {
	token, err := readInput(file, g.stdin, verify.Check(maa.CheckFormat))
	if err != nil {
		return err
	}
	if f.jwks == "" && f.instance == "" && !f.ev.trust.trustEmulated {
		if err := emulatedTokenRejection(token); err != nil {
			return f.fail(g, err)
		}
	}
	cfg, err := f.config(g)
	if err != nil {
		return err
	}
	res := &maaResult{Issuer: strings.TrimRight(cfg.Issuer, "/"), NonceChecked: cfg.Nonce != nil}
	if t, err := maa.Parse(token); err == nil {
		res.Kid = t.Header.Kid
	}
	if f.evidence != "" {
		if res.Evidence, err = verifyEvidenceFile(ctx, g, f.evidence, &f.ev, f.jsonOut); err != nil {
			return err
		}
	}
	res.Claims, err = maa.Verify(ctx, token, cfg)
	if err == nil && res.Evidence != nil {
		err = maa.Bind(res.Claims, res.Evidence)
		res.Bound = err == nil
	}
	if err != nil {
		if merr, ok := errors.AsType[*maa.Error](err); ok && merr.Check == maa.CheckNonce {
			if hint := f.ev.nonce.maaNonceHint(token); hint != "" {
				g.log.Warn(hint)
			}
		} else if ok && (merr.Check == maa.CheckFormat || merr.Check == maa.CheckAlg) {
			g.warnOtherKind(token, kindMAAToken, file)
		}
		return f.fail(g, err)
	}
	res.Verified, res.Platform = true, res.Claims.Platform()
	res.Emulated = res.Claims.Emulated() || (res.Evidence != nil && res.Evidence.Emulated)
	if f.jsonOut {
		return writeJSON(g.stdout, res)
	}
	printMAA(g.stdout, res, f)
	return nil
}

// fail turns a maa error into the CLI's: a rejection exits 2 (and is
// printed as JSON with --json), an unavailable JWKS exits 1.
func (f *maaFlags) fail(g *globals, err error) error {
	merr, ok := errors.AsType[*maa.Error](err)
	if !ok || !errors.Is(err, maa.ErrRejected) {
		return err
	}
	return rejectedCheck(g, f.jsonOut, string(merr.Check), merr.Err, err)
}

// emulatedTokenRejection rejects a token that is recognisably the emulated
// MAA's (the header names the emulated key's kid, or iss is
// maa.EmulatedIssuer): without --trust-emulated it is rejected whatever
// keys are given, so asking for --jwks or --instance would mislead. It
// returns nil for any other token (also one that does not parse: the
// usage error about the missing key source comes first).
func emulatedTokenRejection(token []byte) error {
	t, err := maa.Parse(token)
	if err != nil {
		return nil
	}
	if t.Header.Kid == maa.EmulatedKid() {
		return &maa.Error{Check: maa.CheckKey, Err: maa.ErrEmulated}
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(t.Payload, &c) == nil && c.Issuer == maa.EmulatedIssuer {
		return &maa.Error{Check: maa.CheckIssuer, Err: maa.ErrEmulated}
	}
	return nil
}

// checkEmulatedInstance refuses an MAA --instance under the reserved
// .invalid top-level domain (verify.InvalidTLDHost; the emulated MAA's,
// maa.EmulatedIssuer), which never resolves: its keys or a token would be
// fetched through a DNS lookup bound to fail (exit 1 after the timeout and
// retries). The usage error names the emulated MAA and ends with next:
// how this command reaches it (see the next* constants). "maa verify"
// and "maa attest" call it, after checkBaseURL.
func checkEmulatedInstance(instance, next string) error {
	u, err := url.Parse(instance)
	if err != nil || !verify.InvalidTLDHost(u.Hostname()) {
		return nil // a URL that does not parse: checkBaseURL refused it
	}
	return fmt.Errorf("--instance %.100q: a host under .invalid never resolves; it is the emulated MAA's (%s), %s", instance, maa.EmulatedIssuer, next)
}

// The endings of checkEmulatedInstance's error: "maa verify" with and
// without --trust-emulated, and "maa attest".
const (
	nextVerifyTrusted = "whose key is built in: give --trust-emulated alone, without --instance"
	nextVerify        = "whose tokens are signed with a public test key: only --trust-emulated (alone, without --instance) accepts them, for testing"
	nextAttest        = `which answers on loopback under --emulate: run "snp-vtpm --emulate maa attest" without --instance (its tokens, signed with a public test key, are for testing)`
)

// config builds the maa.Config from the flags.
func (f *maaFlags) config(g *globals) (maa.Config, error) {
	var cfg maa.Config
	cfg.TrustEmulated = f.ev.trust.trustEmulated
	switch {
	case f.jwks == "" && f.instance == "" && cfg.TrustEmulated:
		ks, err := maa.EmulatedKeys()
		if err != nil {
			return cfg, err
		}
		cfg.Keys, cfg.Issuer = ks, maa.EmulatedIssuer
	case (f.jwks == "") == (f.instance == ""):
		return cfg, errors.New("give --jwks FILE or --instance URL (exactly one; --trust-emulated alone: the emulated MAA's key)")
	default:
		if f.jwks == "" {
			if err := checkBaseURL("--instance", f.instance, "https://sharedeus2.eus2.attest.azure.net", false); err != nil {
				return cfg, err
			}
			next := nextVerify
			if cfg.TrustEmulated {
				next = nextVerifyTrusted
			}
			if err := checkEmulatedInstance(f.instance, next); err != nil {
				return cfg, err
			}
		}
		keys, err := maaKeys(g, "--jwks", f.jwks, f.instance, f.ev.trust.offline)
		if err != nil {
			return cfg, err
		}
		cfg.Keys = keys
	}
	if f.issuer != "" {
		cfg.Issuer = f.issuer
	}
	if cfg.Issuer == "" {
		cfg.Issuer = f.instance
	}
	if cfg.Issuer == "" {
		return cfg, errors.New("--issuer URL is required with --jwks (the instance the token must come from)")
	}
	if err := f.tok.apply(&cfg); err != nil {
		return cfg, err
	}
	var err error
	if cfg.Time, err = parseAt(f.ev.trust.at); err != nil {
		return cfg, err
	}
	n, err := f.ev.nonce.value()
	if err != nil {
		return cfg, err
	}
	cfg.Nonce = n
	return cfg, nil
}

// readMAAJWKS reads an MAA instance's JWKS from the file a flag names.
func readMAAJWKS(g *globals, flag, file string) (*maa.KeySet, error) {
	data, err := readFile(flag, file)
	if err != nil {
		return nil, err
	}
	ks, err := maa.ParseJWKS(data)
	if err != nil {
		g.warnOtherKind(data, kindMAAJWKS, file)
		return nil, fmt.Errorf("%s %s: %w", flag, file, err)
	}
	return ks, nil
}

// maaKeys returns an MAA instance's signing keys: the JWKS file named by
// the flag jwksFlag when given, else fetched from instance's /certs, which
// offline (--offline: fetch nothing) refuses, a usage error naming the flag.
func maaKeys(g *globals, jwksFlag, jwksFile, instance string, offline bool) (maa.KeySource, error) {
	if jwksFile != "" {
		return readMAAJWKS(g, jwksFlag, jwksFile)
	}
	if offline {
		return nil, fmt.Errorf("--offline: the keys of %.200s would be fetched from %.200s; give them with %s FILE", instance, maa.CertsURL(instance), jwksFlag)
	}
	g.waitFor(hostOf(instance, instance) + " (MAA JWKS)")
	g.hint = "check that the MAA instance is reachable, or give its keys with " + jwksFlag + " FILE"
	return &maa.Fetcher{Instance: instance, Client: &httpget.Client{HTTPClient: http.DefaultClient, Service: "maa", MaxRetries: 2, Logger: g.log}}, nil
}

// printMAA is the human output of a verified token: the checks, then the
// claims.
func printMAA(w io.Writer, r *maaResult, f *maaFlags) {
	c := r.Claims
	title := "VERIFIED"
	if r.Emulated {
		fmt.Fprintln(w, emulatedBanner)
		title = "VERIFIED (EMULATED MAA, NOT MICROSOFT AZURE ATTESTATION)"
		defer fmt.Fprintln(w, emulatedBanner)
	}
	// The token's strings are signed by the instance, but a terminal still
	// gets no control characters from them (format.Printable).
	fmt.Fprintf(w, "%s: MAA token from %s\n", title, format.Printable(r.Issuer, 256))
	fmt.Fprintln(w, "checks:")
	link := func(name, what, verdict string) {
		fmt.Fprintf(w, "  %-14s %-58s %s\n", name, format.Printable(what, 256), verdict)
	}
	src := "--jwks " + f.jwks
	switch {
	case f.instance != "":
		src = maa.CertsURL(f.instance)
	case f.jwks == "":
		src = "the EMULATED MAA"
	}
	link("signature", "RS256, kid "+format.Truncate(r.Kid, 16)+" from "+format.Truncate(src, 24), "ok")
	link("issuer", r.Issuer, "ok")
	link("lifetime", unixUTC(c.NotBefore)+" .. "+unixUTC(c.Expiry), "ok")
	if f.tok.audience != "" {
		link("audience", f.tok.audience, "ok")
	}
	link("CVM", c.IsolationTEE.AttestationType+", "+c.IsolationTEE.ComplianceStatus, "ok")
	link("boot", "secure boot on, debugging off", "ok")
	if r.NonceChecked {
		link("nonce", "client payload nonce = base64(--nonce)", "ok")
	} else {
		link("nonce", "not checked (no --nonce)", "NOT CHECKED")
	}
	tdxToken := c.Platform() == maa.TEETDX
	switch {
	case r.Bound && tdxToken:
		link("binding", "AK, VM id, TD REPORTDATA, MRTD = --evidence", "ok")
	case r.Bound:
		link("binding", "AK, VM id, REPORT_DATA, measurement, TCB = --evidence", "ok")
	default:
		link("binding", "not checked (no --evidence)", "NOT CHECKED")
	}
	fmt.Fprintln(w, "claims:")
	row := func(k, v string) { fmt.Fprintf(w, "  %-22s %s\n", k, format.Printable(v, 512)) }
	row("vm id", c.VMID)
	row("os", strings.TrimSpace(c.OSType+" "+c.OSDistro))
	if tdxToken {
		t := c.IsolationTEE.TDX
		row("mrtd", t.MRTD.String())
		row("tcb status", t.AttesterTCBStatus)
		row("tee tcb svn", t.TEETCBSVN.String())
		row("mrseam", t.MRSEAM.String())
		row("td report data", t.ReportData.String())
	} else {
		s := c.IsolationTEE.SEVSNP
		row("measurement", s.LaunchMeasurement.String())
		row("id key digest", s.IDKeyDigest.String())
		row("tcb", fmt.Sprintf("bl=%s tee=%s snp=%s ucode=%s", num(s.BootloaderSVN), num(s.TEESVN), num(s.SNPFwSVN), num(s.MicrocodeSVN)))
		row("report data", s.ReportData.String())
	}
	row("attested pcrs", strings.Trim(fmt.Sprint(c.AttestedPCRs), "[]"))
	if n, ok := c.Nonce(); ok {
		row("client nonce", n)
	}
}

func unixUTC(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }

func num(v *uint8) string {
	if v == nil {
		return "?"
	}
	return fmt.Sprint(*v)
}
