package verify

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Short names of paravisor identities, as Claims.Paravisor reports them.
const (
	// ParavisorAzure is Azure's paravisor (HCL / OpenHCL), launched from an
	// IGVM image whose ID block Microsoft signs.
	ParavisorAzure = "azure-hcl"
	// ParavisorEmulated is the emulated CVM's paravisor (package emulator),
	// whose fake ID key is public (fakeamd.IDKeyDigest).
	ParavisorEmulated = fakeamd.ParavisorName
	// ParavisorPolicy names a digest trusted because the policy's
	// id_key_digests lists it, when it is not one of the known ones.
	ParavisorPolicy = "policy"
	// ParavisorUnknown names a non-zero digest that is not trusted (seen
	// with Policy.AllowAnyParavisor or a bare SNP report).
	ParavisorUnknown = "unknown"
	// ParavisorNone names the zero digest: the guest was launched without
	// an ID block, so no key vouches for the code at VMPL0.
	ParavisorNone = "none"
)

// Paravisor is a paravisor identity. On SEV-SNP it is the SHA-384 digest
// of the public key that signed the ID block of the paravisor's launch
// image, which the PSP checks at launch and puts into every report as
// ID_KEY_DIGEST (offset snp.OffsetIDKeyDigest): the launch measurement
// changes with every paravisor build; the ID key does not. On TDX it is
// the TD's MRTD (see DefaultTDXParavisors).
type Paravisor struct {
	// Name is a short name such as "azure-hcl".
	Name string
	// Digest is the ID_KEY_DIGEST (SEV-SNP) or the MRTD (TDX).
	Digest [48]byte
}

// azureIDKeyDigests are the ID_KEY_DIGESTs of Azure's paravisor, as seen in
// real Azure CVM reports (HCL-wrapped, guest policy 0x3001f); see SPEC.md §11.
var azureIDKeyDigests = [...]string{
	// Every report v3 (Milan and Genoa, 2024-2026): trustee's az-snp-vtpm
	// evidence v0/v1/v2/genoa (testdata/trustee-az-vtpm) and a 2026 capture.
	"942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177",
	// Report v2, 2023-2024: trustee's hcl-report.bin and two older reports;
	// also Constellation's default and MAA's x-ms-sevsnpvm-idkeydigest.
	"0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3",
	// Report v2, 2022-2023: azure-cvm-tooling's hcl-report-snp.bin
	// (testdata/azure-cvm-tooling).
	"934f68bd8ba01938eec21475c872e3a942b60c59fafc6df9e9a76ee66bc47f2d09c676f61c0315c578da26085fb13a71",
	// Report v2, 2022: Constellation's Azure test reports.
	"57e229e0ffe5fa92d0faddff6cae0e61c926fc9ef9afd20a8b8cfcf7129db9338cbe5bf3f6987733a2bf65d06dc38fc1",
	// Report v2, 2022: the x-ms-sevsnpvm-idkeydigest of AzureGuest tokens
	// Microsoft published (testdata/maa/azureguest-snp-aks-sharedwus-20220907.jwt
	// and the sample claims of Azure/confidential-computing-cvm-guest-attestation),
	// MAA's statement that a report with it is azure-compliant-cvm; also the
	// digest Constellation enforced on Azure CVMs by default in 2022 (its
	// "old" Azure digest). No report carrying it is public.
	"57486a447ec0f1958002a22a06b7673b9fd27d11e1c6527498056054c5fa92d23c50f9de44072760fe2b6fb89740b696",
}

// DefaultParavisors returns the paravisor identities trusted by default:
// Azure's paravisor ID keys seen on real Azure CVMs. Each call returns a
// new slice.
func DefaultParavisors() []Paravisor { return slices.Clone(azureSNPParavisors) }

// azureSNPParavisors and azureTDXParavisors are the default lists decoded
// once, read only: the exported functions hand out copies, and the checks
// of every verification read them without decoding or allocating.
var (
	azureSNPParavisors = azureParavisors(azureIDKeyDigests[:])
	azureTDXParavisors = azureParavisors(azureMRTDs[:])
)

// azureParavisors returns Azure's paravisor identities of the hex digests.
func azureParavisors(digests []string) []Paravisor {
	out := make([]Paravisor, len(digests))
	for i, h := range digests {
		out[i].Name = ParavisorAzure
		// Constants of the right length: the error cannot happen (tested).
		_, _ = hex.Decode(out[i].Digest[:], []byte(h))
	}
	return out
}

