package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func d48(b [48]byte) *[48]byte { return &b }

func randomDigest(t testing.TB) [48]byte {
	t.Helper()
	var d [48]byte
	if _, err := rand.Read(d[:]); err != nil {
		t.Fatal(err)
	}
	return d
}

// emulatedRoots trusts the private Milan chain of testev marked Emulated, as
// --trust-emulated marks the emulated CVM's chain.
func emulatedRoots() *snp.Roots {
	c := testev.PrivateChain(snp.Milan).SNPChain()
	c.Emulated = true
	return (&snp.Roots{}).Add(c)
}

// forgedDigests are ID_KEY_DIGESTs a guest that is not Azure's paravisor
// can carry on a real (here: test) chip: no ID block, its own key, Azure
// Container Instances' utility VM key, and the emulator's public key.
func forgedDigests(t testing.TB) []struct {
	name string
	d    [48]byte
} {
	return []struct {
		name string
		d    [48]byte
	}{
		{"zero", [48]byte{}},
		{"random", randomDigest(t)},
		{"attacker key", sha512.Sum384([]byte("the attacker's own ID key"))},
		{"one bit off Azure v3", func() [48]byte { d := testev.AzureIDKeyDigest(); d[47] ^= 1; return d }()},
		{"ACI utility VM", testev.ACIIDKeyDigest()},
		{"emulator's fake key on a real chip", fakeamd.IDKeyDigest()},
	}
}

// TestParavisorForgery is the attack of issue 11: a guest at VMPL0 on a
// genuine (test) chip that is not Azure's paravisor wraps its own report
// in an HCL blob naming its own AK. Every such ID_KEY_DIGEST is rejected by
// Evidence and by Report (HCL blob) with CheckParavisorIdentity.
func TestParavisorForgery(t *testing.T) {
	for _, f := range forgedDigests(t) {
		for _, version := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/v%d", f.name, version), func(t *testing.T) {
				ev := (&testev.Builder{Version: version, IDKeyDigest: d48(f.d)}).MustBuild()
				claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
				wantCheck(t, err, verify.CheckParavisorIdentity)
				if claims != nil {
					t.Error("claims returned with an error")
				}
				// The same through Decoded.
				_, err = decodedWith(context.Background(), ev.Evidence, ev.Nonce, verify.Config{Roots: testev.Roots(), Cache: verify.CacheConfig{Disable: true}})
				wantCheck(t, err, verify.CheckParavisorIdentity)
				// The HCL report alone.
				_, err = reportWith(context.Background(), ev.Evidence.HCLReport, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
				wantCheck(t, err, verify.CheckParavisorIdentity)
				// Also when the policy pins PCRs (the PCRs are the victim's).
				pol := verify.Policy{PCRs: map[int]verify.HexBytes{7: testev.DefaultPCRs()[7]}}
				_, err = verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol})
				wantCheck(t, err, verify.CheckParavisorIdentity)
			})
		}
	}
}

// TestParavisorForgeryLayouts runs the forgery of TestParavisorForgery in
// every report layout and signer a VMPL0 guest can get from a genuine
// (test) chip, and with Azure's digest where a confused check might take
// it: report versions 1, 2 and 5 (3 is TestParavisorForgery's), a
// VLEK-signed report, and Azure's paravisor digest as AUTHOR_KEY_DIGEST
// (AUTHOR_KEY_EN set; also listed in the policy's author_key_digests)
// beside the guest's own ID key. ID_KEY_DIGEST alone names the paravisor:
// each forgery is paravisor-identity in evidence and as an HCL report,
// while the same layout with Azure's ID key verifies.
func TestParavisorForgeryLayouts(t *testing.T) {
	az, own := testev.AzureIDKeyDigest(), sha512.Sum384([]byte("the attacker's own ID key"))
	uncommitted := verify.Policy{AllowUncommittedTCB: true}
	layouts := []struct {
		name string
		b    testev.Builder
		pol  verify.Policy
	}{
		{"report v1", testev.Builder{ReportVersion: 1}, uncommitted},
		{"report v2", testev.Builder{ReportVersion: 2}, verify.Policy{}},
		{"report v5", testev.Builder{ReportVersion: 5, MitVectors: [2]uint64{3, 3}}, verify.Policy{}},
		{"VLEK-signed", testev.Builder{VCEK: testev.VCEKTemplate{VLEK: true}}, verify.Policy{}},
		{"Azure's digest as author key", testev.Builder{AuthorKeyDigest: &az}, verify.Policy{}},
		{"Azure's digest as listed author key", testev.Builder{AuthorKeyDigest: &az},
			verify.Policy{AuthorKeyDigests: []verify.HexBytes{az[:]}}},
	}
	for _, l := range layouts {
		for _, id := range []struct {
			name string
			d    [48]byte
		}{{"Azure's ID key", az}, {"zero", [48]byte{}}, {"own ID key", own}} {
			t.Run(l.name+"/"+id.name, func(t *testing.T) {
				b := l.b
				b.IDKeyDigest = d48(id.d)
				ev := b.MustBuild()
				cfg := verify.Config{Roots: testev.Roots(), Policy: l.pol}
				_, errEv := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
				_, errHCL := reportWith(context.Background(), ev.Evidence.HCLReport, ev.VCEKDER, cfg)
				if id.d == az {
					if errEv != nil || errHCL != nil {
						t.Fatalf("Azure's paravisor rejected: evidence %v, HCL report %v", errEv, errHCL)
					}
					return
				}
				wantCheck(t, errEv, verify.CheckParavisorIdentity)
				wantCheck(t, errHCL, verify.CheckParavisorIdentity)
			})
		}
	}
}

