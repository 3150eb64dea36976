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
}

type counters struct {
	fetches, cacheHits, diskHits, imdsHits, retries, errors atomic.Int64
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
// share one fetch. The returned slice is the caller's own.
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
	check := func(der []byte) error {
		if _, err := MatchVCEK(der, line, req.ChipID, req.ReportedTCB); err != nil {
			return err
		}
		if req.Validate != nil {
			if err := req.Validate(der); err != nil {
				return fmt.Errorf("kds: VCEK rejected by the validator: %w", err)
			}
		}
		return nil
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

	v, leader, err := c.flight.do(ctx, log, "vcek/"+key, func() (any, error) {
		return c.loadVCEK(ctx, log, line, key, url, check)
	})
	if err != nil {
		return nil, c.fail(err)
	}
	der := v.([]byte)
	if !leader {
		// The fetch was validated with another caller's Validate: apply ours.
		if err := check(der); err != nil {
			return nil, c.fail(err)
		}
	}
	return bytes.Clone(der), nil
}

// loadVCEK runs once per key at a time (singleflight leader): disk, IMDS, KDS.
func (c *Client) loadVCEK(ctx context.Context, log *slog.Logger, line, key, url string, check func([]byte) error) ([]byte, error) {
	if der, ok := c.memGet(key); ok && check(der) == nil {
		c.stats.cacheHits.Add(1)
		return der, nil
	}
	path := c.diskPath("vcek", line, key+".der")
	if path != "" {
		if der, err := readFileLimited(path, maxVCEKSize); err == nil {
			if err := check(der); err == nil {
				c.stats.diskHits.Add(1)
				log.DebugContext(ctx, "VCEK from disk cache", "path", path)
				c.memPut(key, der)
				return der, nil
			} else {
				log.InfoContext(ctx, "ignoring invalid VCEK cache file; it will be replaced", "path", path, "err", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			log.InfoContext(ctx, "ignoring unreadable VCEK cache file", "path", path, "err", err)
		}
	}
	if c.Offline {
		return nil, fmt.Errorf("kds: VCEK %s %s not in cache: %w", line, key, ErrOffline)
	}
	if c.IMDS != nil {
		c.stats.fetches.Add(1)
		ictx, cancel := context.WithTimeout(ctx, c.requestTimeout())
		cert, err := c.IMDS.Certification(ictx)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("kds: asking IMDS for the VCEK: %w", err)
			}
			log.InfoContext(ctx, "IMDS has no VCEK, trying KDS", "err", err)
		default:
			if err := check(cert.VCEK); err != nil {
				log.InfoContext(ctx, "IMDS VCEK does not fit the request, trying KDS", "err", err, "imds_tcbm", cert.TCBM)
			} else {
				c.stats.imdsHits.Add(1)
				log.InfoContext(ctx, "VCEK from IMDS")
				c.store(ctx, log, key, path, cert.VCEK)
				return cert.VCEK, nil
			}
		}
	}
	body, err := c.get(ctx, url, "VCEK", maxVCEKSize)
	if err != nil {
		return nil, err
	}
	der := derOrPEM(body, "CERTIFICATE")
	if err := check(der); err != nil {
		log.WarnContext(ctx, "KDS returned a VCEK that fails validation; not cached", "url", url, "err", err)
		return nil, fmt.Errorf("kds: VCEK from %s: %w", url, err)
	}
	log.InfoContext(ctx, "VCEK fetched from KDS")
	c.store(ctx, log, key, path, der)
	return der, nil
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
