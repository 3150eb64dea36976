// Package kds is a client for the AMD Key Distribution Service (KDS) that serves
// SEV-SNP VCEK certificates, the per-product ASK/ARK chain and the product CRL.
//
// KDS throttles hard (HTTP 429; AMD asks for at most one identical request every ten
// seconds or so), so the Client caches every certificate in memory and, with CacheDir
// set, on disk; concurrent requests for the same certificate share one fetch; retries
// are bounded, honour Retry-After and stay within the caller's context deadline; and
// Offline mode guarantees that no request is sent at all.
//
// Every certificate the Client obtains, from the network or from its caches, is
// validated before it is cached or returned: VCEKs against the requested chip id and
// TCB and the caller's Validate function, the cert chain and CRL against the pinned
// AMD ARK of the product.
package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/snp-vtpm/snp-vtpm/imds"
)

// Defaults used for zero-valued Client fields.
const (
	// DefaultBaseURL is AMD's KDS.
	DefaultBaseURL = "https://kdsintf.amd.com"
	// DefaultRequestTimeout bounds one HTTP attempt.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 4
	// DefaultMinBackoff is the first backoff delay (before jitter).
	DefaultMinBackoff = 1 * time.Second
	// DefaultMaxBackoff caps the exponential backoff delay.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After the Client is willing to wait.
	DefaultMaxRetryAfter = 2 * time.Minute
	// DefaultMemoryCacheSize is the number of VCEKs kept in memory.
	DefaultMemoryCacheSize = 256
	// DefaultNegativeTTL is how long a VCEK that KDS does not have (404, an
	// unknown chip) or answers with something invalid is not asked for again.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultTransientNegativeTTL is how long a VCEK whose fetch failed on the
	// way (network error, 408, 429, 5xx, after the retries) is not asked for again.
	DefaultTransientNegativeTTL = 5 * time.Second
	// DefaultNegativeCacheSize is the number of failed fetches remembered.
	DefaultNegativeCacheSize = 4096
)

// Response body limits.
const (
	maxVCEKSize  = 16 << 10
	maxChainSize = 64 << 10
	maxCRLSize   = 1 << 20
)

// Client fetches VCEKs, cert chains and CRLs from AMD KDS (and optionally Azure IMDS),
// with caching and retries.
//
// The zero value is ready to use (online, no disk cache, pinned AMD roots). Fields must
// not be changed after the first call. A Client is safe for concurrent use and must not
// be copied after first use.
type Client struct {
	// BaseURL is the KDS base URL; "" means DefaultBaseURL.
	BaseURL string
	// HTTPClient sends the KDS requests; nil means a client without an overall
	// timeout (each attempt is bounded by RequestTimeout and the caller's context).
	HTTPClient *http.Client
	// IMDS, when non-nil, is asked for the VCEK before KDS (Azure CVMs only). A VCEK
	// from IMDS that does not validate for the request is ignored.
	IMDS *imds.Client
	// CacheDir is the on-disk cache directory ("" = memory cache only); see DefaultCacheDir.
	CacheDir string
	// Offline forbids every network request: only the caches answer, and a miss
	// returns an error wrapping ErrOffline.
	Offline bool
	// RequestTimeout bounds one HTTP attempt; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt; 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between retries
	// (jittered); 0 means DefaultMinBackoff / DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the Client waits for; a longer one
	// fails at once. 0 means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// MemoryCacheSize bounds the number of VCEKs kept in memory; 0 means DefaultMemoryCacheSize.
	MemoryCacheSize int
	// NegativeTTL is how long a failed VCEK fetch that says something about the
	// certificate (KDS answered 404 or another final 4xx, or served something that is
	// not the requested VCEK) is remembered: calls for the same VCEK within it fail at
	// once, without a request, with an error that wraps the first one (see
	// RecentFailureError). 0 means DefaultNegativeTTL, negative turns it off.
	NegativeTTL time.Duration
	// TransientNegativeTTL is NegativeTTL for failures on the way to KDS (network
	// errors, 408, 429, 5xx, after the retries). 0 means DefaultTransientNegativeTTL,
	// negative turns it off. A refusal of the Limiter, a cancelled context and a
	// rejection by the caller's Validate are never remembered.
	TransientNegativeTTL time.Duration
	// NegativeCacheSize bounds the failures remembered; 0 means DefaultNegativeCacheSize.
	NegativeCacheSize int
	// Limiter, when non-nil, bounds the requests sent upstream (KDS and IMDS, retries
	// included): a request it refuses is not sent and the call fails at once with an
	// error matching ErrUpstreamLimited (a *LimitedError saying how long to wait).
	Limiter *RateLimiter
	// ARK returns the pinned AMD root for a product line ("Milan", "Genoa", "Turin");
	// nil means the AMD roots embedded in go-sev-guest. Returning nil means the
	// product has no trusted root (ErrUnsupportedProduct).
	ARK func(product string) *x509.Certificate
	// Now returns the current time for CRL and certificate validity; nil means time.Now.
	Now func() time.Time
	// Logger receives debug and info logs; nil discards them.
	Logger *slog.Logger

	mu     sync.Mutex
	vceks  *lru
	neg    *negCache
	crls   map[string]*crlEntry
	chains map[string]*Chain
	flight flightGroup
	stats  counters
}

