package server

import (
	"bytes"
	"context"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// maxResponseBytes bounds the answers a Client reads.
const maxResponseBytes = 1 << 20

// responseOptions read the server's answers, a format of ours, strictly:
// unknown members are errors as in requests.
func responseOptions() strictjson.Options {
	return strictjson.Options{MaxBytes: maxResponseBytes, RejectUnknown: true}
}

// ErrRejected is matched (errors.Is) by an *APIError saying that the server
// rejected the evidence (HTTP 403). It is verify.ErrRejected: one sentinel
// means "the evidence was rejected", whether a local Verifier or a remote
// verifier said so.
var ErrRejected = verify.ErrRejected

// APIError is an error answer of the server.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Check is the failed check named by the server (see ErrorResponse).
	Check string
	// Message is the server's explanation.
	Message string
}

// Error describes the answer: status, failed check and message.
func (e *APIError) Error() string {
	s := fmt.Sprintf("server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Check != "" {
		s += ": " + e.Check + " check failed"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is ErrRejected and the server rejected the
// evidence.
func (e *APIError) Is(target error) bool {
	return target == ErrRejected && e.StatusCode == http.StatusForbidden
}

// GatherFunc gathers evidence whose quote (and, for v2, refreshed report)
// carries nonce, encoded as a JSON document (see package evidence).
type GatherFunc func(ctx context.Context, nonce []byte) ([]byte, error)

// Result is the outcome of a successful attestation.
type Result struct {
	// Secret is the server's secret, opened.
	Secret []byte
	// Claims is the server's summary of the verified evidence.
	Claims Claims
	// Token is the server's signed attestation result, if it signs them
	// (verify it with result.Verify and the server's JWKS).
	Token string
}

// Client attests to a Server.
type Client struct {
	// URL is the server's base URL, e.g. "https://verifier:8443".
	URL string
	// HTTPClient sends the requests; nil means http.DefaultClient. Bound
	// the exchange with the context given to Attest. Redirects are never
	// followed, whatever its CheckRedirect: a 3xx answer is an *APIError.
	HTTPClient *http.Client
	// Resource names the secret to ask for (a server with a secrets
	// directory); empty asks for the server's single secret.
	Resource string
	// MAAToken, when set, is sent as the request's maa_token: an
	// AzureGuest token (compact JWS, e.g. from maa/guest or "snp-vtpm
	// maa attest") of the MAA instance the server's policy names, for
	// this CVM's report, so that the server accepts a paravisor it does
	// not trust (see AttestRequest.MAAToken). A server that needs none
	// ignores it.
	MAAToken string
}

// Attest runs the protocol: it makes an ephemeral key pair, gets a
// challenge, gathers evidence over Nonce(challenge, publicKey), posts it
// and opens the sealed secret. Errors from the server are *APIError
// (errors.Is(err, ErrRejected) when the evidence was rejected).
func (c *Client) Attest(ctx context.Context, gather GatherFunc) (*Result, error) {
	req, priv, err := c.Request(ctx, gather)
	if err != nil {
		return nil, err
	}
	resp, err := c.submit(ctx, req)
	if err != nil {
		return nil, err
	}
	secret, err := OpenSecret(priv, Nonce(req.Challenge, req.PublicKey), resp.Ciphertext)
	if err != nil {
		return nil, err
	}
	return &Result{Secret: secret, Claims: resp.Claims, Token: resp.Token}, nil
}

// Request is the first half of Attest: it makes an ephemeral key pair,
// gets a challenge and gathers evidence over Nonce(challenge, publicKey).
// It returns the request Attest posts and the private key that opens the
// answer's secret.
func (c *Client) Request(ctx context.Context, gather GatherFunc) (*AttestRequest, hpke.PrivateKey, error) {
	priv, pub, err := GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.challenge(ctx)
	if err != nil {
		return nil, nil, err
	}
	ev, err := gather(ctx, Nonce(ch, pub))
	if err != nil {
		return nil, nil, fmt.Errorf("gathering evidence: %w", err)
	}
	return &AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub, Resource: c.Resource, MAAToken: c.MAAToken}, priv, nil
}

// challenge asks the server for a challenge.
func (c *Client) challenge(ctx context.Context) ([]byte, error) {
	var cr ChallengeResponse
	if err := c.Post(ctx, PathChallenge, nil, &cr); err != nil {
		return nil, err
	}
	if len(cr.Challenge) != ChallengeSize {
		return nil, fmt.Errorf("server: challenge is %d bytes, want %d", len(cr.Challenge), ChallengeSize)
	}
	if cr.Suite != "" && cr.Suite != Suite {
		return nil, fmt.Errorf("server: the server uses HPKE suite \"%s\", this client %q", format.Printable(cr.Suite, maxServerCheck), Suite)
	}
	return cr.Challenge, nil
}

// submit posts an attestation request.
func (c *Client) submit(ctx context.Context, req *AttestRequest) (*AttestResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("server: encoding request: %w", err)
	}
	var ar AttestResponse
	if err := c.Post(ctx, PathAttest, body, &ar); err != nil {
		return nil, err
	}
	if len(ar.Ciphertext) == 0 {
		return nil, errors.New("server: the answer carries no ciphertext")
	}
	return &ar, nil
}

