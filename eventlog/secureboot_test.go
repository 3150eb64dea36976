package eventlog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// Certificate SHA-256 digests (of the DER) in the real logs. Microsoft's
// three are the published thumbprints of its UEFI CAs.
const (
	msKEKCA2011  = "a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503"
	msUEFICA2011 = "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507"
	msWinPCA2011 = "e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961"
	gcePK        = "d1d217acf60ba4e4a890210322d006d673c0b82de9d65ad7f2d55897635429e2"
	cosPK        = "c187832602dbada644d18fb43a5aab2ed71854f0a3ef678c0debfc96608b1eeb"
	cosKEK       = "e76a7b739876acbb3835e70a121192244f895e5bb033793e7470d196eed2b6bd"
	cosDB        = "2fa7df82773db7eedb5cbaa88e20d885e4c19f1f24ee8e9930192893c258d0a4"
	redHatCA5    = "40175d4c7c5ab4bd753a493f47952f1d8dcf1c219b836968a693e48bd4766135"
)

// sbGolden is what a real log's replayed PCR 7 (and PCR 0) says.
type sbGolden struct {
	firmware    string
	pk, kek, db []string // certificate digests
	dbxCerts    int
	dbxHashes   int
	authorities []string
	subject     string // a subject of the db
	grub        [2]int // GRUB commands and files
	grubFile    string // the first file's name
	// lastGrubFile is the last PCR 9 measurement's name, when given.
	lastGrubFile string
}

// TestRealLogsSecureBoot: golden Secure Boot databases, authorities and
// firmware versions of the five real GCE logs (rhel8's db of 2 and dbx of
// 3 certificates and 183 digests are in testdata/eventlogs/SOURCES.md).
func TestRealLogsSecureBoot(t *testing.T) {
	ms := sbGolden{firmware: "GCE 1", pk: []string{gcePK}, kek: []string{msKEKCA2011}, db: []string{msUEFICA2011, msWinPCA2011},
		subject: "CN=Microsoft Corporation UEFI CA 2011,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US"}
	rhel := ms
	rhel.grub, rhel.grubFile = [2]int{50, 2}, "grub_linuxefi Kernel"
	rhel.dbxCerts, rhel.dbxHashes, rhel.authorities = 3, 183, []string{msUEFICA2011, redHatCA5}
	noSB := ms
	noSB.dbxCerts, noSB.dbxHashes = 3, 183
	noSB.grub, noSB.grubFile = [2]int{67, 9}, "(hd0,gpt15)/EFI/ubuntu/grub.cfg"
	noDBX := ms
	noDBX.grub, noDBX.grubFile = [2]int{73, 9}, noSB.grubFile
	sevsnp := noSB
	sevsnp.firmware = "GCE 2"
	sevsnp.dbxCerts, sevsnp.dbxHashes = 0, 371 // a newer dbx: digests only
	// PCR 9: GRUB's 11 files, then the Linux EFI stub's EV_EVENT_TAG
	// measurement of the kernel's load options (every PCR 9 measurement
	// is listed: grubFiles).
	sevsnp.grub = [2]int{71, 12}
	sevsnp.lastGrubFile = "LOADED_IMAGE::LoadOptions"
	golden := map[string]sbGolden{
		"gce-cos-121-amd-sev.bin": {firmware: "GCE 2", pk: []string{cosPK}, kek: []string{cosKEK}, db: []string{cosDB}, dbxCerts: 4,
			authorities: []string{cosDB, cosDB}, grub: [2]int{15, 2}, grubFile: "/efi/boot/grub.cfg", subject: "CN=UEFI DB Key v20250203,OU=Container Optimized OS,O=Google LLC.,L=Mountain View,ST=California,C=US"},
		"gce-rhel8-uefi.bin":                 rhel,
		"gce-ubuntu-2104-no-dbx.bin":         noDBX,
		"gce-ubuntu-2104-no-secure-boot.bin": noSB,
		"gce-ubuntu-2404-amd-sevsnp.bin":     sevsnp,
	}
	for name, want := range golden {
		t.Run(name, func(t *testing.T) {
			res, err := eventlog.Replay(testutil.ReadFile(t, "eventlogs/"+name), quotedPCRs(t, name))
			if err != nil {
				t.Fatal(err)
			}
			st := res.State
			if want.firmware != "" && (st.Firmware == nil || *st.Firmware != want.firmware) {
				t.Errorf("firmware %v, want %q", st.Firmware, want.firmware)
			}
			checkCerts(t, "pk", st.PK, want.pk)
			checkCerts(t, "kek", st.KEK, want.kek)
			checkCerts(t, "db", st.DB, want.db)
			if st.DB == nil || len(st.DB.Certs) == 0 || st.DB.Certs[0].Subject != want.subject {
				t.Errorf("db subject: %+v, want %q", st.DB, want.subject)
			}
			if st.DBX == nil || len(st.DBX.Certs) != want.dbxCerts || len(st.DBX.Hashes) != want.dbxHashes {
				t.Errorf("dbx: %s, want %d certificates and %d digests", dbxString(st.DBX), want.dbxCerts, want.dbxHashes)
			}
			if got := [2]int{len(st.GRUBCommands), len(st.GRUBFiles)}; got != want.grub || st.GRUBFiles[0].UntrustedName != want.grubFile {
				t.Errorf("GRUB: %v commands and files, first %q; want %v, %q", got, st.GRUBFiles[0].UntrustedName, want.grub, want.grubFile)
			}
			if last := st.GRUBFiles[len(st.GRUBFiles)-1].UntrustedName; want.lastGrubFile != "" && last != want.lastGrubFile {
				t.Errorf("last PCR 9 measurement %q, want %q", last, want.lastGrubFile)
			}
			var auth []string
			for _, a := range st.Authorities {
				auth = append(auth, a.SHA256)
			}
			if strings.Join(auth, ",") != strings.Join(want.authorities, ",") {
				t.Errorf("authorities %v, want %v", auth, want.authorities)
			}
			for _, d := range want.db {
				if !st.DB.HasCert(d) {
					t.Errorf("db lacks %s", d)
				}
			}
			if st.DB.HasCert(strings.Repeat("0", 64)) || (*eventlog.SignatureDB)(nil).HasCert(want.db[0]) {
				t.Error("HasCert matched what is not there")
			}
		})
	}
}

