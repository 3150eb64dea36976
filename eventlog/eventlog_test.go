package eventlog_test

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// gceLog is a real GCE log with its expected SHA-256 PCRs and state.
type gceLog struct {
	name       string
	secureBoot bool
	cmdline    string // prefix of the kernel command line
}

func gceLogs() []gceLog {
	return []gceLog{
		{"gce-cos-121-amd-sev.bin", true, "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd "},
		{"gce-rhel8-uefi.bin", true, "(hd0,gpt2)/boot/vmlinuz-4.18.0-240.22.1.el8_3.x86_64 root=UUID=f3948fb4-"},
		{"gce-ubuntu-2104-no-dbx.bin", false, "/boot/vmlinuz-"},
		{"gce-ubuntu-2104-no-secure-boot.bin", false, "/boot/vmlinuz-"},
		{"gce-ubuntu-2404-amd-sevsnp.bin", false, "/vmlinuz-6.8.0-1010-gcp root=PARTUUID=8270f3c9-"},
	}
}

// quotedPCRs returns the SHA-256 PCRs that pcrs.json gives for name.
func quotedPCRs(t testing.TB, name string) map[int][]byte {
	t.Helper()
	return pcrsOf(t, "eventlogs/", name)
}

// TestRealLogsReplay: every real GCE log replays every PCR of pcrs.json,
// with the Secure Boot state and the kernel command line extracted.
func TestRealLogsReplay(t *testing.T) {
	for _, g := range gceLogs() {
		t.Run(g.name, func(t *testing.T) {
			res := replayQuoted(t, "eventlogs/", g.name)
			for _, p := range res.PCRs {
				if p.Status == eventlog.Replayed && p.Replayed != p.Quoted {
					t.Errorf("PCR %d replayed to %s by our extend, quoted %s", p.Index, p.Replayed, p.Quoted)
				}
			}
			if res.Status(15) != eventlog.NotCovered {
				t.Errorf("PCR 15: %s", res.Status(15))
			}
			st := res.State
			if st.SecureBoot == nil || *st.SecureBoot != g.secureBoot {
				t.Errorf("secure boot %v, want %v (notes %v)", st.SecureBoot, g.secureBoot, st.Notes)
			}
			if st.KernelCmdline == nil || !strings.HasPrefix(*st.KernelCmdline, g.cmdline) || strings.ContainsRune(*st.KernelCmdline, 0) {
				t.Errorf("kernel command line %v, want prefix %q without NUL (notes %v)", st.KernelCmdline, g.cmdline, st.Notes)
			} else {
				t.Logf("kernel command line %q", *st.KernelCmdline)
			}
			if len(st.EFIApps) == 0 {
				t.Error("no EFI application digests")
			}
		})
	}
}

// TestPartialReplay: a wrong quoted PCR is a mismatch of that PCR only, and
// the state it carries is not extracted; a PCR the log never extends is
// not covered.
func TestPartialReplay(t *testing.T) {
	const name = "gce-rhel8-uefi.bin"
	pcrs := quotedPCRs(t, name)
	pcrs[7] = make([]byte, 32)
	pcrs[16] = make([]byte, 32)
	res, err := eventlog.Replay(testutil.ReadFile(t, "eventlogs/"+name), pcrs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]eventlog.Status{0: eventlog.Replayed, 4: eventlog.Replayed, 7: eventlog.Mismatch, 8: eventlog.Replayed, 16: eventlog.NotCovered}
	for i, w := range want {
		if got := res.Status(i); got != w {
			t.Errorf("PCR %d: %s, want %s", i, got, w)
		}
	}
	if res.State.SecureBoot != nil {
		t.Errorf("secure boot %v extracted from a PCR 7 that did not replay", *res.State.SecureBoot)
	}
	if res.State.KernelCmdline == nil {
		t.Error("kernel command line of the replayed PCR 8 not extracted")
	}
}

// events splits a crypto-agile log into its events (the first, the
// SHA-1-format Spec ID event, included) and returns, for each, the offset
// of its SHA-256 digest in the log (0 for none).
func events(t testing.TB, log []byte) ([][]byte, []int) {
	t.Helper()
	le := binary.LittleEndian
	first := 32 + int(le.Uint32(log[28:32]))
	out := [][]byte{log[:first]}
	digests := []int{0}
	sizes := map[uint16]int{0x0004: 20, 0x000B: 32, 0x000C: 48, 0x000D: 64, 0x0012: 32}
	for off := first; off < len(log); {
		p := off + 8
		n := int(le.Uint32(log[p:]))
		p += 4
		d := 0
		for range n {
			alg := le.Uint16(log[p:])
			sz, ok := sizes[alg]
			if !ok {
				t.Fatalf("unknown digest algorithm at %d", p)
			}
			if alg == 0x000B {
				d = p + 2
			}
			p += 2 + sz
		}
		p += 4 + int(le.Uint32(log[p:]))
		out = append(out, log[off:p])
		digests = append(digests, d)
		off = p
	}
	return out, digests
}