// VCEKRequest asks for the VCEK of a chip at a TCB.
type VCEKRequest struct {
	// Product is the product line: "Milan", "Genoa" or "Turin".
	Product string
	// ChipID is the report's CHIP_ID (64 bytes; for Turin 8 bytes are accepted too).
	ChipID []byte
	// ReportedTCB is the report's REPORTED_TCB, the TCB the VCEK must carry.
	ReportedTCB uint64
	// Validate, when non-nil, vets a candidate VCEK (DER) before it is cached or
	// returned (typically: pinned chain, chip id and TCB). The Client always checks
	// the chip id and TCB extensions itself too.
	Validate func(der []byte) error
}

// Stats are cumulative counters of a Client.
type Stats struct {
	// Fetches counts HTTP requests sent (KDS and IMDS), retries included.
	Fetches int64
	// CacheHits counts answers served from memory.
	CacheHits int64
	// DiskHits counts answers served from the disk cache.
	DiskHits int64
	// IMDSHits counts VCEKs obtained from IMDS.
	IMDSHits int64
	// Retries counts retried HTTP attempts.
	Retries int64
	// Errors counts calls that returned an error.
	Errors int64
	// NegativeHits counts calls answered by a remembered failure (no request sent).
	NegativeHits int64
	// Limited counts upstream requests the Limiter refused (not sent).
	Limited int64
}

type counters struct {
	fetches, cacheHits, diskHits, imdsHits, retries, errors, negHits, limited atomic.Int64
}

// Stats returns a snapshot of the Client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Fetches:   c.stats.fetches.Load(),
		CacheHits: c.stats.cacheHits.Load(),
		DiskHits:  c.stats.diskHits.Load(),
		IMDSHits:  c.stats.imdsHits.Load(),
		Retries:   c.stats.retries.Load(),
		Errors:    c.stats.errors.Load(),

		NegativeHits: c.stats.negHits.Load(),
		Limited:      c.stats.limited.Load(),
	}
}

// DefaultCacheDir returns os.UserCacheDir()/snp-vtpm.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kds: no user cache directory: %w", err)
	}
	return filepath.Join(dir, "snp-vtpm"), nil
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) baseURL() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return DefaultBaseURL
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ark returns the pinned ARK of a canonical product line.
func (c *Client) ark(line string) (*x509.Certificate, error) {
	var ark *x509.Certificate
	if c.ARK != nil {
		ark = c.ARK(line)
	} else if roots := trust.DefaultRootCerts[line]; roots != nil && roots.ProductCerts != nil {
		ark = roots.ProductCerts.Ark
	}
	if ark == nil {
		return nil, fmt.Errorf("kds: no pinned ARK for %s: %w", line, ErrUnsupportedProduct)
	}
	return ark, nil
}

func (c *Client) fail(err error) error {
	c.stats.errors.Add(1)
	return err
}

