package server

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Well-known endpoints, served when Config.Signer is set: the JWKS of the
// attestation-result tokens and an OpenID-style discovery document.
const (
	PathJWKS         = "/.well-known/jwks.json"
	PathOpenIDConfig = "/.well-known/openid-configuration"
)

// CheckResource is ErrorResponse.Check of an unknown resource (404).
const CheckResource = "resource"

const (
	unknownResource  = "no such resource"
	resourceRequired = "this server releases secrets per resource: name one (snp-vtpm attest --resource NAME, server.Client.Resource)"
)

// resourceRequired is the outcome of a request that names no resource
// when the server has no single secret: a 400 that depends on the
// configuration only, never on which resources exist.
func (s *Server) resourceRequired(name string) (attestOutcome, bool) {
	if name == "" && len(s.secret) == 0 {
		return attestOutcome{http.StatusBadRequest, resultInvalid, CheckRequest, resourceRequired}, true
	}
	return attestOutcome{}, false
}

// unknownOutcome is the 404 of a resource name the server does not have
// or that is not a valid name: the same answer for every such name.
var unknownOutcome = attestOutcome{http.StatusNotFound, resultDenied, CheckResource, unknownResource}

// pickResource returns what a request's resource name releases: the single
// secret for "" (resourceRequired answered already when there is none),
// else the named resource; nil for a name the server does not have. It is
// asked only once the evidence passed the server's policy, so that an
// unattested client learns nothing about which names exist.
func (s *Server) pickResource(name string) *resource {
	if name == "" {
		if len(s.secret) == 0 {
			return nil
		}
		return &resource{secret: s.secret}
	}
	if r, ok := s.resources[name]; ok && ValidResourceName(name) {
		return r
	}
	return nil
}

// unknownResourceAsked logs that an attested VM (claims passed the
// server's policy) asked for a resource the server does not have: which VM
// and which name (the client's text: bounded and escaped), never a secret.
func (s *Server) unknownResourceAsked(ctx context.Context, r *http.Request, name string, claims *verify.Claims) {
	if !s.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	attrs := append([]slog.Attr{slog.String("resource", format.Printable(name, MaxResourceName))}, vmAttrs(claims)...)
	attrs = append(attrs, slog.Bool("emulated", claims.Emulated), slog.String("remote", r.RemoteAddr))
	s.log.LogAttrs(ctx, slog.LevelWarn, "unknown resource requested", attrs...)
}

// vmAttrs are the log attributes that say which VM the claims are of: its
// chip id, vm_unique_id (the runtime data's string: bounded and escaped)
// and launch measurement.
func vmAttrs(claims *verify.Claims) []slog.Attr {
	vmID := ""
	if claims.VMConfig != nil {
		vmID = claims.VMConfig.VMUniqueID
	}
	return []slog.Attr{slog.String("chip_id", hex.EncodeToString(claims.ChipID)),
		slog.String("vm_unique_id", format.Printable(vmID, maxLoggedVMID)),
		slog.String("measurement", hex.EncodeToString(claims.LaunchMeasurement()))}
}

// release checks the resource's extra policy, seals its secret, signs the
// result token and writes the audit line. claims passed the server's policy.
func (s *Server) release(ctx context.Context, w http.ResponseWriter, r *http.Request, req *AttestRequest, res *resource, claims *verify.Claims, ev, nonce []byte, sl *sealer) (attestOutcome, *AttestResponse) {
	if res.verifier != nil {
		if _, err := s.withToken(res.verifier, res.maa, req.MAAToken).Evidence(ctx, ev, nonce); err != nil {
			if verr, ok := errors.AsType[*verify.Error](err); ok {
				return s.rejected(ctx, r, req.Resource, verr), nil
			}
			s.log.Warn("verification did not complete", "err", err, "remote", r.RemoteAddr, "resource", req.Resource)
			setRetryAfterFor(w, err)
			return attestOutcome{http.StatusServiceUnavailable, resultError, "unavailable", "verification did not complete; try again with a new challenge"}, nil
		}
	}
	// A request whose connection is gone (the client left, or the
	// graceful shutdown's deadline cut it off) while its verification ran
	// on is not answered: nothing is sealed, signed or logged as released.
	if err := ctx.Err(); err != nil {
		s.log.Warn("verified, but the request ended before the release", "err", err, "remote", r.RemoteAddr)
		return attestOutcome{http.StatusServiceUnavailable, resultError, "unavailable", "the request ended before the release; try again with a new challenge"}, nil
	}
	ct, err := sl.seal(res.secret)
	if err != nil {
		s.log.Error("sealing the secret", "err", err)
		return attestOutcome{http.StatusInternalServerError, resultError, "seal", "internal error"}, nil
	}
	resp := &AttestResponse{Ciphertext: ct, Suite: Suite, Claims: summarize(claims)}
	jti := ""
	if s.signer != nil {
		tok, c, err := s.signer.Issue(s.appraised(claims, nonce, req.Resource, res))
		if err != nil {
			s.log.Error("signing the attestation result", "err", err)
			return attestOutcome{http.StatusInternalServerError, resultError, "sign", "internal error"}, nil
		}
		resp.Token, jti = tok, c.ID
	}
	s.audit(ctx, req.Resource, claims, jti)
	return attestOutcome{status: http.StatusOK, result: resultSuccess, reason: "none"}, resp
}