// Bounds of the server-sent text an *APIError carries.
const (
	maxServerCheck   = 64
	maxServerMessage = maxErrorMessage
)

// noRedirect stops the client at a redirect: the 3xx answer is returned.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// httpClient is the client's HTTP client with redirects off. Following one
// would send the evidence to wherever the answer points, and a secret
// sealed to the request's public key and the claims then come from there
// (to http:// even: readable and replaceable on the way); the protocol
// has no redirects.
func (c *Client) httpClient() *http.Client {
	hc := http.DefaultClient
	if c.HTTPClient != nil {
		hc = c.HTTPClient
	}
	cp := *hc
	cp.CheckRedirect = noRedirect
	return &cp
}

// Post sends body (JSON) to path and decodes a 200 answer into out (at
// most 1 MiB, strictly: unknown members are errors), or an error answer
// into an *APIError (its check and message cut and with every control
// character escaped; a redirect is not followed but named). Attest is
// built on it; it serves callers that send prepared requests (load
// generators, tests).
func (c *Client) Post(ctx context.Context, path string, body []byte, out any) error {
	u := strings.TrimSuffix(c.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("server: reading the answer to %s: %w", path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("server: the answer to %s is larger than %d bytes", path, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return apiError(resp, data)
	}
	if err := strictjson.Unmarshal(data, out, responseOptions()); err != nil {
		return fmt.Errorf("server: decoding the answer to %s: %w", path, err)
	}
	return nil
}

// apiError is the *APIError of an answer other than 200: the server's
// check and message, printable and cut, or for a redirect where it points.
func apiError(resp *http.Response, data []byte) *APIError {
	apiErr := &APIError{StatusCode: resp.StatusCode}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if loc := resp.Header.Get("Location"); loc != "" {
			apiErr.Message = "redirected to " + format.Printable(loc, 256) + " (not followed: give the verifier's final URL)"
		}
		return apiErr
	}
	var er ErrorResponse
	if strictjson.Unmarshal(data, &er, responseOptions()) == nil {
		apiErr.Check = format.Printable(er.Check, maxServerCheck)
		apiErr.Message = format.Printable(er.Error, maxServerMessage)
	} else if plainHTTPToTLS(resp, data) {
		apiErr.Message = "the verifier serves HTTPS (TLS), and this request was plain http://: use its https:// URL"
	}
	return apiErr
}

// plainHTTPToTLS reports whether resp is the answer of a Go TLS server
// (serve --tls-cert) to a plain HTTP request: 400 with net/http's fixed
// text. Said as it is, a bare "400 Bad Request" leaves the user looking
// at the request, not at the URL's scheme.
func plainHTTPToTLS(resp *http.Response, data []byte) bool {
	return resp.StatusCode == http.StatusBadRequest && resp.Request != nil && resp.Request.URL.Scheme == "http" &&
		bytes.Contains(data, []byte("Client sent an HTTP request to an HTTPS server"))
}
