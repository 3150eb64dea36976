package snp

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

func firstPEM(t testing.TB, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
		return nil
	}
	return blk.Bytes
}

type fixture struct {
	name    string
	report  []byte
	vcekDER []byte
	product Product
	chip    string // hex prefix
	tcb     TCBParts
}

func fixtures(t testing.TB) []fixture {
	hcl := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/hcl-report.bin")
	var thim struct {
		VcekCert string `json:"vcekCert"`
	}
	if err := json.Unmarshal(testutil.ReadFile(t, "azure-thim/uvm_host_amd_certificate.json"), &thim); err != nil {
		t.Fatal(err)
	}
	return []fixture{
		{"trustee milan v2", hcl[32 : 32+ReportSize], firstPEM(t, testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/vcek.pem")), Milan, "19752a44",
			TCBParts{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}},
		{"thim milan v2", testutil.ReadFile(t, "azure-thim/snp_report.bin"), firstPEM(t, []byte(thim.VcekCert)), Milan, "b12164b4",
			TCBParts{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}},
		{"constellation azure milan v2 (1204-byte form)", testutil.ReadFile(t, "constellation/azure-snp-report-1204.bin")[:ReportSize],
			testutil.ReadFile(t, "constellation/azure-vcek-thim.der"), Milan, "9e44aaef", TCBParts{Bootloader: 2, TEE: 0, SNP: 6, Microcode: 93}},
	}
}

func TestRealReports(t *testing.T) {
	roots := DefaultRoots()
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			r, err := ParseReport(f.report)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(r.ChipID[:4]); got != f.chip {
				t.Errorf("chip id %s, want %s", got, f.chip)
			}
			v, err := ParseVCEK(f.vcekDER)
			if err != nil {
				t.Fatal(err)
			}
			if v.Product != f.product {
				t.Errorf("product %s", v.Product)
			}
			if p, ok, err := r.ProductFromCPUID(); err != nil || (ok && p != f.product) {
				t.Errorf("CPUID product %s %v %v", p, ok, err)
			}
			c, err := roots.VerifyVCEK(v, testutil.FixtureTime())
			if err != nil {
				t.Fatal(err)
			}
			if !c.Pinned {
				t.Error("chain not pinned")
			}
			if err := v.VerifyReportSignature(r); err != nil {
				t.Fatal(err)
			}
			if err := v.CheckBinding(r); err != nil {
				t.Fatal(err)
			}
			if got := r.ReportedTCB.Parts(f.product); got != f.tcb {
				t.Errorf("reported TCB %v, want %v", got, f.tcb)
			}
			if r.VMPL != 0 || r.Debug() || r.Policy != 0x3001f {
				t.Errorf("vmpl %d policy %#x", r.VMPL, r.Policy)
			}
			// Any flipped signed byte breaks the signature.
			for _, off := range []int{0, 0x50, 0x90, 0x1A0, 0x29F, 0x2A0, 0x2E8} {
				bad := append([]byte(nil), f.report...)
				bad[off] ^= 0x01
				br, err := ParseReport(bad)
				if err != nil {
					continue // rejected at parse: fine
				}
				if err := v.VerifyReportSignature(br); !errors.Is(err, ErrReportSignature) {
					t.Errorf("flip at %#x: %v", off, err)
				}
			}
			// Expired / not yet valid.
			if _, err := roots.VerifyVCEK(v, v.Cert.NotAfter.Add(time.Second)); !errors.Is(err, ErrValidity) {
				t.Errorf("after NotAfter: %v", err)
			}
			if _, err := roots.VerifyVCEK(v, v.Cert.NotBefore.Add(-time.Second)); !errors.Is(err, ErrValidity) {
				t.Errorf("before NotBefore: %v", err)
			}
		})
	}
}