// GetVCEK returns the DER VCEK of req.ChipID at req.ReportedTCB. Sources, in order:
// the memory cache, the disk cache, Azure IMDS (when c.IMDS is set) and AMD KDS. A
// candidate is returned or cached only if its hwID and TCB extensions match the
// request and req.Validate (if set) accepts it. Concurrent calls for the same VCEK
// share one fetch, and a failed fetch is remembered for a short back-off
// (NegativeTTL, TransientNegativeTTL) during which calls for the same VCEK fail at
// once. The returned slice is the caller's own.
func (c *Client) GetVCEK(ctx context.Context, req VCEKRequest) ([]byte, error) {
	line, err := ProductLine(req.Product)
	if err != nil {
		return nil, c.fail(err)
	}
	id, err := hwID(line, req.ChipID)
	if err != nil {
		return nil, c.fail(err)
	}
	url, err := VCEKURL(c.baseURL(), line, req.ChipID, req.ReportedTCB)
	if err != nil {
		return nil, c.fail(err)
	}
	parts, _ := DecomposeTCB(line, req.ReportedTCB)
	key := vcekKey(line, id, parts)
	validate := func(der []byte) error {
		if req.Validate != nil {
			if err := req.Validate(der); err != nil {
				return &validatorError{err}
			}
		}
		return nil
	}
	check := func(der []byte) error {
		if _, err := MatchVCEK(der, line, req.ChipID, req.ReportedTCB); err != nil {
			return err
		}
		return validate(der)
	}
	log := c.logger().With("product", line, "hwid", hexKey(id), "tcb", parts.String())

	if der, ok := c.memGet(key); ok {
		err := check(der)
		if err == nil {
			c.stats.cacheHits.Add(1)
			log.DebugContext(ctx, "VCEK from memory cache")
			return bytes.Clone(der), nil
		}
		// Another caller's validator accepted it; this one does not. Look further
		// (a different certificate may exist on disk or upstream) but keep the entry.
		log.InfoContext(ctx, "VCEK in memory cache fails this caller's validation", "err", err)
	}

	if err, ok := c.negGet(key); ok {
		c.stats.negHits.Add(1)
		log.DebugContext(ctx, "VCEK fetch failed recently; not asking again yet", "err", err)
		return nil, c.fail(err)
	}

	v, leader, err := c.flight.do(ctx, log, "vcek/"+key, func() (any, error) {
		if err, ok := c.negGet(key); ok {
			// A leader that finished just before this one started failed.
			c.stats.negHits.Add(1)
			return nil, err
		}
		l, err := c.loadVCEK(ctx, log, line, key, url, check, validate)
		if err != nil && ctx.Err() == nil {
			// Remembered before the waiters are released, so that no caller
			// that comes after this fetch asks again within the back-off.
			c.negPut(key, err)
		}
		return l, err
	})
	if err != nil {
		return nil, c.fail(err)
	}
	l := v.(loaded)
	if leader && l.rejected != nil {
		return nil, c.fail(l.rejected)
	}
	if !leader {
		// Validated with another caller's Validate, or rejected by it: apply
		// this caller's. A certificate from KDS that matches the request but
		// that the leader's Validate rejected was not cached; it is cached once
		// a caller's Validate accepts it.
		if err := check(l.der); err != nil {
			return nil, c.fail(err)
		}
		if !l.validated {
			c.memPut(key, l.der)
		}
	}
	return bytes.Clone(l.der), nil
}

// loaded is the outcome of loadVCEK: a VCEK matching the request (chip id,
// TCB, product line), and whether the leader's Validate accepted it.
type loaded struct {
	der       []byte
	validated bool
	rejected  error // why the leader's Validate rejected der
}

// validatorError is a rejection by the caller's Validate: it depends on the
// caller (and on the report, which an attacker chooses), so it is never
// remembered nor shared with another caller.
type validatorError struct{ err error }

func (e *validatorError) Error() string {
	return "kds: VCEK rejected by the validator: " + e.err.Error()
}

func (e *validatorError) Unwrap() error { return e.err }

