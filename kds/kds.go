// Package kds is the transport to the AMD Key Distribution Service (KDS)
// that serves SEV-SNP VCEK certificates, the per-product ASK/ARK chain and
// the product's VCEK and VLEK CRLs: URLs, HTTP fetches with bounded retries (network errors,
// 408, 429 honouring Retry-After, and 5xx; other 4xx fail at once), bounded
// bodies, and the VCEK extension checks (MatchVCEK).
//
// It caches nothing and trusts nothing it fetches: package collateral puts
// it beneath the memory and disk caches, the negative cache, the shared
// fetches and the upstream budget, and validates every certificate (pinned
// chain, chip id, TCB) before anything is returned or cached.
package kds

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
)

// Defaults used for zero-valued Client fields.
const (
	// DefaultBaseURL is AMD's KDS.
	DefaultBaseURL = "https://kdsintf.amd.com"
	// DefaultRequestTimeout bounds one HTTP attempt.
	DefaultRequestTimeout = httpget.DefaultRequestTimeout
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = httpget.DefaultMaxRetries
	// DefaultMinBackoff is the first backoff delay (before jitter).
	DefaultMinBackoff = httpget.DefaultMinBackoff
	// DefaultMaxBackoff caps the exponential backoff delay.
	DefaultMaxBackoff = httpget.DefaultMaxBackoff
	// DefaultMaxRetryAfter is the longest Retry-After the Client is willing to wait.
	DefaultMaxRetryAfter = httpget.DefaultMaxRetryAfter
)

// Response body limits.
const (
	MaxVCEKSize  = 16 << 10
	MaxChainSize = 64 << 10
	MaxCRLSize   = 1 << 20
)

// userAgent identifies this client to KDS.
const userAgent = "snp-vtpm-kds/1"

// Client fetches from AMD KDS. The zero value asks DefaultBaseURL with the
// default retries. Fields must not be changed after the first call; a
// Client is safe for concurrent use.
type Client struct {
	// BaseURL is the KDS base URL; "" means DefaultBaseURL.
	BaseURL string
	// HTTPClient sends the requests; nil means a client without an overall
	// timeout (each attempt is bounded by RequestTimeout and the caller's context).
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP attempt; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt; 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between retries
	// (jittered); 0 means DefaultMinBackoff / DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one
	// fails at once. 0 means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Logger receives debug and info logs; nil discards them.
	Logger *slog.Logger
}

// Hook is called before every HTTP attempt, retries included (retry says
// which); an error stops the fetch without sending anything. Package
// collateral passes its upstream budget and counters here.
type Hook = httpget.Hook

func (c *Client) baseURL() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return DefaultBaseURL
}

func (c *Client) getter() *httpget.Client {
	return &httpget.Client{
		HTTPClient:     c.HTTPClient,
		Header:         http.Header{"User-Agent": {userAgent}},
		Service:        "kds",
		RequestTimeout: c.RequestTimeout,
		MaxRetries:     c.MaxRetries,
		MinBackoff:     c.MinBackoff,
		MaxBackoff:     c.MaxBackoff,
		MaxRetryAfter:  c.MaxRetryAfter,
		Logger:         c.Logger,
	}
}

// Get fetches url with the Client's retries, at most limit bytes; hook
// (optional) runs before every attempt. An oversized body wraps
// ErrInvalidCertificate.
func (c *Client) Get(ctx context.Context, url, what string, limit int64, hook Hook) ([]byte, error) {
	b, err := c.getter().Get(ctx, url, what, limit, hook)
	if err != nil && errorsIsTooLarge(err) {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidCertificate)
	}
	return b, err
}

// VCEK fetches the VCEK of chipID at tcb (DER; a PEM body is decoded). It
// is not validated: see MatchVCEK and package collateral.
func (c *Client) VCEK(ctx context.Context, product string, chipID []byte, tcb uint64, hook Hook) ([]byte, error) {
	url, err := VCEKURL(c.baseURL(), product, chipID, tcb)
	return c.getDER(ctx, url, err, "VCEK", MaxVCEKSize, "CERTIFICATE", hook)
}

// CertChain fetches the product's ASK then ARK (PEM), not validated.
func (c *Client) CertChain(ctx context.Context, product string, hook Hook) ([]byte, error) {
	url, err := CertChainURL(c.baseURL(), product)
	return c.getDER(ctx, url, err, "cert_chain", MaxChainSize, "", hook)
}

// CRL fetches the product's VCEK CRL (DER; a PEM "X509 CRL" body is
// decoded), not validated.
func (c *Client) CRL(ctx context.Context, product string, hook Hook) ([]byte, error) {
	url, err := CRLURL(c.baseURL(), product)
	return c.getDER(ctx, url, err, "CRL", MaxCRLSize, "X509 CRL", hook)
}

// VLEKCRL fetches the product's VLEK CRL (DER; a PEM "X509 CRL" body is
// decoded), not validated.
func (c *Client) VLEKCRL(ctx context.Context, product string, hook Hook) ([]byte, error) {
	url, err := VLEKCRLURL(c.baseURL(), product)
	return c.getDER(ctx, url, err, "VLEK CRL", MaxCRLSize, "X509 CRL", hook)
}

// getDER fetches url (urlErr: building it failed) and, with a PEM type,
// decodes a PEM body of that type to DER.
func (c *Client) getDER(ctx context.Context, url string, urlErr error, what string, limit int64, pemType string, hook Hook) ([]byte, error) {
	if urlErr != nil {
		return nil, urlErr
	}
	body, err := c.Get(ctx, url, what, limit, hook)
	if err != nil || pemType == "" {
		return body, err
	}
	der, err := certs.DER(body, pemType)
	if err != nil {
		return nil, fmt.Errorf("kds: %s from %s: %v: %w", what, url, err, ErrInvalidCertificate)
	}
	return der, nil
}

// DefaultCacheDir returns os.UserCacheDir()/snp-vtpm.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kds: no user cache directory: %w", err)
	}
	return filepath.Join(dir, "snp-vtpm"), nil
}