func checkCerts(t *testing.T, name string, db *eventlog.SignatureDB, want []string) {
	t.Helper()
	if db == nil {
		t.Errorf("%s: none", name)
		return
	}
	var got []string
	for _, c := range db.Certs {
		got = append(got, c.SHA256)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: %v, want %v", name, got, want)
	}
}

// TestSecureBootNeedsPCR7: with PCR 7 a mismatch, no database is claimed;
// with PCR 0 a mismatch, no firmware.
func TestSecureBootNeedsPCR7(t *testing.T) {
	const name = "gce-rhel8-uefi.bin"
	pcrs := quotedPCRs(t, name)
	pcrs[7], pcrs[0] = make([]byte, 32), make([]byte, 32)
	res, err := eventlog.Replay(testutil.ReadFile(t, "eventlogs/"+name), pcrs)
	if err != nil {
		t.Fatal(err)
	}
	st := res.State
	if st.PK != nil || st.KEK != nil || st.DB != nil || st.DBX != nil || st.Authorities != nil || st.Firmware != nil {
		t.Errorf("state from PCRs that did not replay: %+v", st)
	}
}

func dbxString(db *eventlog.SignatureDB) string {
	if db == nil {
		return "none"
	}
	return fmt.Sprintf("%d certificates and %d digests", len(db.Certs), len(db.Hashes))
}