func join(evs [][]byte) []byte {
	var b []byte
	for _, e := range evs {
		b = append(b, e...)
	}
	return b
}

// TestMutatedLogsNeverReplay: bit flips in a measured digest, truncation,
// reordered, inserted, removed events and a wrong PCR index never replay
// every quoted PCR. (The event type and data are not extended into the
// PCR: no replay can see them change, so they are not mutated here.)
func TestMutatedLogsNeverReplay(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for _, g := range gceLogs() {
		log := testutil.ReadFile(t, "eventlogs/"+g.name)
		pcrs := quotedPCRs(t, g.name)
		evs, digests := events(t, log)
		if string(join(evs)) != string(log) {
			t.Fatalf("%s: the splitter does not cover the log", g.name)
		}
		muts := map[string][]byte{}
		for k := range 40 {
			b := []byte(string(log))
			// Flip a bit of a measured event's SHA-256 digest (EV_NO_ACTION
			// events are not extended: skipped).
			e := 1 + rng.IntN(len(evs)-1)
			for binary.LittleEndian.Uint32(evs[e][4:]) == 3 {
				e = 1 + rng.IntN(len(evs)-1)
			}
			b[digests[e]+rng.IntN(32)] ^= 1 << rng.IntN(8)
			muts["flip"+strconv.Itoa(k)] = b
		}
		muts["truncated"] = log[:len(join(evs[:len(evs)-1]))]
		muts["truncated mid-event"] = log[:len(log)-3]
		for k := range 10 {
			i := 1 + rng.IntN(len(evs)-2)
			sw := append([][]byte{}, evs...)
			if string(sw[i]) == string(sw[i+1]) {
				continue
			}
			sw[i], sw[i+1] = sw[i+1], sw[i]
			if binary.LittleEndian.Uint32(sw[i]) == binary.LittleEndian.Uint32(sw[i+1]) {
				muts["reordered"+strconv.Itoa(k)] = join(sw)
			}
			rm := append(append([][]byte{}, evs[:i]...), evs[i+1:]...)
			muts["removed"+strconv.Itoa(k)] = join(rm)
			ins := append(append(append([][]byte{}, evs[:i]...), evs[i]), evs[i:]...)
			muts["inserted"+strconv.Itoa(k)] = join(ins)
			wrong := append([][]byte{}, evs...)
			w := []byte(string(wrong[i]))
			binary.LittleEndian.PutUint32(w, binary.LittleEndian.Uint32(w)^1)
			wrong[i] = w
			muts["wrong pcr"+strconv.Itoa(k)] = join(wrong)
		}
		for name, m := range muts {
			res, err := eventlog.Replay(m, pcrs)
			if err != nil {
				if !errors.Is(err, eventlog.ErrFormat) {
					t.Errorf("%s %s: error %v does not match ErrFormat", g.name, name, err)
				}
				continue
			}
			all := true
			for i := range pcrs {
				all = all && res.Status(i) == eventlog.Replayed
			}
			if all {
				t.Errorf("%s %s: every PCR replayed", g.name, name)
			}
		}
	}
}

// TestReplayBounds: empty, oversized and garbage logs are format errors.
func TestReplayBounds(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":    nil,
		"oversize": make([]byte, eventlog.MaxSize+1),
		"garbage":  []byte("not an event log at all, not even close"),
	} {
		if _, err := eventlog.Replay(b, nil); !errors.Is(err, eventlog.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

// FuzzReplay: Replay never panics, on any log and against the real PCRs.
func FuzzReplay(f *testing.F) {
	for _, g := range gceLogs() {
		f.Add(testutil.ReadFile(f, "eventlogs/"+g.name))
	}
	pcrs := quotedPCRs(f, "gce-rhel8-uefi.bin")
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := eventlog.Replay(b, pcrs)
		if (res == nil) == (err == nil) {
			t.Fatalf("result %v and error %v", res, err)
		}
	})
}