// EmulatedParavisor returns the emulated CVM's paravisor identity. It is
// trusted only for reports whose VCEK chains to a chain marked
// snp.Chain.Emulated (the CLI's --trust-emulated): its ID key is public, so
// on a real chip anyone can launch a guest that carries its digest.
func EmulatedParavisor() Paravisor {
	return Paravisor{Name: ParavisorEmulated, Digest: fakeamd.IDKeyDigest()}
}

// trustedParavisors returns the paravisor identities pol trusts for a
// report whose VCEK chains to a chain with the given Emulated flag: the
// policy's id_key_digests or else DefaultParavisors, plus
// EmulatedParavisor for the emulated chain.
func trustedParavisors(pol *Policy, emulated bool) []Paravisor {
	out := trustedFrom(pol.IDKeyDigests, azureSNPParavisors)
	if emulated {
		out = append(slices.Clip(out), EmulatedParavisor())
	}
	return out
}

// trustedFrom returns the identities of the policy's list, named after
// defaults when they are among them, or defaults when the list is empty.
func trustedFrom(list []HexBytes, defaults []Paravisor) []Paravisor {
	if len(list) == 0 {
		return defaults
	}
	var out []Paravisor
	for _, d := range list {
		if len(d) != 48 {
			continue // never equal to a 48-byte digest
		}
		p := Paravisor{Name: ParavisorPolicy, Digest: [48]byte(d)}
		if n := knownName(p.Digest, defaults); n != "" {
			p.Name = n
		}
		out = append(out, p)
	}
	return out
}

// knownName returns the name of d in ps, or "".
func knownName(d [48]byte, ps []Paravisor) string {
	for _, p := range ps {
		if subtle.ConstantTimeCompare(p.Digest[:], d[:]) == 1 {
			return p.Name
		}
	}
	return ""
}

// paravisorName names the digest d for Claims.Paravisor, given the
// trusted identities and the defaults.
func paravisorName(d [48]byte, trusted, defaults []Paravisor) string {
	if d == ([48]byte{}) {
		return ParavisorNone
	}
	if n := knownName(d, trusted); n != "" {
		return n
	}
	if n := knownName(d, defaults); n != "" {
		return n
	}
	return ParavisorUnknown
}

// checkAuthorKey checks r's author key against the policy's
// author_key_digests (none: nothing to check): AUTHOR_KEY_DIGEST is one of
// them, and SIGNER_INFO's AUTHOR_KEY_EN says the firmware checked that
// key's signature over the ID key at launch (without it the digest
// vouches for nothing; AMD's firmware writes it only with the bit).
func checkAuthorKey(r *snp.Report, digests []HexBytes) error {
	if len(digests) == 0 {
		return nil
	}
	if r.AuthorKeyDigest == ([48]byte{}) {
		return failf(CheckParavisorIdentity, "AUTHOR_KEY_DIGEST is zero (no author key signed the ID key); the policy's author_key_digests requires one of %d author keys", len(digests))
	}
	if !r.AuthorKeyEnabled() {
		return failf(CheckParavisorIdentity, "SIGNER_INFO AUTHOR_KEY_EN is clear: the firmware checked no author key at launch, so AUTHOR_KEY_DIGEST %x vouches for nothing; the policy's author_key_digests requires an author key", r.AuthorKeyDigest[:])
	}
	ok := false
	for _, d := range digests {
		if len(d) == 48 && subtle.ConstantTimeCompare(d, r.AuthorKeyDigest[:]) == 1 {
			ok = true
		}
	}
	if !ok {
		return failf(CheckParavisorIdentity, "AUTHOR_KEY_DIGEST %x is not in the policy's author_key_digests", r.AuthorKeyDigest[:])
	}
	return nil
}

