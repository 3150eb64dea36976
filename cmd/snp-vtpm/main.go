// Command snp-vtpm reads, validates and verifies vTPM-based AMD SEV-SNP
// attestation evidence from Azure Confidential VMs.
//
// Exit codes: 0 success, 1 usage or I/O error, 2 evidence rejected.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Exit codes, one per failure class.
const (
	exitOK       = 0
	exitUsage    = 1 // usage, I/O, device or network errors
	exitRejected = 2 // the evidence or report failed verification
)

// rejectedError marks an error as "evidence rejected" (exit code 2).
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

// rejectedOr is rejected(err) when err carries a verification failure
// (*verify.Error), err itself otherwise.
func rejectedOr(err error) error {
	if _, ok := errors.AsType[*verify.Error](err); ok {
		return rejected(err)
	}
	return err
}

// globals holds the flags shared by every subcommand.
type globals struct {
	verbose bool
	emulate bool
	tpmPath string
	stdout  io.Writer
	stderr  io.Writer
	log     *slog.Logger
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var rej *rejectedError
	if errors.As(err, &rej) {
		fmt.Fprintf(stderr, "REJECTED: %v\n", err)
		return exitRejected
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	return exitUsage
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "snp-vtpm",
		Short:         "vTPM-based AMD SEV-SNP attestation for Azure Confidential VMs",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelInfo
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "print diagnostics on stderr")
	pf.BoolVar(&g.emulate, "emulate", false, "run against the built-in emulated Azure CVM instead of a real vTPM (cgo builds only)")
	pf.StringVar(&g.tpmPath, "tpm", "/dev/tpmrm0", "path of the TPM device")
	var printReportFlag bool
	root.Flags().BoolVarP(&printReportFlag, "print", "p", false, `read, validate and print the SEV-SNP report (same as "report -p")`)
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
	)
	return root
}
