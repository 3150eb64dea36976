// Package eventlog parses a TCG PC Client (crypto-agile) boot event log and
// replays it against quoted SHA-256 PCR values, through
// github.com/google/go-eventlog (pinned; see go.mod). It never panics:
// go-eventlog is third-party code fed attacker-controlled bytes, so every
// call into it is bounded (MaxSize) and recovered.
//
// A PCR is "replayed" when the log's events for it extend, from the
// initial value, to the quoted value; "not-covered" when the log has no
// event for it; "mismatch" otherwise. The state extracted from the log
// (Secure Boot, EFI applications, kernel command line) comes only from the
// events of replayed PCRs.
package eventlog

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-eventlog/extract"
	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"
)

// MaxSize bounds the event logs parsed (the Linux securityfs log of a
// UEFI boot is tens of kilobytes).
const MaxSize = 1 << 20

// Status is the replay verdict of one PCR.
type Status string

// Values of Status.
const (
	Replayed   Status = "replayed"    // the log's events extend to the quoted value
	NotCovered Status = "not-covered" // the log has no event for this PCR
	Mismatch   Status = "mismatch"    // the log's events do not extend to the quoted value
	Unchecked  Status = "unchecked"   // no quoted value was given for this PCR
)

// Event is one measured event of the log, as parsed (unverified unless
// its PCR replayed).
type Event struct {
	PCR    int    `json:"pcr"`
	Type   string `json:"type"`
	Digest string `json:"sha256"`
}

// PCR is the replay of one PCR.
type PCR struct {
	Index  int    `json:"index"`
	Status Status `json:"status"`
	// Events counts the log's events that extend this PCR.
	Events int `json:"events"`
	// Replayed is the value the log's events extend to (hex SHA-256), from
	// the initial value (zero, or the locality / H-CRTM start of PCR 0).
	Replayed string `json:"replayed,omitempty"`
	// Quoted is the value it was compared with (hex), when given.
	Quoted string `json:"quoted,omitempty"`
}

// State is what the events of replayed PCRs say about the boot. A nil
// field is unknown: its PCR did not replay, or the log does not say.
type State struct {
	// SecureBoot is the SecureBoot variable measured into PCR 7 (nil when
	// PCR 7 has no separator: the booted system can extend PCR 7 too).
	SecureBoot *bool `json:"secure_boot,omitempty"`
	// EFIApps are the digests (hex) of the EFI boot applications loaded
	// (PCR 4): every PCR 4 event typed an application, wherever PCR 5's
	// ExitBootServices event sits in the log (the order of events of
	// different PCRs is not measured). Nil when a PCR 4 event is neither
	// typed an application nor known by its digest: types are not
	// measured, so the list could otherwise miss a retyped application.
	EFIApps []string `json:"efi_apps,omitempty"`
	// KernelCmdline is the Linux command line that GRUB measured (PCR 8),
	// without its NUL terminator: the string measured right after the
	// kernel-loading command, when PCR 8 measured exactly one and it is a
	// Linux loader (linux, linuxefi, linux16). Nil when it is another
	// loader, or nothing was measured after it: the events' prefixes
	// alone, which the digests do not cover, never make a command line.
	// Nil with two or more: the booted system can extend PCR 8 after
	// GRUB's measurements with a loader and a command line of its own.
	KernelCmdline *string `json:"kernel_cmdline,omitempty"`
	// GRUBCommands are the commands GRUB measured into PCR 8 (with their
	// prefix, "grub_cmd: ", "kernel_cmdline: ", ...; each one's digest
	// checked against its text, not its prefix, which GRUB does not
	// measure).
	GRUBCommands []string `json:"grub_commands,omitempty"`
	// GRUBFiles are every measurement of PCR 9, in order: the files GRUB
	// read, and whatever else extended PCR 9 (the Linux EFI stub's tagged
	// initrd and load options), whatever the events' types, which no
	// digest covers.
	GRUBFiles []GRUBFile `json:"grub_files,omitempty"`
	// Firmware is the S-CRTM version string the firmware measured into
	// PCR 0 (UTF-16 decoded when NUL-terminated, as UEFI measures it;
	// "GCE <n>" for Google's numbered firmware; "hex:..." for a version
	// that is not such text, such as a GUID). Nil when the version is
	// empty (OVMF measures a lone NUL).
	// Nil unless exactly one PCR 0 event before the separator is typed a
	// version and it is the only one measured as the digest of its own
	// data that is not recognisably another event (GCE's Non-Host Info):
	// types are not measured, so another such event could be retyped.
	// Nil too when PCR 0 has no separator.
	Firmware *string `json:"firmware,omitempty"`
	// PK, KEK, DB and DBX are the Secure Boot variables measured into
	// PCR 7 (nil when PCR 7 did not replay).
	PK  *SignatureDB `json:"pk,omitempty"`
	KEK *SignatureDB `json:"kek,omitempty"`
	DB  *SignatureDB `json:"db,omitempty"`
	DBX *SignatureDB `json:"dbx,omitempty"`
	// Authorities are the db certificates that verified the images loaded
	// after the separator (EV_EFI_VARIABLE_AUTHORITY in PCR 7).
	Authorities []Cert `json:"authorities,omitempty"`
	// Notes are the extraction errors go-eventlog reported (partial state).
	Notes []string `json:"notes,omitempty"`
}