// checkParavisor sets claims.Paravisor and checks the paravisor identity of
// r. With required (anything from the HCL runtime data is trusted) its
// ID_KEY_DIGEST must be trusted (see trustedParavisors) unless the policy
// allows any paravisor; for a bare SNP report only a policy that lists
// id_key_digests requires it. AUTHOR_KEY_DIGEST must be one of the
// policy's author_key_digests, with AUTHOR_KEY_EN set, whenever that list
// is set (checkAuthorKey). The zero digest is
// never trusted, nor the emulated paravisor's on a chain not marked
// Emulated. An untrusted digest may be vouched for (see ParavisorVoucher).
func checkParavisor(ctx context.Context, claims *Claims, r *snp.Report, pol *Policy, voucher ParavisorVoucher, required, emulated bool) error {
	id := r.IDKeyDigest
	trusted := trustedParavisors(pol, emulated)
	claims.Paravisor = paravisorName(id, trusted, azureSNPParavisors)
	if err := checkAuthorKey(r, pol.AuthorKeyDigests); err != nil {
		return err
	}
	if !required && len(pol.IDKeyDigests) == 0 {
		return nil
	}
	if pol.AllowAnyParavisor && len(pol.IDKeyDigests) == 0 {
		return nil
	}
	if id == ([48]byte{}) {
		return failf(CheckParavisorIdentity, "ID_KEY_DIGEST is zero: the guest was launched without an ID block, so no paravisor key vouches for the code at VMPL0 that wrote the runtime data (a non-Azure SEV-SNP guest can produce such a report)")
	}
	if !emulated && id == fakeamd.IDKeyDigest() {
		return failf(CheckParavisorIdentity, "ID_KEY_DIGEST %x is the emulated CVM's public fake ID key, on a chip whose VCEK chains to %s: anyone can sign with that key, so it is trusted only with the emulated chain (--trust-emulated)", id[:], claims.RootsSource)
	}
	if knownName(id, trusted) != "" {
		return nil
	}
	untrusted := &UntrustedParavisorError{Digest: id, Trusted: slices.Clone(trusted), PolicyList: len(pol.IDKeyDigests) > 0}
	if pol.MAAParavisorInstance == "" {
		return fail(CheckParavisorIdentity, untrusted)
	}
	var ask func(context.Context) (string, error)
	if voucher != nil {
		ask = func(ctx context.Context) (string, error) { return voucher.VouchParavisor(ctx, r) }
	}
	return vouch(ctx, claims, pol, voucher, ask, untrusted)
}

// ParavisorVoucher vouches for the paravisor of an SEV-SNP report whose
// ID_KEY_DIGEST the verifier does not trust: package maa's Voucher does,
// with a token of a Microsoft Azure Attestation instance for that report.
// The verifier asks only when Policy.MAAParavisorInstance names an
// authority, and takes the answer only from that authority.
type ParavisorVoucher interface {
	// VouchParavisor returns the authority (the issuer, an instance URL)
	// that vouches for r's paravisor, or an error saying why none does.
	// r has verified (signature, chain, policy): only its paravisor is in
	// question. An error wrapping ErrCertificateUnavailable says that the
	// voucher could not decide (the authority's signing keys could not be
	// obtained): the verification then ends without a verdict (an
	// *UnavailableError of CheckParavisorIdentity), as it does with ctx's
	// error.
	VouchParavisor(ctx context.Context, r *snp.Report) (authority string, err error)
}

// ParavisorVouched names an ID_KEY_DIGEST trusted because the policy's
// MAA instance vouched for the report (Claims.ParavisorVoucher names it).
const ParavisorVouched = "maa-vouched"

// TDXParavisorVoucher is a ParavisorVoucher that also vouches for the
// paravisor of a verified TD quote whose MRTD the verifier does not trust
// (package maa's Voucher does, with a tdxvm token for that quote). The
// verifier asks a Config.ParavisorVoucher that implements it, under the
// same rule: only when Policy.MAAParavisorInstance names an authority.
type TDXParavisorVoucher interface {
	// VouchTDXParavisor returns the authority that vouches for q's
	// paravisor (its MRTD), or an error saying why none does. q has
	// verified: only its paravisor is in question.
	VouchTDXParavisor(ctx context.Context, q *tdx.Quote) (authority string, err error)
}

// vouch asks (nil: no voucher) about the paravisor, when voucher requires
// the policy's audience (voucherAudience), and accepts the answer when it
// comes from the policy's MAA instance; otherwise the check fails with
// untrusted and the reason.
func vouch(ctx context.Context, claims *Claims, pol *Policy, voucher ParavisorVoucher, ask func(context.Context) (string, error), untrusted *UntrustedParavisorError) error {
	instance := pol.MAAParavisorInstance
	if ask == nil {
		return failf(CheckParavisorIdentity, "%w; the policy accepts a paravisor vouched for by %s, but no token of it was given", untrusted, instance)
	}
	if err := voucherAudience(voucher, pol.MAAParavisorAudience, untrusted); err != nil {
		return err
	}
	authority, err := ask(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrCertificateUnavailable):
		// Not a verdict: the voucher could not decide (its keys could not
		// be obtained); try again later.
		return unavailableErr(CheckParavisorIdentity, fmt.Errorf("%w; %s could not be asked: %w", untrusted, instance, err))
	case err != nil:
		return failf(CheckParavisorIdentity, "%w; %s did not vouch for it: %w", untrusted, instance, err)
	}
	if trimSlash(authority) != pol.MAAIssuer() {
		return failf(CheckParavisorIdentity, "%w; it was vouched for by %q, but the policy accepts only %s", untrusted, authority, instance)
	}
	claims.Paravisor, claims.ParavisorVoucher = ParavisorVouched, pol.MAAIssuer()
	return nil
}

