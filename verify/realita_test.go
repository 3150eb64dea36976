package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestRealITAAzureTDX: the Intel Trust Authority client's Azure TDX test
// evidence (testdata/ita-aztdx: an HCL report read from the vTPM and the
// TD quote Azure served for it) verifies by default: the quote under
// Intel's root, Azure's paravisor MRTD, the HCL report's TDREPORT bound to
// the quote and its runtime data to REPORTDATA, the VM configuration in the
// claims. With Intel's collateral for its FMSPC (00806f050000) at
// 2025-10-01 its TCB is evaluated. The HCL report with another VM's quote
// is tdx-binding, with one runtime-data byte changed runtime-data binding.
func TestRealITAAzureTDX(t *testing.T) {
	h, q := testutil.ReadFile(t, "ita-aztdx/hcl-report.bin"), testutil.ReadFile(t, "ita-aztdx/td-quote.bin")
	const mrtd = "bb379f8e734a755832509f61403f99db2258a70a01e1172a499d6d364101b0675455b4e372a35c1f006541f2de0d7154"
	cfg := tdxOpts()
	claims, err := newVerifier(t, cfg).TDXReport(context.Background(), h, q)
	if err != nil {
		t.Fatalf("real Azure TDX evidence rejected: %v", err)
	}
	if x := claims.TDX; claims.Paravisor != verify.ParavisorAzure || x == nil || hex.EncodeToString(x.MRTD[:]) != mrtd ||
		hex.EncodeToString(x.FMSPC) != "00806f050000" || claims.VMConfig == nil ||
		claims.VMConfig.VMUniqueID != "D6DA8E8D-5410-4716-A0C7-2FA91EA4A866" || !claims.VMConfig.SecureBoot || !claims.VMConfig.TPMEnabled {
		t.Fatalf("claims paravisor %q vm %+v tdx %+v", claims.Paravisor, claims.VMConfig, x)
	}
	cfg.TDXCollateral = testutil.Must(pcs.LoadDir(os.DirFS(filepath.Join(testutil.Dir(), "intel-collateral/pcs-00806f050000"))))(t)
	claims, err = newVerifier(t, cfg).TDXReport(context.Background(), h, q)
	if err != nil {
		t.Fatalf("with Intel's collateral: %v", err)
	}
	if x := claims.TDX; x.TCBStatus != pcs.UpToDate || x.TCBDate != "2024-03-13T00:00:00Z" || len(x.AdvisoryIDs) != 0 {
		t.Errorf("TCB status %q date %q advisories %v", x.TCBStatus, x.TCBDate, x.AdvisoryIDs)
	}
	bad := bytes.Clone(h)
	bad[hcl.OffsetHardware+1184+20+100] ^= 1 // inside the runtime data JSON
	for _, c := range []struct {
		name   string
		h, q   []byte
		want   verify.Check
		inText string
	}{
		{"trustee's quote of another VM", h, testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin"), verify.CheckTDXBinding, "TEE_TCB_SVN"},
		{"runtime data changed", bad, q, verify.CheckRuntimeData, "REPORT_DATA"},
	} {
		_, err := newVerifier(t, tdxOpts()).TDXReport(context.Background(), c.h, c.q)
		var verr *verify.Error
		if !errors.As(err, &verr) || verr.Check != c.want || !strings.Contains(err.Error(), c.inText) {
			t.Errorf("%s: %v, want %s naming %s", c.name, err, c.want, c.inText)
		}
	}
}

// TestRealTeekitAzureTDXQuote: the Azure TDX quote teekit captured with
// Intel's trustauthority-cli (testdata/teekit-tdx: a Standard DCes v5 CVM,
// the runtime data beside it, no HCL report) verifies alone by default
// (Azure's paravisor MRTD fe27b2aa…, FMSPC 00806f050000); its REPORTDATA is
// SHA-256 of that runtime data then 32 zero bytes; the runtime data parses
// strictly, carries HCLAkPub, secure boot off, and a user-data that is
// SHA-512("testnonce" || the CLI's user data). With Intel's collateral for
// its FMSPC at 2025-10-01 its TCB is UpToDate; the quote with one body byte
// changed is tdx-quote-signature.
func TestRealTeekitAzureTDXQuote(t *testing.T) {
	q := testutil.ReadFile(t, "teekit-tdx/azure-td-quote-ita.bin")
	rd := testutil.ReadFile(t, "teekit-tdx/azure-runtime-data.json")
	const mrtd = "fe27b2aa3a05ec56864c308aff03dd13c189a6112d21e417ec1afe626a8cb9d91482d1379ec02fe6308972950a930d0a"
	claims, err := newVerifier(t, tdxOpts()).TDXReport(context.Background(), nil, q)
	if err != nil {
		t.Fatalf("real Azure TD quote rejected: %v", err)
	}
	if x := claims.TDX; claims.Paravisor != verify.ParavisorAzure || x == nil || hex.EncodeToString(x.MRTD[:]) != mrtd ||
		hex.EncodeToString(x.FMSPC) != "00806f050000" {
		t.Fatalf("claims paravisor %q tdx %+v", claims.Paravisor, x)
	}
	digest := sha256.Sum256(rd)
	if want := append(digest[:], make([]byte, 32)...); !bytes.Equal(claims.ReportData, want) {
		t.Errorf("REPORTDATA %x, want SHA-256(runtime data) || zeros", claims.ReportData)
	}
	data, err := hcl.ParseRuntimeData(rd)
	if err != nil {
		t.Fatalf("runtime data: %v", err)
	}
	userData := sha512.Sum512(append([]byte("testnonce"), testutil.Must(hex.DecodeString("03a81070307afbeac06b0df4ef865763918b5e2a9fa030e20025a4315dab4b2a"))(t)...))
	if _, err := data.AK(); err != nil || data.VMConfig == nil || data.VMConfig.SecureBoot || !data.VMConfig.TPMEnabled ||
		data.VMConfig.VMUniqueID != "8120069D-C51E-4E72-8622-3D7ADDC6B80A" || !bytes.Equal(data.UserData, userData[:]) {
		t.Errorf("runtime data: AK %v, vm %+v, user data %x", err, data.VMConfig, data.UserData)
	}
	cfg := tdxOpts()
	cfg.TDXCollateral = testutil.Must(pcs.LoadDir(os.DirFS(filepath.Join(testutil.Dir(), "intel-collateral/pcs-00806f050000"))))(t)
	claims, err = newVerifier(t, cfg).TDXReport(context.Background(), nil, q)
	if err != nil {
		t.Fatalf("with Intel's collateral: %v", err)
	}
	if x := claims.TDX; x.TCBStatus != pcs.UpToDate {
		t.Errorf("TCB status %q", x.TCBStatus)
	}
	bad := bytes.Clone(q)
	bad[48+520+40] ^= 1 // REPORTDATA, inside the signed body
	_, err = newVerifier(t, tdxOpts()).TDXReport(context.Background(), nil, bad)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckTDXQuoteSignature {
		t.Errorf("quote with a body byte changed: %v, want %s", err, verify.CheckTDXQuoteSignature)
	}
}

// TestRealHyodarAzureTDXQuotes: the TD quotes of two Azure TDX CVMs
// (testdata/hyodar-azure-tdx, Constellation-style evidence: TD quote and
// runtime data, no HCL report), each binding its runtime data in
// REPORTDATA. The one of paravisor MRTD bb379f8e… (that of
// testdata/ita-aztdx) verifies by default; the BuilderNet node's, MRTD
// 94c0df4d…, no paravisor this project trusts by default, is
// paravisor-identity naming it, and verifies with it in the policy.
func TestRealHyodarAzureTDXQuotes(t *testing.T) {
	const dir = "hyodar-azure-tdx/"
	const known, builderNet = "bb379f8e734a755832509f61403f99db2258a70a01e1172a499d6d364101b0675455b4e372a35c1f006541f2de0d7154",
		"94c0df4d903245f7befbe1c74c8cf1417b46a79fb49a0cc1b47c56fe3105bcb80dca83b52ba06e4c233c6f103d003b14"
	for _, c := range []struct{ name, mrtd string }{{"example", known}, {"buildernet", builderNet}} {
		t.Run(c.name, func(t *testing.T) {
			q, rd := testutil.ReadFile(t, dir+c.name+"-td-quote.bin"), testutil.ReadFile(t, dir+c.name+"-runtime-data.json")
			cfg := tdxOpts()
			claims, err := newVerifier(t, cfg).TDXReport(context.Background(), nil, q)
			var verr *verify.Error
			if c.mrtd == builderNet {
				if !errors.As(err, &verr) || verr.Check != verify.CheckParavisorIdentity || !strings.Contains(err.Error(), c.mrtd) {
					t.Fatalf("got %v, want %s naming %s", err, verify.CheckParavisorIdentity, c.mrtd[:16])
				}
				cfg.Policy.TDXMRTDs = []verify.HexBytes{testutil.Must(hex.DecodeString(c.mrtd))(t)}
				claims, err = newVerifier(t, cfg).TDXReport(context.Background(), nil, q)
			}
			if err != nil {
				t.Fatal(err)
			}
			if x := claims.TDX; x == nil || hex.EncodeToString(x.MRTD[:]) != c.mrtd || hex.EncodeToString(x.FMSPC) != "00806f050000" {
				t.Fatalf("claims tdx %+v", x)
			}
			digest := sha256.Sum256(rd)
			if want := append(digest[:], make([]byte, 32)...); !bytes.Equal(claims.ReportData, want) {
				t.Errorf("REPORTDATA %x, want SHA-256(runtime data) || zeros", claims.ReportData)
			}
			if _, err := hcl.ParseRuntimeData(rd); err != nil {
				t.Errorf("runtime data: %v", err)
			}
		})
	}
}
