package maa

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// Bounds of a JWKS.
const (
	// MaxJWKSBytes bounds a JWKS document (MAA's hold a few 8 KB keys).
	MaxJWKSBytes = 1 << 20
	// MaxKeys bounds the number of keys in a JWKS.
	MaxKeys = 64
	// MinRSABits is the smallest signing key accepted.
	MinRSABits = 2048
	// maxRSABits bounds the signing key (and so the signature).
	maxRSABits = 8192
	// maxRSAExponent is the largest public exponent crypto/rsa verifies with.
	maxRSAExponent = 1<<31 - 1
)

// KeySource returns the signing key a token's kid names. It is how Verify
// obtains keys; *KeySet and *Fetcher implement it.
type KeySource interface {
	// Key returns the RSA key for kid, an error wrapping ErrUnknownKid
	// when there is none (ErrRefusedKey when the JWKS's key for kid is
	// set aside), or one wrapping ErrJWKSUnavailable when the keys could
	// not be obtained.
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// ErrUnknownKid says that the JWKS has no key with the token's kid.
var ErrUnknownKid = errors.New("no key with this kid in the JWKS")

// ErrRefusedKey says that the JWKS's key with the token's kid is one this
// package never verifies with: not an RS256 signing key (another kty, use
// or alg, key_ops without "verify"), or an RSA key outside
// MinRSABits..8192 bits or with an even exponent or one above 2^31-1. A JWKS may list such keys beside its RS256 ones (MAA's /certs
// of sharedeus did, a 1024-bit key): they are set aside, not fatal.
var ErrRefusedKey = errors.New("the JWKS's key with this kid is not an acceptable RS256 signing key")

// KeySet is a parsed JWKS: RSA keys by kid. It is immutable.
type KeySet struct {
	keys    map[string]*rsa.PublicKey
	refused map[string]string // kid: why the key is not used
}

// jwksDoc is the JWKS document.
type jwksDoc struct {
	Keys []jwksKey `json:"keys"`
}

// jwksKey is one JWK of a JWKS. MAA's carry the key only in x5c[0]; n and
// e, when present, must be the certificate's key.
type jwksKey struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	// KeyOps, when present, must permit "verify" (RFC 7517 4.3).
	KeyOps []string `json:"key_ops,omitempty"`
	X5C    []string `json:"x5c,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
}

// ParseJWKS parses a JWKS strictly (bounded, duplicate members rejected).
// Every key must have a unique, non-empty kid, and an RSA key must be well
// formed: a certificate in x5c[0] and/or n and e (which must agree). A
// well-formed key that is not an RS256 signing key of MinRSABits to 8192
// bits with an odd exponent below 2^31 (another kty, use or alg, key_ops
// without "verify", a 1024-bit key) is
// set aside: a token naming it fails with ErrRefusedKey. At least one key
// must be usable. The certificate is not required to be a CA, and its
// validity dates are not checked: the JWKS is trusted as configured.
// Errors are *Error values of CheckJWKS (not ErrRejected).
func ParseJWKS(data []byte) (*KeySet, error) {
	ks, err := parseJWKS(data)
	if err != nil {
		return nil, &Error{Check: CheckJWKS, Err: err}
	}
	return ks, nil
}

// parseJWKS is ParseJWKS with the reason unwrapped (Fetcher wraps it with
// ErrJWKSUnavailable and the URL).
func parseJWKS(data []byte) (*KeySet, error) {
	var doc jwksDoc
	if err := strictjson.Unmarshal(data, &doc, strictjson.Options{MaxBytes: MaxJWKSBytes, MaxDepth: 4}); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if len(doc.Keys) == 0 || len(doc.Keys) > MaxKeys {
		return nil, fmt.Errorf("JWKS: %d keys, want 1 to %d", len(doc.Keys), MaxKeys)
	}
	ks := &KeySet{keys: make(map[string]*rsa.PublicKey, len(doc.Keys)), refused: map[string]string{}}
	var firstRefusal string
	for i, k := range doc.Keys {
		if k.Kid != "" && ks.has(k.Kid) {
			return nil, fmt.Errorf("JWKS: keys[%d]: kid %q repeats an earlier key", i, format.Truncate(k.Kid, 32))
		}
		pub, why, err := k.rsa()
		switch {
		case err != nil:
			return nil, fmt.Errorf("JWKS: keys[%d]: %w", i, err)
		case why != "":
			ks.refused[k.Kid] = why
			if firstRefusal == "" {
				firstRefusal = fmt.Sprintf("keys[%d]: %s", i, why)
			}
		default:
			ks.keys[k.Kid] = pub
		}
	}
	if len(ks.keys) == 0 {
		return nil, fmt.Errorf("JWKS: no RS256 signing key of %d to %d bits (%s)", MinRSABits, maxRSABits, firstRefusal)
	}
	return ks, nil
}

// has reports whether the set lists kid, usable or set aside.
func (ks *KeySet) has(kid string) bool {
	_, usable := ks.keys[kid]
	_, refused := ks.refused[kid]
	return usable || refused
}

// rsa returns the key's RSA public key after checking its members, or why
// the key, well formed, is not one to verify RS256 tokens with. An error
// is a malformed key.
func (k *jwksKey) rsa() (pub *rsa.PublicKey, why string, err error) {
	switch {
	case k.Kid == "":
		return nil, "", errors.New("no kid")
	case k.Kty != "RSA":
		return nil, fmt.Sprintf("kty %q, want RSA", format.Truncate(k.Kty, 32)), nil
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Sprintf("use %q, want sig", format.Truncate(k.Use, 32)), nil
	case k.Alg != "" && k.Alg != AlgRS256:
		return nil, fmt.Sprintf("alg %q, want RS256", format.Truncate(k.Alg, 32)), nil
	case k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify"):
		// Like use "enc": a key its owner does not verify with (an
		// encryption key may have a decryption oracle) signs no token.
		return nil, fmt.Sprintf("key_ops %q without verify", format.Truncate(strings.Join(k.KeyOps, ","), 32)), nil
	}
	if pub, err = k.publicKey(); err != nil {
		return nil, "", err
	}
	// crypto/rsa verifies with no exponent above 2^31-1: such a key would
	// fail every signature, so it is set aside (maa-key), not used.
	if bits := pub.N.BitLen(); bits < MinRSABits || bits > maxRSABits || pub.E < 3 || pub.E%2 == 0 || pub.E > maxRSAExponent {
		return nil, fmt.Sprintf("RSA key of %d bits, exponent %d: want %d to %d bits and an odd exponent of 3 to 2^31-1", bits, pub.E, MinRSABits, maxRSABits), nil
	}
	return pub, "", nil
}

// publicKey returns the RSA key of x5c[0] and/or n and e, which must agree.
func (k *jwksKey) publicKey() (*rsa.PublicKey, error) {
	var fromCert, fromNE *rsa.PublicKey
	if len(k.X5C) > 0 {
		der, err := format.Base64(base64.StdEncoding, k.X5C[0])
		if err != nil {
			return nil, fmt.Errorf("x5c[0]: not base64: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("x5c[0]: %w", err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("x5c[0]: not an RSA key")
		}
		fromCert = pub
	}
	if k.N != "" || k.E != "" {
		j := JWK{Kid: k.Kid, Kty: k.Kty, N: k.N, E: k.E}
		pub, err := j.RSA()
		if err != nil {
			return nil, err
		}
		fromNE = pub
	}
	switch {
	case fromCert == nil && fromNE == nil:
		return nil, errors.New("neither x5c nor n and e")
	case fromCert == nil:
		return fromNE, nil
	case fromNE != nil && !fromCert.Equal(fromNE):
		return nil, errors.New("n and e differ from the key of x5c[0]")
	}
	return fromCert, nil
}

// Key returns the key for kid (KeySource): an error wrapping ErrRefusedKey
// when the JWKS lists kid with a key set aside, ErrUnknownKid when it does
// not list kid.
func (ks *KeySet) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if pub, ok := ks.keys[kid]; ok {
		return pub, nil
	}
	if why, ok := ks.refused[kid]; ok {
		return nil, fmt.Errorf("kid %q: %s: %w", format.Truncate(kid, 32), why, ErrRefusedKey)
	}
	return nil, fmt.Errorf("kid %q: %w", format.Truncate(kid, 32), ErrUnknownKid)
}

// Len returns the number of usable keys (those set aside not counted).
func (ks *KeySet) Len() int { return len(ks.keys) }

// Fetcher is the KeySource of an MAA instance: it fetches {Instance}/certs,
// caches the parsed JWKS for TTL and, on a kid it does not know, refetches
// once (at most once per MinRefetch) before giving up. Safe for concurrent
// use; configure the fields before the first Key.
//
// Callers that need a fetch while one is running wait for it (or for their
// own context) and share its outcome: one request however many tokens
// arrive at once, and no lock is held over the network. A failed fetch is
// remembered for MinRefetch: until then a caller that would fetch gets the
// same error at once, so an instance that is down (or a stream of tokens
// naming unknown kids) is not asked again per token. A failure never
// replaces the cached JWKS, and a stale one is never used.
type Fetcher struct {
	// Instance is the instance URL, e.g. https://sharedeus2.eus2.attest.azure.net.
	Instance string
	// Client sends the requests (retries, Retry-After, per-attempt
	// timeout); nil means a client without retries over http.DefaultClient.
	Client *httpget.Client
	// TTL is how long a fetched JWKS is used; 0 means 1 hour.
	TTL time.Duration
	// MinRefetch is the least time between two fetches caused by an
	// unknown kid, and how long a failed fetch is remembered; 0 means
	// 1 minute.
	MinRefetch time.Duration
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	set     *KeySet
	fetched time.Time
	fetches int
	call    *fetchCall // the fetch running now, if any
	failed  time.Time  // when the last fetch failed (zero: it did not)
	failErr error
}

// fetchCall is one fetch that every caller asking while it runs waits for.
type fetchCall struct {
	done chan struct{}
	at   time.Time // when it started: the time of the cache entry
	set  *KeySet
	err  error
}

// CertsURL returns the JWKS URL of an instance.
func CertsURL(instance string) string { return strings.TrimRight(instance, "/") + "/certs" }

// Key returns the key for kid from the cached JWKS, fetching it when the
// cache is empty or stale, and refetching once when kid is unknown.
func (f *Fetcher) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	for {
		set, c, mine, err := f.keySet(kid)
		switch {
		case err != nil:
			return nil, err
		case c == nil:
			return set.Key(ctx, kid)
		case mine:
			f.run(ctx, c)
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if c.err == nil {
			return c.set.Key(ctx, kid)
		}
		// The fetch was stopped by the context of the caller that ran it:
		// no answer about the instance, so ask again under ours.
		if !mine && isContextErr(c.err) && ctx.Err() == nil {
			continue
		}
		if isContextErr(c.err) || (mine && ctx.Err() != nil) {
			return nil, c.err // not remembered (run): nothing to wait for
		}
		// Remembered for the whole MinRefetch: the callers that shared
		// this fetch learn how long the instance will not be asked.
		return nil, retryErr(c.err, orDefault(f.MinRefetch, time.Minute))
	}
}

// RetryError is a failed JWKS fetch that a Fetcher remembers (it does not
// ask the instance again for its MinRefetch). It reads as, and wraps, the
// failure (an *Error of CheckJWKS wrapping ErrJWKSUnavailable). Wait is how
// long a caller should wait before trying again: what is left of the
// MinRefetch, or the longer delay the failure itself carries (a rate
// limiter's); RetryDelay returns it for serve's Retry-After.
type RetryError struct {
	Err  error
	Wait time.Duration
}

// retryErr returns a *RetryError of err for wait, or for the longer delay
// err itself asks for (a rate limiter's or the instance's Retry-After).
func retryErr(err error, wait time.Duration) error {
	var rd interface{ RetryDelay() time.Duration }
	if errors.As(err, &rd) {
		wait = max(wait, rd.RetryDelay())
	}
	return &RetryError{Err: err, Wait: wait}
}

// Error returns the failure's text.
func (e *RetryError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *RetryError) Unwrap() error { return e.Err }

// RetryDelay returns Wait.
func (e *RetryError) RetryDelay() time.Duration { return e.Wait }

// keySet returns the cached set when it answers for kid, the remembered
// error of a recent failure, or the fetch to wait for: a new one (mine)
// when none is running, which the caller then runs.
func (f *Fetcher) keySet(kid string) (set *KeySet, c *fetchCall, mine bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	minRefetch := orDefault(f.MinRefetch, time.Minute)
	if f.set != nil && now.Sub(f.fetched) < orDefault(f.TTL, time.Hour) {
		if f.set.has(kid) || now.Sub(f.fetched) < minRefetch {
			return f.set, nil, false, nil
		}
	}
	if f.call != nil {
		return nil, f.call, false, nil
	}
	if f.failErr != nil && now.Sub(f.failed) < minRefetch {
		return nil, nil, false, retryErr(f.failErr, minRefetch-now.Sub(f.failed))
	}
	f.call = &fetchCall{done: make(chan struct{}), at: now}
	f.fetches++
	return nil, f.call, true, nil
}

// run fetches the JWKS for c and records the outcome; a fetch stopped by
// ctx is not remembered as a failure of the instance.
func (f *Fetcher) run(ctx context.Context, c *fetchCall) {
	c.set, c.err = f.fetch(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case c.err == nil:
		f.set, f.fetched, f.failErr = c.set, c.at, nil
	case ctx.Err() == nil:
		f.failed, f.failErr = c.at, c.err
	}
	f.call = nil
	close(c.done)
}

// Fetches returns the number of JWKS fetches made.
func (f *Fetcher) Fetches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches
}

// fetch gets and parses the JWKS.
func (f *Fetcher) fetch(ctx context.Context) (*KeySet, error) {
	c := f.Client
	if c == nil {
		c = &httpget.Client{HTTPClient: http.DefaultClient, Service: "maa", MaxRetries: -1}
	}
	body, err := c.Get(ctx, CertsURL(f.Instance), "JWKS", MaxJWKSBytes, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &Error{Check: CheckJWKS, Err: fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)}
	}
	set, err := parseJWKS(bytes.TrimSpace(body))
	if err != nil {
		return nil, &Error{Check: CheckJWKS, Err: fmt.Errorf("%w: %s: %w", ErrJWKSUnavailable, CertsURL(f.Instance), err)}
	}
	return set, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
