package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// MAAConfig says how a Server checks the MAA tokens (AttestRequest.MAAToken)
// that vouch for a paravisor it does not trust, when its policy or a
// resource's names the instance it takes the word of
// (verify.Policy.MAAParavisorInstance): each such instance's signing keys
// (its JWKS, {instance}/certs) are fetched when a token first needs them,
// cached for an hour, refetched at most every JWKSMinRefetch for a kid
// they do not list, and never cached when they do not parse as a JWKS
// with a usable key (maa.Fetcher). One cache per distinct instance the
// policies name: their number is the server's configuration's, not its
// clients'.
type MAAConfig struct {
	// HTTPClient fetches the JWKS; nil means http.DefaultClient. Each
	// fetch is one attempt (no retries), bounded by httpget's request
	// timeout and by the attestation's AttestTimeout.
	HTTPClient *http.Client
	// Limiter, when set, is asked before every JWKS fetch (serve shares
	// its KDS budget, --upstream-rate): a refused fetch ends the
	// attestation with 503 and Retry-After, as a refused certificate fetch
	// does, and nothing is fetched.
	Limiter *collateral.RateLimiter
	// JWKSMinRefetch is how long a failed JWKS fetch is remembered (its
	// error answered at once, 503) and the least time between two fetches
	// for an unknown kid; 0 means DefaultJWKSMinRefetch.
	JWKSMinRefetch time.Duration
	// Keys are pinned JWKS by instance (as the policies write it, a
	// trailing slash aside): an instance listed here is never fetched
	// (serve --maa-jwks).
	Keys map[string]*maa.KeySet
	// Offline fetches nothing: New refuses a policy naming an instance
	// that Keys does not list (serve --offline).
	Offline bool
	// TrustEmulated lets the tokens' checks accept the emulated MAA's
	// key (maa.Config.TrustEmulated): set it only when the Verifier
	// trusts the emulated CVM. A token of that key names
	// maa.EmulatedIssuer, which no policy may name
	// (verify.ParsePolicy refuses it), so it still vouches for nothing.
	TrustEmulated bool
}

// DefaultJWKSMinRefetch is MAAConfig.JWKSMinRefetch's default: an
// instance whose /certs failed is asked again after 10 seconds, not at
// every token.
const DefaultJWKSMinRefetch = 10 * time.Second

// maaPolicy is what vouching needs of one policy that names an MAA
// instance: the instance (the tokens' iss), the aud its tokens name, and
// the instance's keys.
type maaPolicy struct {
	instance, audience string
	keys               maa.KeySource
}

// openMAA prepares the vouching of the server's policy and the
// resources' (s.resources must be open): one key source per distinct
// instance, shared by the policies that name it.
func (s *Server) openMAA() error {
	sources := map[string]maa.KeySource{}
	var err error
	of := func(p *verify.Policy) *maaPolicy {
		if p == nil || p.MAAParavisorInstance == "" {
			return nil
		}
		instance := p.MAAIssuer()
		if _, ok := sources[instance]; !ok {
			var kerr error
			if sources[instance], kerr = s.maaKeys(instance); err == nil {
				err = kerr
			}
		}
		return &maaPolicy{instance: instance, audience: p.MAAParavisorAudience, keys: sources[instance]}
	}
	vcfg := s.verifier.Config()
	s.maaTime = vcfg.Now
	s.maa = of(&vcfg.Policy)
	for _, r := range s.resources {
		r.maa = of(r.policy)
	}
	if err != nil {
		return err
	}
	for instance := range sources {
		where := maa.CertsURL(instance)
		if _, pinned := s.cfg.MAA.Keys[instance]; pinned {
			where = "pinned"
		}
		s.log.Info("paravisor voucher: MAA tokens of this instance vouch for a paravisor that is not trusted", "instance", instance, "jwks", where)
	}
	return nil
}

// maaKeys returns the key source of instance: its pinned keys, else a
// fetcher of its /certs; an error when offline without pinned keys.
func (s *Server) maaKeys(instance string) (maa.KeySource, error) {
	if ks, ok := s.cfg.MAA.Keys[instance]; ok && ks != nil {
		return ks, nil
	}
	if s.cfg.MAA.Offline {
		return nil, fmt.Errorf("server: a policy names maa_paravisor_instance %s, whose JWKS would be fetched, but the server is offline: pin its keys (MAAConfig.Keys, serve --maa-jwks)", instance)
	}
	return s.maaFetcher(instance), nil
}

// maaFetcher returns the key source of instance: its /certs fetched with
// the configuration's client, under its Limiter.
func (s *Server) maaFetcher(instance string) *maa.Fetcher {
	hc := http.DefaultClient
	if s.cfg.MAA.HTTPClient != nil {
		hc = s.cfg.MAA.HTTPClient
	}
	if lim := s.cfg.MAA.Limiter; lim != nil {
		cp := *hc
		base := cp.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		cp.Transport = limitedTransport{base: base, lim: lim}
		hc = &cp
	}
	minRefetch := s.cfg.MAA.JWKSMinRefetch
	if minRefetch <= 0 {
		minRefetch = DefaultJWKSMinRefetch
	}
	return &maa.Fetcher{Instance: instance, MinRefetch: minRefetch,
		Client: &httpget.Client{HTTPClient: hc, Service: "maa", MaxRetries: -1, Logger: s.log}}
}

// limitedTransport asks lim before every request it sends: a refusal is a
// *collateral.WaitError of ErrUpstreamLimited (its RetryDelay is serve's
// Retry-After), and nothing is sent.
type limitedTransport struct {
	base http.RoundTripper
	lim  *collateral.RateLimiter
}

// RoundTrip implements http.RoundTripper.
func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.lim.Admit("MAA JWKS"); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(r)
}

// withToken returns v asking an MAA voucher of token about an untrusted
// paravisor, when the policy v verifies with names an instance (m) and the
// request carries a token; else v itself, which asks nothing: a token
// no policy asks for is ignored.
func (s *Server) withToken(v *verify.Verifier, m *maaPolicy, token string) *verify.Verifier {
	if m == nil || token == "" {
		return v
	}
	return v.WithParavisorVoucher(&maa.Voucher{Token: []byte(token), Config: maa.Config{
		Keys: m.keys, Issuer: m.instance, Audience: m.audience, Time: s.maaTime, TrustEmulated: s.cfg.MAA.TrustEmulated,
	}})
}

// maaCheckHint names, for the client, the check of its MAA token that
// failed when that is why the paravisor was not vouched for (the check's
// name only: the message may quote the policy's instance or audience).
func maaCheckHint(verr *verify.Error) string {
	if verr.Check != verify.CheckParavisorIdentity {
		return ""
	}
	if merr, ok := errors.AsType[*maa.Error](verr); ok {
		return " (the MAA token failed its " + string(merr.Check) + " check)"
	}
	return ""
}

// voucherAttrs are the audit line's attributes of a vouched paravisor:
// none when no voucher vouched.
func voucherAttrs(claims *verify.Claims) []slog.Attr {
	if claims.ParavisorVoucher == "" {
		return nil
	}
	return []slog.Attr{slog.String("paravisor", claims.Paravisor), slog.String("paravisor_voucher", claims.ParavisorVoucher)}
}
