package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// VCEKRequest asks for the VCEK of a chip at a TCB. Validate must accept a
// certificate before the getter caches or returns it.
type VCEKRequest struct {
	Product     string // "Milan", "Genoa" or "Turin"
	ChipID      []byte // the report's 64-byte CHIP_ID
	ReportedTCB uint64 // the report's REPORTED_TCB
	Validate    func(der []byte) error
}

// VCEKGetter obtains the VCEK that evidence does not carry (from a cache,
// Azure IMDS or AMD KDS). It returns the certificate in DER.
type VCEKGetter interface {
	GetVCEK(ctx context.Context, req VCEKRequest) ([]byte, error)
}

// ErrCertificateUnavailable marks a VCEKGetter error as transient: the
// certificate source could not be reached or kept failing (network error,
// HTTP 5xx, rate limiting past the deadline). Verification then ends with an
// error that is not a rejection (it does not match ErrRejected), since
// nothing was learnt about the evidence. Other getter errors (offline cache
// miss, unknown chip) reject the evidence with CheckVCEKMissing.
var ErrCertificateUnavailable = errors.New("certificate source unavailable")

// VCEKGetterFunc adapts a function to VCEKGetter.
type VCEKGetterFunc func(ctx context.Context, req VCEKRequest) ([]byte, error)

// GetVCEK calls f.
func (f VCEKGetterFunc) GetVCEK(ctx context.Context, req VCEKRequest) ([]byte, error) {
	return f(ctx, req)
}

// RevocationChecker rejects revoked AMD certificates (package collateral's
// Chain reads AMD's CRLs from KDS). The verifier passes the report's
// product line, the kind of key that signed it (signingKey:
// snp.SigningKeyVCEK or snp.SigningKeyVLEK, as in snp.VCEK.SigningKey) and
// the certificates that chain verified below the ARK: the ASK and the VCEK,
// or the ASVK and the VLEK. AMD keeps one CRL per kind (the VCEK CRL lists
// ASKs, the VLEK CRL ASVKs), both the ARK's; collateral's Chain reads both
// (the signing key's first), since nothing in them tells them apart. An error
// rejects the report (CheckRevocation), except one wrapping
// ErrCertificateUnavailable (the CRL's source could not be reached), which
// ends verification without a verdict; a checker tells "revoked" from
// "could not check" by the error it returns (collateral.ErrRevoked).
type RevocationChecker interface {
	CheckRevoked(ctx context.Context, product string, signingKey uint32, certs ...*x509.Certificate) error
}

