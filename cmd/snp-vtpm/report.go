package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// reportOpts are the flags of the report command (and of the root's -p).
type reportOpts struct {
	print    bool
	userData string
	jsonOut  bool
	file     string
	vcekFile string
	tdQuote  string
	trust    trustFlags
}

func (o *reportOpts) register(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.print, "print", "p", false, "print every field of the validated report")
	fs.StringVar(&o.userData, "user-data", "", "refresh the report first with this user data (hex, 1..64 bytes; vTPM only)")
	fs.BoolVar(&o.jsonOut, "json", false, `print the validated claims as JSON ("verified": true); a rejection as {"verified": false, "check", "error"}`)
	fs.StringVarP(&o.file, "file", "f", "", "validate a stored HCL report or raw 1184-byte SNP report instead of reading the vTPM")
	fs.StringVar(&o.vcekFile, "vcek", "", "VCEK for -f: PEM (its first certificate that is not a CA: AMD's ASK and ARK may come before or after it), DER or THIM JSON as Azure IMDS serves it; default: fetched from AMD KDS unless --offline")
	fs.StringVar(&o.tdQuote, "td-quote", "", "TDX: validate this TD quote (raw bytes) instead of reading the vTPM; with -f, the HCL TDX report it quotes is checked against it")
	o.trust.register(fs)
}

// defaultReportOpts returns the report command's flag defaults, as the root
// command's -p uses them.
func defaultReportOpts() *reportOpts {
	o := &reportOpts{}
	o.register(pflag.NewFlagSet("report", pflag.ContinueOnError))
	return o
}

