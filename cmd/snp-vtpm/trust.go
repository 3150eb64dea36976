package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// trustFlags are the flags that decide what a verifier trusts and where it
// gets certificates: shared by verify, report and serve.
type trustFlags struct {
	rootsFile       string
	trustEmulated   bool
	policyFile      string
	offline         bool
	kdsURL          string
	cacheDir        string
	checkRevocation bool
	useIMDS         bool
	at              string
}

func (t *trustFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.rootsFile, "roots", "", "PEM file with an ASK then its ARK; replaces the pinned AMD roots of that product line")
	fs.BoolVar(&t.trustEmulated, "trust-emulated", false, "also trust the emulated CVM's fake AMD chain and, for reports under it only, its paravisor's fake ID key (testing only)")
	fs.StringVar(&t.policyFile, "policy", "", "JSON policy file (min_tcb, measurements, pcrs, products, id_key_digests, allow_debug, ...)")
	fs.BoolVar(&t.offline, "offline", false, "make no network request at all (a VCEK must be in the evidence or the cache)")
	fs.StringVar(&t.kdsURL, "kds-url", kds.DefaultBaseURL, "AMD KDS base URL (for mirrors and caching proxies)")
	fs.StringVar(&t.cacheDir, "cache-dir", "", "VCEK/CRL cache directory (default: the user cache directory)")
	fs.BoolVar(&t.checkRevocation, "check-revocation", false, "fetch AMD's CRL and reject a revoked ASK or VCEK")
	fs.BoolVar(&t.useIMDS, "imds", false, "ask Azure IMDS (THIM) for a missing VCEK before AMD KDS (inside an Azure CVM only)")
	fs.StringVar(&t.at, "at", "", "verification time for certificate validity (RFC 3339); default now")
}

// verifier builds the Verifier the flags describe (see config).
func (t *trustFlags) verifier(ctx context.Context, g *globals, imdsURL string) (*verify.Verifier, *kds.Client, error) {
	cfg, kc, err := t.config(ctx, g, imdsURL)
	if err != nil {
		return nil, nil, err
	}
	v, err := verify.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return v, kc, nil
}

// roots returns the trusted chains: AMD's pinned ones, a --roots file
// replacing its product line's, plus the emulated chain with
// --trust-emulated.
func (t *trustFlags) roots(g *globals) (*snp.Roots, error) {
	roots := snp.DefaultRoots()
	if t.rootsFile != "" {
		data, err := os.ReadFile(t.rootsFile)
		if err != nil {
			return nil, err
		}
		c, err := snp.ParseChainPEM(data)
		if err != nil {
			return nil, fmt.Errorf("--roots %s: %w", t.rootsFile, err)
		}
		c.Source = "roots file " + t.rootsFile
		roots = roots.Replace(c)
		g.log.Info("using non-default roots", "product", c.Product, "file", t.rootsFile)
	}
	if t.trustEmulated {
		c, err := snp.ParseChainPEM(fakeamd.ChainPEM())
		if err != nil {
			return nil, fmt.Errorf("emulated roots: %w", err)
		}
		c.Source, c.Emulated = "EMULATED CVM (not AMD)", true
		roots = roots.Add(c)
	}
	return roots, nil
}