// TestParavisorAccepted checks that each Azure paravisor digest verifies
// and is named azure-hcl, and what allow_any_paravisor and id_key_digests
// accept.
func TestParavisorAccepted(t *testing.T) {
	for i, p := range verify.DefaultParavisors() {
		t.Run(fmt.Sprintf("azure %d", i), func(t *testing.T) {
			ev := (&testev.Builder{IDKeyDigest: d48(p.Digest)}).MustBuild()
			c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
			if err != nil {
				t.Fatal(err)
			}
			if c.Paravisor != verify.ParavisorAzure || !bytes.Equal(c.IDKeyDigest, p.Digest[:]) {
				t.Errorf("paravisor %q digest %x", c.Paravisor, []byte(c.IDKeyDigest))
			}
			c, err = reportWith(context.Background(), ev.Evidence.HCLReport, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
			if err != nil || c.Paravisor != verify.ParavisorAzure {
				t.Fatalf("Report: %v, %+v", err, c)
			}
		})
	}
	for _, f := range forgedDigests(t) {
		t.Run("allow any/"+f.name, func(t *testing.T) {
			ev := (&testev.Builder{IDKeyDigest: d48(f.d)}).MustBuild()
			opts := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{AllowAnyParavisor: true}}
			c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := verify.ParavisorUnknown
			if f.d == ([48]byte{}) {
				want = verify.ParavisorNone
			}
			if c.Paravisor != want || !bytes.Equal(c.IDKeyDigest, f.d[:]) {
				t.Errorf("paravisor %q, want %q", c.Paravisor, want)
			}
		})
		if f.d == ([48]byte{}) || f.d == fakeamd.IDKeyDigest() {
			continue // never trusted from a policy list
		}
		t.Run("listed/"+f.name, func(t *testing.T) {
			ev := (&testev.Builder{IDKeyDigest: d48(f.d)}).MustBuild()
			pol := verify.Policy{IDKeyDigests: []verify.HexBytes{f.d[:]}}
			c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol})
			if err != nil {
				t.Fatal(err)
			}
			if c.Paravisor != verify.ParavisorPolicy {
				t.Errorf("paravisor %q", c.Paravisor)
			}
			// The list replaces the defaults: Azure's paravisor is no
			// longer trusted.
			az := (&testev.Builder{}).MustBuild()
			_, err = verify.Evidence(context.Background(), az.JSON, az.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol})
			wantCheck(t, err, verify.CheckParavisorIdentity)
		})
	}
}

// TestParavisorPolicyNeverTrusts checks that a Policy built in code (not by
// ParsePolicy) still cannot trust the zero digest or, on a chain not
// marked Emulated, the emulator's public one: New refuses it, naming the
// field, and so does the one-call Evidence (a caller error, not a verdict).
func TestParavisorPolicyNeverTrusts(t *testing.T) {
	zero, fake := [48]byte{}, fakeamd.IDKeyDigest()
	for _, d := range [][48]byte{zero, fake} {
		ev := (&testev.Builder{IDKeyDigest: d48(d)}).MustBuild()
		pol := verify.Policy{IDKeyDigests: []verify.HexBytes{d[:]}}
		cfg := verify.Config{Roots: testev.Roots(), Policy: pol}
		if v, err := verify.New(cfg); err == nil || v != nil || !strings.Contains(err.Error(), "id_key_digests[0]") {
			t.Fatalf("New(%x...) = %v, %v; want an error naming id_key_digests[0]", d[:4], v, err)
		}
		_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
		if err == nil || errors.Is(err, verify.ErrRejected) {
			t.Fatalf("Evidence with a policy trusting %x...: err = %v, want a configuration error", d[:4], err)
		}
	}
}

