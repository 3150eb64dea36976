// Package imds is the transport to the Azure Instance Metadata Service
// (IMDS) endpoint that serves the AMD SEV-SNP collateral of the host an
// Azure Confidential VM runs on (the "THIM" certification endpoint).
//
// The endpoint is only reachable from inside an Azure VM. It returns the VCEK of the
// host's chip at its current committed TCB, plus the AMD ASK/ARK chain. Nothing in the
// response is trusted by this package: callers must verify the VCEK against pinned AMD
// roots (and against the chip id and TCB of the report it is meant to verify) before
// using it; package collateral does. The document is read by collateral/certs, the
// one certificate reader.
package imds

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
)

// DefaultURL is the Azure IMDS THIM endpoint for AMD SEV-SNP certification.
const DefaultURL = "http://169.254.169.254/metadata/THIM/amd/certification"

// DefaultTimeout is the overall timeout of the HTTP client used when Client.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

// MaxBodySize bounds the size of a THIM response body. Real responses are about 7 KiB.
const MaxBodySize = certs.MaxSize

// ErrNotFound is matched (errors.Is) by an *HTTPError with status 404.
var ErrNotFound = httpget.ErrNotFound

// HTTPError reports an IMDS response with a status other than 200 OK (the
// type KDS answers use too).
type HTTPError = httpget.HTTPError

// FormatError reports a THIM response body that could not be understood;
// Field names the member at fault, "body" for the document as a whole.
type FormatError = certs.FormatError

// Certification is the parsed THIM response. None of it is trusted.
type Certification = certs.THIM

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
	// TDQuoteURL is the TD quote endpoint (TDQuote); "" means
	// DefaultTDQuoteURL.
	TDQuoteURL string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger

	once        sync.Once
	defaultHTTP *http.Client
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

// Certification fetches and parses the THIM AMD certification document
// (one attempt, no retries: IMDS is local).
//
// Errors: *HTTPError for a non-200 status (404 matches ErrNotFound), *FormatError for
// a body that cannot be parsed, and the context's error when ctx ends first.
func (c *Client) Certification(ctx context.Context) (*Certification, error) {
	return c.CertificationHook(ctx, nil)
}

// CertificationHook is Certification with hook (optional) called before
// the request is sent; an error of hook is returned without a request.
func (c *Client) CertificationHook(ctx context.Context, hook httpget.Hook) (*Certification, error) {
	url := c.url()
	g := &httpget.Client{
		HTTPClient:     c.httpClient(),
		Header:         http.Header{"Metadata": {"true"}},
		Service:        "imds",
		RequestTimeout: DefaultTimeout,
		MaxRetries:     -1,
		Logger:         c.Logger,
	}
	body, err := g.Get(ctx, url, "THIM certification", MaxBodySize, hook)
	if errors.Is(err, httpget.ErrTooLarge) {
		return nil, &FormatError{Field: "body", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return Parse(body)
}

// Parse parses a THIM certification JSON document (certs.ParseTHIM): vcekCert
// holds exactly one parsable certificate, certificateChain (if present) only
// parsable certificates, tcbm (if present) is hexadecimal. It verifies no
// signature.
func Parse(body []byte) (*Certification, error) { return certs.ParseTHIM(body) }
