package snp_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// realReports returns every SNP report in testdata/: bare, in HCL report
// files and in the evidence files.
func realReports(t *testing.T) map[string][]byte {
	t.Helper()
	read := func(rel string) []byte { return testutil.ReadFile(t, rel) }
	out := map[string][]byte{"azure-thim/snp_report.bin": read("azure-thim/snp_report.bin")}
	for _, f := range []string{"trustee-az-vtpm/az-snp-vtpm/hcl-report.bin", "azure-cvm-tooling/hcl-report-snp.bin", "azure-cvm-tooling/early-az-snp-vtpm-0.2/hcl-report.bin"} {
		out[f] = read(f)[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize]
	}
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json", "evidence-v2.json", "evidence-genoa.json"} {
		ev, err := evidence.Decode(read("trustee-az-vtpm/az-snp-vtpm/" + f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = ev.HCLReport[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize]
	}
	return out
}

// TestRoundTripReal: Marshal(ParseReport(x)) == x for every real report,
// and the versions found are the ones testdata is known to hold.
func TestRoundTripReal(t *testing.T) {
	versions := map[uint32]int{}
	for name, raw := range realReports(t) {
		r, err := snp.ParseReport(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		versions[r.Version]++
		if got := r.Marshal(); !bytes.Equal(got, raw) {
			t.Errorf("%s: Marshal differs from the parsed bytes", name)
		}
	}
	if versions[2] == 0 || versions[3] == 0 {
		t.Errorf("versions in testdata: %v, want 2 and 3", versions)
	}
}

// TestRoundTripVersions builds, signs, parses and re-marshals a report of
// every version with every field set, so a field lost by either direction
// fails; fields a layout lacks read back as zero.
func TestRoundTripVersions(t *testing.T) {
	for _, v := range []uint32{1, 2, 3, 4, 5} {
		ev, err := (&testev.Builder{ReportVersion: v, MitVectors: [2]uint64{0x1122, 0x3344}}).Build()
		if err != nil {
			t.Fatal(err)
		}
		r, err := snp.ParseReport(ev.Report)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if !bytes.Equal(r.Marshal(), ev.Report) {
			t.Errorf("version %d: Marshal(Parse(x)) != x", v)
		}
		l, _ := snp.ReportVersionLayout(v)
		if (r.CPUIDFamily != 0) != l.CPUID || (r.CommittedTCB != 0) != l.TCBs || (r.LaunchMitVector == 0x1122 && r.CurrentMitVector == 0x3344) != l.MitVectors {
			t.Errorf("version %d: layout %+v, fields %+v", v, l, r)
		}
	}
}

// TestReservedBytes: a non-zero byte in any reserved range of a version's
// layout is rejected, one byte at a time.
func TestReservedBytes(t *testing.T) {
	for _, v := range []uint32{1, 2, 3, 5} {
		ev := (&testev.Builder{ReportVersion: v}).MustBuild()
		l, _ := snp.ReportVersionLayout(v)
		offs := []int{snp.OffsetSignerInfo + 4, snp.OffsetChipID - 1, snp.SignedSize - 1, snp.ReportSize - 1, snp.OffsetSignatureS + 72}
		if !l.CPUID {
			offs = append(offs, snp.OffsetCPUID)
		}
		if !l.TCBs {
			offs = append(offs, snp.OffsetCommittedTCB, snp.OffsetLaunchTCB+7)
		}
		if !l.MitVectors {
			offs = append(offs, snp.OffsetLaunchMitVector, snp.OffsetCurrentMitVector)
		}
		for _, off := range offs {
			b := bytes.Clone(ev.Report)
			b[off] = 1
			if _, err := snp.ParseReport(b); !errors.Is(err, snp.ErrReportFormat) {
				t.Errorf("version %d reserved byte 0x%x: err = %v", v, off, err)
			}
		}
	}
}

// TestPinnedASVK: the ASVK pinned per product line (go-sev-guest's
// embedded VLEK chain) is the one in trustee's *_ask_ark_asvk.pem, whose
// ASK and ARK are the pinned ones too; ParseChainPEM reads all three.
func TestPinnedASVK(t *testing.T) {
	for _, p := range snp.Products {
		data, err := os.ReadFile(filepath.Join(testutil.Dir(), "trustee-az-vtpm/amd-vendor-certs", map[snp.Product]string{snp.Milan: "milan", snp.Genoa: "genoa", snp.Turin: "turin"}[p]+"_ask_ark_asvk.pem"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := snp.ParseChainPEM(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pinned := snp.DefaultRoots().Chains(p)
		if len(pinned) != 1 || pinned[0].ASVK == nil || c.ASVK == nil {
			t.Fatalf("%s: no ASVK", p)
		}
		if !pinned[0].ASVK.Equal(c.ASVK) || !pinned[0].ASK.Equal(c.ASK) || !pinned[0].ARK.Equal(c.ARK) {
			t.Errorf("%s: pinned chain differs from trustee's", p)
		}
		if cn := c.ASVK.Subject.CommonName; cn != "SEV-VLEK-"+string(p) {
			t.Errorf("%s: ASVK %q", p, cn)
		}
	}
}

// TestWithASVKRejects: an ASVK of another product line, one not signed by
// the ARK, or the ASK presented as ASVK is refused.
func TestWithASVKRejects(t *testing.T) {
	milan := snp.DefaultRoots().Chains(snp.Milan)[0]
	genoa := snp.DefaultRoots().Chains(snp.Genoa)[0]
	if _, err := milan.WithASVK(genoa.ASVK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("Genoa ASVK on the Milan chain: %v", err)
	}
	if _, err := milan.WithASVK(milan.ASK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("ASK as ASVK: %v", err)
	}
	other := testev.PrivateChain(snp.Milan)
	if _, err := milan.WithASVK(other.ASVK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("ASVK of another ARK: %v", err)
	}
}
