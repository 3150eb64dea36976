package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with verification policies (see derive)",
		Long: `Work with verification policies: "policy derive" verifies evidence and prints the
policy that accepts exactly its VM's configuration (the --policy file of verify and serve).`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newPolicyDeriveCmd(g))
	return cmd
}

// deriveLong is the help of policy derive.
const deriveLong = `Verify EVIDENCE_FILE as "verify" does (same trust flags), then print on standard
output the policy JSON that accepts exactly this VM's configuration: its launch
measurement, its paravisor's ID key digest, a minimum TCB equal to its reported TCB,
its product line and, with --pcrs, the values of the chosen PCRs; its guest settings
come along (allow_debug, allow_migration_agent, allow_uncommitted_tcb when the evidence
needs them, deny_smt when SMT is off, init_data_digest when --init-data bound it), so
the policy accepts this evidence whatever --policy verified it. Pass the result to
"verify --policy FILE" or "serve --policy FILE"; it is the starting point of a
relying party's policy, to review before use (a TCB update of the host raises the
reported TCB, which the minimum still accepts; a new paravisor or image changes the
measurement, which it does not). On TDX evidence the policy holds the paravisor's
MRTD (tdx_mr_tds) and the chosen PCRs; Intel's TCB status is judged by the default
tdx_tcb_statuses. The emulated CVM's paravisor identity is left out: it is trusted
with --trust-emulated only.`

func newPolicyDeriveCmd(g *globals) *cobra.Command {
	var f deriveFlags
	cmd := &cobra.Command{
		Use:   "derive [--pcrs 0,2,4,7] (--nonce TEXT | --nonce-hex HEX | --no-nonce) EVIDENCE_FILE",
		Short: "Verify evidence and print the policy that accepts exactly this VM's configuration",
		Long:  deriveLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			indexes, err := parsePCRList(f.pcrs)
			if err != nil {
				return err
			}
			claims, err := verifyEvidenceFile(cmd.Context(), g, args[0], &f.evidenceFlags, f.json)
			if err != nil {
				return err
			}
			if claims.Emulated {
				// The policy itself has no room to say so: warn.
				g.log.Warn("EMULATED: the policy is derived from evidence of the emulated CVM (a fake AMD or Intel chain, trusted with --trust-emulated); it describes no real VM")
			}
			p, err := verify.DerivePolicy(claims, indexes)
			if err != nil {
				return fmt.Errorf("policy derive: %w", err)
			}
			return writeJSON(g.stdout, p)
		},
	}
	f.register(cmd, g)
	cmd.Flags().StringVar(&f.pcrs, "pcrs", "", "comma-separated PCR indexes (0-23) whose values the policy requires, e.g. 0,2,4,7")
	cmd.Flags().BoolVar(&f.json, "json", false, `the policy is always JSON; with --json a rejection is printed too, as verify --json does ({"verified": false, "check", "error"})`)
	return cmd
}

// deriveFlags are the flags of policy derive.
type deriveFlags struct {
	evidenceFlags
	pcrs string
	json bool
}

// parsePCRList parses --pcrs: distinct indexes 0..23, sorted.
func parsePCRList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 0 || i > 23 {
			return nil, fmt.Errorf("--pcrs: %q is not a PCR index (0-23)", f)
		}
		if slices.Contains(out, i) {
			return nil, fmt.Errorf("--pcrs: PCR %d given twice", i)
		}
		out = append(out, i)
	}
	slices.Sort(out)
	return out, nil
}