// config builds the verification configuration from the flags; remarks
// for humans (non-default roots) go to the log.
func (t *trustFlags) config(ctx context.Context, g *globals, imdsURL string) (verify.Config, *kds.Client, error) {
	opts := verify.Config{}
	roots, err := t.roots(g)
	if err != nil {
		return verify.Config{}, nil, err
	}
	opts.Roots = roots
	if t.policyFile != "" {
		data, err := os.ReadFile(t.policyFile)
		if err != nil {
			return verify.Config{}, nil, err
		}
		p, err := verify.ParsePolicy(data)
		if err != nil {
			return verify.Config{}, nil, fmt.Errorf("--policy %s: %w", t.policyFile, err)
		}
		if p.AllowAnyParavisor {
			g.log.Warn("the policy sets allow_any_paravisor: it accepts evidence forged by any SEV-SNP VMPL0 guest (the paravisor's ID key is not checked)", "policy", t.policyFile)
		}
		opts.Policy = *p
	}
	if t.at != "" {
		at, err := time.Parse(time.RFC3339, t.at)
		if err != nil {
			return verify.Config{}, nil, fmt.Errorf("--at: %w", err)
		}
		opts.Now = at
	}
	cacheDir := t.cacheDir
	if cacheDir == "" {
		if d, err := kds.DefaultCacheDir(); err == nil {
			cacheDir = d
		}
	}
	kc := &kds.Client{
		BaseURL:  t.kdsURL,
		CacheDir: cacheDir,
		Offline:  t.offline,
		Logger:   g.log,
		ARK: func(product string) *x509.Certificate {
			cs := roots.Chains(snp.Product(product))
			if len(cs) == 0 {
				return nil
			}
			return cs[0].ARK
		},
	}
	if t.useIMDS && !t.offline {
		kc.IMDS = &imds.Client{URL: imdsURL, Logger: g.log}
	}
	opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
		der, err := kc.GetVCEK(ctx, kds.VCEKRequest(r))
		if err != nil && ctx.Err() == nil && !errors.Is(err, verify.ErrRejected) &&
			!errors.Is(err, kds.ErrOffline) && !errors.Is(err, kds.ErrNotFound) && !errors.Is(err, kds.ErrInvalidCertificate) {
			// Network failures, 5xx, rate limiting: not a verdict on the evidence.
			err = fmt.Errorf("%w: %w", verify.ErrCertificateUnavailable, err)
		}
		return der, err
	})
	if t.checkRevocation {
		if t.offline {
			g.log.Info("revocation check uses cached CRLs only (--offline)")
		}
		opts.Revocation = kc
	}
	return opts, kc, nil
}

// nonceFlags are --nonce and --nonce-hex (and, for verify, --no-nonce).
type nonceFlags struct {
	text, hex string
	none      bool
	fs        *pflag.FlagSet
}

func (n *nonceFlags) register(fs *pflag.FlagSet, usage string) {
	n.fs = fs
	fs.StringVar(&n.text, "nonce", "", usage+" (as text)")
	fs.StringVar(&n.hex, "nonce-hex", "", usage+" (as hex)")
}

// registerNoNonce adds --no-nonce, the explicit way to verify without
// freshness.
func (n *nonceFlags) registerNoNonce(fs *pflag.FlagSet) {
	fs.BoolVar(&n.none, "no-nonce", false, "verify without a nonce: the quote's freshness is NOT checked (the evidence may be a replay)")
}

// errNonceRequired says how to give a nonce.
var errNonceRequired = errors.New("a nonce is required: --nonce TEXT or --nonce-hex HEX (the value the verifier issued)")

// required returns the nonce, or an error saying that one is needed.
func (n *nonceFlags) required() ([]byte, error) {
	v, err := n.value()
	if err == nil && v == nil {
		err = errNonceRequired
	}
	return v, err
}

// requiredOrNone is required for verify: a nonce, or nil when --no-nonce
// was given explicitly.
func (n *nonceFlags) requiredOrNone() ([]byte, error) {
	v, err := n.value()
	switch {
	case err != nil:
		return nil, err
	case n.none && v != nil:
		return nil, errors.New("give a nonce or --no-nonce, not both")
	case n.none:
		return nil, nil
	case v == nil:
		return nil, fmt.Errorf("%w, or --no-nonce to verify without freshness", errNonceRequired)
	}
	return v, nil
}

// value returns the nonce, or nil when neither flag was given. A flag given
// with an empty value (--nonce "$N" with N unset) is an error, never "no
// nonce".
func (n *nonceFlags) value() ([]byte, error) {
	textSet := n.text != "" || (n.fs != nil && n.fs.Changed("nonce"))
	hexSet := n.hex != "" || (n.fs != nil && n.fs.Changed("nonce-hex"))
	switch {
	case textSet && hexSet:
		return nil, errors.New("give --nonce or --nonce-hex, not both")
	case textSet:
		if n.text == "" {
			return nil, errors.New("--nonce: empty value (is the variable you passed unset?)")
		}
		return []byte(n.text), nil
	case hexSet:
		if n.hex == "" {
			return nil, errors.New("--nonce-hex: empty value (is the variable you passed unset?)")
		}
		b, err := hex.DecodeString(n.hex)
		if err != nil {
			return nil, fmt.Errorf("--nonce-hex: %w", err)
		}
		return b, nil
	}
	return nil, nil
}