// loadVCEK runs once per key at a time (singleflight leader): disk, IMDS, KDS.
// check is MatchVCEK and the leader's Validate; validate the latter alone.
func (c *Client) loadVCEK(ctx context.Context, log *slog.Logger, line, key, url string, check, validate func([]byte) error) (loaded, error) {
	if der, ok := c.memGet(key); ok && check(der) == nil {
		c.stats.cacheHits.Add(1)
		return loaded{der: der, validated: true}, nil
	}
	path := c.diskPath("vcek", line, key+".der")
	if path != "" {
		if der, err := readFileLimited(path, maxVCEKSize); err == nil {
			if err := check(der); err == nil {
				c.stats.diskHits.Add(1)
				log.DebugContext(ctx, "VCEK from disk cache", "path", path)
				c.memPut(key, der)
				return loaded{der: der, validated: true}, nil
			} else {
				log.InfoContext(ctx, "ignoring invalid VCEK cache file; it will be replaced", "path", path, "err", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			log.InfoContext(ctx, "ignoring unreadable VCEK cache file", "path", path, "err", err)
		}
	}
	if c.Offline {
		return loaded{}, fmt.Errorf("kds: VCEK %s %s not in cache: %w", line, key, ErrOffline)
	}
	if c.IMDS != nil {
		if err := c.allowUpstream("VCEK (IMDS)"); err != nil {
			return loaded{}, err
		}
		c.stats.fetches.Add(1)
		ictx, cancel := context.WithTimeout(ctx, c.requestTimeout())
		cert, err := c.IMDS.Certification(ictx)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return loaded{}, fmt.Errorf("kds: asking IMDS for the VCEK: %w", err)
			}
			log.InfoContext(ctx, "IMDS has no VCEK, trying KDS", "err", err)
		default:
			if err := check(cert.VCEK); err != nil {
				log.InfoContext(ctx, "IMDS VCEK does not fit the request, trying KDS", "err", err, "imds_tcbm", cert.TCBM)
			} else {
				c.stats.imdsHits.Add(1)
				log.InfoContext(ctx, "VCEK from IMDS")
				c.store(ctx, log, key, path, cert.VCEK)
				return loaded{der: cert.VCEK, validated: true}, nil
			}
		}
	}
	body, err := c.get(ctx, url, "VCEK", maxVCEKSize)
	if err != nil {
		return loaded{}, err
	}
	der := derOrPEM(body, "CERTIFICATE")
	if err := check(der); err != nil {
		var verr *validatorError
		if errors.As(err, &verr) {
			// KDS answered the request; this caller's Validate rejects the
			// certificate. Another caller sharing the fetch may accept it.
			log.InfoContext(ctx, "VCEK from KDS rejected by the validator; not cached", "url", url, "err", err)
			return loaded{der: der, rejected: err}, nil
		}
		log.WarnContext(ctx, "KDS returned a VCEK that does not match the request; not cached", "url", url, "err", err)
		return loaded{}, fmt.Errorf("kds: VCEK from %s: %w", url, err)
	}
	log.InfoContext(ctx, "VCEK fetched from KDS")
	c.store(ctx, log, key, path, der)
	return loaded{der: der, validated: true}, nil
}

func (c *Client) store(ctx context.Context, log *slog.Logger, key, path string, der []byte) {
	c.memPut(key, der)
	writeCache(ctx, log, path, der)
}

// derOrPEM returns the DER inside body when body is PEM of type typ, else body.
func derOrPEM(body []byte, typ string) []byte {
	trimmed := bytes.TrimSpace(body)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return body
	}
	block, _ := pem.Decode(trimmed)
	if block == nil || block.Type != typ {
		return body
	}
	return block.Bytes
}

// vcekKey identifies a VCEK: product line, hardware id and the TCB parts that the
// VCEK depends on (reserved TCB bytes do not change the certificate).
func vcekKey(line string, id []byte, t TCB) string {
	return fmt.Sprintf("%s-%s-fmc%02d-bl%02d-tee%02d-snp%02d-uc%03d", line, hexKey(id), t.FMC, t.Bootloader, t.TEE, t.SNP, t.Microcode)
}
