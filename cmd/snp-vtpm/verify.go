package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		trust   trustFlags
		nonce   nonceFlags
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "verify [flags] EVIDENCE_FILE",
		Short: "Verify evidence (v0, v1 or v2) from an Azure SEV-SNP CVM, offline when it carries its VCEK",
		Long: `Verify evidence completely: pinned AMD roots, VCEK chain and validity, SNP report
signature, VCEK chip id and TCB, guest policy, runtime-data binding, attestation-key
quote signature, nonce, PCR digest over the signed selection and the policy.
EVIDENCE_FILE "-" reads standard input. A nonce is required (--nonce or --nonce-hex); --no-nonce
verifies without freshness, and the output and claims say so (nonce_checked: false).

Exit status: 0 verified, 2 rejected (stderr names the failed check), 1 usage or I/O error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := nonce.requiredOrNone()
			if err != nil {
				return err
			}
			data, err := readInput(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			cfg, kc, err := trust.config(cmd.Context(), g, "", nil)
			if err != nil {
				return err
			}
			if n == nil {
				cfg.AllowNoNonce = true
				g.log.Warn("--no-nonce: the quote's nonce is not checked, so the evidence proves no freshness")
			}
			claims, err := verify.Evidence(cmd.Context(), data, n, cfg)
			if kc != nil && g.verbose {
				s := kc.Stats()
				g.log.Debug("certificate sources", "fetches", s.Fetches, "cache_hits", s.CacheHits, "disk_hits", s.DiskHits, "retries", s.Retries)
			}
			if err != nil {
				var verr *verify.Error
				if errors.As(err, &verr) {
					if verr.Check == verify.CheckVCEKChain && !trust.trustEmulated && looksEmulated(data) {
						g.log.Warn("this evidence comes from the emulated CVM (its VCEK is the fake AMD chain's); --trust-emulated accepts it for testing")
					}
					if jsonOut {
						_ = writeJSON(g.stdout, map[string]any{"verified": false, "check": verr.Check, "error": verr.Err.Error()})
					}
					return rejected(err)
				}
				return err
			}
			if jsonOut {
				return writeJSON(g.stdout, claims)
			}
			title := "VERIFIED"
			if claims.Emulated {
				title = "VERIFIED (EMULATED CHAIN, NOT AMD)"
			}
			if !claims.NonceChecked {
				title += " WITHOUT FRESHNESS: no nonce was checked (--no-nonce); this evidence may be a replay"
			}
			printClaims(g.stdout, fmt.Sprintf("%s: evidence v%d", title, claims.EvidenceVersion), claims, false)
			return nil
		},
	}
	nonce.register(cmd.Flags(), "the nonce the verifier issued")
	nonce.registerNoNonce(cmd.Flags())
	trust.register(cmd.Flags())
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the claims as JSON")
	return cmd
}

// looksEmulated reports whether evidence carries a VCEK of the emulated
// CVM's fake AMD chain. It is only used to explain a rejection.
func looksEmulated(data []byte) bool {
	ev, err := evidence.Decode(data)
	return err == nil && bytes.Contains(ev.VCEK, []byte(fakeamd.Marker))
}

// maxInput bounds files read by the CLI.
const maxInput = 4 << 20

// readInput reads a file, or standard input for "-", up to maxInput bytes.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxInput)
	}
	return data, nil
}