// audit writes the audit line of a release: which VM got which resource,
// whether it was the emulated CVM (trusted with --trust-emulated:
// proof of nothing) and, when an MAA token vouched for its paravisor,
// which instance (paravisor_voucher); never the secret. vm_unique_id, a string of the
// runtime data (anyone's with the emulated chain), is bounded and escaped
// (format.Printable). Nothing is formatted when the logger drops INFO.
func (s *Server) audit(ctx context.Context, resource string, claims *verify.Claims, jti string) {
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := append(append([]slog.Attr{slog.String("resource", resource)}, vmAttrs(claims)...),
		slog.String("jti", jti), slog.Bool("emulated", claims.Emulated))
	attrs = append(attrs, voucherAttrs(claims)...)
	s.log.LogAttrs(ctx, slog.LevelInfo, "secret released", attrs...)
}

// appraised describes a successful appraisal for the result token.
func (s *Server) appraised(claims *verify.Claims, nonce []byte, name string, res *resource) result.Appraised {
	base := s.verifier.Config().Policy
	pols := []*verify.Policy{&base}
	pinned := slices.Collect(maps.Keys(base.PCRs))
	if res.policy != nil {
		pols = append(pols, res.policy)
		for i := range res.policy.PCRs {
			if !slices.Contains(pinned, i) {
				pinned = append(pinned, i)
			}
		}
	}
	return result.Appraised{Claims: claims, Nonce: nonce, PolicyID: result.PolicyID(pols...), PCRsPinned: pinned, Resource: name}
}

// handleJWKS publishes the signing key. s.jwks is shared by every request
// and never written: it already ends in a newline (appending one here
// wrote into its spare capacity from every request at once).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(s.jwks)
}

// OpenIDConfig is the document at PathOpenIDConfig: where the signing keys
// of the attestation-result tokens are.
type OpenIDConfig struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

func (s *Server) handleOpenIDConfig(w http.ResponseWriter, r *http.Request) {
	iss := s.signer.Issuer
	writeJSON(w, http.StatusOK, OpenIDConfig{Issuer: iss, JWKSURI: strings.TrimRight(iss, "/") + PathJWKS, Algs: []string{result.AlgES256}})
}

// handleWellKnown registers the well-known endpoints when s signs results.
func (s *Server) handleWellKnown(mux *http.ServeMux) {
	if s.signer != nil {
		mux.Handle(PathJWKS, allow(s.handleJWKS, http.MethodGet, http.MethodHead))
		mux.Handle(PathOpenIDConfig, allow(s.handleOpenIDConfig, http.MethodGet, http.MethodHead))
	}
}

// publishedKeys is the JWKS's keys: the signer's, then the others that
// are not equal to an earlier one, at most result.MaxKeys.
func publishedKeys(signer *ecdsa.PublicKey, others []*ecdsa.PublicKey) ([]*ecdsa.PublicKey, error) {
	keys := []*ecdsa.PublicKey{signer}
	for i, k := range others {
		if k == nil {
			return nil, fmt.Errorf("PublishKeys[%d] is nil", i)
		}
		if !slices.ContainsFunc(keys, func(p *ecdsa.PublicKey) bool { return p.Equal(k) }) {
			keys = append(keys, k)
		}
	}
	if len(keys) > result.MaxKeys {
		return nil, fmt.Errorf("%d keys, at most %d", len(keys), result.MaxKeys)
	}
	return keys, nil
}

// openRelease prepares what s releases: the resources' verifiers and the
// JWKS of the signer.
func (s *Server) openRelease(rs map[string]Resource) error {
	var err error
	if s.resources, err = openResources(rs, s.verifier); err != nil {
		return err
	}
	if s.signer == nil {
		if len(s.cfg.PublishKeys) > 0 {
			return errors.New("server: PublishKeys without a Signer")
		}
		return nil
	}
	keys, err := publishedKeys(s.signer.Public(), s.cfg.PublishKeys)
	if err != nil {
		return fmt.Errorf("server: JWKS: %w", err)
	}
	doc, err := result.MarshalJWKS(keys...)
	if err != nil {
		return fmt.Errorf("server: JWKS: %w", err)
	}
	s.jwks = append(doc, '\n')
	return nil
}