// TestParavisorEmulated checks that the emulator's digest is trusted for a
// chain marked Emulated, and only there.
func TestParavisorEmulated(t *testing.T) {
	fake := fakeamd.IDKeyDigest()
	ev := (&testev.Builder{IDKeyDigest: &fake}).MustBuild()
	c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: emulatedRoots()})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Emulated || c.Paravisor != verify.ParavisorEmulated {
		t.Errorf("emulated %v paravisor %q", c.Emulated, c.Paravisor)
	}
	// Same chain, not marked Emulated: rejected.
	_, err = verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
	wantCheck(t, err, verify.CheckParavisorIdentity)
	// Other forged digests are still rejected under the emulated chain.
	for _, d := range [][48]byte{{}, randomDigest(t), testev.ACIIDKeyDigest()} {
		ev := (&testev.Builder{IDKeyDigest: &d}).MustBuild()
		_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: emulatedRoots()})
		wantCheck(t, err, verify.CheckParavisorIdentity)
	}
	if verify.EmulatedParavisor().Digest != fake || verify.EmulatedParavisor().Name != "emulated-hcl" {
		t.Errorf("EmulatedParavisor() = %+v", verify.EmulatedParavisor())
	}
}

// TestParavisor2022Digest checks that evidence whose report carries the
// 2022 Azure ID key digest of Microsoft's published AzureGuest tokens
// (testdata/maa/SOURCES.md) verifies under the default policy as azure-hcl,
// and that a policy listing other digests still rejects it.
func TestParavisor2022Digest(t *testing.T) {
	var d [48]byte
	if _, err := hex.Decode(d[:], []byte("57486a447ec0f1958002a22a06b7673b9fd27d11e1c6527498056054c5fa92d23c50f9de44072760fe2b6fb89740b696")); err != nil {
		t.Fatal(err)
	}
	ev := (&testev.Builder{IDKeyDigest: &d}).MustBuild()
	c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Paravisor != "azure-hcl" {
		t.Errorf("paravisor %q", c.Paravisor)
	}
	azure := testev.AzureIDKeyDigest()
	pol := verify.Policy{IDKeyDigests: []verify.HexBytes{azure[:]}}
	_, err = verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol})
	wantCheck(t, err, verify.CheckParavisorIdentity)
}

// TestAuthorKeyDigests checks that a policy's author_key_digests is
// enforced for evidence, HCL reports and bare reports.
func TestAuthorKeyDigests(t *testing.T) {
	author := sha512.Sum384([]byte("an author key"))
	other := sha512.Sum384([]byte("another author key"))
	tests := []struct {
		name   string
		author *[48]byte
		list   [][48]byte
		ok     bool
	}{
		{"no list, zero author", nil, nil, true},
		{"no list, some author", &author, nil, true},
		{"listed author", &author, [][48]byte{other, author}, true},
		{"other author", &other, [][48]byte{author}, false},
		{"zero author (Azure) with a list", nil, [][48]byte{author}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := (&testev.Builder{AuthorKeyDigest: tc.author}).MustBuild()
			var pol verify.Policy
			for _, d := range tc.list {
				pol.AuthorKeyDigests = append(pol.AuthorKeyDigests, bytes.Clone(d[:]))
			}
			runs := map[string]func() (*verify.Claims, error){
				"evidence": func() (*verify.Claims, error) {
					return verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol})
				},
				"hcl": func() (*verify.Claims, error) {
					return reportWith(context.Background(), ev.Evidence.HCLReport, ev.VCEKDER, verify.Config{Roots: testev.Roots(), Policy: pol})
				},
				"bare": func() (*verify.Claims, error) {
					return reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots(), Policy: pol})
				},
			}
			for name, run := range runs {
				c, err := run()
				if !tc.ok {
					wantCheck(t, err, verify.CheckParavisorIdentity)
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := make([]byte, 48)
				if tc.author != nil {
					want = tc.author[:]
				}
				if !bytes.Equal(c.AuthorKeyDigest, want) {
					t.Errorf("%s: author key digest %x", name, []byte(c.AuthorKeyDigest))
				}
			}
		})
	}
}

