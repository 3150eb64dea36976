package verify

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// azureMRTDs are the MRTDs of Azure's TDX paravisor seen in real Azure TDX
// CVM evidence. On TDX the paravisor is the TD's initial image, so MRTD is
// its identity; it changes when Azure updates the paravisor.
var azureMRTDs = [...]string{
	// trustee's az-tdx-vtpm evidence v0/v1 and hcl-report.bin / td-quote.bin
	// (testdata/trustee-az-vtpm/az-tdx-vtpm).
	"024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b",
	// azure-cvm-tooling's hcl-report-tdx.bin (testdata/azure-cvm-tooling;
	// the TDREPORT, no quote accompanies it).
	"75f3acc2e1dfc3acf404d7eaa69a2eefcd0475a0dd6516ef5ba3cb83399c61b4aa1c638e3622bb650a514bfc6e858886",
	// dstack-teekit's Azure TD quote (testdata/intel-collateral/
	// azure-tdx-quote-teekit.bin, a Standard_DC2es_v5 VM).
	"fe27b2aa3a05ec56864c308aff03dd13c189a6112d21e417ec1afe626a8cb9d91482d1379ec02fe6308972950a930d0a",
	// Microsoft's own Azure/cvm-attestation-tools test TD quote
	// (testdata/azure-cvm-attestation-tools/td-quote-v4.bin): verifies under
	// Intel's root, RTMRs zero and 70 trailing zero bytes, as Azure IMDS
	// serves them. (The TDREPORT of tdx-hcl-report.bin there is not listed:
	// its runtime data has a zero vmUniqueId, maybe edited, and nothing
	// signs a TDREPORT offline.)
	"888b31b57a1cad6a358ce8c6a08f40198fa171596e01f70d5f360ee4798150983e55d2f89d804c3bfec06a44220c91b2",
	// Microsoft's Azure/cvm-attestation-tools TD quote v5 (testdata/
	// azure-cvm-attestation-tools/td-quote-v5.bin, body type 3, TDX 1.5):
	// verifies under Intel's root; RTMRs, MROWNER and MRCONFIGID zero;
	// REPORTDATA a SHA-256 then 32 zero bytes (the HCL's runtime-data
	// hash); TD attributes 0x10000000 and XFAM 0x618e7 as on Azure; the
	// same FMSPC and TDX module (MRSEAM, TEE_TCB_SVN) as the v4 quote
	// above, on another platform. It has no trailing zeros because it
	// fills exactly the 5006 bytes Azure pads its v4 quotes to (v4 quote +
	// 70 zeros; a TDX 1.5 v5 quote is 70 bytes longer).
	"273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
	// Intel Trust Authority client's Azure TDX test evidence (testdata/
	// ita-aztdx, 2024): an HCL report read from the vTPM (runtime data with
	// HCLAkPub, HCLEkPub, a vmUniqueId, secure boot and TPM on) and the TD
	// quote Azure's /acc/tdquote served for it, which binds it; the quote
	// verifies under Intel's root, RTMRs zero, 70 trailing zero bytes, the
	// FMSPC, TD attributes and XFAM of dstack-teekit's Azure quote above.
	"bb379f8e734a755832509f61403f99db2258a70a01e1172a499d6d364101b0675455b4e372a35c1f006541f2de0d7154",
	// flashbots/attested-tls-proxy's Azure TDX CVM attestations of
	// 2025-12-01/02 (testdata/flashbots-azure-tdx): TD quotes under Intel's
	// root (FMSPC 90c06f000000, UpToDate under Intel's Feb 2026
	// collateral) binding the HCL runtime data, a TPM quote over PCRs 0-23
	// signed by its HCLAkPub, PCR 6 the firmware's measurement of its
	// vmUniqueId; and Microsoft's word for the TD: the vTPM's AK certificate
	// (CN 353c6d9a70bc.ConfidentialVM.Azure.windows.net) certifies that
	// HCLAkPub and chains to the Azure Virtual TPM Root Certificate
	// Authority 2023 through Global Virtual TPM CA - 03 (the root is the
	// one that issued testdata/signal-svr2's CA - 01).
	"12bdbc1609ef066db7a9ec7b26d7509346f4ca46e846274096cb25939b1e711944061ca19a30c6743f1e599148eee451",
	// flashbots/attested-tls's Azure TDX CVM attestation of 2026-06-08
	// (testdata/flashbots-azure-tdx/*-1780922561*): the same proofs, the AK
	// certificate (CN 2ede2d532aaf.ConfidentialVM.Azure.windows.net) under
	// the same root through Azure Cloud Virtual TPM CA 2025 and CA - 24,
	// Intel TCB UpToDate under Intel's collateral of that day.
	"ff450b138c5ee6734a43dc35afb437abfa24ef743bc9e9484ef4af365fcd89a6c50913248ed7fcb92a7d42b1ba7da984",
}

