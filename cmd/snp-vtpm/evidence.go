package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

func newEvidenceCmd(g *globals) *cobra.Command {
	var (
		nonce nonceFlags
		trust trustFlags
		opts  evidenceOpts
	)
	cmd := &cobra.Command{
		Use:   "evidence (--nonce TEXT | --nonce-hex HEX) [--fresh] [--require-vcek] [-o FILE]",
		Short: "Gather evidence (HCL report, quote, PCRs, VCEK) for a verifier's nonce",
		Long: `Gather attestation evidence on this CVM for the nonce a verifier issued and write it
as JSON (standard output by default): the HCL report, a TPM quote by the attestation key
over PCRs 0-23 with the nonce as qualifying data, the PCR values and the VCEK from Azure
IMDS (so the evidence verifies offline). "snp-vtpm verify --nonce ... FILE" checks it on
any machine; emulated evidence (--emulate) needs "verify --trust-emulated".

Before writing it, the evidence is verified here as "verify" would (the trust flags
choose roots, policy and certificate sources; --emulate trusts the emulated chain):
evidence that fails a check is not written (exit status 2, stderr names the check).

Nonces up to 48 bytes are quoted as they are; longer nonces are quoted as their SHA-256
(the Azure vTPM rejects longer qualifying data). Verifiers apply the same rule.

--fresh first refreshes the HCL report with the (possibly hashed) nonce as user data and
writes evidence version 2, the Confidential Containers "v2" format: the verifier then also
checks that the runtime data's user-data starts with the nonce. Without --fresh the boot-time
report is used and the evidence is version 1 (the same JSON shape, "version":1);
freshness then comes from the quote alone.

For trustee (the Confidential Containers KBS / attestation service), pass the report data
it expects with --nonce-hex: the SHA-384 of the canonical runtime data, 48 bytes, quoted
unchanged. trustee requires the VCEK in SEV-SNP evidence (it fetches none): evidence
written without one comes with a note on standard error, and --require-vcek writes none
at all when no certificate source (Azure IMDS, then the cache and AMD KDS) supplies the
VCEK: exit status 1, as for any certificate source that is down.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := nonce.required()
			if err != nil {
				return err
			}
			return runEvidence(cmd.Context(), g, n, opts, trust)
		},
	}
	nonce.register(cmd.Flags(), "the nonce the verifier issued")
	cmd.Flags().BoolVar(&opts.fresh, "fresh", false, "refresh the HCL report with the nonce first and write version 2 evidence")
	cmd.Flags().BoolVar(&opts.requireVCEK, "require-vcek", false, "SEV-SNP: fail (exit 1) rather than write evidence without the VCEK when no certificate source supplies it (trustee refuses such evidence)")
	cmd.Flags().StringVarP(&opts.out, "output", "o", "-", `write the evidence to this file ("-": standard output)`)
	trust.register(cmd.Flags())
	registerTimeout(cmd, g)
	return cmd
}

// evidenceOpts are the flags of "evidence" beside the nonce and trust
// flags.
type evidenceOpts struct {
	fresh       bool
	requireVCEK bool
	out         string
}

func runEvidence(ctx context.Context, g *globals, nonce []byte, opts evidenceOpts, trust trustFlags) error {
	if len(nonce) > quote.MaxQualifyingData {
		fmt.Fprintf(g.stderr, "note: the nonce is %d bytes (> %d): the quote carries its SHA-256\n", len(nonce), quote.MaxQualifyingData)
	}
	// -o is opened first: a directory or a missing directory fails before
	// the vTPM is asked for anything (it said "open DIR: is a directory"
	// once the evidence was gathered).
	var file *attestOutput
	if opts.out != "" && opts.out != "-" {
		f, err := openAttestOutput("-o", opts.out, false)
		if err != nil {
			return err
		}
		defer f.discard()
		file = f
	}
	p, _, res, err := verifiedEvidence(ctx, g, trust, nonce, opts.fresh, opts.requireVCEK)
	if err != nil {
		return err
	}
	defer p.release(g)
	ev := res.Evidence
	data, err := ev.Encode()
	if err != nil {
		return fmt.Errorf("encoding the evidence: %w", err)
	}
	if p.emulated {
		data = markEmulated(data)
	}
	data = append(data, '\n')
	out := opts.out
	if file == nil {
		if _, err := g.stdout.Write(data); err != nil {
			return err
		}
	} else if err := file.write(data); err != nil {
		return fmt.Errorf("-o %s: %w", out, err)
	}
	fmt.Fprint(g.stderr, evidenceSummary(ev, out, p.emulated))
	return nil
}

// evidenceSummary is what runEvidence tells on standard error about the
// evidence it wrote to out: its version, its certificate, and a note when
// the Confidential Containers verifier (trustee) would refuse it
// (evidence.Evidence.TrusteeCompatible: SEV-SNP evidence without the VCEK).
func evidenceSummary(ev *evidence.Evidence, out string, emulated bool) string {
	what := fmt.Sprintf("evidence version %d", ev.Version)
	switch ev.Version {
	case attester.VersionFreshReport:
		what += " (report refreshed with the nonce)"
	default:
		what += " (boot-time report; freshness from the quote)"
	}
	if ev.TDQuote != nil {
		what += ", with TD quote"
	} else if ev.VCEK == nil {
		what += ", without VCEK (the verifier fetches it from AMD KDS)"
	} else {
		what += ", with VCEK"
	}
	if out != "" && out != "-" {
		what += " written to " + out
	}
	if emulated {
		what = "EMULATED " + what
	}
	what += "\n"
	if err := ev.TrusteeCompatible(); err != nil {
		why := err.Error()
		if te, ok := errors.AsType[*evidence.TrusteeError](err); ok && te.Err == nil {
			why = te.Member + ": " + te.Reason
		}
		what += "note: trustee's Azure vTPM verifier (Confidential Containers) refuses this evidence: " + why + "\n"
	}
	return what
}

// markEmulated adds "emulated":true to encoded evidence. The field is
// information for humans: verifiers ignore unknown fields and decide
// whether evidence is emulated from the chain that signed it.
func markEmulated(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("{")) {
		return data
	}
	return append([]byte(`{"emulated":true,`), data[1:]...)
}

// verifiedEvidence opens the verified attester (openVerifiedAttester) and
// collects its evidence over nonce (with requireVCEK, SEV-SNP evidence
// only with its VCEK: attester.Attester.RequireVCEK). The caller releases the platform; on
// error it is released here.
func verifiedEvidence(ctx context.Context, g *globals, trust trustFlags, nonce []byte, fresh, requireVCEK bool) (*platform, *attester.Attester, *attester.Result, error) {
	p, att, err := openVerifiedAttester(ctx, g, trust)
	if err != nil {
		return nil, nil, nil, err
	}
	att.RequireVCEK = requireVCEK
	res, err := att.Evidence(ctx, nonce, fresh)
	if err != nil {
		p.release(g)
		return nil, nil, nil, err
	}
	return p, att, res, nil
}

// openVerifiedAttester opens the platform (see openPlatform) and returns it
// with its verified attester (see platform.verifiedAttester). The caller
// releases the platform; on error it is released here.
func openVerifiedAttester(ctx context.Context, g *globals, trust trustFlags) (*platform, *attester.Attester, error) {
	p, err := openPlatform(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	att, err := p.verifiedAttester(ctx, g, trust)
	if err != nil {
		p.release(g)
		return nil, nil, err
	}
	return p, att, nil
}