// AudienceVoucher is a ParavisorVoucher that says which aud the tokens it
// accepts must name ("" for none): package maa's Voucher does
// (Config.Audience). When the policy names maa_paravisor_audience the
// verifier asks only a voucher that implements it and requires exactly
// that audience, so that a policy pinning its relying party is not
// widened by a voucher built without it.
type AudienceVoucher interface {
	// ParavisorAudience returns the aud the voucher's tokens must name,
	// "" when they must name none.
	ParavisorAudience() string
}

// voucherAudience checks that voucher requires the policy's audience (when
// the policy names one); the rejection carries untrusted.
func voucherAudience(voucher ParavisorVoucher, audience string, untrusted *UntrustedParavisorError) error {
	if audience == "" || voucher == nil {
		return nil
	}
	a, ok := voucher.(AudienceVoucher)
	if !ok {
		return failf(CheckParavisorIdentity, "%w; the policy's maa_paravisor_audience is %.100q, but the voucher (%T) does not say which aud it requires (verify.AudienceVoucher)", untrusted, audience, voucher)
	}
	if got := a.ParavisorAudience(); got != audience {
		return failf(CheckParavisorIdentity, "%w; the voucher requires aud %.100q, but the policy's maa_paravisor_audience is %.100q", untrusted, got, audience)
	}
	return nil
}

// trimSlash drops a trailing slash of a URL.
func trimSlash(u string) string { return strings.TrimSuffix(u, "/") }

// MAAIssuer returns MAAParavisorInstance as its tokens' iss names it,
// without the trailing slash the policy may write: the issuer a voucher's
// token must carry, the key of the instance's JWKS, and the
// paravisor_voucher of what it vouched for ("" when the policy names no
// instance).
func (p *Policy) MAAIssuer() string { return trimSlash(p.MAAParavisorInstance) }

// UntrustedParavisorError says that a report's ID_KEY_DIGEST (or, with
// TDX, a TD quote's MRTD) is not one of the trusted paravisor identities.
// An *Error with CheckParavisorIdentity carries it (errors.As finds it),
// also when the policy's MAA instance was asked and did not vouch.
type UntrustedParavisorError struct {
	// Digest is the report's ID_KEY_DIGEST, or the TD quote's MRTD.
	Digest [48]byte
	// Trusted are the identities that were trusted.
	Trusted []Paravisor
	// PolicyList is true when the trusted set came from the policy's
	// id_key_digests (tdx_mr_tds) rather than the defaults.
	PolicyList bool
	// TDX is true when Digest is an MRTD.
	TDX bool
}

// Error names the digest, what was trusted instead and how to trust it.
func (e *UntrustedParavisorError) Error() string {
	var b strings.Builder
	list := "id_key_digests"
	if e.TDX {
		list = "tdx_mr_tds"
		fmt.Fprintf(&b, "MRTD %x is not a trusted paravisor's: the runtime data (attestation key, user data, VM configuration) was written by a TD that nothing vouches for; it may be a non-Azure TD on a genuine Intel CPU, or Azure's paravisor after an update (its MRTD changes with every paravisor release). Trusted", e.Digest[:])
	} else {
		fmt.Fprintf(&b, "ID_KEY_DIGEST %x is not a trusted paravisor ID key: the runtime data (attestation key, user data, VM configuration) was written by code at VMPL0 that no trusted key vouches for; it may be a non-Azure SEV-SNP guest, or a new Azure paravisor key. Trusted", e.Digest[:])
	}
	if e.PolicyList {
		b.WriteString(" (the policy's " + list + ")")
	}
	b.WriteString(": ")
	for i, p := range e.Trusted {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %x", p.Name, p.Digest[:])
	}
	if e.TDX {
		b.WriteString(`. To trust another MRTD, list it in "tdx_mr_tds" in a --policy file; that list replaces the defaults, so list the trusted ones above too`)
	} else {
		b.WriteString(`. To trust another key, list its digest in "id_key_digests" in a --policy file; that list replaces the defaults, so list the trusted ones above too`)
	}
	return b.String()
}