// Config configures a Verifier (see New). It is plain configuration: it
// holds no state, may be copied, and New keeps its own copy, so changing a
// Config after New changes nothing. The zero value means AMD's pinned
// roots, the default policy, the current time, no network, no revocation
// check and caches of the default sizes.
type Config struct {
	// Roots are the trusted AMD chains; nil means snp.DefaultRoots(). For
	// a report whose VCEK chains to a chain marked snp.Chain.Emulated (the
	// emulated CVM's, public keys), the emulated paravisor's ID key
	// (EmulatedParavisor) is trusted too; it is never trusted otherwise.
	Roots *snp.Roots
	// Now is the verification time for certificate validity; zero means time.Now().
	Now time.Time
	// Policy adds requirements on the verified claims.
	Policy Policy
	// VCEKGetter fetches a VCEK the evidence does not carry; nil means the
	// evidence must carry it.
	VCEKGetter VCEKGetter
	// Revocation, when set, checks the ASK and VCEK of a VCEK-signed report,
	// the ASVK and VLEK of a VLEK-signed one, against AMD's CRLs (package
	// collateral's Chain: the VCEK CRL and the VLEK CRL). It also makes Intel's collateral (which carries the
	// PCK CRLs) required for TDX evidence: without it, TDX verification
	// ends with CheckTDXCollateral, not a verdict. It is never asked about
	// a chain marked snp.Chain.Emulated (the emulated CVM's, which AMD's
	// CRLs do not cover): EmulatedRevocation is; the emulated TDX CVM's
	// PCK CRL is its fake collateral's.
	Revocation RevocationChecker
	// EmulatedRevocation, when set, checks a report whose VCEK chains to
	// a chain marked snp.Chain.Emulated (the emulated CVM's), like
	// Revocation, against that chain's own CRLs: package collateral's
	// EmulatedChain (the fake ARK's VCEK and VLEK CRLs, which list a
	// revoked fake VCEK). It is asked about nothing else; nil: the
	// emulated chain is not checked for revocation.
	EmulatedRevocation RevocationChecker
	// AllowNoNonce skips the nonce comparison when the nonce passed to
	// Evidence is empty (nil or zero length). The quote then proves no
	// freshness; Claims.NonceChecked and Claims.FreshReport are false, and a
	// policy with RequireFreshReport rejects. Without AllowNoNonce an empty
	// nonce is rejected (CheckNonce).
	AllowNoNonce bool
	// Cache sizes the Verifier's caches of verified results.
	Cache CacheConfig
	// TDXCollateral is Intel's collateral for TDX evidence (tdx/pcs,
	// read by pcs.LoadDir): with it, Intel's TCB status is evaluated at Now
	// and must be one of Policy.TDXTCBStatuses (DefaultTDXTCBStatuses when
	// empty); without it the status is TCBNotEvaluated. It is only read.
	TDXCollateral *pcs.Collateral
	// TDXCollateralGetter, when set, obtains Intel's collateral for each
	// TD quote (by its FMSPC and PCK CA) in place of TDXCollateral
	// (collateral.Intel holds that too); its errors are
	// ErrCertificateUnavailable, never rejections.
	TDXCollateralGetter TDXCollateralGetter
	// ParavisorVoucher, when set, is asked about an SEV-SNP report whose
	// ID_KEY_DIGEST is not trusted, when the policy names the authority it
	// accepts (Policy.MAAParavisorInstance): see ParavisorVoucher. When it
	// also implements TDXParavisorVoucher it is asked, likewise, about a
	// TD quote whose MRTD is not trusted.
	ParavisorVoucher ParavisorVoucher
	// TrustEmulatedTDX also accepts TD quotes whose PCK chains to the
	// emulated TDX CVM's fake Intel root (fakeintel.Root, public keys;
	// the CLI's --trust-emulated). For those only, the emulated
	// paravisor's MRTD (fakeintel.MRTD) is trusted and Intel's TCB status
	// is evaluated against the fake collateral (fakeintel.Collateral);
	// Claims.Emulated is set. Quotes under Intel's pinned root are
	// verified as without it.
	TrustEmulatedTDX bool

	// tdxRoot replaces the pinned Intel SGX Root CA; only the package's
	// tests set it (SetTDXRootForTest), to reach the checks after the TD
	// quote's signatures with quotes they sign.
	tdxRoot *x509.Certificate
	// intelRoot is the pinned Intel SGX Root CA, parsed once by New (nil:
	// parsed on every TD quote).
	intelRoot *x509.Certificate
}

// CacheConfig sizes the caches of a Verifier: verified VCEK chains, report
// signatures, parsed HCL reports and decoded evidence fields (see Stats).
// Each cache holds only results of verifications that succeeded. The zero
// value means DefaultCacheEntries and DefaultCacheBytes for each cache.
type CacheConfig struct {
	// Disable turns off the reuse of verified results across calls: every
	// call verifies everything again.
	Disable bool
	// Entries bounds the entries of each cache; 0 means DefaultCacheEntries.
	Entries int
	// Bytes bounds the bytes held by each cache (inputs kept as keys and
	// the results computed from them); 0 means DefaultCacheBytes.
	Bytes int
}

// Default cache bounds, per cache.
const (
	DefaultCacheEntries = 4096
	DefaultCacheBytes   = 32 << 20
)

func (o *Config) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o *Config) roots() *snp.Roots {
	if o.Roots == nil {
		return snp.DefaultRoots()
	}
	return o.Roots
}