func TestMismatchedVCEK(t *testing.T) {
	// azure-cvm-tooling ships a VCEK of another chip with its report.
	rep, err := ParseReport(testutil.ReadFile(t, "azure-cvm-tooling/hcl-report-snp.bin")[32 : 32+ReportSize])
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseVCEK(firstPEM(t, testutil.ReadFile(t, "azure-cvm-tooling/certs.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DefaultRoots().VerifyVCEK(v, testutil.FixtureTime()); err != nil {
		t.Fatalf("the chain itself is genuine: %v", err)
	}
	if err := v.VerifyReportSignature(rep); !errors.Is(err, ErrReportSignature) {
		t.Errorf("signature: %v", err)
	}
	if err := v.CheckBinding(rep); !errors.Is(err, ErrChipID) {
		t.Errorf("binding: %v", err)
	}
	// And the two real Milan fixtures cross-spliced.
	fs := fixtures(t)
	r0, _ := ParseReport(fs[0].report)
	v1, _ := ParseVCEK(fs[1].vcekDER)
	if err := v1.VerifyReportSignature(r0); !errors.Is(err, ErrReportSignature) {
		t.Errorf("spliced signature: %v", err)
	}
}

func TestGenoaVCEKAgainstMilanRoots(t *testing.T) {
	v, err := ParseVCEK(firstPEM(t, testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/vcek-genoa.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if v.Product != Genoa {
		t.Fatalf("product %s", v.Product)
	}
	if _, err := DefaultRoots().VerifyVCEK(v, testutil.FixtureTime()); err != nil {
		t.Fatalf("genuine Genoa VCEK: %v", err)
	}
	milanOnly := (&Roots{}).Add(DefaultRoots().Chains(Milan)[0])
	if _, err := milanOnly.VerifyVCEK(v, testutil.FixtureTime()); !errors.Is(err, ErrChain) {
		t.Errorf("Genoa VCEK with Milan roots only: %v", err)
	}
	// A Genoa VCEK relabelled as Milan by the caller still fails: its issuer is SEV-Genoa.
	v.Product = Milan
	if _, err := DefaultRoots().VerifyVCEK(v, testutil.FixtureTime()); !errors.Is(err, ErrChain) {
		t.Errorf("relabelled: %v", err)
	}
}

func TestParseChainPEM(t *testing.T) {
	for _, p := range []string{"milan", "genoa", "turin"} {
		c, err := ParseChainPEM(testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/"+p+"_ask_ark_asvk.pem"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pinned := DefaultRoots().Chains(c.Product)[0]
		if !c.ARK.Equal(pinned.ARK) || !c.ASK.Equal(pinned.ASK) {
			t.Errorf("%s: trustee's copy differs from the pinned roots", p)
		}
	}
	// ARK then ASK (wrong order), one cert, garbage.
	ms := testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem")
	var blocks [][]byte
	for rest := ms; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, pem.EncodeToMemory(b))
	}
	cases := map[string][]byte{
		"reversed":             append(append([]byte(nil), blocks[1]...), blocks[0]...),
		"one":                  blocks[0],
		"garbage":              []byte("not pem"),
		"genoa ask, milan ark": append(append([]byte(nil), mustBlock(t, "genoa", 0)...), blocks[1]...),
	}
	for name, b := range cases {
		if _, err := ParseChainPEM(b); !errors.Is(err, ErrRoots) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustBlock(t *testing.T, product string, i int) []byte {
	rest := testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/"+product+"_ask_ark_asvk.pem")
	for j := 0; ; j++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			t.Fatal("not enough blocks")
		}
		if j == i {
			return pem.EncodeToMemory(b)
		}
	}
}

func TestTCBLayouts(t *testing.T) {
	parts := TCBParts{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5}
	if got := ComposeTCB(Turin, parts).Parts(Turin); got != parts {
		t.Errorf("Turin round trip %v", got)
	}
	if ComposeTCB(Turin, parts) != 0x0500000004030201 {
		t.Errorf("Turin layout %#x", uint64(ComposeTCB(Turin, parts)))
	}
	parts.FMC = 0
	if ComposeTCB(Milan, parts) != 0x0504000000000302 {
		t.Errorf("Milan layout %#x", uint64(ComposeTCB(Milan, parts)))
	}
	if !parts.AtLeast(TCBParts{Bootloader: 2, Microcode: 5}) || parts.AtLeast(TCBParts{SNP: 5}) {
		t.Error("AtLeast")
	}
}

func TestParseReportRejects(t *testing.T) {
	good := fixtures(t)[0].report
	if _, err := ParseReport(good[:ReportSize-1]); !errors.Is(err, ErrReportFormat) {
		t.Error("short report accepted")
	}
	v1 := append([]byte(nil), good...)
	v1[0] = 1
	if _, err := ParseReport(v1); !errors.Is(err, ErrReportFormat) {
		t.Error("version 1 accepted")
	}
	algo := append([]byte(nil), good...)
	algo[0x34] = 2
	if _, err := ParseReport(algo); !errors.Is(err, ErrReportFormat) {
		t.Error("unknown signature algorithm accepted")
	}
	cpu := append([]byte(nil), good...)
	cpu[0] = 3
	cpu[0x188] = 0x17
	r, err := ParseReport(cpu)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.ProductFromCPUID(); !errors.Is(err, ErrProduct) {
		t.Error("unknown CPUID family accepted")
	}
}

func FuzzParseVCEK(f *testing.F) {
	for _, fx := range fixtures(f) {
		f.Add(fx.vcekDER)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		v, err := ParseVCEK(der)
		if testutil.Rejected(t, err, ErrVCEKFormat) {
			return
		}
		_, _ = DefaultRoots().VerifyVCEK(v, testutil.FixtureTime())
	})
}

func FuzzParseReport(f *testing.F) {
	for _, fx := range fixtures(f) {
		f.Add(fx.report)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if testutil.Rejected(t, err, ErrReportFormat) {
			return
		}
		_, _, _ = r.ProductFromCPUID()
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatal("Marshal(ParseReport(b)) != b")
		}
	})
}

