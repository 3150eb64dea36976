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

// options builds verification options from the flags. note receives
// human-facing remarks (non-default roots).
func (t *trustFlags) options(ctx context.Context, g *globals, imdsURL string) (*verify.Options, *kds.Client, error) {
	opts := &verify.Options{}
	roots := snp.DefaultRoots()
	if t.rootsFile != "" {
		data, err := os.ReadFile(t.rootsFile)
		if err != nil {
			return nil, nil, err
		}
		c, err := snp.ParseChainPEM(data)
		if err != nil {
			return nil, nil, fmt.Errorf("--roots %s: %w", t.rootsFile, err)
		}
		c.Source = "roots file " + t.rootsFile
		roots = roots.Replace(c)
		g.log.Info("using non-default roots", "product", c.Product, "file", t.rootsFile)
	}
	if t.trustEmulated {
		c, err := snp.ParseChainPEM(fakeamd.ChainPEM())
		if err != nil {
			return nil, nil, fmt.Errorf("emulated roots: %w", err)
		}
		c.Source, c.Emulated = "EMULATED CVM (not AMD)", true
		roots = roots.Add(c)
	}
	opts.Roots = roots
	if t.policyFile != "" {
		data, err := os.ReadFile(t.policyFile)
		if err != nil {
			return nil, nil, err
		}
		p, err := verify.ParsePolicy(data)
		if err != nil {
			return nil, nil, fmt.Errorf("--policy %s: %w", t.policyFile, err)
		}
		if p.AllowAnyParavisor {
			g.log.Warn("the policy sets allow_any_paravisor: it accepts evidence forged by any SEV-SNP VMPL0 guest (the paravisor's ID key is not checked)", "policy", t.policyFile)
		}
		opts.Policy = *p
	}
	if t.at != "" {
		at, err := time.Parse(time.RFC3339, t.at)
		if err != nil {
			return nil, nil, fmt.Errorf("--at: %w", err)
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

// nonceFlags are --nonce and --nonce-hex.
type nonceFlags struct {
	text, hex string
}

func (n *nonceFlags) register(fs *pflag.FlagSet, usage string) {
	fs.StringVar(&n.text, "nonce", "", usage+" (as text)")
	fs.StringVar(&n.hex, "nonce-hex", "", usage+" (as hex)")
}

// required returns the nonce, or an error saying that one is needed.
func (n *nonceFlags) required() ([]byte, error) {
	v, err := n.value()
	if err == nil && v == nil {
		err = errors.New("a nonce is required: --nonce TEXT or --nonce-hex HEX (the value the verifier issued)")
	}
	return v, err
}

// value returns the nonce, or nil when neither flag was given.
func (n *nonceFlags) value() ([]byte, error) {
	switch {
	case n.text != "" && n.hex != "":
		return nil, errors.New("give --nonce or --nonce-hex, not both")
	case n.text != "":
		return []byte(n.text), nil
	case n.hex != "":
		b, err := hex.DecodeString(n.hex)
		if err != nil {
			return nil, fmt.Errorf("--nonce-hex: %w", err)
		}
		if len(b) == 0 {
			return nil, errors.New("--nonce-hex: empty")
		}
		return b, nil
	}
	return nil, nil
}