// validate checks c as New does.
func (c *Config) validate() error {
	if c.Cache.Entries < 0 || c.Cache.Bytes < 0 {
		return fmt.Errorf("verify: cache bounds: %d entries, %d bytes; want >= 0 (0: the default)", c.Cache.Entries, c.Cache.Bytes)
	}
	return c.Policy.validate()
}

// Policy holds requirements beyond the always-on checks. The zero value
// requires: VMPL 0, debugging disabled, no migration agent,
// REPORTED_TCB == COMMITTED_TCB and, for evidence and HCL reports, a
// trusted paravisor ID key (DefaultParavisors).
// Policies are read from JSON files by ParsePolicy.
//
// An allow-list left out (nil) allows anything, or the defaults
// (DefaultParavisors, DefaultTDXTCBStatuses); given, it must not be empty
// (ErrPolicyEmptyList): an empty Platforms, Measurements, Products,
// IDKeyDigests, AuthorKeyDigests, TDXMRTDs or TDXTCBStatuses would read
// as "none allowed" but mean "no requirement". New refuses such a policy
// as ParsePolicy does, with the same *PolicyError.
type Policy struct {
	// Platforms, when non-empty, lists the kinds of Confidential VM the
	// policy accepts: PlatformSNP ("sev-snp") and PlatformTDX ("tdx").
	// When empty, the policy accepts the platforms whose own members it
	// sets (check platform): measurements, min_tcb, min_launch_tcb,
	// products, id_key_digests, author_key_digests or deny_smt are for
	// sev-snp; tdx_mr_tds or tdx_tcb_statuses for tdx; a policy setting
	// members of both accepts both, each judged by its own members, and one setting
	// neither accepts either. So a policy written for one kind of VM never
	// accepts the other kind, whose launch it would not constrain. When it
	// is set, a member of a platform it does not list is refused
	// (ErrPolicyPlatformMember): {"platforms":["tdx"],"measurements":[...]}
	// would accept TDX evidence, which has no launch measurement, as if the
	// measurements were not there.
	Platforms []string `json:"platforms,omitempty"`
	// VMPL is the highest accepted VMPL (0..3) of a bare SNP report
	// verified with Report: a report requested at a less privileged level
	// comes from code that the guest's VMPL0 does not vouch for. Evidence
	// and HCL reports always require VMPL 0 (the paravisor's), whatever
	// this field says.
	VMPL int `json:"vmpl,omitempty"`
	// MinTCB, when set, is the lowest acceptable REPORTED_TCB, per component
	// (a component left out is 0: no minimum). Only Turin reports an FMC;
	// Milan's and Genoa's is 0, so a minimum fmc above 0 rejects them, and
	// is refused when Products is set without Turin.
	MinTCB *snp.TCBParts `json:"min_tcb,omitempty"`
	// MinLaunchTCB, when set, is the lowest acceptable LAUNCH_TCB, per
	// component (check minimum-launch-tcb): the TCB the guest was launched
	// under. MinTCB alone passes a guest launched under older, vulnerable
	// firmware once the host has updated it (REPORTED_TCB follows the
	// update, LAUNCH_TCB does not). Version 1 reports carry no LAUNCH_TCB
	// (0), so any minimum above 0 rejects them. fmc as in MinTCB.
	MinLaunchTCB *snp.TCBParts `json:"min_launch_tcb,omitempty"`
	// Measurements, when non-empty, lists the allowed launch measurements
	// (48 bytes each, no repeats).
	Measurements []HexBytes `json:"measurements,omitempty"`
	// PCRs maps PCR indices to required SHA-256 values; each one must be
	// selected by the quote and equal.
	PCRs map[int]HexBytes `json:"pcrs,omitempty"`
	// Products, when non-empty, lists the allowed product lines (a VCEK
	// productName such as "Milan-B0" names its line; each line once).
	Products []string `json:"products,omitempty"`
	// AllowDebug accepts guests whose policy allows debugging.
	AllowDebug bool `json:"allow_debug,omitempty"`
	// AllowMigrationAgent accepts guests whose policy allows a migration
	// agent (MIGRATE_MA, bit 18), which could move the guest's memory off
	// the chip; Azure CVMs have it off.
	AllowMigrationAgent bool `json:"allow_migration_agent,omitempty"`
	// DenySMT rejects guests whose policy allows simultaneous multithreading
	// (bit 16; Azure CVMs allow it), for relying parties that want no
	// sibling-thread side channels.
	DenySMT bool `json:"deny_smt,omitempty"`
	// AllowUncommittedTCB accepts REPORTED_TCB != COMMITTED_TCB, and
	// version 1 reports, which carry no COMMITTED_TCB (rejected by default
	// with check committed-tcb).
	AllowUncommittedTCB bool `json:"allow_uncommitted_tcb,omitempty"`
	// RequireFreshReport requires the runtime data's user-data to be the
	// quoted nonce zero-padded to 64 bytes (as v2 evidence always does),
	// whatever the evidence version.
	RequireFreshReport bool `json:"require_fresh_report,omitempty"`
	// IDKeyDigests, when non-empty, lists the trusted paravisor ID keys
	// (each the 48-byte ID_KEY_DIGEST of a report) and replaces
	// DefaultParavisors: list those too to keep trusting Azure's paravisor.
	// Evidence and HCL reports must carry one of them; a bare SNP report
	// checked with Report must too when this list is set. The zero digest
	// and the emulated paravisor's are never trusted from this list (the
	// latter is trusted with the emulated chain only).
	IDKeyDigests []HexBytes `json:"id_key_digests,omitempty"`
	// AuthorKeyDigests, when non-empty, lists the accepted AUTHOR_KEY_DIGEST
	// values (48 bytes each, never zero), and the report's SIGNER_INFO
	// must say AUTHOR_KEY_EN (the firmware checked the author key at
	// launch); Azure's reports carry a zero author key digest, so this is
	// for other paravisors.
	AuthorKeyDigests []HexBytes `json:"author_key_digests,omitempty"`
	// AllowAnyParavisor turns off the paravisor-identity check of
	// ID_KEY_DIGEST (and, on TDX, of the MRTD). It accepts evidence forged
	// by any SEV-SNP VMPL0 guest: any guest that runs its own code at
	// VMPL0 on a genuine AMD chip can write runtime data naming its own
	// attestation key. It cannot be combined with IDKeyDigests or
	// TDXMRTDs: New and ParsePolicy refuse a policy that sets both.
	AllowAnyParavisor bool `json:"allow_any_paravisor,omitempty"`
	// MAAParavisorInstance names a Microsoft Azure Attestation instance
	// (its https URL, the iss of its tokens) whose word is taken for a
	// paravisor this verifier does not know: evidence whose ID_KEY_DIGEST
	// is not trusted is accepted when Config.ParavisorVoucher vouches for
	// its report as this instance (package maa's Voucher: a valid token of
	// the instance, for a CVM running Azure's paravisor, whose report data,
	// ID key digest and launch measurement are the report's). This is how
	// a new Azure paravisor key is accepted before it is in
	// DefaultParavisors. Likewise for TDX: an untrusted MRTD is accepted
	// when the voucher (a TDXParavisorVoucher) vouches for the TD quote
	// with a tdxvm token whose tdx_report_data and tdx_mrtd are the
	// quote's. The zero digest and MRTD and the emulated paravisor's are
	// never vouched for (the latter off the emulated chain), and a host
	// under the reserved .invalid TLD (the emulated MAA's,
	// maa.EmulatedIssuer, whose tokens anyone can mint) is refused. It is
	// written as its tokens' iss names it, https://HOST in lower case
	// without a port (a trailing slash aside): it is compared with iss as
	// a string, so another spelling would never match and is refused.
	MAAParavisorInstance string `json:"maa_paravisor_instance,omitempty"`
	// MAAParavisorAudience is the aud that the tokens of
	// MAAParavisorInstance name: an instance whose custom attestation
	// policy emits one issues tokens for a relying party, and package
	// maa's Voucher accepts a token naming an aud only when its
	// Config.Audience names it (a token naming none is refused when it is
	// set). Empty: the tokens must name no aud (AzureGuest tokens of the
	// shared instances name none). It is only valid with
	// MAAParavisorInstance, printable and at most 1024 bytes. The CLI's
	// verify --maa-audience, when given too, must equal it.
	MAAParavisorAudience string `json:"maa_paravisor_audience,omitempty"`
	// TDXMRTDs, when non-empty, lists the trusted MRTDs of TDX paravisors
	// (48 bytes each) and replaces DefaultTDXParavisors: list those too to
	// keep trusting Azure's paravisor. TDX evidence must carry one of them
	// (check paravisor-identity); AllowAnyParavisor cannot be combined
	// with it.
	TDXMRTDs []HexBytes `json:"tdx_mr_tds,omitempty"`
	// TDXTCBStatuses, when non-empty, lists Intel's TCB statuses accepted
	// for TDX evidence (check tdx-tcb-status; pcs.Statuses names them) and
	// requires Intel's collateral (Config.TDXCollateral): without it the
	// status is not evaluated and the evidence is rejected. Empty means
	// DefaultTDXTCBStatuses with collateral, no requirement without.
	TDXTCBStatuses []string `json:"tdx_tcb_statuses,omitempty"`
	// RequireVMIdentity requires the quoted PCR 6 to be Azure's firmware
	// measurement of the runtime data's vmUniqueId (Claims.VMIdentity
	// bound; check vm-identity): the quote then comes from the VM that the
	// runtime data names.
	RequireVMIdentity bool `json:"require_vm_identity,omitempty"`
	// InitDataDigest, when set, is the SHA-256 of the Confidential
	// Containers init-data document that PCR 8 must hold:
	// PCR 8 = SHA-256(0^32 ‖ InitDataDigest), as trustee checks it
	// (check init-data). It is 32 bytes: CoCo's attester extends an Azure
	// vTPM's PCR 8 with a SHA-256 digest only (init-data hashed with
	// SHA-384 or SHA-512 is not bound there).
	InitDataDigest HexBytes `json:"init_data_digest,omitempty"`
	// SecureBoot requires the evidence's boot event log to replay PCR 7
	// and to say that Secure Boot is on (check event-log).
	SecureBoot bool `json:"secure_boot,omitempty"`
	// KernelCmdline requires the replayed log's Linux command line (PCR 8)
	// to be this string or, written "/RE/", to match the regular
	// expression RE in full. RE must be one regular expression on its own
	// ("/a)|(.*/", which would close the anchoring group and match any
	// line, is refused) and compile to at most 2000 instructions (large
	// counted repetitions such as {1000} are refused).
	KernelCmdline string `json:"kernel_cmdline,omitempty"`
	// EventLogPCRs lists the PCRs the evidence's boot event log must
	// replay (each once); any other PCR that does not replay is only
	// reported.
	EventLogPCRs []int `json:"event_log_pcrs,omitempty"`
	// SecureBootDBCerts lists SHA-256 digests of DER certificates that the
	// Secure Boot db measured in the replayed PCR 7 must each hold
	// (check event-log).
	SecureBootDBCerts []HexBytes `json:"secure_boot_db_certs,omitempty"`
}

