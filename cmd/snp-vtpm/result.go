package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// resultFlags are the flags of "result verify".
type resultFlags struct {
	jwks, issuer, audience string
	resource               string
	at                     string
	allowEmulated, jsonOut bool
	nonce                  nonceFlags
}

// newResultCmd is "result": the verifier's signed attestation results.
func newResultCmd(g *globals) *cobra.Command {
	return groupCmd("result", "Signed attestation results (EAR JWTs) of snp-vtpm serve",
		"Signed attestation results: the ES256 JWTs (EAT Attestation Result shape) that serve returns on success.",
		newResultVerifyCmd(g))
}

// groupCmd is a command that only groups subcommands.
func groupCmd(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Args: unknownSubcommand, Use: use, Short: short, Long: long}
	cmd.AddCommand(subs...)
	return cmd
}

// rejectedCheck is the CLI's rejection (exit 2) of a token for check,
// printed as JSON first with --json.
func rejectedCheck(g *globals, jsonOut bool, check string, reason, err error) error {
	if jsonOut {
		_ = writeJSON(g.stdout, rejectionJSON{Verified: false, Check: check, Error: plain(reason.Error())})
	}
	return rejected(err)
}

// resultVerifyHelp is the help of "result verify".
const resultVerifyHelp = `Verify an attestation-result token made by "snp-vtpm serve --signing-key" (the argument is the
token itself, a file holding it (a path that exists is read as a file, whatever its name), or "-"
for standard input).

The signature must be ES256 (none, HS*, RS* and every other algorithm are rejected) by the P-256
key the header's kid names in the JWKS of --jwks (a URL, e.g. https://verifier/.well-known/jwks.json,
or a file); the token's jku is never followed. iss must equal --issuer (default: the --jwks URL
without /.well-known/jwks.json; required with a file), aud --audience (a token with an aud is
rejected without --audience: it is meant for that relying party); exp, nbf and
iat are checked at --at (RFC 3339, default now; an archived token at the time it was
used, as maa verify and verify take it) with 60 s of skew. ear.status must be "affirming"; a token about the emulated
CVM ("contraindicated": its hardware is an emulation) passes only with --trust-emulated. --nonce/--nonce-hex: eat_nonce must be these
bytes (the exchange's SHA-384(challenge || public key)). --resource NAME: the result must be for that
resource (serve --secrets-dir), not another one of the same verifier nor its single secret.
docs/remote-attestation.md lists the claims.`

func newResultVerifyCmd(g *globals) *cobra.Command {
	f := new(resultFlags)
	cmd := &cobra.Command{Args: cobra.ExactArgs(1), Long: resultVerifyHelp,
		Use:   "verify --jwks URL|FILE [--issuer URL] [--audience A] [--nonce-hex HEX] [--resource NAME] [--at TIME] TOKEN|FILE|-",
		Short: "Verify an attestation-result token of snp-vtpm serve (ES256, issuer, lifetime, status, nonce)"}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := emptyFlagValue(cmd.Flags(), "resource", "issuer", "audience"); err != nil {
			return err
		}
		return runResultVerify(cmd.Context(), g, f, args[0])
	}
	f.register(cmd.Flags())
	registerTimeout(cmd, g)
	return cmd
}

// emptyFlagValue refuses a flag among names that was given an empty value
// (--resource "$R" with R unset): left out, the flag means "no requirement",
// so an empty value would silently drop the check the user asked for.
func emptyFlagValue(fs *pflag.FlagSet, names ...string) error {
	for _, name := range names {
		if f := fs.Lookup(name); f != nil && f.Changed && f.Value.String() == "" {
			return fmt.Errorf("--%s: empty value (is the variable you passed unset?); leave the flag out for no %s requirement", name, name)
		}
	}
	return nil
}

// register adds the flags of "result verify".
func (f *resultFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.jwks, "jwks", "", "the verifier's JWKS: a URL or a file (required)")
	fs.StringVar(&f.issuer, "issuer", "", "the iss the token must carry (default: derived from a --jwks URL)")
	fs.StringVar(&f.audience, "audience", "", "the aud the token must carry")
	fs.StringVar(&f.resource, "resource", "", "the resource (serve --secrets-dir) the result must have released")
	fs.StringVar(&f.at, "at", "", "verification time of exp, nbf and iat (RFC 3339); default now")
	fs.BoolVar(&f.allowEmulated, "trust-emulated", false, `accept results about the emulated CVM (ear.status "contraindicated")`)
	fs.BoolVar(&f.jsonOut, "json", false, "print the claims as JSON")
	f.nonce.register(fs, "the exchange's nonce that eat_nonce must carry")
}

// resultOutput is the --json output of a verified token.
type resultOutput struct {
	Verified bool `json:"verified"`
	// Emulated is the token's claim about the emulated CVM (accepted with
	// --trust-emulated), repeated at the top: it proves nothing about a VM.
	Emulated bool           `json:"emulated"`
	Claims   *result.Claims `json:"claims"`
}