// TestFirmwareVersion: the S-CRTM version (attacker bytes) is decoded from
// UTF-16 when it is NUL-terminated text, as UEFI measures it, shown as hex
// otherwise (a GUID, unterminated bytes), and bounded; an empty version is
// none ("" claims nothing).
func TestFirmwareVersion(t *testing.T) {
	long := strings.Repeat("é", 300)
	guid := []byte{0x1e, 0xfb, 0x6b, 0x54, 0x0c, 0x1d, 0x55, 0x40, 0xa4, 0xad, 0x4e, 0xf4, 0xbf, 0x17, 0xb8, 0x3a}
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" for no version claimed
	}{
		{"utf-16", eventlog.UTF16("Hyper-V UEFI Release v4.1"), "Hyper-V UEFI Release v4.1"},
		{"odd length", []byte{1, 2, 3}, "hex:010203"},
		{"lone surrogate", []byte{0x00, 0xD8, 0, 0}, "hex:00d80000"},
		{"NUL inside", []byte{'a', 0, 0, 0, 'b', 0}, "hex:610000006200"},
		{"long", eventlog.UTF16(long), long[:256] + "…"},
		{"GUID", guid, "hex:1efb6b540c1d5540a4ad4ef4bf17b83a"},
		{"utf-16 without NUL", []byte{'v', 0, '1', 0}, "hex:76003100"},
		{"one NUL byte short", []byte{'v', 0, '1', 0, 0}, "hex:7600310000"},
		{"empty (OVMF)", []byte{0, 0}, ""},
		{"NULs only", []byte{0, 0, 0, 0, 0, 0}, ""},
	} {
		b := eventlog.NewBuilder(nil)
		b.Measure(0, tcg.SCRTMVersion, tc.data)
		b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
		res := replayBuilt(t, b)
		f := res.State.Firmware
		if tc.want == "" && f != nil || tc.want != "" && (f == nil || *f != tc.want) {
			t.Errorf("%s: firmware %v, want %q (notes %q)", tc.name, deref(f), tc.want, res.State.Notes)
		}
	}
}