// ParsePolicy reads a policy from JSON, for example:
//
//	{"min_tcb":{"bootloader":3,"tee":0,"snp":8,"microcode":115},
//	 "measurements":["6a063be9..."], "pcrs":{"7":"<64 hex>"}, "allow_debug":false}
//
// Unknown fields and data after the policy object are rejected so that no
// requirement is silently ignored; so is a document that is not an object
// (null would decode to the empty policy), a null anywhere in it (a
// member's null decodes as the member left out: ErrPolicyNull) and an
// allow-list given as [] (which would allow anything: ErrPolicyEmptyList).
// An error of a JSON value is a *strictjson.Error, any other a
// *PolicyError; both name the member by its JSON pointer.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	// The strict decoder: duplicate keys (which would silently drop a
	// requirement), unknown or case-variant names, invalid UTF-8 and
	// trailing data are errors naming the member (*strictjson.Error).
	if err := strictjson.Unmarshal(data, &p, strictjson.Options{RejectUnknown: true}); err != nil {
		if m := suggestMember(err); m != "" {
			return nil, fmt.Errorf("policy: %w (did you mean %q?)", err, m)
		}
		return nil, fmt.Errorf("policy: %w", err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, policyErr("", "the document is not a JSON object (null is not an empty policy: write {} for none)")
	}
	if err := checkNoNull(data); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// validate checks a decoded policy: every error is a *PolicyError naming
// the member (and the index or key) that is wrong. It normalises product
// names.
func (p *Policy) validate() error {
	for _, check := range []func() error{
		func() error { return checkPlatforms(p.Platforms) },
		p.checkNoEmptyLists,
		p.checkPlatformMembers,
		p.validateSNPMembers,
		p.validatePCRs,
		p.validateParavisorMembers,
		p.validateEventLog,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	if p.InitDataDigest != nil && len(p.InitDataDigest) != 32 {
		return policyErr("/init_data_digest", "%d bytes, want 32 (64 hex digits of the init-data's SHA-256: CoCo extends an Azure vTPM's PCR 8 with a SHA-256 digest only, so a SHA-384 or SHA-512 one is never bound)", len(p.InitDataDigest))
	}
	return nil
}

// validateSNPMembers checks vmpl, measurements, products (normalising
// them to product lines), min_tcb and min_launch_tcb.
func (p *Policy) validateSNPMembers() error {
	if p.VMPL < 0 || p.VMPL > 3 {
		return policyErr("/vmpl", "%d, want the highest accepted VMPL in 0..3", p.VMPL)
	}
	for i, m := range p.Measurements {
		if len(m) != 48 {
			return policyErr(fmt.Sprintf("/measurements/%d", i), "%d bytes, want 48 (a SHA-384 launch measurement)", len(m))
		}
		if j := slices.IndexFunc(p.Measurements[:i], func(o HexBytes) bool { return bytes.Equal(o, m) }); j >= 0 {
			return policyErr(fmt.Sprintf("/measurements/%d", i), "repeats measurements[%d]", j)
		}
	}
	for i, prod := range p.Products {
		pl, err := snp.ParseProduct(prod)
		if err != nil {
			return &PolicyError{Pointer: fmt.Sprintf("/products/%d", i), Err: err}
		}
		// "Milan-B0" (a VCEK productName) means the product line Milan.
		p.Products[i] = string(pl)
		if j := slices.Index(p.Products[:i], string(pl)); j >= 0 {
			return policyErr(fmt.Sprintf("/products/%d", i), "%q is the product line %s, which products[%d] lists already", format.Truncate(prod, 16), pl, j)
		}
	}
	for _, m := range []struct {
		name string
		tcb  *snp.TCBParts
	}{{"min_tcb", p.MinTCB}, {"min_launch_tcb", p.MinLaunchTCB}} {
		if m.tcb != nil && m.tcb.FMC > 0 && len(p.Products) > 0 && !slices.Contains(p.Products, string(snp.Turin)) {
			// Milan and Genoa have no FMC: their FMC is 0, below any
			// minimum, so the policy would reject every report it allows.
			return policyErr("/"+m.name+"/fmc", "%d, but only Turin has an FMC and products lists %s: their reports carry none (0), so none would pass; remove fmc or add Turin", m.tcb.FMC, strings.Join(p.Products, " and "))
		}
	}
	return nil
}

// validatePCRs checks pcrs, in index order so that the error is the same
// on every run.
func (p *Policy) validatePCRs() error {
	for _, i := range slices.Sorted(maps.Keys(p.PCRs)) {
		ptr := "/pcrs/" + strconv.Itoa(i)
		if i < 0 || i > 23 {
			return policyErr(ptr, "no such PCR, want an index in 0..23")
		}
		if v := p.PCRs[i]; len(v) != 32 {
			return policyErr(ptr, "%d bytes, want 32 (a SHA-256 PCR value)", len(v))
		}
	}
	return nil
}

// validateParavisorMembers checks the members that name trusted
// paravisors and Intel TCB statuses, and that they do not contradict
// allow_any_paravisor.
func (p *Policy) validateParavisorMembers() error {
	if err := checkDigestList("id_key_digests", p.IDKeyDigests); err != nil {
		return err
	}
	emulated := fakeamd.IDKeyDigest()
	for i, d := range p.IDKeyDigests {
		if bytes.Equal(d, emulated[:]) {
			return policyErr(fmt.Sprintf("/id_key_digests/%d", i), "the emulated CVM's public fake ID key is never trusted on a real chip (it is trusted with the emulated chain only, --trust-emulated)")
		}
	}
	if err := checkDigestList("author_key_digests", p.AuthorKeyDigests); err != nil {
		return err
	}
	if err := checkEmulatedMRTD(p.TDXMRTDs); err != nil {
		return err
	}
	if err := checkDigestList("tdx_mr_tds", p.TDXMRTDs); err != nil {
		return err
	}
	if err := validateTDXTCBStatuses(p.TDXTCBStatuses); err != nil {
		return err
	}
	if err := checkInstanceURL(p.MAAParavisorInstance); err != nil {
		return err
	}
	if err := checkAudience(p.MAAParavisorAudience, p.MAAParavisorInstance); err != nil {
		return err
	}
	if p.AllowAnyParavisor && len(p.IDKeyDigests) > 0 {
		return policyErr("/allow_any_paravisor", "contradicts id_key_digests (give one or the other)")
	}
	if p.AllowAnyParavisor && len(p.TDXMRTDs) > 0 {
		return policyErr("/allow_any_paravisor", "contradicts tdx_mr_tds (give one or the other)")
	}
	return nil
}

// checkInstanceURL checks maa_paravisor_instance: empty, or an https URL
// of a host with no path (but "/"), query, fragment or user.
func checkInstanceURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return policyErr("/maa_paravisor_instance", "%.100q: want the https URL of an attestation instance, such as https://sharedeus2.eus2.attest.azure.net", s)
	}
	if InvalidTLDHost(u.Hostname()) {
		// The reserved .invalid TLD names no real instance: it is the
		// emulated MAA's (maa.EmulatedIssuer), whose public test key
		// anyone can sign with.
		return policyErr("/maa_paravisor_instance", "%.100q: a host under .invalid is the emulated MAA's, whose tokens anyone can mint: it never vouches for a paravisor", s)
	}
	// The instance is compared with the iss of its tokens as a string
	// (a trailing slash aside), and MAA writes it as https://host in
	// lower case: a host in capitals, a port or a trailing dot would
	// never match, and the policy would vouch for nothing.
	if canon := "https://" + strings.ToLower(u.Hostname()); strings.TrimSuffix(s, "/") != canon || strings.HasSuffix(canon, ".") {
		return policyErr("/maa_paravisor_instance", "%.100q: its tokens' iss names it https://HOST, in lower case, without a port or a trailing dot, so this never matches one: write %.100q", s, strings.TrimSuffix(canon, "."))
	}
	return nil
}

