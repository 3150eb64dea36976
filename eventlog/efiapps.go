package eventlog

import (
	"crypto/sha256"
	"fmt"

	"github.com/google/go-eventlog/tcg"
)

// An event's type is event data: no digest covers it. go-eventlog lists as
// EFI applications the PCR 4 events typed EV_EFI_BOOT_SERVICES_APPLICATION
// and ignores the others it does not recognise by digest, so a log whose
// application event was retyped (EV_IPL, an EV_EFI_ACTION of no known
// action) replays to the same PCR 4 with that application missing from
// the list. pcr4Unlisted finds such an event.

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

// pcr4Unlisted returns an error naming the first PCR 4 event, before
// ExitBootServices (as go-eventlog reads them), that is neither typed an
// application nor a known non-application by its digest; nil when there
// is none.
func pcr4Unlisted(events []tcg.Event) error {
	ebs := sha256.Sum256([]byte(tcg.ExitBootServicesInvocation))
	for i, e := range events {
		d := e.ReplayedDigest()
		if e.MRIndex() == 5 && string(d) == string(ebs[:]) {
			return nil
		}
		if e.MRIndex() != 4 || e.UntrustedType() == tcg.EFIBootServicesApplication || (len(d) == sha256.Size && pcr4Known[[sha256.Size]byte(d)]) {
			continue
		}
		return fmt.Errorf("PCR 4 event %d (%s, digest %x) is not typed an EFI application, nor any known event: no EFI application list is claimed", i, e.UntrustedType(), d)
	}
	return nil
}