// GRUBFile is a file GRUB read and measured (PCR 9).
type GRUBFile struct {
	// SHA256 is the digest of the file's content (hex).
	SHA256 string `json:"sha256"`
	// UntrustedName is the name the event gives: event data, which the
	// digest does not measure, so nothing vouches for it.
	UntrustedName string `json:"untrusted_name"`
}

// Result is a parsed and replayed log.
type Result struct {
	// Events are the log's measured events, in order.
	Events []Event `json:"events"`
	// PCRs has one entry per PCR the log extends or the caller quoted,
	// by index.
	PCRs []PCR `json:"pcrs"`
	// State is extracted from the replayed PCRs' events.
	State State `json:"state"`
}

// Status returns the status of PCR idx (NotCovered when absent).
func (r *Result) Status(idx int) Status {
	for _, p := range r.PCRs {
		if p.Index == idx {
			return p.Status
		}
	}
	return NotCovered
}

// ErrFormat is matched (errors.Is) by every error of Replay: the log could
// not be parsed.
var ErrFormat = errors.New("eventlog: malformed event log")

// Replay parses log and replays it against quoted (PCR index to SHA-256
// value). PCRs the log extends but quoted lacks are Unchecked; with nil
// quoted, every PCR is, and no state is extracted. It never panics.
func Replay(log []byte, quoted map[int][]byte) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: the parser failed: %v", ErrFormat, r)
		}
	}()
	if len(log) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrFormat)
	}
	if len(log) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrFormat, len(log), MaxSize)
	}
	if err := checkLog(log); err != nil {
		return nil, err
	}
	el, err := tcg.ParseEventLog(log, tcg.ParseOpts{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if !slices.Contains(el.Algs, register.HashSHA256) {
		return nil, fmt.Errorf("%w: the log carries no SHA-256 digests", ErrFormat)
	}
	events := el.Events(register.HashSHA256)
	res = &Result{}
	replayed := replayValues(events)
	for _, e := range events {
		if e.Type == tcg.NoAction {
			continue
		}
		res.Events = append(res.Events, Event{PCR: e.Index, Type: tcg.EventType(e.Type).String(), Digest: hex.EncodeToString(e.Digest)})
	}
	var good []register.MR
	for _, idx := range pcrIndices(replayed, quoted) {
		p := PCR{Index: idx, Status: Unchecked}
		if v, ok := replayed[idx]; ok {
			p.Replayed = hex.EncodeToString(v.value)
			p.Events = v.events
		}
		q, ok := quoted[idx]
		if ok {
			p.Quoted = hex.EncodeToString(q)
			mr := register.PCR{Index: idx, Digest: bytes.Clone(q), DigestAlg: crypto.SHA256}
			p.Status = replayOne(el, mr, p.Events)
			if p.Status == Replayed {
				good = append(good, mr)
			}
		}
		res.PCRs = append(res.PCRs, p)
	}
	if len(good) > 0 {
		res.State = extractState(el, good)
	}
	return res, nil
}

// replayOne replays the log against one PCR with go-eventlog.
func replayOne(el *tcg.EventLog, mr register.PCR, events int) Status {
	if events == 0 {
		return NotCovered
	}
	if _, err := el.Verify([]register.MR{mr}); err != nil {
		return Mismatch
	}
	return Replayed
}

// extractState extracts the boot state from the events of the replayed
// PCRs only.
func extractState(el *tcg.EventLog, good []register.MR) State {
	var st State
	events, err := el.Verify(good)
	if err == nil {
		err = checkSignatureLists(events)
	}
	if err != nil {
		st.Notes = append(st.Notes, err.Error())
		return st
	}
	has := func(i int) bool {
		return slices.ContainsFunc(good, func(m register.MR) bool { return m.Idx() == i })
	}
	fs, err := extract.FirmwareLogState(events, crypto.SHA256, extract.TPMRegisterConfig, extract.Opts{Loader: extract.GRUB, AllowEmptySBVar: true})
	if err != nil {
		st.Notes = append(st.Notes, strings.Split(err.Error(), "\n")...)
	}
	if fs == nil {
		return st
	}
	// PCR 7's variables are the firmware's only up to its separator: the
	// booted system can extend PCR 7 too.
	sb := fs.GetSecureBoot()
	if sb != nil && has(7) && !separated(events, 7) {
		st.Notes = append(st.Notes, "PCR 7 has no separator: no Secure Boot state is claimed (what the booted system extended PCR 7 with cannot be told from what the firmware measured)")
		sb = nil
	}
	if sb != nil && has(7) {
		on := sb.GetEnabled()
		st.SecureBoot = &on
		st.PK, st.KEK = signatureDB(sb.GetPk()), signatureDB(sb.GetKek())
		st.DB, st.DBX = signatureDB(sb.GetDb()), signatureDB(sb.GetDbx())
		st.Authorities = signatureDB(sb.GetAuthority()).Certs
	}
	if has(0) {
		fw, err := firmware(events)
		st.Firmware = fw
		st.note(err)
	}
	// go-eventlog's EFI state says ExitBootServices was measured (PCR 5);
	// the applications are read from every PCR 4 event (pcr4Apps).
	if has(4) && fs.GetEfi() != nil {
		apps, err := pcr4Apps(events)
		st.EFIApps = apps
		st.note(err)
	}
	if has(8) {
		grubCommands(&st, fs.GetGrub().GetCommands(), events)
	}
	if has(9) {
		st.GRUBFiles = grubFiles(events)
	}
	return st
}

// note adds err, when not nil, to the state's notes.
func (st *State) note(err error) {
	if err != nil {
		st.Notes = append(st.Notes, err.Error())
	}
}

// replay is the replay of one PCR: its value and its event count.
type replay struct {
	value  []byte
	events int
}

// replayValues extends each PCR's SHA-256 digests in log order: from zero,
// or for PCR 0 from the StartupLocality event's locality, or from the
// H-CRTM value.
func replayValues(events []tcg.Event) map[int]replay {
	out := map[int]replay{}
	locality := byte(0)
	for _, e := range events {
		if e.Type == tcg.NoAction {
			if e.Index == 0 && len(e.Data) == 17 && strings.HasPrefix(string(e.Data), "StartupLocality") {
				locality = e.Data[16]
			}
			continue
		}
		r := out[e.Index]
		if r.value == nil {
			r.value = make([]byte, sha256.Size)
			if e.Index == 0 {
				r.value[sha256.Size-1] = locality
			}
		}
		if e.Type == tcg.EFIHCRTMEvent && r.events == 0 {
			r.value[sha256.Size-1] = 4
		}
		h := sha256.New()
		h.Write(r.value)
		h.Write(e.Digest)
		r.value = h.Sum(nil)
		r.events++
		out[e.Index] = r
	}
	return out
}

// pcrIndices returns the indices of a and b, ascending.
func pcrIndices(a map[int]replay, b map[int][]byte) []int {
	var idx []int
	for i := range a {
		idx = append(idx, i)
	}
	for i := range b {
		if _, ok := a[i]; !ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	return idx
}