// InvalidTLDHost reports whether host (a URL's Hostname) is under the
// reserved .invalid top-level domain (RFC 2606), in any case and with or
// without a trailing dot: a name that never resolves, which the emulated
// MAA's issuer (maa.EmulatedIssuer) uses. A policy's
// maa_paravisor_instance under it is refused; the CLI refuses an MAA
// --instance under it before any lookup.
func InvalidTLDHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "invalid" || strings.HasSuffix(h, ".invalid")
}

// maxAudience bounds maa_paravisor_audience.
const maxAudience = 1024

// checkAudience checks maa_paravisor_audience: empty, or printable text of
// at most maxAudience bytes in valid UTF-8, given with the instance whose
// tokens name it.
func checkAudience(aud, instance string) error {
	if aud == "" {
		return nil
	}
	if instance == "" {
		return policyErr("/maa_paravisor_audience", "names the aud of maa_paravisor_instance's tokens, but the policy names no maa_paravisor_instance")
	}
	if len(aud) > maxAudience || !utf8.ValidString(aud) || strings.IndexFunc(aud, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return policyErr("/maa_paravisor_audience", "%.100q: want printable text (no control characters or line breaks) of at most %d bytes", aud, maxAudience)
	}
	return nil
}

// clone returns a copy of p that shares no memory with it.
func (p Policy) clone() Policy {
	if p.MinTCB != nil {
		m := *p.MinTCB
		p.MinTCB = &m
	}
	if p.MinLaunchTCB != nil {
		m := *p.MinLaunchTCB
		p.MinLaunchTCB = &m
	}
	cloneList := func(l []HexBytes) []HexBytes {
		if l == nil {
			return nil
		}
		out := make([]HexBytes, len(l))
		for i, b := range l {
			out[i] = bytes.Clone(b)
		}
		return out
	}
	p.Measurements = cloneList(p.Measurements)
	p.IDKeyDigests = cloneList(p.IDKeyDigests)
	p.AuthorKeyDigests = cloneList(p.AuthorKeyDigests)
	p.TDXMRTDs = cloneList(p.TDXMRTDs)
	p.Products = slices.Clone(p.Products)
	p.Platforms = slices.Clone(p.Platforms)
	p.TDXTCBStatuses = slices.Clone(p.TDXTCBStatuses)
	p.InitDataDigest = bytes.Clone(p.InitDataDigest)
	p.EventLogPCRs = slices.Clone(p.EventLogPCRs)
	p.SecureBootDBCerts = cloneList(p.SecureBootDBCerts)
	if p.PCRs != nil {
		m := make(map[int]HexBytes, len(p.PCRs))
		for i, v := range p.PCRs {
			m[i] = bytes.Clone(v)
		}
		p.PCRs = m
	}
	return p
}

