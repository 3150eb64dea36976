package result

import (
	"context"
	"fmt"
	"net/http"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
)

// jwksRetries is how often FetchJWKS retries a failed fetch.
const jwksRetries = 2

// FetchJWKS fetches a verifier's JWKS from url (where snp-vtpm serve
// publishes it: the issuer followed by /.well-known/jwks.json) with hc
// (nil: http.DefaultClient) and parses it with ParseJWKS. The body is read
// up to MaxJWKSBytes, a redirect from https to another scheme is refused,
// and network errors, 408, 429 and 5xx are retried twice, within ctx. An
// error means no usable keys, nothing about a token. Fetch over https,
// keep the KeySet, and fetch again when Verify fails with ErrUnknownKid
// (the verifier's key changed).
func FetchJWKS(ctx context.Context, hc *http.Client, url string) (*KeySet, error) {
	c := &httpget.Client{HTTPClient: hc, Service: "verifier", MaxRetries: jwksRetries}
	data, err := c.Get(ctx, url, "JWKS", MaxJWKSBytes, nil)
	if err != nil {
		return nil, fmt.Errorf("result: JWKS: %w", err)
	}
	ks, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("result: JWKS from %s: %w", url, err)
	}
	return ks, nil
}
