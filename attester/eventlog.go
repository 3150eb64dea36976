package attester

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/snp-vtpm/snp-vtpm/evidence"
)

// DefaultEventLogPath is where Linux exposes the firmware's TCG boot event
// log (securityfs; readable by root).
const DefaultEventLogPath = "/sys/kernel/security/tpm0/binary_bios_measurements"

// eventLog reads the boot event log for the evidence: from a.EventLogPath
// (DefaultEventLogPath when empty) or a.EventLog, nothing when a.NoEventLog. A log that
// is absent or empty is normal (nil, no warning: many guests have none);
// one that cannot be read or is larger than evidence.MaxEventLogSize is
// left out with a warning. The log is unsigned: a verifier trusts it only
// as far as it replays to the quoted PCRs, so leaving it out never makes
// evidence wrong, only less informative.
func (a *Attester) eventLog(ctx context.Context) []byte {
	if a.NoEventLog {
		return nil
	}
	if a.EventLog != nil {
		if len(a.EventLog) > evidence.MaxEventLogSize {
			a.log().WarnContext(ctx, "evidence without the boot event log", "bytes", len(a.EventLog), "err", errTooLarge)
			return nil
		}
		return bytes.Clone(a.EventLog)
	}
	path := a.EventLogPath
	if path == "" {
		path = DefaultEventLogPath
	}
	data, err := readBounded(path, evidence.MaxEventLogSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		a.log().WarnContext(ctx, "evidence without the boot event log", "path", path, "err", err)
		return nil
	case len(data) == 0:
		return nil
	}
	return data
}

// errTooLarge says a file exceeds the bound readBounded was given.
var errTooLarge = errors.New("larger than the evidence format allows")

// readBounded reads the regular file or securityfs entry at path, at most
// limit bytes (errTooLarge beyond).
func readBounded(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if st.IsDir() {
		return nil, errors.New("a directory, not a log")
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, errTooLarge
	}
	return data, nil
}