// DefaultTDXParavisors returns the TDX paravisor identities trusted by
// default: the MRTDs (as Paravisor.Digest) of Azure's paravisor seen on
// real Azure TDX CVMs. Each call returns a new slice.
func DefaultTDXParavisors() []Paravisor { return slices.Clone(azureTDXParavisors) }

// EmulatedTDXParavisor returns the emulated TDX CVM's paravisor identity
// (its MRTD). It is trusted only for quotes under the emulated fake Intel
// root (Config.TrustEmulatedTDX): anyone can make a quote with it there.
func EmulatedTDXParavisor() Paravisor {
	return Paravisor{Name: fakeintel.ParavisorName, Digest: fakeintel.MRTD()}
}

// checkEmulatedMRTD rejects a policy listing the emulated MRTD: it is
// trusted with the emulated chain only, never on a real TDX platform.
func checkEmulatedMRTD(l []HexBytes) error {
	emu := fakeintel.MRTD()
	for i, d := range l {
		if bytes.Equal(d, emu[:]) {
			return policyErr(fmt.Sprintf("/tdx_mr_tds/%d", i), "the emulated TDX CVM's MRTD is never trusted on a real platform (it is trusted under the emulated chain only, --trust-emulated)")
		}
	}
	return nil
}

// checkTDXParavisor sets claims.Paravisor and checks that MRTD is a
// trusted paravisor's: one of the policy's tdx_mr_tds, or else of
// DefaultTDXParavisors, unless the policy allows any paravisor. Under the
// emulated chain (emulated), EmulatedTDXParavisor is trusted too. An
// untrusted non-zero MRTD may be vouched for by the policy's MAA instance
// (a Config.ParavisorVoucher implementing TDXParavisorVoucher).
func checkTDXParavisor(ctx context.Context, claims *Claims, q *tdx.Quote, opts *Config, emulated bool) error {
	mrtd, pol := q.Body.MRTD, &opts.Policy
	trusted := trustedFrom(pol.TDXMRTDs, azureTDXParavisors)
	if emulated {
		trusted = append(slices.Clip(trusted), EmulatedTDXParavisor())
	}
	claims.Paravisor = paravisorName(mrtd, trusted, azureTDXParavisors)
	if pol.AllowAnyParavisor && len(pol.TDXMRTDs) == 0 {
		return nil
	}
	if mrtd != ([48]byte{}) && knownName(mrtd, trusted) != "" {
		return nil
	}
	if !emulated && mrtd == fakeintel.MRTD() {
		// As for SEV-SNP's fake ID key: never vouched for off the emulated chain.
		return failf(CheckParavisorIdentity, "MRTD %x is the emulated TDX CVM's, on a platform whose PCK chains to %s: it is trusted only under the emulated chain (--trust-emulated)", mrtd[:], claims.RootsSource)
	}
	untrusted := &UntrustedParavisorError{Digest: mrtd, Trusted: slices.Clone(trusted), PolicyList: len(pol.TDXMRTDs) > 0, TDX: true}
	if pol.MAAParavisorInstance == "" || mrtd == ([48]byte{}) {
		return fail(CheckParavisorIdentity, untrusted)
	}
	var ask func(context.Context) (string, error)
	if v, ok := opts.ParavisorVoucher.(TDXParavisorVoucher); ok {
		ask = func(ctx context.Context) (string, error) { return v.VouchTDXParavisor(ctx, q) }
	}
	return vouch(ctx, claims, pol, opts.ParavisorVoucher, ask, untrusted)
}
