package eventlog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/google/go-eventlog/tcg"
)

// An event's type is event data: no digest covers it. go-eventlog lists as
// EFI applications the PCR 4 events typed EV_EFI_BOOT_SERVICES_APPLICATION
// and ignores the others it does not recognise by digest, so a log whose
// application event was retyped (EV_IPL, an EV_EFI_ACTION of no known
// action) replays to the same PCR 4 with that application missing from
// the list. Nor is the order of events of different PCRs measured (each
// PCR binds the order of its own events only): go-eventlog stops at PCR
// 5's ExitBootServices event in log order, so moving that event ahead of
// PCR 4's last applications hid them too. pcr4Apps reads every PCR 4
// event, wherever PCR 5's events sit.

// pcr4Known are the digests of the PCR 4 events that are not applications
// (go-eventlog checks the type of the first three): the boot-option
// actions, the separators and the omitted-boot-attempts event.
var pcr4Known = func() map[[sha256.Size]byte]bool {
	m := map[[sha256.Size]byte]bool{}
	for _, s := range []string{tcg.CallingEFIApplication, tcg.ReturningFromEFIApplication, "\x00\x00\x00\x00", "\xff\xff\xff\xff", "BOOT ATTEMPTS OMITTED"} {
		m[sha256.Sum256([]byte(s))] = true
	}
	return m
}()

// pcr4Apps returns the digests (hex) of every PCR 4 event typed an
// application, in order, or an error naming the first PCR 4 event that is
// neither typed an application nor a known non-application by its digest.
func pcr4Apps(events []tcg.Event) ([]string, error) {
	var apps []string
	for i, e := range events {
		if e.MRIndex() != 4 {
			continue
		}
		d := e.ReplayedDigest()
		switch {
		case e.Type == tcg.EFIBootServicesApplication:
			apps = append(apps, hex.EncodeToString(d))
		case len(d) == sha256.Size && pcr4Known[[sha256.Size]byte(d)]:
		default:
			return nil, fmt.Errorf("PCR 4 event %d (%s, digest %x) is not typed an EFI application, nor any known event: no EFI application list is claimed", i, e.Type, d)
		}
	}
	return apps, nil
}
