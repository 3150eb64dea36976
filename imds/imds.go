// Package imds is a client for the Azure Instance Metadata Service (IMDS) endpoint
// that serves the AMD SEV-SNP collateral of the host an Azure Confidential VM runs on
// (the "THIM" certification endpoint).
//
// The endpoint is only reachable from inside an Azure VM. It returns the VCEK of the
// host's chip at its current committed TCB, plus the AMD ASK/ARK chain. Nothing in the
// response is trusted by this package: callers must verify the VCEK against pinned AMD
// roots (and against the chip id and TCB of the report it is meant to verify) before
// using it. The chain is returned for information only.
package imds

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// DefaultURL is the Azure IMDS THIM endpoint for AMD SEV-SNP certification.
const DefaultURL = "http://169.254.169.254/metadata/THIM/amd/certification"

// DefaultTimeout is the overall timeout of the HTTP client used when Client.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

// MaxBodySize bounds the size of a THIM response body. Real responses are about 7 KiB.
const MaxBodySize = 64 << 10

// ErrNotFound is matched (errors.Is) by an *HTTPError with status 404.
var ErrNotFound = errors.New("imds: not found")

// HTTPError reports an IMDS response with a status other than 200 OK.
type HTTPError struct {
	// URL is the requested URL.
	URL string
	// StatusCode is the HTTP status code of the response.
	StatusCode int
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("imds: GET %s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// Is reports whether the error matches target; a 404 matches ErrNotFound.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// FormatError reports a THIM response body that could not be understood.
type FormatError struct {
	// Field names the JSON field at fault, or "body" for the document as a whole.
	Field string
	// Err is the underlying cause.
	Err error
}

// Error implements error.
func (e *FormatError) Error() string {
	return fmt.Sprintf("imds: bad THIM response field %q: %v", e.Field, e.Err)
}

// Unwrap returns the underlying cause.
func (e *FormatError) Unwrap() error { return e.Err }

// Client fetches the AMD certification document from Azure IMDS.
//
// The zero value is ready to use. Fields must not be changed after the first call.
// A Client is safe for concurrent use.
type Client struct {
	// URL is the endpoint to query; "" means DefaultURL.
	URL string
	// HTTPClient performs the requests; nil means a client with a DefaultTimeout
	// timeout that ignores proxy settings (IMDS must never be reached through a
	// proxy) and does not follow redirects.
	HTTPClient *http.Client
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger

	once        sync.Once
	defaultHTTP *http.Client
}

// Certification is the parsed THIM response. None of it is trusted.
type Certification struct {
	// VCEK is the DER encoding of the VCEK certificate.
	VCEK []byte
	// VCEKPEM is the VCEK exactly as the response carried it (PEM).
	VCEKPEM string
	// TCBM is the TCB the VCEK was issued for, as 16 hex digits (e.g. "7308000000000003").
	TCBM string
	// Chain holds the certificates of certificateChain in order (ASK, then ARK).
	// Information only: never trust it, pin the AMD roots instead.
	Chain []*x509.Certificate
	// CacheControl is the cacheControl value (seconds, as a string), if any.
	CacheControl string
}

// TCB returns TCBM as the 64-bit TCB_VERSION value (the hex digits read as a big-endian number).
func (c *Certification) TCB() (uint64, error) {
	s := strings.TrimSpace(c.TCBM)
	if s == "" {
		return 0, &FormatError{Field: "tcbm", Err: errors.New("empty")}
	}
	if len(s) > 16 {
		return 0, &FormatError{Field: "tcbm", Err: fmt.Errorf("%d hex digits, want at most 16", len(s))}
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, &FormatError{Field: "tcbm", Err: err}
	}
	return v, nil
}

// thimResponse is the THIM answer as read by the strict JSON decoder.
// Unknown members are tolerated (the format is Microsoft's), names that
// differ from a known one only in letter case are not.
type thimResponse struct {
	VCEKCert         string         `json:"vcekCert"`
	TCBM             string         `json:"tcbm"`
	CertificateChain string         `json:"certificateChain"`
	CacheControl     jsontext.Value `json:"cacheControl"`
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown strictjson.Unknown[thimResponse] `json:",embed"`
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) url() string {
	if c.URL != "" {
		return c.URL
	}
	return DefaultURL
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	c.once.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		c.defaultHTTP = &http.Client{
			Timeout:   DefaultTimeout,
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	})
	return c.defaultHTTP
}

// Certification fetches and parses the THIM AMD certification document.
//
// Errors: *HTTPError for a non-200 status (404 matches ErrNotFound), *FormatError for
// a body that cannot be parsed, and the context's error when ctx ends first.
func (c *Client) Certification(ctx context.Context) (*Certification, error) {
	url := c.url()
	log := c.logger()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("imds: building request: %w", err)
	}
	req.Header.Set("Metadata", "true")
	start := time.Now()
	log.DebugContext(ctx, "IMDS THIM request", "url", url)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("imds: GET %s: %w", url, ctxErr)
		}
		return nil, fmt.Errorf("imds: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		log.DebugContext(ctx, "IMDS THIM response", "url", url, "status", resp.StatusCode, "elapsed", time.Since(start))
		return nil, &HTTPError{URL: url, StatusCode: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("imds: reading %s: %w", url, ctxErr)
		}
		return nil, fmt.Errorf("imds: reading %s: %w", url, err)
	}
	if len(body) > MaxBodySize {
		return nil, &FormatError{Field: "body", Err: fmt.Errorf("larger than %d bytes", MaxBodySize)}
	}
	log.DebugContext(ctx, "IMDS THIM response", "url", url, "status", resp.StatusCode, "bytes", len(body), "elapsed", time.Since(start))
	return Parse(body)
}

