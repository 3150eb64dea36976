package imds

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// DefaultTDQuoteURL is Azure IMDS's TD quote endpoint of TDX CVMs.
const DefaultTDQuoteURL = "http://169.254.169.254/acc/tdquote"

// MaxTDQuoteResponse bounds a TD quote response body (real quotes with
// their PCK chain are about 5 KiB, 7 KiB in base64).
const MaxTDQuoteResponse = 128 << 10

// maxTDQuote bounds the decoded quote (as package evidence does).
const maxTDQuote = 64 << 10

// ErrTimeout means IMDS did not answer a TD quote request within the
// request's own timeout (DefaultTimeout, or a shorter Timeout of the
// Client's HTTPClient) while the caller's context had time left. It does
// not match context.DeadlineExceeded, which TDQuote returns only when the
// caller's context ended.
var ErrTimeout = errors.New("no answer within the request timeout")

// TDQuote asks Azure IMDS to quote a TDREPORT (1024 bytes, from the HCL
// report of a TDX CVM): a POST of {"report": base64url(tdReport)} to
// TDQuoteURL, answered with {"quote": base64url} (padded or not). One
// attempt, no retries. The quote is not verified here (package tdx does).
//
// Errors: *HTTPError for a status other than 200, *FormatError for a body
// that is not that JSON, ErrTimeout when IMDS does not answer in time
// (DefaultTimeout), and the context's error when ctx ends first.
func (c *Client) TDQuote(ctx context.Context, tdReport []byte) ([]byte, error) {
	url := c.TDQuoteURL
	if url == "" {
		url = DefaultTDQuoteURL
	}
	reqBody, err := json.Marshal(map[string]string{"report": base64.RawURLEncoding.EncodeToString(tdReport)})
	if err != nil {
		return nil, err
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqBody))
	if err != nil {
		return nil, fmt.Errorf("imds: TD quote: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Metadata", "true")
	if c.Logger != nil {
		c.Logger.DebugContext(ctx, "asking Azure IMDS for a TD quote", "url", url)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, tdQuoteError(caller, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTDQuoteResponse+1))
	if err != nil {
		return nil, tdQuoteError(caller, url, fmt.Errorf("reading the response: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("imds: TD quote (POST): %w", &HTTPError{URL: url, StatusCode: resp.StatusCode})
	}
	return ParseTDQuoteResponse(body)
}

// ParseTDQuoteResponse reads a TD quote response body: exactly
// {"quote": base64url} (unpadded, or padded with exactly the padding
// its length needs; no other characters), the quote 1..64 KiB.
func ParseTDQuoteResponse(body []byte) ([]byte, error) {
	var r struct {
		Quote string `json:"quote"`
	}
	if err := strictjson.Unmarshal(body, &r, strictjson.Options{MaxBytes: MaxTDQuoteResponse, RejectUnknown: true}); err != nil {
		return nil, &FormatError{Field: "body", Err: err}
	}
	enc := base64.RawURLEncoding
	if strings.HasSuffix(r.Quote, "=") {
		enc = base64.URLEncoding // padded: exactly the padding its length needs
	}
	q, err := format.Base64(enc, r.Quote)
	switch {
	case err != nil:
		return nil, &FormatError{Field: "quote", Err: fmt.Errorf("%w: not base64url", format.ErrBadEncoding)}
	case len(q) == 0 || len(q) > maxTDQuote:
		return nil, &FormatError{Field: "quote", Err: fmt.Errorf("%w: %d bytes, want 1..%d", format.ErrBadLength, len(q), maxTDQuote)}
	}
	return q, nil
}

// tdQuoteError is the error of a TD quote request that failed with err:
// the caller's context error when it ended, ErrTimeout when the request's
// own timeout did (not the caller's deadline: a command line must not say
// that its --timeout passed).
func tdQuoteError(caller context.Context, url string, err error) error {
	if cerr := caller.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("imds: TD quote: %w: %s did not answer", ErrTimeout, url)
	}
	return fmt.Errorf("imds: TD quote: %w", err)
}
