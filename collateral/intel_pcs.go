package collateral

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
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

// Response headers of Intel PCS v4 that carry issuer chains
// (percent-encoded PEM; see DecodeIssuerChainHeader).
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
	chain, err := DecodeIssuerChainHeader(h.Get(header))
	if err != nil {
		return fetched{}, fmt.Errorf("pcs: %s from %s: header %s: %w: %w", what, u, header, err, ErrInvalidCollateral)
	}
	return fetched{body: body, chain: chain}, nil
}

// Bounds of an issuer-chain header.
const (
	maxHeaderChain  = 3 * maxIssuerChain
	maxHeaderCerts  = 8
	pemCertBegin    = "-----BEGIN CERTIFICATE-----"
	pemCertEnd      = "-----END CERTIFICATE-----"
	pemSpaceChars   = " \t\r\n"
	headerChainWhat = "issuer-chain header"
)

// DecodeIssuerChainHeader decodes the value of an issuer-chain header
// (TCB-Info-Issuer-Chain, SGX-Enclave-Identity-Issuer-Chain,
// SGX-PCK-CRL-Issuer-Chain) into PEM certificates, one block a line. Intel
// PCS sends the PEM percent-encoded as encodeURIComponent does ("%20",
// "%0A", "%2B", "%2F", "%3D"); a PCCS may send it unencoded, on one line.
// Both are read; a "+" stays a "+" (it is base64, never a space). Nothing
// but CERTIFICATE blocks and whitespace may be in the value; each block's
// base64 must decode strictly to an X.509 certificate (the caller
// verifies the chain).
func DecodeIssuerChainHeader(v string) ([]byte, error) {
	if v == "" || len(v) > maxHeaderChain {
		return nil, fmt.Errorf("%s missing or over %d bytes: %w", headerChainWhat, maxHeaderChain, format.ErrBadEncoding)
	}
	s := strings.Trim(v, pemSpaceChars)
	if !strings.HasPrefix(s, pemCertBegin) {
		u, err := url.PathUnescape(s) // unlike QueryUnescape, keeps "+"
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", headerChainWhat, err, format.ErrBadEncoding)
		}
		s = u
	}
	var out []byte
	for n := 0; ; n++ {
		s = strings.TrimLeft(s, pemSpaceChars)
		if s == "" && n > 0 {
			return out, nil
		}
		rest, ok := strings.CutPrefix(s, pemCertBegin)
		body, after, found := strings.Cut(rest, pemCertEnd)
		if !ok || !found || n == maxHeaderCerts {
			return nil, fmt.Errorf("%s: want 1 to %d PEM certificates and nothing else: %w", headerChainWhat, maxHeaderCerts, format.ErrBadEncoding)
		}
		der, err := base64.StdEncoding.Strict().DecodeString(strings.Map(dropPEMSpace, body))
		if err == nil {
			// A base64 "+" lost on the way (a space, dropped) garbles the DER.
			_, err = x509.ParseCertificate(der)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v: %w", headerChainWhat, n+1, err, format.ErrBadEncoding)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		s = after
	}
}

func dropPEMSpace(r rune) rune {
	if strings.ContainsRune(pemSpaceChars, r) {
		return -1
	}
	return r
}

// tcbInfo fetches the TDX TCB info of fmspc.
func (c *PCSClient) tcbInfo(ctx context.Context, fmspc [6]byte, hook httpget.Hook) (fetched, error) {
	u := c.base() + "/tdx/certification/v4/tcb?fmspc=" + hex.EncodeToString(fmspc[:])
	return c.get(ctx, u, "TDX TCB info", maxPCSDocument, HeaderTCBInfoIssuerChain, hook)
}

// qeIdentity fetches the TD QE identity.
func (c *PCSClient) qeIdentity(ctx context.Context, hook httpget.Hook) (fetched, error) {
	u := c.base() + "/tdx/certification/v4/qe/identity"
	return c.get(ctx, u, "TD QE identity", maxPCSDocument, HeaderQEIdentityChain, hook)
}

// pckCRL fetches the PCK CRL of ca (pcs.CAPlatform or pcs.CAProcessor).
func (c *PCSClient) pckCRL(ctx context.Context, ca string, hook httpget.Hook) (fetched, error) {
	u := c.base() + "/sgx/certification/v4/pckcrl?ca=" + url.QueryEscape(ca) + "&encoding=der"
	return c.get(ctx, u, "PCK CRL ("+ca+")", maxPCSCRL, HeaderPCKCRLIssuerChain, hook)
}

// rootCRL fetches the Intel SGX Root CA's CRL.
func (c *PCSClient) rootCRL(ctx context.Context, hook httpget.Hook) (fetched, error) {
	u := c.RootCRLURL
	if u == "" {
		u = DefaultRootCRLURL
		if c.base() != DefaultPCSURL {
			u = c.base() + "/sgx/certification/v4/rootcacrl"
		}
	}
	return c.get(ctx, u, "root CA CRL", maxPCSCRL, "", hook)
}
