package verify

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
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
}

// TDXParavisor is a TDX paravisor identity: the MRTD of its TD.
type TDXParavisor struct {
	// Name is a short name such as "azure-hcl".
	Name string
	// MRTD is the TD's MRTD.
	MRTD [48]byte
}

// DefaultTDXParavisors returns the TDX paravisor identities trusted by
// default: the MRTDs of Azure's paravisor seen on real Azure TDX CVMs.
// Each call returns a new slice.
func DefaultTDXParavisors() []TDXParavisor {
	out := make([]TDXParavisor, len(azureMRTDs))
	for i, h := range azureMRTDs {
		out[i].Name = ParavisorAzure
		// Constants of the right length: the error cannot happen (tested).
		_, _ = hex.Decode(out[i].MRTD[:], []byte(h))
	}
	return out
}

// trustedTDXParavisors returns the policy's tdx_mr_tds, or else
// DefaultTDXParavisors.
func trustedTDXParavisors(pol *Policy) []TDXParavisor {
	if len(pol.TDXMRTDs) == 0 {
		return DefaultTDXParavisors()
	}
	defaults := DefaultTDXParavisors()
	var out []TDXParavisor
	for _, d := range pol.TDXMRTDs {
		if len(d) != 48 {
			continue // never equal to a 48-byte MRTD
		}
		p := TDXParavisor{Name: ParavisorPolicy, MRTD: [48]byte(d)}
		if n := tdxName(p.MRTD, defaults); n != "" {
			p.Name = n
		}
		out = append(out, p)
	}
	return out
}

func tdxName(m [48]byte, ps []TDXParavisor) string {
	for _, p := range ps {
		if subtle.ConstantTimeCompare(p.MRTD[:], m[:]) == 1 {
			return p.Name
		}
	}
	return ""
}

// checkTDXParavisor sets claims.Paravisor and checks that MRTD is a
// trusted paravisor's (unless the policy allows any paravisor and lists
// no MRTD).
func checkTDXParavisor(claims *Claims, mrtd [48]byte, pol *Policy) error {
	trusted := trustedTDXParavisors(pol)
	claims.Paravisor = tdxName(mrtd, trusted)
	if claims.Paravisor == "" {
		claims.Paravisor = ParavisorUnknown
		if n := tdxName(mrtd, DefaultTDXParavisors()); n != "" {
			claims.Paravisor = n
		}
	}
	if pol.AllowAnyParavisor && len(pol.TDXMRTDs) == 0 {
		return nil
	}
	if tdxName(mrtd, trusted) != "" {
		return nil
	}
	return fail(CheckParavisorIdentity, &UntrustedMRTDError{MRTD: mrtd, Trusted: trusted, PolicyList: len(pol.TDXMRTDs) > 0})
}

// UntrustedMRTDError says that a TD quote's MRTD is not one of the trusted
// TDX paravisor identities. It is the Err of an *Error with
// CheckParavisorIdentity.
type UntrustedMRTDError struct {
	// MRTD is the quote's MRTD.
	MRTD [48]byte
	// Trusted are the identities that were trusted.
	Trusted []TDXParavisor
	// PolicyList is true when the trusted set came from the policy's
	// tdx_mr_tds rather than DefaultTDXParavisors.
	PolicyList bool
}

func (e *UntrustedMRTDError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "MRTD %x is not a trusted paravisor's: the runtime data (attestation key, user data, VM configuration) was written by a TD that nothing vouches for; it may be a non-Azure TD on a genuine Intel CPU, or Azure's paravisor after an update (its MRTD changes with every paravisor release). Trusted", e.MRTD[:])
	if e.PolicyList {
		b.WriteString(" (the policy's tdx_mr_tds)")
	}
	b.WriteString(": ")
	for i, p := range e.Trusted {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %x", p.Name, p.MRTD[:])
	}
	b.WriteString(`. To trust another MRTD, list it in "tdx_mr_tds" in a --policy file; that list replaces the defaults, so list the trusted ones above too`)
	return b.String()
}
