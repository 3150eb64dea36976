package eventlog_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// pcr9Event is one PCR 9 event: its type and data (neither measured) and
// the content whose digest PCR 9 measured.
type pcr9Event struct {
	typ      tcg.EventType
	data     string
	measured string
}

// file is an honest GRUB file measurement: EV_IPL, the file's name, its content.
func file(name, content string) pcr9Event { return pcr9Event{tcg.Ipl, name + "\x00", content} }

// taggedData is a TCG_PCClientTaggedEvent: id, size, data (the Linux EFI
// stub's measurements of the initrd and its load options).
func taggedData(id uint32, s string) string {
	b := binary.LittleEndian.AppendUint32(nil, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return string(append(b, s...))
}

// TestGRUBFilesIgnoreUnmeasuredType: the GRUB files claimed are every
// measurement of the replayed PCR 9, whatever the events' types, which no
// digest covers. go-eventlog skips PCR 9 events typed EV_EVENT_TAG and
// drops every GRUB file (and command) for any other type but EV_IPL, so a
// log whose kernel's event was retyped replayed to the quoted PCR 9 and
// claimed a file list without that kernel.
func TestGRUBFilesIgnoreUnmeasuredType(t *testing.T) {
	const cfg, kernel, evil = "grub.cfg content", "vmlinuz content", "evil kernel"
	retype := func(e pcr9Event, typ tcg.EventType) pcr9Event { e.typ = typ; return e }
	type want struct{ content, name string }
	tests := []struct {
		name   string
		events []pcr9Event
		want   []want
	}{
		{"honest", []pcr9Event{file("/boot/grub/grub.cfg", cfg), file("/vmlinuz", kernel)},
			[]want{{cfg, "/boot/grub/grub.cfg"}, {kernel, "/vmlinuz"}}},
		{"the Linux EFI stub's tagged load options", []pcr9Event{file("/vmlinuz", kernel), {tcg.EventTag, taggedData(0x8f3b22ed, "LOADED_IMAGE::LoadOptions\x00"), "ro quiet"}},
			[]want{{kernel, "/vmlinuz"}, {"ro quiet", "LOADED_IMAGE::LoadOptions"}}},
		{"kernel retyped EV_EVENT_TAG", []pcr9Event{file("/boot/grub/grub.cfg", cfg), retype(file("/vmlinuz", evil), tcg.EventTag)},
			[]want{{cfg, "/boot/grub/grub.cfg"}, {evil, ""}}},
		{"kernel retyped EV_POST_CODE", []pcr9Event{file("/boot/grub/grub.cfg", cfg), retype(file("/vmlinuz", evil), tcg.PostCode)},
			[]want{{cfg, "/boot/grub/grub.cfg"}, {evil, "/vmlinuz"}}},
		{"tagged event whose size overruns its data", []pcr9Event{{tcg.EventTag, taggedData(1, "name")[:10], evil}},
			[]want{{evil, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			for _, e := range tt.events {
				b.MeasureDigest(9, e.typ, []byte(e.data), []byte(e.measured))
			}
			res := replayBuilt(t, b, 9)
			var got, wantFiles []eventlog.GRUBFile
			got = res.State.GRUBFiles
			for _, w := range tt.want {
				d := sha256.Sum256([]byte(w.content))
				wantFiles = append(wantFiles, eventlog.GRUBFile{SHA256: hex.EncodeToString(d[:]), UntrustedName: w.name})
			}
			if !slices.Equal(got, wantFiles) {
				t.Errorf("GRUB files %+v, want %+v (notes %q)", got, wantFiles, res.State.Notes)
			}
		})
	}
}
