package collateral

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// Intel PCS defaults.
const (
	// DefaultPCSURL is Intel's Provisioning Certification Service (API
	// v4). A PCCS base URL (https://host:8081) serves the same paths.
	DefaultPCSURL = "https://api.trustedservices.intel.com"
	// DefaultRootCRLURL is the Intel SGX Root CA's CRL (DER), fetched
	// when the base URL is DefaultPCSURL; any other base is asked for
	// {base}/sgx/certification/v4/rootcacrl (PCCS).
	DefaultRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// Response headers of Intel PCS v4 that carry issuer chains (URL-escaped
// PEM).
const (
	HeaderTCBInfoIssuerChain = "TCB-Info-Issuer-Chain"
	HeaderQEIdentityChain    = "SGX-Enclave-Identity-Issuer-Chain"
	HeaderPCKCRLIssuerChain  = "SGX-PCK-CRL-Issuer-Chain"
)

// Bounds of PCS answers.
const (
	maxPCSDocument = pcs.MaxDocumentSize
	maxPCSCRL      = 2 * pcs.MaxCRLSize // hex doubles it
	maxIssuerChain = 64 << 10
)

// PCSClient fetches Intel's TDX collateral from Intel PCS v4 or a PCCS,
// with the retries of internal/httpget (network errors, 408, 429 with
// Retry-After, 5xx). It trusts nothing: see Intel, which verifies every
// answer before it is used or cached. The zero value asks DefaultPCSURL.
type PCSClient struct {
	// BaseURL is the PCS or PCCS base URL; "" means DefaultPCSURL.
	BaseURL string
	// RootCRLURL overrides where the root CA CRL is fetched.
	RootCRLURL string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// RequestTimeout, MaxRetries, MinBackoff and MaxBackoff are those of
	// httpget.Client (0: its defaults; MaxRetries negative: none).
	RequestTimeout         time.Duration
	MaxRetries             int
	MinBackoff, MaxBackoff time.Duration
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

func (c *PCSClient) base() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return DefaultPCSURL
}

func (c *PCSClient) getter() *httpget.Client {
	return &httpget.Client{
		HTTPClient: c.HTTPClient, Header: http.Header{"User-Agent": {"snp-vtpm-pcs/1"}}, Service: "pcs",
		RequestTimeout: c.RequestTimeout, MaxRetries: c.MaxRetries, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff,
		Logger: c.Logger,
	}
}

// fetched is a PCS answer: the body and the issuer chain of its header.
type fetched struct {
	body, chain []byte
}

// get fetches u and, with a header name, the issuer chain it carries.
func (c *PCSClient) get(ctx context.Context, u, what string, limit int64, header string, hook httpget.Hook) (fetched, error) {
	body, h, err := c.getter().GetWithHeader(ctx, u, what, limit, hook)
	if err != nil || header == "" {
		return fetched{body: body}, err
	}
	v := h.Get(header)
	if v == "" || len(v) > 3*maxIssuerChain {
		return fetched{}, fmt.Errorf("pcs: %s from %s: header %s missing or over %d bytes: %w", what, u, header, 3*maxIssuerChain, ErrInvalidCollateral)
	}
	chain, err := url.PathUnescape(v)
	if err != nil {
		return fetched{}, fmt.Errorf("pcs: %s from %s: header %s: %v: %w", what, u, header, err, ErrInvalidCollateral)
	}
	return fetched{body: body, chain: []byte(chain)}, nil
}

// TCBInfo fetches the TDX TCB info of fmspc.
func (c *PCSClient) TCBInfo(ctx context.Context, fmspc [6]byte, hook httpget.Hook) (fetched, error) {
	u := c.base() + "/tdx/certification/v4/tcb?fmspc=" + hex.EncodeToString(fmspc[:])
	return c.get(ctx, u, "TDX TCB info", maxPCSDocument, HeaderTCBInfoIssuerChain, hook)
}

// QEIdentity fetches the TD QE identity.
func (c *PCSClient) QEIdentity(ctx context.Context, hook httpget.Hook) (fetched, error) {
	u := c.base() + "/tdx/certification/v4/qe/identity"
	return c.get(ctx, u, "TD QE identity", maxPCSDocument, HeaderQEIdentityChain, hook)
}

// PCKCRL fetches the PCK CRL of ca (pcs.CAPlatform or pcs.CAProcessor).
func (c *PCSClient) PCKCRL(ctx context.Context, ca string, hook httpget.Hook) (fetched, error) {
	u := c.base() + "/sgx/certification/v4/pckcrl?ca=" + url.QueryEscape(ca) + "&encoding=der"
	return c.get(ctx, u, "PCK CRL ("+ca+")", maxPCSCRL, HeaderPCKCRLIssuerChain, hook)
}

// RootCRL fetches the Intel SGX Root CA's CRL.
func (c *PCSClient) RootCRL(ctx context.Context, hook httpget.Hook) (fetched, error) {
	u := c.RootCRLURL
	if u == "" {
		u = DefaultRootCRLURL
		if c.base() != DefaultPCSURL {
			u = c.base() + "/sgx/certification/v4/rootcacrl"
		}
	}
	return c.get(ctx, u, "root CA CRL", maxPCSCRL, "", hook)
}
