package attester

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestEventLog: the log is read from the path given, bounded; an absent or
// empty log is normal and silent; an unreadable or oversized one is left
// out with a warning; a given EventLog is carried instead of the file
// (bounded alike); NoEventLog reads nothing.
func TestEventLog(t *testing.T) {
	dir := t.TempDir()
	real := testutil.ReadFile(t, "eventlogs/gce-rhel8-uefi.bin")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name    string
		a       Attester
		want    []byte
		warning string
	}{
		{name: "real log", a: Attester{EventLogPath: write("real.bin", real)}, want: real},
		{name: "absent", a: Attester{EventLogPath: filepath.Join(dir, "none")}},
		{name: "empty", a: Attester{EventLogPath: write("empty.bin", nil)}},
		{name: "largest allowed", a: Attester{EventLogPath: write("max.bin", make([]byte, evidence.MaxEventLogSize))}, want: make([]byte, evidence.MaxEventLogSize)},
		{name: "oversized", a: Attester{EventLogPath: write("big.bin", make([]byte, evidence.MaxEventLogSize+1))}, warning: "larger than the evidence format allows"},
		{name: "directory", a: Attester{EventLogPath: dir}, warning: "a directory"},
		{name: "disabled", a: Attester{EventLogPath: write("off.bin", real), NoEventLog: true}},
		{name: "given", a: Attester{EventLogPath: write("file.bin", []byte("the file")), EventLog: real}, want: real},
		{name: "given oversized", a: Attester{EventLog: make([]byte, evidence.MaxEventLogSize+1)}, warning: "larger than the evidence format allows"},
		{name: "given, disabled", a: Attester{EventLog: real, NoEventLog: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tc.a.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			got := tc.a.eventLog(context.Background())
			if !bytes.Equal(got, tc.want) {
				t.Errorf("read %d bytes, want %d", len(got), len(tc.want))
			}
			if tc.warning == "" && logs.Len() != 0 {
				t.Errorf("unexpected log: %s", logs.String())
			}
			if tc.warning != "" && !strings.Contains(logs.String(), tc.warning) {
				t.Errorf("log %q lacks %q", logs.String(), tc.warning)
			}
		})
	}
}