// Parse parses a THIM certification JSON document. It checks that vcekCert holds
// exactly one parsable certificate, that certificateChain (if present) holds only
// parsable certificates and that tcbm, if present, is hexadecimal. It verifies no
// signature.
func Parse(body []byte) (*Certification, error) {
	var r thimResponse
	if err := strictjson.Unmarshal(body, &r, strictjson.Options{MaxBytes: MaxBodySize}); err != nil {
		return nil, &FormatError{Field: "body", Err: err}
	}
	if strings.TrimSpace(r.VCEKCert) == "" {
		return nil, &FormatError{Field: "vcekCert", Err: errors.New("empty")}
	}
	certs, err := parsePEMCertificates(r.VCEKCert)
	if err != nil {
		return nil, &FormatError{Field: "vcekCert", Err: err}
	}
	if len(certs) != 1 {
		return nil, &FormatError{Field: "vcekCert", Err: fmt.Errorf("%d certificates, want 1", len(certs))}
	}
	out := &Certification{
		VCEK:         certs[0].Raw,
		VCEKPEM:      r.VCEKCert,
		TCBM:         strings.TrimSpace(r.TCBM),
		CacheControl: cacheControlString(r.CacheControl),
	}
	if out.TCBM != "" {
		if _, err := hex.DecodeString(padEven(out.TCBM)); err != nil || len(out.TCBM) > 16 {
			return nil, &FormatError{Field: "tcbm", Err: fmt.Errorf("not a hex TCB: %q", truncate(out.TCBM, 32))}
		}
	}
	if strings.TrimSpace(r.CertificateChain) != "" {
		chain, err := parsePEMCertificates(r.CertificateChain)
		if err != nil {
			return nil, &FormatError{Field: "certificateChain", Err: err}
		}
		out.Chain = chain
	}
	return out, nil
}

// parsePEMCertificates parses every PEM block of s, all of which must be CERTIFICATE
// blocks; anything but whitespace outside blocks is an error.
func parsePEMCertificates(s string) ([]*x509.Certificate, error) {
	rest := []byte(s)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d has type %q, want CERTIFICATE", len(certs)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%d trailing bytes that are not a complete PEM block", len(rest))
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// cacheControlString accepts cacheControl as a JSON string or number
// (raw holds one valid JSON value, as the decoder read it).
func cacheControlString(raw jsontext.Value) string {
	switch raw.Kind() {
	case '"':
		var s string
		if strictjson.Unmarshal(raw, &s, strictjson.Options{}) == nil {
			return s
		}
	case '0':
		return string(raw)
	}
	return ""
}

func padEven(s string) string {
	if len(s)%2 == 1 {
		return "0" + s
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
