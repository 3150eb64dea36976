package verify

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/snp"
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

// RevocationChecker rejects revoked AMD certificates (see package kds).
type RevocationChecker interface {
	CheckRevoked(ctx context.Context, product string, certs ...*x509.Certificate) error
}

// Options configure verification. The zero value (and a nil *Options) means
// AMD's pinned roots, the default policy, the current time, no network and
// no revocation check. An *Options may be shared by concurrent calls; it
// then also shares a bounded cache of expensive results (see DisableCache).
// Do not modify an Options while it is in use.
type Options struct {
	// Roots are the trusted AMD chains; nil means snp.DefaultRoots().
	Roots *snp.Roots
	// Now is the verification time for certificate validity; zero means time.Now().
	Now time.Time
	// Policy adds requirements on the verified claims.
	Policy Policy
	// VCEKGetter fetches a VCEK the evidence does not carry; nil means the
	// evidence must carry it.
	VCEKGetter VCEKGetter
	// Revocation, when set, checks the ASK and VCEK against AMD's CRL.
	Revocation RevocationChecker
	// AllowNoNonce skips the nonce comparison when the nonce passed to
	// Evidence is nil. The quote then proves no freshness; Claims.NonceChecked
	// is false.
	AllowNoNonce bool
	// DisableCache turns off the reuse of verified VCEK chains, report
	// signatures and parsed HCL reports across calls.
	DisableCache bool

	cacheOnce sync.Once
	cache     *cache
}

func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o *Options) roots() *snp.Roots {
	if o.Roots == nil {
		return snp.DefaultRoots()
	}
	return o.Roots
}

func (o *Options) getCache() *cache {
	if o.DisableCache {
		return nil
	}
	o.cacheOnce.Do(func() { o.cache = newCache(defaultCacheEntries) })
	return o.cache
}

// Policy holds requirements beyond the always-on checks. The zero value
// requires: VMPL 0, debugging disabled, no migration agent,
// REPORTED_TCB == COMMITTED_TCB.
// Policies are read from JSON files by ParsePolicy.
type Policy struct {
	// MinTCB, when set, is the lowest acceptable REPORTED_TCB, per component.
	MinTCB *snp.TCBParts `json:"min_tcb,omitempty"`
	// Measurements, when non-empty, lists the allowed launch measurements.
	Measurements []HexBytes `json:"measurements,omitempty"`
	// PCRs maps PCR indices to required SHA-256 values; each one must be
	// selected by the quote and equal.
	PCRs map[int]HexBytes `json:"pcrs,omitempty"`
	// Products, when non-empty, lists the allowed product lines.
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
	// AllowUncommittedTCB accepts REPORTED_TCB != COMMITTED_TCB.
	AllowUncommittedTCB bool `json:"allow_uncommitted_tcb,omitempty"`
	// RequireFreshReport requires the runtime data's user-data to start
	// with the nonce (as v2 evidence always does), whatever the evidence version.
	RequireFreshReport bool `json:"require_fresh_report,omitempty"`
}

// ParsePolicy reads a policy from JSON, for example:
//
//	{"min_tcb":{"bootloader":3,"tee":0,"snp":8,"microcode":115},
//	 "measurements":["6a063be9..."], "pcrs":{"7":"<64 hex>"}, "allow_debug":false}
//
// Unknown fields and data after the policy object are rejected so that no
// requirement is silently ignored.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	// The strict decoder: duplicate keys (which would silently drop a
	// requirement), unknown or case-variant names, invalid UTF-8 and
	// trailing data are errors naming the member (*strictjson.Error).
	if err := strictjson.Unmarshal(data, &p, strictjson.Options{RejectUnknown: true}); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	for i, m := range p.Measurements {
		if len(m) != 48 {
			return nil, fmt.Errorf("policy: measurements[%d] is %d bytes, want 48", i, len(m))
		}
	}
	for idx, v := range p.PCRs {
		if idx < 0 || idx > 23 || len(v) != 32 {
			return nil, fmt.Errorf("policy: pcrs[%d] must name PCR 0..23 with a 32-byte SHA-256 value", idx)
		}
	}
	for i, prod := range p.Products {
		pl, err := snp.ParseProduct(prod)
		if err != nil {
			return nil, fmt.Errorf("policy: products: %w", err)
		}
		// "Milan-B0" (a VCEK productName) means the product line Milan.
		p.Products[i] = string(pl)
	}
	return &p, nil
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
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func (b HexBytes) String() string { return hex.EncodeToString(b) }