func runResultVerify(ctx context.Context, g *globals, f *resultFlags, arg string) error {
	cfg, err := f.config(ctx, g)
	if err != nil {
		return err
	}
	token := []byte(arg)
	if !isTokenText(arg) {
		if token, err = readInput(arg, g.stdin, verify.Check(result.CheckFormat)); err != nil {
			return err
		}
	}
	c, err := result.Verify(ctx, token, cfg)
	if err != nil {
		rerr, ok := errors.AsType[*result.Error](err)
		if !ok {
			return err
		}
		if (rerr.Check == result.CheckFormat || rerr.Check == result.CheckAlg) && !isTokenText(arg) {
			g.warnOtherKind(token, kindResultToken, arg)
		}
		return rejectedCheck(g, f.jsonOut, string(rerr.Check), rerr.Err, err)
	}
	if f.jsonOut {
		return writeJSON(g.stdout, resultOutput{Verified: true, Emulated: c.Appraisal().CVM.Emulated, Claims: c})
	}
	printResult(g.stdout, c, cfg.Nonce != nil)
	return nil
}

// isTokenText reports whether the argument of "result verify" is the token
// itself rather than a file holding it: "-" is standard input, and a path
// that exists is a file even when its name has the token's two dots
// ("result.v1.jwt"), which the shape alone would take for a token.
func isTokenText(arg string) bool {
	if arg == "-" || strings.Count(arg, ".") != 2 || strings.ContainsAny(arg, `/\`) {
		return false
	}
	_, err := os.Lstat(arg)
	return err != nil
}

// config builds the result.Config from the flags: the JWKS read or
// fetched now (failing that is exit 1, nothing was learnt of the token).
func (f *resultFlags) config(ctx context.Context, g *globals) (result.Config, error) {
	cfg := result.Config{Issuer: f.issuer, Audience: f.audience, Resource: f.resource, AllowEmulated: f.allowEmulated}
	var data []byte
	var err error
	if cfg.Time, err = parseAt(f.at); err != nil {
		return cfg, err
	}
	switch {
	case f.jwks == "":
		return cfg, errors.New("--jwks URL|FILE is required")
	case strings.HasPrefix(f.jwks, "https://") || strings.HasPrefix(f.jwks, "http://"):
		g.waitFor(hostOf(f.jwks, f.jwks) + " (the verifier's JWKS)")
		g.hint = "check that the verifier is up and --jwks names its " + server.PathJWKS + ", or give its keys as --jwks FILE with --issuer URL; --timeout sets how long to wait"
		c := &httpget.Client{Service: "verifier", MaxRetries: 2, Logger: g.log}
		if data, err = c.Get(ctx, f.jwks, "JWKS", result.MaxJWKSBytes, nil); err != nil {
			return cfg, fmt.Errorf("--jwks %s: %w", f.jwks, err)
		}
		if cfg.Issuer == "" {
			cfg.Issuer = strings.TrimSuffix(f.jwks, server.PathJWKS)
		}
	default:
		if data, err = readFile("--jwks", f.jwks); err != nil {
			return cfg, err
		}
	}
	if cfg.Issuer == "" || cfg.Issuer == f.jwks {
		return cfg, errors.New("--issuer URL is required (the verifier the token must come from)")
	}
	if cfg.Keys, err = result.ParseJWKS(data); err != nil {
		g.warnOtherKind(data, kindJWKS, f.jwks)
		return cfg, fmt.Errorf("--jwks %s: %w", f.jwks, err)
	}
	cfg.Nonce, err = f.nonce.value()
	return cfg, err
}

// printResult is the human output of a verified token.
func printResult(w io.Writer, c *result.Claims, nonceChecked bool) {
	a := c.Appraisal()
	v := a.CVM
	fmt.Fprintf(w, "VERIFIED: attestation result from %s (ear.status %s)\n", format.Printable(c.Issuer, 256), format.Printable(string(a.Status), 64))
	if v.Emulated {
		fmt.Fprintln(w, emulatedBanner)
	}
	row := func(k, val string) {
		if val != "" {
			// The token's strings are the verifier's, signed, but a
			// terminal still gets no control characters from them.
			fmt.Fprintf(w, "  %-16s %s\n", k, format.Printable(val, 512))
		}
	}
	row("issued", unixUTC(c.IssuedAt)+" (expires "+unixUTC(c.Expiry)+")")
	row("jti", c.ID)
	row("nonce", c.Nonce+map[bool]string{true: " (checked)", false: " (NOT CHECKED: no --nonce)"}[nonceChecked])
	row("platform", strings.TrimSpace(v.Platform+" "+v.Product))
	row("chip id", v.ChipID.String())
	if v.ReportedTCB != nil {
		t := v.ReportedTCB
		row("reported tcb", tcbString(t.Bootloader, t.TEE, t.SNP, t.Microcode, t.FMC, v.Product))
	}
	row("measurement", v.Measurement.String())
	row("id key digest", v.IDKeyDigest.String())
	row("paravisor", v.Paravisor)
	row("vm unique id", v.VMUniqueID)
	row("pcrs pinned", strings.Trim(fmt.Sprint(v.PCRsPinned), "[]"))
	row("policy", a.PolicyID)
	row("resource", v.Resource)
}
