package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var f evidenceFlags
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "verify [flags] EVIDENCE_FILE",
		Short: "Verify evidence (v0, v1 or v2) from an Azure SEV-SNP or TDX CVM, offline when it carries its VCEK or PCK chain",
		Long: `Verify evidence completely: pinned AMD roots, VCEK chain and validity, SNP report
signature, VCEK chip id and TCB, guest policy, runtime-data binding, attestation-key
quote signature, nonce, PCR digest over the signed selection and the policy.
EVIDENCE_FILE "-" reads standard input. A nonce is required (--nonce or --nonce-hex); --no-nonce
verifies without freshness, and the output and claims say so (nonce_checked: false).

The output names each link of the trust chain with its verdict, then the claims;
--json prints the claims as JSON (docs/verify-output.schema.json describes both forms).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			claims, err := verifyEvidenceFile(cmd.Context(), g, args[0], &f, jsonOut)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.stdout, verifiedJSON{Verified: true, Claims: claims})
			}
			printVerified(g.stdout, claims)
			return nil
		},
	}
	f.register(cmd, g)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the claims as JSON")
	cmd.Flags().StringVar(&f.initData, "init-data", "", "CoCo init-data document: PCR 8 must be SHA-256(0^32 ‖ SHA-256(file)), as trustee checks it (policy: init_data_digest)")
	f.vouch.register(cmd)
	return cmd
}

// evidenceFlags are the flags of the commands that verify an evidence
// file (verify, policy derive).
type evidenceFlags struct {
	trust trustFlags
	nonce nonceFlags
	// initData is --init-data (verify only): a CoCo init-data document
	// whose SHA-256 PCR 8 must measure.
	initData string
	// vouch are --maa-token and --maa-jwks (verify only).
	vouch vouchFlags
}

// register adds the nonce flags (with --no-nonce), the trust flags and
// --timeout to cmd.
func (f *evidenceFlags) register(cmd *cobra.Command, g *globals) {
	f.nonce.register(cmd.Flags(), "the nonce the verifier issued")
	f.nonce.registerNoNonce(cmd.Flags())
	f.trust.register(cmd.Flags())
	registerTimeout(cmd, g)
}

// verifyEvidenceFile verifies the evidence in file for the nonce flags with
// the verifier the trust flags describe. A rejection is printed as JSON on
// stdout with jsonOut.
func verifyEvidenceFile(ctx context.Context, g *globals, file string, f *evidenceFlags, jsonOut bool) (*verify.Claims, error) {
	trust := &f.trust
	n, err := f.nonce.requiredOrNone()
	if err != nil {
		return nil, err
	}
	data, err := readInput(file, g.stdin, verify.CheckEvidenceFormat)
	if err != nil {
		return nil, err
	}
	cfg, kc, err := trust.config(ctx, g, "", nil)
	if err != nil {
		return nil, err
	}
	if err := f.applyInitData(&cfg.Policy); err != nil {
		return nil, err
	}
	if err := f.vouch.apply(g, &cfg, trust.offline); err != nil {
		return nil, err
	}
	if n == nil {
		cfg.AllowNoNonce = true
		g.log.Warn("--no-nonce: the quote's nonce is not checked, so the evidence proves no freshness")
	}
	claims, err := verify.Evidence(ctx, data, n, cfg)
	if kc != nil && g.verbose {
		s := kc.Stats()
		g.log.Debug("certificate sources", "fetches", s.Fetches, "cache_hits", s.CacheHits, "disk_hits", s.DiskHits, "retries", s.Retries)
		if in, ok := cfg.TDXCollateralGetter.(*collateral.Intel); ok {
			s := in.Stats()
			g.log.Debug("Intel collateral", "fetches", s.Fetches, "cache_hits", s.CacheHits, "disk_hits", s.DiskHits, "retries", s.Retries)
		}
	}
	if err == nil {
		return claims, nil
	}
	if verr, ok := errors.AsType[*verify.Error](err); ok && exitCode(err) == exitRejected {
		if errors.Is(err, verify.ErrEmulatedChain) {
			g.log.Warn("this evidence comes from the emulated CVM (it is signed under a fake AMD or Intel chain); --trust-emulated accepts it for testing")
		}
		if verr.Check == verify.CheckEvidenceFormat {
			g.warnOtherKind(data, kindEvidence, file)
		}
		if verr.Check == verify.CheckNonce || verr.Check == verify.CheckUserData {
			if hint := f.nonce.quoteNonceHint(data); hint != "" {
				g.log.Warn(hint)
			}
		}
		if jsonOut {
			_ = writeRejection(g.stdout, err)
		}
	}
	return nil, err
}

// applyInitData sets the policy's init_data_digest from --init-data; a
// policy file that names another digest contradicts it.
func (f *evidenceFlags) applyInitData(p *verify.Policy) error {
	if f.initData == "" {
		return nil
	}
	data, err := readFile("--init-data", f.initData)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if p.InitDataDigest != nil && !bytes.Equal(p.InitDataDigest, sum[:]) {
		return fmt.Errorf("--init-data %s: its SHA-256 %x contradicts the policy's init_data_digest %s", f.initData, sum, p.InitDataDigest)
	}
	p.InitDataDigest = sum[:]
	return nil
}

// verifiedJSON is the --json output of verified evidence: the claims and
// "verified": true (docs/verify-output.schema.json).
type verifiedJSON struct {
	Verified bool `json:"verified"`
	*verify.Claims
}

// printVerified is verify's human output: the trust chain, one line per
// link with its verdict, then the claims.
func printVerified(w io.Writer, c *verify.Claims) {
	title := "VERIFIED"
	if c.Emulated {
		title = "VERIFIED (EMULATED CHAIN, NOT AMD)"
		if c.Platform == verify.PlatformTDX {
			title = "VERIFIED (EMULATED CHAIN, NOT INTEL)"
		}
	}
	if !c.NonceChecked {
		title += " WITHOUT FRESHNESS: no nonce was checked (--no-nonce); this evidence may be a replay"
	}
	fmt.Fprintf(w, "%s: evidence v%d\n", title, c.EvidenceVersion)
	fmt.Fprintln(w, "trust chain:")
	link := func(name, what, verdict string) {
		fmt.Fprintf(w, "  %-14s %-58s %s\n", name, what, verdict)
	}
	if c.Platform == verify.PlatformTDX {
		link("Intel root", c.RootsSource, "ok: trusted root")
		link("PCK", "signed by the Platform/Processor CA", "ok (from the TD quote)")
		link("QE report", "Intel's TD quoting enclave, signed by the PCK", "ok")
		link("TD quote", "signed by the attestation key the QE report binds", "ok")
		link("TDREPORT", "equals the TD quote body", "ok")
		link("paravisor", paravisorString(c.Paravisor, true), "ok")
		link("TCB status", "Intel collateral", tdxTCBString(c.TDX.TCBStatus))
	} else {
		printSNPChain(link, c)
	}
	link("runtime data", "bound by REPORT_DATA", "ok")
	printQuoteChain(link, c)
	printClaims(w, "claims:", c, false)
}

// printSNPChain prints the SNP links of the trust chain.
func printSNPChain(link func(name, what, verdict string), c *verify.Claims) {
	roots := "pinned AMD root"
	if !c.PinnedRoots {
		roots = "NON-DEFAULT root"
	}
	key, ca, binding := signingKey(c), "ASK", "chip id and TCB match"
	if key == "VLEK" {
		ca, binding = "ASVK", "TCB matches"
	}
	link("ARK", c.Product+" "+roots, "ok: trusted root ("+c.RootsSource+")")
	link(ca, "signed by the ARK", "ok")
	link(key, "signed by the "+ca+", "+binding, "ok ("+c.VCEKSource+")")
	link("SNP report", "signed by the "+key+", "+paravisorString(c.Paravisor, false), "ok")
}

// printQuoteChain prints the links of the TPM quote and the policy.
func printQuoteChain(link func(name, what, verdict string), c *verify.Claims) {
	if c.EvidenceVersion >= 0 {
		link("TPM quote", "signed by the attestation key", "ok")
		if c.NonceChecked {
			link("nonce", "quoted nonce equals --nonce", "ok")
		} else {
			link("nonce", "not checked (--no-nonce)", "NOT CHECKED")
		}
		if c.PCRValues == verify.PCRValuesAbsent {
			link("PCR values", "absent from the evidence", "UNKNOWN")
		} else {
			link("PCR values", "hash to the quoted digest", "ok")
		}
	}
	if id := c.VMIdentity; id != nil {
		verdict := "ok"
		switch {
		case id.Form == verify.VMIdentityUnknown:
			verdict = "UNKNOWN"
		case !id.PCR6Bound:
			verdict = "NOT BOUND"
		}
		link("VM identity", "PCR 6 measures the runtime data's vmUniqueId", verdict)
	}
	link("policy", "guest policy, TCB and the --policy file", "ok")
}

// maxInput bounds files read by the CLI.
const maxInput = 4 << 20

// readInput reads a file, or stdin for "-" (an error when stdin is nil),
// up to maxInput bytes: /dev/zero or a FIFO costs at most that. A larger
// input was examined: it is rejected by check (exit status 2). A missing
// or unreadable file, or a directory, is an error (exit status 1), as is
// any failure without a check (files of flags such as --policy).
func readInput(name string, stdin io.Reader, check verify.Check) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return nil, errors.New("standard input (\"-\") is not available here")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot open %s: %w", name, errors.Unwrap(err))
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a file", name)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	if len(data) > maxInput {
		if check == "" {
			return nil, fmt.Errorf("%s is larger than %d bytes", name, maxInput)
		}
		return nil, &verify.Error{Check: check, Err: fmt.Errorf("%s is larger than %d bytes", name, maxInput)}
	}
	return data, nil
}