// checkDigestList checks that every entry of the policy list field is a
// non-zero 48-byte digest (a key digest or an MRTD), distinct from the
// others.
func checkDigestList(field string, ds []HexBytes) error {
	return checkDigests(field, ds, 48, "SHA-384")
}

// checkDigests checks a list of size-byte digests of algorithm alg: the
// right length, not zero, no repeats.
func checkDigests(field string, ds []HexBytes, size int, alg string) error {
	for i, d := range ds {
		ptr := fmt.Sprintf("/%s/%d", field, i)
		if len(d) != size {
			return policyErr(ptr, "%d bytes, want %d (%d hex digits of a %s digest)", len(d), size, 2*size, alg)
		}
		if format.AllZero(d) {
			return policyErr(ptr, "the zero digest (no key) is never trusted")
		}
		for j := range i {
			if bytes.Equal(ds[j], d) {
				return policyErr(ptr, "repeats %s[%d]", field, j)
			}
		}
	}
	return nil
}

// HexBytes is a byte string that JSON encodes as lowercase hex.
type HexBytes []byte

// MarshalJSON encodes b as a hex string.
func (b HexBytes) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(hex.EncodeToString(b))), nil
}

// UnmarshalJSON decodes a hex string (read by the strict JSON decoder).
func (b *HexBytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := strictjson.Unmarshal(data, &s, strictjson.Options{}); err != nil {
		// Not a *strictjson.Error, which the decoder would pass on as it is:
		// it adds the member's JSON pointer and offset to this one.
		return errors.New("want a string of hex digits")
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		// The decoder adds the member's JSON pointer; the value is quoted
		// (at most 24 bytes of it) so that it can be found in the document.
		return fmt.Errorf("%q is not hex: %w", format.Truncate(s, 24), err)
	}
	*b = v
	return nil
}

// String returns b as lowercase hex, as JSON encodes it.
func (b HexBytes) String() string { return hex.EncodeToString(b) }
