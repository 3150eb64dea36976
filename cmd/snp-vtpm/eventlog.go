package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func newEventLogCmd(g *globals) *cobra.Command {
	var (
		pcrsFile string
		jsonOut  bool
	)
	cmd := &cobra.Command{Use: "eventlog [flags] LOG_FILE", Args: cobra.ExactArgs(1)}
	cmd.Short = "Parse a TCG boot event log and replay it, against --pcrs when given"
	cmd.Long = `Parse a TCG PC Client boot event log (crypto-agile, as Linux exposes it in
/sys/kernel/security/tpm0/binary_bios_measurements) and print its events per PCR and the
value each PCR replays to. With --pcrs FILE (SHA-256 PCR values: {"pcrs":{"sha256":{"0":"hex",...}}},
or such objects keyed by the log's file name) each PCR is replayed against its value:
replayed, not-covered (no event) or mismatch; a partial replay is a normal result. The
boot state (Secure Boot, EFI applications, kernel command line) is extracted from the
events of replayed PCRs only; without --pcrs nothing is verified and no state is shown.
A log that does not parse is rejected (exit status 2, check event-log).`
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := runEventLog(g, args[0], pcrsFile, jsonOut)
		if jsonOut {
			return writeRejection(g.stdout, err)
		}
		return err
	}
	cmd.Flags().StringVar(&pcrsFile, "pcrs", "", "JSON file of SHA-256 PCR values to replay against")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON (a rejection as {\"verified\": false, \"check\", \"error\"})")
	return cmd
}

// runEventLog replays the log in file, against the PCR values of pcrsFile
// when given, and prints the result.
func runEventLog(g *globals, file, pcrsFile string, jsonOut bool) error {
	log, err := readInput(file, g.stdin, verify.CheckEventLog)
	if err != nil {
		return err
	}
	var quoted map[int][]byte
	if pcrsFile != "" {
		if quoted, err = readPCRsFile(pcrsFile, filepath.Base(file)); err != nil {
			return err
		}
	}
	res, err := eventlog.Replay(log, quoted)
	if err != nil {
		g.warnOtherKind(log, kindEventLog, file)
		return &verify.Error{Check: verify.CheckEventLog, Err: err}
	}
	if jsonOut {
		return writeJSON(g.stdout, res)
	}
	printEventLog(g.stdout, res, quoted != nil)
	return nil
}

// pcrsDoc is the --pcrs form (testdata/eventlogs/pcrs.json's entries).
type pcrsDoc struct {
	PCRs      map[string]map[string]string `json:"pcrs"`
	SourceVar string                       `json:"source_var,omitempty"`
}

// readPCRsFile reads --pcrs: one pcrsDoc, or pcrsDocs keyed by log file
// name (the entry of logName is taken).
func readPCRsFile(name, logName string) (map[int][]byte, error) {
	data, err := readFile("--pcrs", name)
	if err != nil {
		return nil, err
	}
	return parsePCRsDoc(data, name, logName)
}

// parsePCRsDoc parses the --pcrs file name's data: its sha256 bank, of
// logName's entry when the file is keyed by log file name.
func parsePCRsDoc(data []byte, name, logName string) (map[int][]byte, error) {
	var doc pcrsDoc
	var byName map[string]pcrsDoc
	if strictjson.Unmarshal(data, &doc, strictjson.Options{RejectUnknown: true}) != nil || doc.PCRs == nil {
		if err := strictjson.Unmarshal(data, &byName, strictjson.Options{RejectUnknown: true}); err != nil {
			return nil, fmt.Errorf("--pcrs %s: want {\"pcrs\":{\"sha256\":{...}}} or such objects keyed by log file name: %w", name, err)
		}
		e, ok := byName[logName]
		if !ok && logName == "-" {
			return nil, fmt.Errorf("--pcrs %s: its entries are keyed by log file name, and a log read from standard input has none: give the log as a file, or --pcrs one {\"pcrs\":{\"sha256\":{...}}} document", name)
		}
		if !ok {
			return nil, fmt.Errorf("--pcrs %s: no entry for %q", name, logName)
		}
		doc = e
	}
	bank, ok := doc.PCRs["sha256"]
	if !ok {
		return nil, fmt.Errorf("--pcrs %s: no sha256 bank", name)
	}
	out := make(map[int][]byte, len(bank))
	for k, v := range bank {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i > 23 || strconv.Itoa(i) != k {
			return nil, fmt.Errorf("--pcrs %s: sha256[%q]: want a PCR index in 0..23", name, format.Truncate(k, 16))
		}
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("--pcrs %s: sha256[%q]: want 64 hex digits", name, format.Truncate(k, 16))
		}
		out[i] = b
	}
	return out, nil
}

// printEventLog prints a replayed log for humans.
func printEventLog(w io.Writer, res *eventlog.Result, checked bool) {
	fmt.Fprintf(w, "event log: %d measured events\n", len(res.Events))
	if !checked {
		fmt.Fprintln(w, "NOT VERIFIED: no --pcrs given; the values below are what the log claims")
	}
	fmt.Fprintf(w, "  %-4s %-12s %-7s %s\n", "pcr", "status", "events", "replayed value")
	for _, p := range res.PCRs {
		v := p.Replayed
		if p.Status == eventlog.Mismatch {
			v += " (quoted " + p.Quoted + ")"
		}
		fmt.Fprintf(w, "  %-4d %-12s %-7d %s\n", p.Index, p.Status, p.Events, v)
	}
	if !checked {
		return
	}
	st := res.State
	fmt.Fprintln(w, "state (from replayed PCRs only):")
	sb := "unknown (PCR 7 not replayed)"
	if res.Status(7) == eventlog.Replayed {
		sb = "unknown (PCR 7 replayed, its Secure Boot state is not claimed: see the notes)"
	}
	if st.SecureBoot != nil {
		sb = onOff(*st.SecureBoot)
	}
	fmt.Fprintf(w, "  %-22s %s\n", "secure boot", sb)
	cl := "unknown (PCR 8 not replayed or no GRUB command line)"
	if st.KernelCmdline != nil {
		cl = strconv.Quote(*st.KernelCmdline)
	}
	row := func(k, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", k, fmt.Sprintf(format, args...))
	}
	row("kernel command line", "%s", cl)
	printBootState(row, st)
	// A note can quote the log's event data (go-eventlog's errors do):
	// no control characters from it reach the terminal.
	for _, n := range st.Notes {
		row("note", "%s", format.Printable(n, maxNote))
	}
}

// maxNote bounds a note as printed (about; the JSON output has it whole).
const maxNote = 512
