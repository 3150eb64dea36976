// Command snp-vtpm reads, validates and verifies vTPM-based AMD SEV-SNP
// attestation evidence from Azure Confidential VMs.
//
// Exit codes (the same for every command; see exitTable): 0 verified or
// done, 2 the input was examined and rejected, 1 nothing could be examined.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes, one per failure class.
const (
	exitOK       = 0
	exitUsage    = 1 // nothing could be examined: usage, files, network, collateral, TPM
	exitRejected = 2 // the input was examined and rejected
)

// exitTable is the exit-status contract, printed in every command's help
// and in the README.
const exitTable = `Exit status (the same for every command):
  0  verified / done
  2  the input was examined and rejected: a bad signature, a failed check or
     policy, and also malformed, truncated, empty or oversized evidence/report
  1  nothing could be examined: usage error, missing or unreadable file, a
     directory, network or collateral unavailable (KDS, THIM, CRL down or
     timed out), TPM error`

// defaultTimeout bounds commands that touch the network or the TPM.
const defaultTimeout = 30 * time.Second

// rejectedError marks an error as "input rejected" (exit code 2).
type rejectedError struct{ err error }

func (e *rejectedError) Error() string { return e.err.Error() }
func (e *rejectedError) Unwrap() error { return e.err }

// rejected wraps err so that the command exits with exitRejected.
func rejected(err error) error {
	if err == nil {
		return nil
	}
	return &rejectedError{err}
}

// globals holds the flags shared by every subcommand and the state of the
// one command a process runs.
type globals struct {
	verbose bool
	emulate string // "" (a real vTPM), "snp" or "tdx"
	tpmPath string
	timeout time.Duration
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	log     *slog.Logger
	// waits names what the command may wait for (hosts, the TPM), for the
	// message printed when --timeout expires.
	waits []string
	// hint is the next step suggested when --timeout expires.
	hint string
	// cancel releases the --timeout deadline and stops the progress lines.
	cancel context.CancelFunc
	// terminal is true when stderr is a terminal: slow steps then say what
	// they wait for every progressEvery.
	terminal      bool
	progressEvery time.Duration
	mu            sync.Mutex // guards waits, read by the progress lines
	// deadline is when --timeout expires (zero: no deadline).
	deadline time.Time
	// emulateTHIMDown makes the emulated CVM's IMDS fail its THIM
	// endpoint (emulator.Options.THIMDown). Tests only: no flag sets it.
	emulateTHIMDown bool
	// emulateRevokedVCEK makes the emulated CVM's IMDS serve the revoked
	// fake VCEK (emulator.Options.RevokedVCEK). Tests only: no flag sets
	// it.
	emulateRevokedVCEK bool
	// setGCPercent sets the process's GC target (debug.SetGCPercent) and
	// returns the previous one; main sets it, so that serve can raise the
	// target of the process it owns. Nil (tests running commands
	// in-process) leaves the GC alone.
	setGCPercent func(int) int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	quietRedis()
	code := runProcess(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, debug.SetGCPercent)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runProcess(ctx, args, stdin, stdout, stderr, nil)
}

// runProcess is run with the process-wide GC setter main owns (see
// globals.setGCPercent).
func runProcess(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, setGCPercent func(int) int) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, terminal: isTerminal(stderr), progressEvery: progressEvery,
		setGCPercent: setGCPercent}
	return execute(ctx, g, args)
}

// execute runs the CLI with args on g (its I/O set) and returns the
// process exit code.
func execute(ctx context.Context, g *globals, args []string) int {
	stdin, stdout, stderr := g.stdin, g.stdout, g.stderr
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if g.cancel != nil {
		g.cancel()
	}
	if err == nil {
		return exitOK
	}
	if _, ok := errors.AsType[*usageError](err); !ok && (strings.HasPrefix(err.Error(), "unknown command ") ||
		strings.HasPrefix(err.Error(), "required flag(s) ")) {
		err = &usageError{cmd: cmd, err: err}
	}
	code := exitCode(err)
	fmt.Fprintln(stderr, g.describe(err, code))
	return code
}

// usageError is a command line cobra refused (an unknown flag or command, a
// wrong number of arguments); its message points at the command's usage.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string {
	msg := oneLineSuggestions(e.err.Error())
	if e.cmd.HasAvailableSubCommands() {
		return fmt.Sprintf("%s (see %q for its commands)", msg, e.cmd.CommandPath()+" --help")
	}
	return fmt.Sprintf("%s (usage: %s; see %q)", msg, e.cmd.UseLine(), e.cmd.CommandPath()+" --help")
}

// didYouMean is how cobra lists the commands an unknown one resembles, one
// per line after it.
const didYouMean = "\n\nDid you mean this?\n"

// oneLineSuggestions rewrites cobra's "Did you mean this?" list as one
// clause, `unknown command "vrify" for "snp-vtpm" (did you mean "verify"?)`:
// joined into the error line it read `...; ; Did you mean this?; <tab>verify; `.
func oneLineSuggestions(msg string) string {
	head, list, ok := strings.Cut(msg, didYouMean)
	if !ok {
		return msg
	}
	var names []string
	for _, name := range strings.Fields(list) {
		names = append(names, strconv.Quote(name))
	}
	if len(names) == 0 {
		return head
	}
	return head + " (did you mean " + strings.Join(names, " or ") + "?)"
}

// unknownSubcommand refuses any argument of a command group (maa, result,
// policy, completion) as an unknown command, suggesting the subcommands it
// resembles as cobra does for the root's.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only where it suggests itself
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += didYouMean + "\t" + strings.Join(s, "\n\t") + "\n"
	}
	return errors.New(msg)
}

func (e *usageError) Unwrap() error { return e.err }