// TestSignatureListParses: go-eventlog reads the certificates and digests
// of the lists the builder encodes.
func TestSignatureListParses(t *testing.T) {
	der := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	owner := eventlog.EFIGUID{Data1: 1}
	d1, d2 := make([]byte, 32), make([]byte, 32)
	d2[0] = 1
	value := append(eventlog.SignatureList(eventlog.CertX509, owner, der), eventlog.SignatureList(eventlog.CertSHA256, owner, d1, d2)...)
	v, err := tcg.ParseUEFIVariableData(bytes.NewReader(eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", value)))
	if err != nil {
		t.Fatal(err)
	}
	certs, hashes, err := v.SignatureData()
	if err != nil || v.VarName() != "db" || len(certs) != 1 || !bytes.Equal(certs[0].Raw, der) || len(hashes) != 2 || !bytes.Equal(hashes[1], d2) {
		t.Fatalf("%q: %d certificates, %d digests, %v", v.VarName(), len(certs), len(hashes), err)
	}
	if eventlog.SignatureList(eventlog.CertX509, owner) != nil {
		t.Error("an empty list is not nil")
	}
}

// TestSignatureListBounded: a Secure Boot database event whose
// EFI_SIGNATURE_LIST claims huge entries replays (the guest extended PCR 7
// with its digest) but is refused before go-eventlog allocates by it: no
// state comes from PCR 7, a note says why, and the replay allocates
// nothing near the claimed size. (A SignatureSize below 16 would make
// go-eventlog allocate 4 GiB per list; this test uses 64 MiB so that it
// cannot crash the test process if the check is gone.)
func TestSignatureListBounded(t *testing.T) {
	owner := eventlog.EFIGUID{Data1: 1}
	list := eventlog.SignatureList(eventlog.CertSHA256, owner, make([]byte, 32))
	binary.LittleEndian.PutUint32(list[24:], 64<<20) // SignatureSize
	for _, name := range []string{"PK", "KEK", "db", "dbx"} {
		t.Run(name, func(t *testing.T) {
			vendor := eventlog.ImageSecurityDatabase
			if name == "PK" || name == "KEK" {
				vendor = eventlog.GlobalVariable
			}
			b := eventlog.NewBuilder(nil)
			b.Measure(7, tcg.EFIVariableDriverConfig, eventlog.VariableData(eventlog.GlobalVariable, "SecureBoot", []byte{1}))
			b.Measure(7, tcg.EFIVariableDriverConfig, eventlog.VariableData(vendor, name, list))
			b.Measure(7, tcg.Separator, []byte{0, 0, 0, 0})
			log, ext, err := b.Log()
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := eventlog.Replay(log, eventlog.PCRs(ext))
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status(7) != eventlog.Replayed {
				t.Fatalf("PCR 7 %s", res.Status(7))
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("replay allocated %d MiB", got>>20)
			}
			st := res.State
			if st.SecureBoot != nil || st.PK != nil || st.KEK != nil || st.DB != nil || st.DBX != nil {
				t.Errorf("state extracted from a malformed signature list: %+v", st)
			}
			if !slices.ContainsFunc(st.Notes, func(n string) bool { return strings.Contains(n, "SignatureSize 67108864") }) {
				t.Errorf("notes %q do not name the signature list", st.Notes)
			}
		})
	}
}

// FuzzReplayExtract: two events of any type and data, on PCRs 0..9 and
// followed by PCR 7's separator, always replay (the PCRs are computed from
// the log), so the state extraction reads the attacker's event data: it
// never panics and never allocates far beyond the log's size.
func FuzzReplayExtract(f *testing.F) {
	owner := eventlog.EFIGUID{Data1: 1}
	db := eventlog.SignatureList(eventlog.CertSHA256, owner, make([]byte, 32), make([]byte, 32))
	f.Add(uint8(7), uint32(tcg.EFIVariableDriverConfig), eventlog.VariableData(eventlog.GlobalVariable, "SecureBoot", []byte{1}),
		uint8(7), uint32(tcg.EFIVariableDriverConfig), eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", db))
	f.Add(uint8(7), uint32(tcg.EFIVariableDriverConfig), eventlog.VariableData(eventlog.GlobalVariable, "KEK", db),
		uint8(7), uint32(tcg.EFIVariableAuthority), eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", eventlog.SignatureData(owner, []byte{0x30, 0})))
	f.Add(uint8(8), uint32(tcg.Ipl), []byte("grub_cmd: linux /vmlinuz root=/dev/sda1\x00"),
		uint8(8), uint32(tcg.Ipl), []byte("kernel_cmdline: /vmlinuz root=/dev/sda1\x00"))
	f.Add(uint8(0), uint32(tcg.SCRTMVersion), eventlog.UTF16("1.0"), uint8(4), uint32(tcg.EFIBootServicesApplication), make([]byte, 40))
	f.Fuzz(func(t *testing.T, pcr1 uint8, typ1 uint32, d1 []byte, pcr2 uint8, typ2 uint32, d2 []byte) {
		b := eventlog.NewBuilder(nil)
		b.Measure(int(pcr1%10), tcg.EventType(typ1), d1)
		b.Measure(int(pcr2%10), tcg.EventType(typ2), d2)
		b.Measure(7, tcg.Separator, []byte{0, 0, 0, 0})
		log, ext, err := b.Log()
		if err != nil {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := eventlog.Replay(log, eventlog.PCRs(ext))
		runtime.ReadMemStats(&after)
		if err != nil {
			// Some event types make go-eventlog refuse the whole log.
			if res != nil || !errors.Is(err, eventlog.ErrFormat) {
				t.Fatalf("result %v, error %v", res, err)
			}
			return
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20+uint64(100*len(log)) {
			t.Fatalf("replaying a %d-byte log allocated %d MiB", len(log), got>>20)
		}
	})
}

// pcr0Event is one PCR 0 event: its type (unmeasured) and its data, whose
// digest is measured (every PCR 0 event here is measured as its own data).
type pcr0Event struct {
	typ  tcg.EventType
	data []byte
}

// TestFirmwareIgnoresUnmeasuredType: the firmware claim rests on what PCR
// 0 measured before its separator, never on the events' types alone. Of
// the events measured as the digest of their own data, the S-CRTM version
// must be the only one that is not recognisably something else (GCE's
// Non-Host Info); otherwise a retyped event could stand in for it:
// go-eventlog took the last event typed EV_S_CRTM_VERSION, so a log that
// swapped the types of the version and another such event, or typed a
// later one a version too, replayed to the quoted PCR 0 and claimed that
// event's data as the firmware.
func TestFirmwareIgnoresUnmeasuredType(t *testing.T) {
	version := eventlog.UTF16("Hyper-V UEFI Release v4.1")
	gce := eventlog.UTF16("GCE Virtual Firmware v2")
	nonHost := append([]byte("GCE NonHostInfo\x00\x04"), make([]byte, 15)...)
	other := eventlog.UTF16("Hyper-V UEFI Release v9.9 (a string measured for another reason)")
	blob := pcr0Event{tcg.EFIPlatformFirmwareBlob, []byte("a blob whose digest is not of this data")}
	tests := []struct {
		name   string
		events []pcr0Event
		want   string // "": no firmware claimed
	}{
		{"version alone", []pcr0Event{{tcg.SCRTMVersion, version}, blob}, "Hyper-V UEFI Release v4.1"},
		{"GCE version and non-host info", []pcr0Event{{tcg.SCRTMVersion, gce}, {tcg.NonhostInfo, nonHost}}, "GCE 2"},
		{"GCE types swapped", []pcr0Event{{tcg.NonhostInfo, gce}, {tcg.SCRTMVersion, nonHost}}, ""},
		{"version retyped", []pcr0Event{{tcg.PostCode, version}, blob}, ""},
		{"a later event also typed a version", []pcr0Event{{tcg.SCRTMVersion, version}, {tcg.SCRTMVersion, other}}, ""},
		{"another self-measured event retyped a version", []pcr0Event{{tcg.PostCode, version}, {tcg.SCRTMVersion, other}}, ""},
		{"two self-measured events, honest types", []pcr0Event{{tcg.SCRTMVersion, version}, {tcg.PostCode, other}}, ""},
		{"a version typed after the separator", []pcr0Event{{tcg.Separator, []byte{0, 0, 0, 0}}, {tcg.SCRTMVersion, version}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			sep := false
			for _, e := range tt.events {
				if e.blobLike() {
					b.MeasureDigest(0, e.typ, e.data, []byte("firmware volume"))
					continue
				}
				b.Measure(0, e.typ, e.data)
				sep = sep || e.typ == tcg.Separator
			}
			if !sep {
				b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
			}
			res := replayBuilt(t, b, 0)
			got := res.State.Firmware
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("firmware %q claimed, want none (notes %q)", *got, res.State.Notes)
			case tt.want != "" && (got == nil || *got != tt.want):
				t.Errorf("firmware %v, want %q (notes %q)", deref(got), tt.want, res.State.Notes)
			}
		})
	}
}

// blobLike reports whether e stands for an event whose digest is not of
// its data (a firmware volume).
func (e pcr0Event) blobLike() bool { return e.typ == tcg.EFIPlatformFirmwareBlob }

// TestPreBootClaimsNeedSeparator: the booted system can extend PCRs 0 and
// 7 itself, after the firmware's separator; without that separator in the
// replayed PCR, nothing tells the firmware's measurements from the booted
// system's, so neither the firmware version nor the Secure Boot state is
// claimed (a log of a guest that appended a version or a SecureBoot
// variable of its own to PCRs the firmware never closed).
func TestPreBootClaimsNeedSeparator(t *testing.T) {
	sbVar := func(on byte) []byte { return eventlog.VariableData(eventlog.GlobalVariable, "SecureBoot", []byte{on}) }
	sep := []byte{0, 0, 0, 0}
	for _, tc := range []struct {
		name      string
		build     func(b *eventlog.Builder)
		pcr       int
		firmware  bool
		sbClaimed bool
	}{
		{"PCR 0 version, separator", func(b *eventlog.Builder) {
			b.Measure(0, tcg.SCRTMVersion, eventlog.UTF16("v1"))
			b.Measure(0, tcg.Separator, sep)
		}, 0, true, false},
		{"PCR 0 version, no separator", func(b *eventlog.Builder) { b.Measure(0, tcg.SCRTMVersion, eventlog.UTF16("v1")) }, 0, false, false},
		{"PCR 0 version after the separator", func(b *eventlog.Builder) {
			b.Measure(0, tcg.Separator, sep)
			b.Measure(0, tcg.SCRTMVersion, eventlog.UTF16("v1"))
		}, 0, false, false},
		{"PCR 7 SecureBoot, separator", func(b *eventlog.Builder) {
			b.Measure(7, tcg.EFIVariableDriverConfig, sbVar(0))
			b.Measure(7, tcg.Separator, sep)
		}, 7, false, true},
		{"PCR 7 SecureBoot, no separator", func(b *eventlog.Builder) { b.Measure(7, tcg.EFIVariableDriverConfig, sbVar(0)) }, 7, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			tc.build(b)
			st := replayBuilt(t, b, tc.pcr).State
			if (st.Firmware != nil) != tc.firmware {
				t.Errorf("firmware %v, want claimed %v (notes %q)", deref(st.Firmware), tc.firmware, st.Notes)
			}
			if (st.SecureBoot != nil) != tc.sbClaimed {
				t.Errorf("secure boot %v, want claimed %v (notes %q)", st.SecureBoot, tc.sbClaimed, st.Notes)
			}
		})
	}
}

// TestSecureBootAppendedAfterSeparator: the booted system can append PCR 7
// measurements (and their events) after the firmware's separator, never
// remove one. A Secure Boot variable appended there, a second db, a second
// separator, never changes the claimed state: it voids it (state nil).
// Authorities appended after the separator only add to their list.
func TestSecureBootAppendedAfterSeparator(t *testing.T) {
	der := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	owner := eventlog.EFIGUID{Data1: 1}
	certs := eventlog.SignatureList(eventlog.CertX509, owner, der)
	digests := eventlog.SignatureList(eventlog.CertSHA256, owner, make([]byte, 32))
	sep := []byte{0, 0, 0, 0}
	sbVar := func(on byte) []byte { return eventlog.VariableData(eventlog.GlobalVariable, "SecureBoot", []byte{on}) }
	dbVar := func(list []byte) []byte { return eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", list) }
	authority := eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", eventlog.SignatureData(owner, der))
	// firmware measures the Secure Boot variables and PCR 7's separator;
	// its db holds an image digest only, so a certificate in db can only
	// come from an appended event.
	firmware := func(b *eventlog.Builder, on byte) {
		b.Measure(7, tcg.EFIVariableDriverConfig, sbVar(on))
		b.Measure(7, tcg.EFIVariableDriverConfig, eventlog.VariableData(eventlog.GlobalVariable, "PK", certs))
		b.Measure(7, tcg.EFIVariableDriverConfig, eventlog.VariableData(eventlog.GlobalVariable, "KEK", certs))
		b.Measure(7, tcg.EFIVariableDriverConfig, dbVar(digests))
		b.Measure(7, tcg.EFIVariableDriverConfig, eventlog.VariableData(eventlog.ImageSecurityDatabase, "dbx", digests))
		b.Measure(7, tcg.Separator, sep)
	}
	for _, tc := range []struct {
		name    string
		on      byte
		after   [][2]any // event type and data appended after the separator
		sb      *bool
		dbCerts int
		auths   int
	}{
		{"firmware only", 1, [][2]any{{tcg.EFIVariableAuthority, authority}}, new(true), 0, 1},
		{"firmware, Secure Boot off", 0, nil, new(false), 0, 0},
		{"SecureBoot on appended", 0, [][2]any{{tcg.EFIVariableDriverConfig, sbVar(1)}}, nil, 0, 0},
		{"db with a certificate appended", 1, [][2]any{{tcg.EFIVariableAuthority, authority}, {tcg.EFIVariableDriverConfig, dbVar(certs)}}, nil, 0, 0},
		{"a second separator, then SecureBoot on", 0, [][2]any{{tcg.Separator, sep}, {tcg.EFIVariableDriverConfig, sbVar(1)}}, nil, 0, 0},
		{"more authorities appended", 1, [][2]any{{tcg.EFIVariableAuthority, authority}, {tcg.EFIVariableAuthority, authority}}, new(true), 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			firmware(b, tc.on)
			for _, e := range tc.after {
				b.Measure(7, e[0].(tcg.EventType), e[1].([]byte))
			}
			st := replayBuilt(t, b, 7).State
			if (st.SecureBoot == nil) != (tc.sb == nil) || (tc.sb != nil && *st.SecureBoot != *tc.sb) {
				t.Fatalf("secure boot %v, want %v (notes %q)", st.SecureBoot, tc.sb, st.Notes)
			}
			if tc.sb == nil && (st.DB != nil || st.PK != nil || st.Authorities != nil) {
				t.Errorf("voided state still claims db %+v, PK %+v, authorities %d", st.DB, st.PK, len(st.Authorities))
			}
			if tc.sb != nil && (st.DB == nil || len(st.DB.Certs) != tc.dbCerts || len(st.Authorities) != tc.auths) {
				t.Errorf("db %+v, %d authorities; want %d certificates, %d authorities", st.DB, len(st.Authorities), tc.dbCerts, tc.auths)
			}
		})
	}
}
