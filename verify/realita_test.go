package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
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

// TestRealFlashbotsAzureTDX: three attestations of two real Azure TDX CVMs
// (testdata/flashbots-azure-tdx, 2025-12 and 2026-06: TD quote, HCL
// report, TPM quote over PCRs 0-23, the vTPM's AK certificate) verify by
// default: Intel's root, the paravisor MRTDs 12bdbc16… and ff450b13…
// (trusted since Microsoft's vTPM CA certifies the TD's HCLAkPub:
// TestRealFlashbotsAKCertificate), the runtime data, the TPM quote and its
// zero nonce, and the VM identity, whose vmUniqueId the runtime data names
// in lower case while the firmware measured it in upper case. With Intel's
// collateral for FMSPC 90c06f000000 of Feb and June 2026 the TCB is
// UpToDate. A changed PCR, another nonce and trustee's TD quote are
// rejected by the check that names them; the two documents' TD quotes,
// quotes of one TDREPORT, are interchangeable.
func TestRealFlashbotsAzureTDX(t *testing.T) {
	const dir = "flashbots-azure-tdx/"
	dec2025, jun2026 := time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC), time.Date(2026, 6, 8, 13, 0, 0, 0, time.UTC)
	nonce := make([]byte, 32)
	for _, c := range []struct {
		ts, mrtd, vmID, form string
		secureBoot           bool
		at, collAt           time.Time
		collateral, tcbDate  string
	}{
		{"1764620247", "12bdbc1609ef066db7a9ec7b26d7509346f4ca46e846274096cb25939b1e711944061ca19a30c6743f1e599148eee451",
			"bdd43904-dbf8-4337-8b91-3adba92c5ebd", verify.VMIdentityUUID, false, dec2025, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
			"intel-collateral/pcs-90c06f000000", "2024-11-13T00:00:00Z"},
		{"1764662251", "12bdbc1609ef066db7a9ec7b26d7509346f4ca46e846274096cb25939b1e711944061ca19a30c6743f1e599148eee451",
			"bdd43904-dbf8-4337-8b91-3adba92c5ebd", verify.VMIdentityUUID, false, dec2025, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
			"intel-collateral/pcs-90c06f000000", "2024-11-13T00:00:00Z"},
		{"1780922561", "ff450b138c5ee6734a43dc35afb437abfa24ef743bc9e9484ef4af365fcd89a6c50913248ed7fcb92a7d42b1ba7da984",
			"3c18c97a-0d2a-4565-969d-166cdcef26a3", verify.VMIdentityUUIDArch, true, jun2026, jun2026,
			"intel-collateral/pcs-90c06f000000-2026-06", "2025-05-14T00:00:00Z"},
	} {
		t.Run(c.ts, func(t *testing.T) {
			data := testutil.ReadFile(t, dir+"evidence-"+c.ts+".json")
			cfg := verify.Config{Now: c.at}
			cfg.Policy.RequireVMIdentity = true
			claims, err := verify.Evidence(context.Background(), data, nonce, cfg)
			if err != nil {
				t.Fatalf("real Azure TDX evidence rejected: %v", err)
			}
			x, id := claims.TDX, claims.VMIdentity
			if claims.Paravisor != verify.ParavisorAzure || x == nil || hex.EncodeToString(x.MRTD[:]) != c.mrtd || hex.EncodeToString(x.FMSPC) != "90c06f000000" ||
				x.TCBStatus != verify.TCBNotEvaluated || id == nil || !id.PCR6Bound || id.Form != c.form || id.VMUniqueID != c.vmID ||
				claims.VMConfig == nil || claims.VMConfig.SecureBoot != c.secureBoot || !claims.VMConfig.TPMEnabled ||
				!bytes.Equal(claims.Nonce, nonce) || !claims.NonceChecked {
				t.Fatalf("claims paravisor %q tdx %+v vm identity %+v vm %+v nonce %x", claims.Paravisor, x, id, claims.VMConfig, claims.Nonce)
			}
			cfg.Now = c.collAt
			cfg.TDXCollateral = testutil.Must(pcs.LoadDir(os.DirFS(filepath.Join(testutil.Dir(), c.collateral))))(t)
			claims, err = verify.Evidence(context.Background(), data, nonce, cfg)
			if err != nil {
				t.Fatalf("with Intel's collateral: %v", err)
			}
			if x := claims.TDX; x.TCBStatus != pcs.UpToDate || x.TCBDate != c.tcbDate {
				t.Errorf("TCB status %q date %q", x.TCBStatus, x.TCBDate)
			}
		})
	}
	at := dec2025
	ev := decode(t, testutil.ReadFile(t, dir+"evidence-1764662251.json"))
	otherQuote := testutil.ReadFile(t, dir+"td-quote-1764620247.bin")
	for _, c := range []struct {
		name  string
		edit  func(e *evidence.Evidence)
		nonce []byte
		want  verify.Check
	}{
		{"the other document's TD quote (same TDREPORT)", func(e *evidence.Evidence) { e.TDQuote = otherQuote }, nonce, ""},
		{"PCR 7 changed", func(e *evidence.Evidence) { e.Quote.PCRs[7] = bytes.Repeat([]byte{7}, 32) }, nonce, verify.CheckPCRDigest},
		{"another nonce", func(*evidence.Evidence) {}, bytes.Repeat([]byte{1}, 32), verify.CheckNonce},
		{"trustee's TD quote", func(e *evidence.Evidence) { e.TDQuote = testutil.ReadFile(t, tdxDir+"td-quote.bin") }, nonce, verify.CheckTDXBinding},
	} {
		e := decode(t, encode(t, ev))
		c.edit(e)
		_, err := decodedWith(context.Background(), e, c.nonce, verify.Config{Now: at})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if verr, ok := errors.AsType[*verify.Error](err); !ok || verr.Check != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

// TestRealFlashbotsAKCertificate: the provenance of MRTDs 12bdbc16… and
// ff450b13… among the defaults. The vTPM's AK certificate in each flashbots
// evidence (one read as its whole NV index: the DER, then zeros) certifies
// the runtime data's HCLAkPub and chains to the Azure Virtual TPM Root CA
// 2023, through Global Virtual TPM CA - 03 (2025) or Azure Cloud Virtual
// TPM CA 2025 and CA - 24 (2026); that root also issued Signal's CA - 01,
// obtained independently. The certified key is the AK (claims ak_public)
// of the flashbots evidence that verifies with that MRTD, not only of an
// HCL report file derived from it.
func TestRealFlashbotsAKCertificate(t *testing.T) {
	const dir = "flashbots-azure-tdx/"
	pemCerts := func(rel string) []*x509.Certificate {
		var out []*x509.Certificate
		for rest := testutil.ReadFile(t, rel); ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			// An AK certificate's block may be its whole 4096-byte NV index.
			out = append(out, testutil.Must(x509.ParseCertificate(blk.Bytes[:len(bytes.TrimRight(blk.Bytes, "\x00"))]))(t))
		}
		if len(out) == 0 {
			t.Fatalf("%s: no certificate", rel)
		}
		return out
	}
	root := pemCerts(dir + "azure-vtpm-root-2023.pem")[0]
	ca01 := testutil.Must(x509.ParseCertificate(testutil.ReadFile(t, "signal-svr2/azure-vtpm-ca-01.der")))(t)
	if err := ca01.CheckSignatureFrom(root); err != nil {
		t.Errorf("Signal's CA - 01 under this root: %v", err)
	}
	defaults := map[string]bool{}
	for _, p := range verify.DefaultTDXParavisors() {
		defaults[hex.EncodeToString(p.Digest[:])] = true
	}
	for _, c := range []struct {
		ak, intermediates, hcl, cn, mrtd string
		evidence                         []string
		at                               time.Time
	}{
		{"ak-cert.pem", "global-vtpm-ca-03.pem", "hcl-report.bin", "353c6d9a70bc.ConfidentialVM.Azure.windows.net",
			"12bdbc1609ef066db7a9ec7b26d7509346f4ca46e846274096cb25939b1e711944061ca19a30c6743f1e599148eee451",
			[]string{"evidence-1764620247.json", "evidence-1764662251.json"}, time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)},
		{"ak-cert-1780922561.pem", "ak-intermediates-1780922561.pem", "hcl-report-1780922561.bin", "2ede2d532aaf.ConfidentialVM.Azure.windows.net",
			"ff450b138c5ee6734a43dc35afb437abfa24ef743bc9e9484ef4af365fcd89a6c50913248ed7fcb92a7d42b1ba7da984",
			[]string{"evidence-1780922561.json"}, time.Date(2026, 6, 8, 13, 0, 0, 0, time.UTC)},
	} {
		ak := pemCerts(dir + c.ak)[0]
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root)
		for _, ic := range pemCerts(dir + c.intermediates) {
			inter.AddCert(ic)
		}
		if _, err := ak.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: c.at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: chain: %v", c.ak, err)
		}
		r, err := hcl.Parse(testutil.ReadFile(t, dir+c.hcl))
		if err != nil {
			t.Fatal(err)
		}
		hclAK, err := r.RuntimeData.AK()
		if err != nil {
			t.Fatal(err)
		}
		if !hclAK.Equal(ak.PublicKey) || ak.Subject.CommonName != c.cn {
			t.Errorf("AK certificate %q does not certify %s's HCLAkPub", ak.Subject.CommonName, c.hcl)
		}
		// The certified key is the AK of evidence whose TD quote, of the
		// default MRTD, verifies: the MRTD's provenance, not only a file's.
		akDER := testutil.Must(x509.MarshalPKIXPublicKey(ak.PublicKey))(t)
		for _, name := range c.evidence {
			claims, err := verify.Evidence(context.Background(), testutil.ReadFile(t, dir+name), make([]byte, 32), verify.Config{Now: c.at})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if mrtd := hex.EncodeToString(claims.TDX.MRTD[:]); mrtd != c.mrtd || !defaults[mrtd] || !bytes.Equal(claims.AKPublic, akDER) {
				t.Errorf("%s: MRTD %s (a default: %v), AK %x; want MRTD %s and the AK %s certifies", name, mrtd, defaults[mrtd], []byte(claims.AKPublic), c.mrtd, c.ak)
			}
		}
	}
}