// TestAuthorKeyEnRequired: a policy's author_key_digests is satisfied
// only by a report whose SIGNER_INFO says AUTHOR_KEY_EN (the firmware
// checked the author key's signature over the ID key at launch): a listed
// AUTHOR_KEY_DIGEST with the bit clear is paravisor-identity, in evidence,
// an HCL report and a bare report. Without the list the bit is not judged.
func TestAuthorKeyEnRequired(t *testing.T) {
	author := sha512.Sum384([]byte("an author key"))
	clearEn := func(r []byte) {
		si := binary.LittleEndian.Uint32(r[snp.OffsetSignerInfo:])
		binary.LittleEndian.PutUint32(r[snp.OffsetSignerInfo:], si&^snp.SignerInfoAuthorKeyEn)
	}
	listed := verify.Policy{AuthorKeyDigests: []verify.HexBytes{author[:]}}
	tests := []struct {
		name string
		b    testev.Builder
		pol  verify.Policy
		ok   bool
	}{
		{"listed author, AUTHOR_KEY_EN set", testev.Builder{AuthorKeyDigest: &author}, listed, true},
		{"listed author, AUTHOR_KEY_EN clear", testev.Builder{AuthorKeyDigest: &author, MutateReport: clearEn}, listed, false},
		{"no list, AUTHOR_KEY_EN clear", testev.Builder{AuthorKeyDigest: &author, MutateReport: clearEn}, verify.Policy{}, true},
		{"AUTHOR_KEY_EN set, zero digest, list", testev.Builder{MutateReport: setSignerInfo(snp.SignerInfoAuthorKeyEn)}, listed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			cfg := verify.Config{Roots: testev.Roots(), Policy: tc.pol}
			for name, run := range map[string]func() (*verify.Claims, error){
				"evidence": func() (*verify.Claims, error) { return verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg) },
				"hcl": func() (*verify.Claims, error) {
					return reportWith(context.Background(), ev.Evidence.HCLReport, ev.VCEKDER, cfg)
				},
				"bare": func() (*verify.Claims, error) { return reportWith(context.Background(), ev.Report, ev.VCEKDER, cfg) },
			} {
				_, err := run()
				if tc.ok {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					continue
				}
				wantCheck(t, err, verify.CheckParavisorIdentity)
			}
		})
	}
}

// TestBareReportParavisor checks that a bare SNP report needs no trusted
// paravisor (nothing vouches for a key) unless the policy lists digests.
func TestBareReportParavisor(t *testing.T) {
	for _, f := range forgedDigests(t) {
		t.Run(f.name, func(t *testing.T) {
			ev := (&testev.Builder{IDKeyDigest: d48(f.d)}).MustBuild()
			c, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
			if err != nil {
				t.Fatalf("bare report: %v", err)
			}
			if !bytes.Equal(c.IDKeyDigest, f.d[:]) || c.Paravisor == "" || c.Paravisor == verify.ParavisorAzure {
				t.Errorf("claims digest %x paravisor %q", []byte(c.IDKeyDigest), c.Paravisor)
			}
			az := testev.AzureIDKeyDigest()
			pol := verify.Policy{IDKeyDigests: []verify.HexBytes{az[:]}}
			_, err = reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots(), Policy: pol})
			wantCheck(t, err, verify.CheckParavisorIdentity)
		})
	}
	ev := (&testev.Builder{}).MustBuild()
	az := testev.AzureIDKeyDigest()
	pol := verify.Policy{IDKeyDigests: []verify.HexBytes{az[:]}}
	c, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots(), Policy: pol})
	if err != nil || c.Paravisor != verify.ParavisorAzure {
		t.Fatalf("bare Azure report with its digest listed: %v %+v", err, c)
	}
}

// TestParavisorErrorMessage checks that the rejection says what the digest
// is, which digests are trusted and how to add one.
func TestParavisorErrorMessage(t *testing.T) {
	d := sha512.Sum384([]byte("new paravisor key"))
	ev := (&testev.Builder{IDKeyDigest: &d}).MustBuild()
	_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
	wantCheck(t, err, verify.CheckParavisorIdentity)
	msg := err.Error()
	want := []string{hex.EncodeToString(d[:]), "azure-hcl", `"id_key_digests"`, "--policy", "replaces the defaults", "paravisor-identity"}
	for _, p := range verify.DefaultParavisors() {
		want = append(want, hex.EncodeToString(p.Digest[:]))
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
	}
	var ue *verify.UntrustedParavisorError
	if !errors.As(err, &ue) || ue.Digest != d || len(ue.Trusted) != len(verify.DefaultParavisors()) {
		t.Fatalf("errors.As: %+v", ue)
	}
	// The error's list is the caller's: scribbling on it trusts nothing
	// for the next verification and changes no default.
	for i := range ue.Trusted {
		ue.Trusted[i].Digest = d
	}
	if _, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()}); !errors.As(err, &ue) {
		t.Errorf("after changing the error's Trusted list: %v", err)
	}
	if verify.DefaultParavisors()[0].Digest != testev.AzureIDKeyDigest() {
		t.Error("the error's Trusted list shares the defaults")
	}
	// The zero digest says why it is never trusted.
	ev = (&testev.Builder{IDKeyDigest: &[48]byte{}}).MustBuild()
	_, err = verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
	if err == nil || !strings.Contains(err.Error(), "zero") {
		t.Errorf("zero digest: %v", err)
	}
}