func newReportCmd(g *globals) *cobra.Command {
	o := &reportOpts{}
	cmd := &cobra.Command{
		Use:   "report [-p] [--user-data HEX] [--json] [-f FILE [--vcek FILE]] [--td-quote QUOTE [-f HCL_REPORT]]",
		Short: "Read the SEV-SNP (or TDX) report from the vTPM, validate it and print it",
		Long: `Read the HCL report (SNP report + runtime data) from the vTPM, get the VCEK from
Azure IMDS (not with --offline, except in --emulate mode where IMDS is in-process),
validate the report against the pinned AMD roots (chain, signature, chip id,
TCB, guest policy, runtime-data binding) and print it: a summary, every field with -p,
or the claims as JSON with --json. "snp-vtpm -p" is the same as "snp-vtpm report -p".

On an Intel TDX CVM (or --emulate=tdx) the HCL report holds a TDREPORT instead: its TD
quote (from Azure IMDS) is verified against Intel's pinned root and must quote it.
--td-quote QUOTE validates a stored TD quote (raw bytes, DCAP version 4 or 5) instead;
with -f HCL_REPORT the HCL TDX report whose TDREPORT it must quote, and whose runtime
data it binds, is checked against it. --collateral/--pcs-url evaluate Intel's TCB status.

--user-data HEX first asks the paravisor for a fresh report carrying HEX (1..64 bytes,
zero-padded to 64) in its runtime data.

-f FILE validates a stored HCL report, or a raw 1184-byte SNP report, instead: against
--vcek FILE (PEM: its first certificate that is not a CA, so AMD's ASK and ARK may come first; DER; or the THIM JSON of Azure IMDS,
{"vcekCert": ..., "certificateChain": ...}), or a VCEK fetched from AMD KDS.

A report alone proves no freshness: use "evidence" and "verify" for that.
With --emulate the emulated CVM's fake AMD chain is trusted and every output says EMULATED.

A rejection names the failed check on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd.Context(), g, o)
		},
	}
	o.register(cmd.Flags())
	registerTimeout(cmd, g)
	return cmd
}

// parseUserData parses --user-data: 1 to vtpm.UserDataSize bytes in hex.
func parseUserData(s string) ([]byte, error) {
	b, err := decodeHexFlag("--user-data", s)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > vtpm.UserDataSize {
		return nil, fmt.Errorf("--user-data: %d bytes, want 1..%d", len(b), vtpm.UserDataSize)
	}
	return b, nil
}

// runReport is the report command.
func runReport(ctx context.Context, g *globals, o *reportOpts) error {
	var userData []byte
	if o.userData != "" {
		b, err := parseUserData(o.userData)
		if err != nil {
			return err
		}
		userData = b
	}
	if o.tdQuote != "" {
		if userData != nil || o.vcekFile != "" {
			return errors.New("--td-quote validates stored TDX files: --user-data and --vcek do not apply")
		}
		return reportTDXFromFiles(ctx, g, o)
	}
	if o.file != "" {
		if userData != nil {
			return errors.New("--user-data refreshes the report in the vTPM; it cannot be used with -f")
		}
		return reportFromFile(ctx, g, o)
	}
	if o.vcekFile != "" {
		return errors.New("--vcek is for -f FILE; the vTPM's VCEK comes from Azure IMDS")
	}

	p, att, err := openVerifiedAttester(ctx, g, o.trust)
	if err != nil {
		return err
	}
	defer p.release(g)
	res, err := att.VerifiedReport(ctx, userData)
	if err != nil {
		return reportRejected(g, o, err)
	}
	source := "vTPM NV 0x01400001"
	if userData != nil {
		source += " (refreshed with user data)"
	}
	return printReport(g, o, source, res.Report, res.Claims)
}

// reportFromFile validates a stored HCL or SNP report.
func reportFromFile(ctx context.Context, g *globals, o *reportOpts) error {
	blob, err := readInput(o.file, g.stdin, verify.CheckHCLFormat)
	if err != nil {
		return err
	}
	var vcek []byte
	if o.vcekFile != "" {
		data, err := readFile("--vcek", o.vcekFile)
		if err != nil {
			return err
		}
		if vcek, err = vcekFromFile(data); err != nil {
			g.warnOtherKind(data, kindCertificate, o.vcekFile)
			return fmt.Errorf("--vcek %s: %w", o.vcekFile, err)
		}
	}
	switch {
	case vcek == nil && o.trust.offline: // no source to name but the cache and --vcek
		g.hint = "give the report's VCEK with --vcek FILE (PEM, DER or THIM JSON), or run without --offline to fetch it from AMD KDS"
	case vcek == nil:
		g.hint = "give the report's VCEK with --vcek FILE (PEM, DER or THIM JSON), or --kds-url URL for a reachable KDS mirror; --timeout sets how long to wait"
	}
	return checkStoredReport(ctx, g, o, o.file, blob, func(v *verify.Verifier) (*verify.Claims, error) {
		return v.Report(ctx, blob, vcek)
	})
}

// reportTDXFromFiles validates a stored TD quote, and with -f the HCL TDX
// report it quotes (verify.Verifier.TDXReport).
func reportTDXFromFiles(ctx context.Context, g *globals, o *reportOpts) error {
	quote, err := readFile("--td-quote", o.tdQuote)
	if err != nil {
		return err
	}
	var blob []byte
	source := o.tdQuote
	if o.file != "" {
		if blob, err = readInput(o.file, g.stdin, verify.CheckHCLFormat); err != nil {
			return err
		}
		source = o.file + " + " + o.tdQuote
	}
	err = checkStoredReport(ctx, g, o, source, blob, func(v *verify.Verifier) (*verify.Claims, error) {
		return v.TDXReport(ctx, blob, quote)
	})
	if verr, ok := errors.AsType[*verify.Error](err); ok && verr.Check == verify.CheckTDXQuoteFormat {
		g.warnOtherKind(quote, kindTDQuote, o.tdQuote)
	}
	return err
}

// checkStoredReport validates a stored report (blob, read from source)
// with the trusted verifier and check, and prints the verdict.
func checkStoredReport(ctx context.Context, g *globals, o *reportOpts, source string, blob []byte,
	check func(*verify.Verifier) (*verify.Claims, error)) error {
	v, _, err := o.trust.verifier(ctx, g, "", nil)
	if err != nil {
		return err
	}
	claims, err := check(v)
	if err != nil {
		if verr, ok := errors.AsType[*verify.Error](err); ok {
			g.warnMisplacedReport(verr.Check, o, blob)
		}
		return reportRejected(g, o, err)
	}
	return printReport(g, o, source, blob, claims)
}

// warnMisplacedReport warns, after a rejection by check, when the stored
// report blob (-f) is of a kind that another command or flag reads: a TD
// quote or evidence, or the HCL report of a TDX CVM given without its TD
// quote.
func (g *globals) warnMisplacedReport(check verify.Check, o *reportOpts, blob []byte) {
	switch check {
	case verify.CheckHCLFormat:
		g.warnOtherKind(blob, kindHCL, o.file)
	case verify.CheckReportType:
		if r, err := hcl.Parse(blob); err == nil && r.Type == hcl.ReportTypeTDX && o.tdQuote == "" {
			g.log.Warn(o.file + ` is the HCL report of a TDX CVM: validate it with the TD quote of its TDREPORT, "snp-vtpm report --td-quote QUOTE -f ` + o.file + `"`)
		}
	}
}

// reportRejected prints a failed validation (with --json as the rejection
// document every command prints) and returns err.
func reportRejected(g *globals, o *reportOpts, err error) error {
	if o.jsonOut {
		return writeRejection(g.stdout, err)
	}
	return err
}

// vcekFromFile returns the VCEK (DER) of a --vcek file read by the one
// certificate reader: PEM (its first certificate that is not a CA, so a
// bundle may put AMD's ASK and ARK before or after it), DER, or THIM JSON
// (its vcekCert).
func vcekFromFile(data []byte) ([]byte, error) {
	b, err := certs.Read(data)
	if err != nil {
		return nil, err
	}
	return b.Leaf().Raw, nil
}

// runtimeKey describes one key of the runtime data.
type runtimeKey struct {
	Kid    string   `json:"kid"`
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops,omitempty"`
	Bits   int      `json:"bits,omitempty"`
	// SHA256 is the SHA-256 of the key's modulus (big-endian bytes).
	SHA256 string `json:"modulus_sha256,omitempty"`
}

// runtimeKeys lists the keys of an HCL report's runtime data (nil for a
// bare SNP report or unparsable data; the report was validated already).
func runtimeKeys(blob []byte) []runtimeKey {
	r, err := hcl.Parse(blob)
	if err != nil || r.RuntimeData == nil {
		return nil
	}
	out := make([]runtimeKey, 0, len(r.RuntimeData.Keys))
	for i := range r.RuntimeData.Keys {
		k := &r.RuntimeData.Keys[i]
		rk := runtimeKey{Kid: k.Kid, Kty: k.Kty, KeyOps: k.KeyOps}
		if pub, err := k.RSAPublicKey(); err == nil {
			rk.Bits = pub.N.BitLen()
			sum := sha256.Sum256(pub.N.Bytes())
			rk.SHA256 = hex.EncodeToString(sum[:])
		}
		out = append(out, rk)
	}
	return out
}

// printReport prints validated claims as --json, -p or a summary asks.
func printReport(g *globals, o *reportOpts, source string, blob []byte, c *verify.Claims) error {
	keys := runtimeKeys(blob)
	if o.jsonOut {
		return writeJSON(g.stdout, struct {
			Verified bool `json:"verified"`
			*verify.Claims
			Source          string       `json:"source"`
			RuntimeDataKeys []runtimeKey `json:"runtime_data_keys,omitempty"`
		}{true, c, source, keys})
	}
	title := "VALID SNP REPORT"
	if c.Platform == verify.PlatformTDX {
		title = "VALID TDX REPORT (TD quote verified)"
	}
	if c.Emulated {
		title += " (EMULATED CHAIN, NOT AMD)"
		if c.Platform == verify.PlatformTDX {
			title = "VALID TDX REPORT (EMULATED CHAIN, NOT INTEL)"
		}
	}
	title += " from " + source
	if !o.print {
		// The note is a row, so that the emulated banner closes the output.
		printClaims(g.stdout, title, c, false, claimRow{value: "(a report alone proves no freshness; -p prints every field)"})
		return nil
	}
	var extra []claimRow
	if vc := c.VMConfig; vc != nil {
		extra = append(extra, claimRow{"tpm persisted", tpmPersistedString(vc.TPMPersisted)})
		if vc.RootCertThumbprint != "" {
			extra = append(extra, claimRow{"root cert thumbprint", vc.RootCertThumbprint})
		}
	}
	if c.AKPublic != nil {
		sum := sha256.Sum256(c.AKPublic)
		extra = append(extra, claimRow{"ak public sha256", hex.EncodeToString(sum[:])})
	}
	for _, k := range keys {
		v := k.Kty
		if k.Bits > 0 {
			v += fmt.Sprintf("-%d", k.Bits)
		}
		if len(k.KeyOps) > 0 {
			v += " [" + strings.Join(k.KeyOps, ",") + "]"
		}
		if k.SHA256 != "" {
			v += " modulus sha256 " + k.SHA256
		}
		extra = append(extra, claimRow{"key " + k.Kid, v})
	}
	if c.VMConfig != nil && c.UserData == nil {
		extra = append(extra, claimRow{"user data", "(none: the report was never refreshed)"})
	}
	printClaims(g.stdout, title, c, true, extra...)
	return nil
}

// tpmPersistedString is report -p's "tpm persisted": on or off as the
// runtime data states it, and "not stated" when it has no tpm-persisted
// member (hosts whose HCL header is version 1), which is not "off".
func tpmPersistedString(p *bool) string {
	if p == nil {
		return "not stated (the runtime data has no tpm-persisted)"
	}
	return onOff(*p)
}
