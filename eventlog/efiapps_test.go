package eventlog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// pcr4Event is one PCR 4 event: its type (event data, which no digest
// covers) and the digest measured.
type pcr4Event struct {
	typ      tcg.EventType
	data     string
	measured string
}

// TestEFIAppsRestOnMeasurements: the EFI applications claimed are every
// application PCR 4 measured. Neither an event's type nor the order of
// events of different PCRs is measured (each PCR binds only its own
// events' order): a log that relabels an application's event (as EV_IPL,
// or as an EV_EFI_ACTION whose digest is no known action) replays to the
// same PCR 4 and must not make the application vanish from the claim (then
// no application list is claimed at all), and moving PCR 5's
// ExitBootServices event ahead of PCR 4's last applications (go-eventlog
// stops reading applications there in log order) must not either.
func TestEFIAppsRestOnMeasurements(t *testing.T) {
	shim, grub, kernel := "shim image", "grub image", "evil kernel image"
	calling := pcr4Event{tcg.EFIAction, tcg.CallingEFIApplication, tcg.CallingEFIApplication}
	returning := pcr4Event{tcg.EFIAction, tcg.ReturningFromEFIApplication, tcg.ReturningFromEFIApplication}
	sep := pcr4Event{tcg.Separator, "\x00\x00\x00\x00", "\x00\x00\x00\x00"}
	app := func(img string) pcr4Event { return pcr4Event{tcg.EFIBootServicesApplication, "device path", img} }
	relabel := func(e pcr4Event, typ tcg.EventType) pcr4Event { e.typ = typ; return e }
	tests := []struct {
		name string
		// before are the PCR 4 events written before ExitBootServices
		// (PCR 5), after those written after it.
		before, after []pcr4Event
		want          []string // nil: no list claimed
	}{
		{name: "honest", before: []pcr4Event{calling, sep, app(shim), app(grub), app(kernel)}, want: []string{shim, grub, kernel}},
		{name: "failed boot option, then another", before: []pcr4Event{calling, sep, app(shim), returning, calling, app(grub)}, want: []string{shim, grub}},
		{name: "application relabelled EV_IPL", before: []pcr4Event{calling, sep, app(shim), relabel(app(grub), tcg.Ipl)}},
		{name: "application relabelled EV_EFI_ACTION", before: []pcr4Event{calling, sep, relabel(app(shim), tcg.EFIAction), app(grub)}},
		{name: "application relabelled a driver", before: []pcr4Event{calling, sep, app(shim), relabel(app(grub), tcg.EFIBootServicesDriver)}},
		{name: "ExitBootServices moved before the kernel", before: []pcr4Event{calling, sep, app(shim), app(grub)}, after: []pcr4Event{app(kernel)}, want: []string{shim, grub, kernel}},
		{name: "ExitBootServices moved first", after: []pcr4Event{calling, sep, app(shim), app(grub), app(kernel)}, want: []string{shim, grub, kernel}},
		{name: "moved and relabelled", before: []pcr4Event{calling, sep, app(shim)}, after: []pcr4Event{relabel(app(kernel), tcg.Ipl)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			for _, e := range tt.before {
				b.MeasureDigest(4, e.typ, []byte(e.data), []byte(e.measured))
			}
			b.Measure(5, tcg.EFIAction, []byte(tcg.ExitBootServicesInvocation))
			b.Measure(5, tcg.EFIAction, []byte("Exit Boot Services Returned with Success"))
			for _, e := range tt.after {
				b.MeasureDigest(4, e.typ, []byte(e.data), []byte(e.measured))
			}
			res := replayBuilt(t, b, 4, 5)
			var want []string
			for _, img := range tt.want {
				d := sha256.Sum256([]byte(img))
				want = append(want, hex.EncodeToString(d[:]))
			}
			if !slices.Equal(res.State.EFIApps, want) || (want == nil) != (res.State.EFIApps == nil) {
				t.Errorf("EFI applications %q, want %q (notes %q)", res.State.EFIApps, want, res.State.Notes)
			}
		})
	}
}