// markUsageErrors makes the argument-count errors of cmds and of their
// subcommands usageErrors.
func markUsageErrors(cmds []*cobra.Command) {
	for _, c := range cmds {
		if c.Args != nil {
			check := c.Args
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
				return nil
			}
		}
		markUsageErrors(c.Commands())
	}
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:               "snp-vtpm",
		Short:             "vTPM-based attestation of Azure Confidential VMs (AMD SEV-SNP and Intel TDX)",
		Long:              "vTPM-based attestation of Azure Confidential VMs (AMD SEV-SNP and Intel TDX).\n\n" + exitTable,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: g.prepare,
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "print diagnostics on stderr (and the full error chain)")
	pf.StringVar(&g.emulate, "emulate", "", "run against the built-in emulated Azure CVM instead of a real vTPM: --emulate (SEV-SNP) or --emulate=tdx (Intel TDX) (cgo builds only; report, quote, evidence, attest, maa attest)")
	pf.Lookup("emulate").NoOptDefVal = emulateSNP
	pf.StringVar(&g.tpmPath, "tpm", "/dev/tpmrm0", "path of the TPM device (report, quote, evidence, attest, maa attest)")
	var printReportFlag bool
	root.Flags().BoolVarP(&printReportFlag, "print", "p", false, `read, validate and print the CVM's report, SEV-SNP or TDX (same as "report -p")`)
	registerTimeout(root, g)
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if !printReportFlag {
			return cmd.Help()
		}
		o := defaultReportOpts()
		o.print = true
		return runReport(cmd.Context(), g, o)
	}

	root.AddCommand(
		newVerifyCmd(g),
		newReportCmd(g),
		newQuoteCmd(g),
		newEvidenceCmd(g),
		newServeCmd(g),
		newAttestCmd(g),
		newVersionCmd(g),
		newPolicyCmd(g),
		newEventLogCmd(g),
		newMAACmd(g),
		newResultCmd(g),
	)
	addExitTable(root.Commands())
	refuseUnknownCommands(root)
	markUsageErrors(root.Commands())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{cmd: c, err: err} })
	return root
}

// addExitTable appends the exit-status table to the help of cmds and of
// their subcommands.
func addExitTable(cmds []*cobra.Command) {
	for _, c := range cmds {
		if c.Long != "" {
			c.Long += "\n\n" + exitTable
		}
		addExitTable(c.Commands())
	}
}

// refuseUnknownCommands makes an unknown command a usage error (exit 1)
// also below the root: cobra runs a group without a Run (maa, result,
// completion) by printing its help and exiting 0, and so does "help" for a
// topic it does not know, so "snp-vtpm result verfy TOKEN" read as success
// in a script. A group now refuses any argument (as policy does) and prints
// its help only when given none.
func refuseUnknownCommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch {
		case c.Name() == "help" && c.Run != nil:
			show := c.Run
			c.Run = nil
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if _, _, err := cmd.Root().Find(args); err != nil {
					return &usageError{cmd: cmd.Root(), err: err}
				}
				show(cmd, args)
				return nil
			}
		case !c.Runnable() && c.HasSubCommands():
			c.Args = unknownSubcommand
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
	}
}

// Values of --emulate.
const (
	emulateSNP = "snp"
	emulateTDX = "tdx"
)

// platformCommands use the TPM (or the emulated CVM): --tpm and --emulate
// mean something only there.
var platformCommands = map[string]bool{"snp-vtpm": true, "report": true, "quote": true, "evidence": true, "attest": true}

// prepare runs before every command: it sets up the log (quiet unless -v),
// rejects the platform flags where they mean nothing and a --cache-dir
// that is not a directory, and starts the --timeout deadline.
func (g *globals) prepare(cmd *cobra.Command, args []string) error {
	g.log = newLogger(g.stderr, g.verbose, g.terminal)
	if !platformCommands[cmd.Name()] {
		for _, name := range []string{"emulate", "tpm"} {
			if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
				return fmt.Errorf("--%s means nothing for %q: it does not use a TPM", name, cmd.CommandPath())
			}
		}
	}
	if g.emulate != "" && g.emulate != emulateSNP && g.emulate != emulateTDX {
		return fmt.Errorf("--emulate=%.20q: want --emulate (SEV-SNP) or --emulate=tdx", g.emulate)
	}
	if f := cmd.Flags().Lookup("cache-dir"); f != nil && f.Value.String() != "" {
		if err := checkDir("--cache-dir", f.Value.String(), true); err != nil {
			return err
		}
	}
	hasTimeout := cmd.Flags().Lookup("timeout") != nil
	if hasTimeout && g.timeout < 0 { // read as "never" before
		return &usageError{cmd: cmd, err: fmt.Errorf("--timeout %s: want a duration of 0 (never give up) or more", g.timeout)}
	}
	if hasTimeout && g.timeout > 0 {
		ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
		g.deadline, _ = ctx.Deadline()
		cmd.SetContext(ctx)
		stop := g.startProgress(ctx)
		g.cancel = func() { stop(); cancel() }
	}
	return nil
}

// registerTimeout adds --timeout to a command that can touch the network or
// the TPM.
func registerTimeout(cmd *cobra.Command, g *globals) {
	cmd.Flags().DurationVar(&g.timeout, "timeout", defaultTimeout, "give up after this long (0: never)")
}

// waitFor records what the command may wait for, for the --timeout message.
func (g *globals) waitFor(what ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waits = append(g.waits, what...)
}

// exitCode classifies err by the exit-status contract.
func exitCode(err error) int {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || unavailableCollateral(err) {
		return exitUsage
	}
	if _, ok := errors.AsType[*rejectedError](err); ok {
		return exitRejected
	}
	if isRejection(err) {
		return exitRejected
	}
	return exitUsage
}
