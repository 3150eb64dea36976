package verify

import (
	"context"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Verifier verifies evidence and reports under one Config. It owns bounded
// caches of verified results (VCEK chains, report signatures, parsed HCL
// reports, decoded evidence fields; see Config.Cache and Stats) that its
// calls share: a cache holds only what came from a verification that
// succeeded whole, so a rejected input never fills it and a cached entry
// never turns a failure into a success. A Verifier is safe for concurrent
// use. The SNP report is today's only hardware report; other platforms get
// methods of their own.
type Verifier struct {
	cfg   Config
	cache *cache // nil when disabled
}

// New returns a Verifier for a copy of cfg, or an error naming what is
// wrong with cfg (for example a policy that contradicts itself or a
// negative cache bound).
func New(cfg Config) (*Verifier, error) {
	cfg.Policy = cfg.Policy.clone()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if root, err := tdx.IntelRoot(); err == nil {
		// Immutable once parsed: shared by every call (a failure, which
		// TestPinnedRoot rules out, leaves each call to report it).
		cfg.intelRoot = root
	}
	return &Verifier{cfg: cfg, cache: newCache(cfg.Cache)}, nil
}

// Evidence verifies a one-off document without a cache: it is
// New(cfg) with the cache disabled, then Verifier.Evidence. Use a
// long-lived Verifier to verify many.
func Evidence(ctx context.Context, data []byte, nonce []byte, cfg Config) (*Claims, error) {
	cfg.Cache = CacheConfig{Disable: true}
	v, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return v.Evidence(ctx, data, nonce)
}

// WithPolicy returns a Verifier that verifies with p instead of v's
// policy and shares everything else with v: its configuration and its
// caches (one bound, one set of counters, and hits for all of them). No
// cached result depends on the policy (TestCacheAcrossPolicies), so a
// server's per-resource policies can share the base Verifier's caches
// instead of each holding caches of its own. The error is New's for a
// policy it would refuse.
func (v *Verifier) WithPolicy(p Policy) (*Verifier, error) {
	cfg := v.cfg
	cfg.Policy = p.clone()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, cache: v.cache}, nil
}

// WithParavisorVoucher returns a Verifier that asks pv (nil: none) about
// an untrusted paravisor instead of v's Config.ParavisorVoucher and shares
// everything else with v: its configuration, policy and caches. No cached
// result depends on the voucher (the paravisor identity is checked on
// every verification), so a server can hand each request's own voucher (an
// MAA token the attester sent) to one long-lived Verifier's caches. It
// allocates one Config copy and never fails.
func (v *Verifier) WithParavisorVoucher(pv ParavisorVoucher) *Verifier {
	cfg := v.cfg
	cfg.ParavisorVoucher = pv
	return &Verifier{cfg: cfg, cache: v.cache}
}

// Config returns a copy of the configuration v verifies with.
func (v *Verifier) Config() Config {
	c := v.cfg
	c.Policy = c.Policy.clone()
	return c
}

// Stats returns the counters of v's caches (all zero when disabled).
func (v *Verifier) Stats() Stats {
	return v.cache.stats()
}

// Evidence verifies evidence (formats v0, v1 and v2, see package evidence)
// against nonce, the value the verifier issued. Nonces longer than 48 bytes
// are compared as their SHA-256, as the attester quotes them. On success it
// returns the verified claims; on failure an *Error naming the failed check
// (matching ErrRejected), or ctx's error.
func (v *Verifier) Evidence(ctx context.Context, data []byte, nonce []byte) (*Claims, error) {
	var ev *evidence.Evidence
	var err error
	if v.cache != nil {
		// Skips decoding the HCL report and VCEK text of a VM seen before.
		ev, err = v.cache.decoder.Decode(data)
	} else {
		ev, err = evidence.Decode(data)
	}
	if err != nil {
		return nil, fail(CheckEvidenceFormat, err)
	}
	claims, err := v.Decoded(ctx, ev, nonce)
	if err == nil && v.cache != nil {
		// Only evidence that verified is remembered.
		v.cache.decoder.Remember(ev)
	}
	return claims, err
}

// Decoded is Evidence for evidence already decoded.
func (v *Verifier) Decoded(ctx context.Context, ev *evidence.Evidence, nonce []byte) (*Claims, error) {
	return v.commitIfVerified(func(p *pending) (*Claims, error) { return decoded(ctx, ev, nonce, &v.cfg, p) })
}

// commitIfVerified runs one verification with a pending of v's cache and
// stores what it recorded only if all of it verified.
func (v *Verifier) commitIfVerified(verify func(p *pending) (*Claims, error)) (*Claims, error) {
	p := pending{c: v.cache}
	claims, err := verify(&p)
	if err != nil {
		return nil, err
	}
	p.commit()
	return claims, nil
}

// Report verifies a stored HCL report blob or a bare 1184-byte SNP report
// against a VCEK (DER; nil to use Config.VCEKGetter): the pinned chain, the
// VCEK's chip id and TCB, the report signature, guest policy and, for an
// HCL report, the paravisor identity and the runtime-data binding. A bare
// SNP report may come from any VMPL up to Policy.VMPL; its ID_KEY_DIGEST is
// checked only when the policy lists id_key_digests or author_key_digests.
// An HCL report must come from VMPL 0. Report checks no quote, so it proves
// no freshness, and it rejects policies that require PCR values or a fresh
// report.
func (v *Verifier) Report(ctx context.Context, blob []byte, vcekDER []byte) (*Claims, error) {
	return v.commitIfVerified(func(p *pending) (*Claims, error) {
		return v.cfg.Policy.passPlatform(report(ctx, blob, vcekDER, &v.cfg, p))
	})
}