// TestDefaultParavisors checks the default set: the Azure digests of
// SPEC §11 and the published MAA tokens, never zero, never the emulator's, fresh copies on every call,
// and testev's default among them.
func TestDefaultParavisors(t *testing.T) {
	ps := verify.DefaultParavisors()
	want := []string{
		"942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177",
		"0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3",
		"934f68bd8ba01938eec21475c872e3a942b60c59fafc6df9e9a76ee66bc47f2d09c676f61c0315c578da26085fb13a71",
		"57e229e0ffe5fa92d0faddff6cae0e61c926fc9ef9afd20a8b8cfcf7129db9338cbe5bf3f6987733a2bf65d06dc38fc1",
		"57486a447ec0f1958002a22a06b7673b9fd27d11e1c6527498056054c5fa92d23c50f9de44072760fe2b6fb89740b696",
	}
	if len(ps) != len(want) {
		t.Fatalf("%d defaults", len(ps))
	}
	for i, p := range ps {
		if hex.EncodeToString(p.Digest[:]) != want[i] || p.Name != "azure-hcl" {
			t.Errorf("default %d = %s %x", i, p.Name, p.Digest)
		}
	}
	if ps[0].Digest != testev.AzureIDKeyDigest() {
		t.Error("testev's default digest is not Azure's v3 digest")
	}
	ps[0].Digest[0] ^= 0xFF
	ps[1].Name = "changed"
	if again := verify.DefaultParavisors(); hex.EncodeToString(again[0].Digest[:]) != want[0] || again[1].Name != "azure-hcl" {
		t.Error("DefaultParavisors shares state between calls")
	}
	aci := testutil.ReadFile(t, "azure-thim/snp_report.bin")[snp.OffsetIDKeyDigest:snp.OffsetAuthorKeyDigest]
	if !bytes.Equal(aci, func() []byte { d := testev.ACIIDKeyDigest(); return d[:] }()) {
		t.Errorf("testev.ACIIDKeyDigest differs from the ACI fixture's %x", aci)
	}
}

// TestRealParavisor checks that every real Azure fixture is named azure-hcl,
// through Evidence and Report, and that the ACI report (no paravisor) is
// not, and fails once a policy requires an ID key.
func TestRealParavisor(t *testing.T) {
	for _, re := range realEvidences(t) {
		c, err := verify.Evidence(context.Background(), re.data, re.nonce, fixedOpts())
		if err != nil {
			t.Fatalf("%s: %v", re.name, err)
		}
		if c.Paravisor != verify.ParavisorAzure {
			t.Errorf("%s: paravisor %q (%x)", re.name, c.Paravisor, []byte(c.IDKeyDigest))
		}
	}
	for _, f := range []string{testutil.SNPDir + "hcl-report.bin"} {
		c, err := reportWith(context.Background(), testutil.ReadFile(t, f), vcekOf(t, testutil.SNPDir+"vcek.pem"), fixedOpts())
		if err != nil || c.Paravisor != verify.ParavisorAzure {
			t.Fatalf("%s: %v %+v", f, err, c)
		}
	}
	aci := testutil.ReadFile(t, "azure-thim/snp_report.bin")
	c, err := reportWith(context.Background(), aci, thimVCEK(t), fixedOpts())
	if err != nil || c.Paravisor != verify.ParavisorUnknown {
		t.Fatalf("ACI report: %v %+v", err, c)
	}
	opts := fixedOpts()
	opts.Policy.IDKeyDigests = []verify.HexBytes{verify.DefaultParavisors()[0].Digest[:]}
	_, err = reportWith(context.Background(), aci, thimVCEK(t), opts)
	wantCheck(t, err, verify.CheckParavisorIdentity)
}