// TestRealSignalMilanChain: the Milan ASK and ARK that Signal's SEV-SNP
// test ships with its VCEK (testdata/signal-svr2, DER) are AMD's, byte for
// byte the pinned ones.
func TestRealSignalMilanChain(t *testing.T) {
	pinned := DefaultRoots().Chains(Milan)[0]
	for name, want := range map[string]*x509.Certificate{"milan-ask.der": pinned.ASK, "milan-ark.der": pinned.ARK} {
		c, err := x509.ParseCertificate(testutil.ReadFile(t, "signal-svr2/"+name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !c.Equal(want) {
			t.Errorf("%s (%s) is not the pinned Milan certificate", name, c.Subject.CommonName)
		}
	}
}

// TestRealKDSChainFiles: the KDS chains YAXI's routex client ships
// (testdata/yaxi-routex: VCEK, ASK, ARK in PEM, with comment lines) hold
// the pinned Genoa ASK and ARK, and their VCEKs chain to them.
func TestRealKDSChainFiles(t *testing.T) {
	pinned := DefaultRoots().Chains(Genoa)[0]
	for _, f := range []string{"vcek-chain-genoa-v5.pem", "vcek-chain-genoa-v3.pem"} {
		blocks := testutil.PEMBlocks(t, testutil.ReadFile(t, "yaxi-routex/"+f), "CERTIFICATE")
		if len(blocks) != 3 || !bytes.Equal(blocks[1], pinned.ASK.Raw) || !bytes.Equal(blocks[2], pinned.ARK.Raw) {
			t.Errorf("%s: %d certificates, not VCEK + the pinned Genoa ASK, ARK", f, len(blocks))
			continue
		}
		v, err := ParseVCEK(blocks[0])
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c, err := DefaultRoots().VerifyVCEK(v, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || c.Product != Genoa {
			t.Errorf("%s: VerifyVCEK = %+v, %v", f, c, err)
		}
	}
}
