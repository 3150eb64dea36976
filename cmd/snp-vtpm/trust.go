package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// trustFlags are the flags that decide what a verifier trusts and where it
// gets certificates and Intel's collateral: shared by verify, report,
// serve and the commands that verify what they gather on a CVM.
type trustFlags struct {
	rootsFile       string
	trustEmulated   bool
	policyFile      string
	offline         bool
	kdsURL          string
	pcsURL          string
	collateralDir   string
	cacheDir        string
	checkRevocation bool
	useIMDS         bool
	at              string
}

func (t *trustFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.rootsFile, "roots", "", "PEM file with an ASK then its ARK; replaces the pinned AMD roots of that product line")
	fs.BoolVar(&t.trustEmulated, "trust-emulated", false, "also trust the emulated CVMs' fake AMD and Intel chains and, for evidence under them only, the emulated paravisor's fake ID key or MRTD (testing only)")
	fs.StringVar(&t.policyFile, "policy", "", "JSON policy file (min_tcb, measurements, pcrs, products, id_key_digests, allow_debug, ...)")
	fs.BoolVar(&t.offline, "offline", false, "make no network request at all: "+offlineNeeds)
	fs.StringVar(&t.kdsURL, "kds-url", kds.DefaultBaseURL, "AMD KDS base URL (for mirrors and caching proxies)")
	fs.StringVar(&t.pcsURL, "pcs-url", "", "TDX: Intel PCS v4 (or PCCS) base URL, e.g. "+collateral.DefaultPCSURL+", for the Intel collateral that --collateral does not supply (TCB info, QE identity, CRLs), verified under the pinned Intel root and cached; without it nothing is fetched from Intel and, lacking collateral, Intel's TCB status is not evaluated")
	fs.StringVar(&t.collateralDir, "collateral", "", "TDX: directory of Intel PCS collateral (tcbinfo-tdx-<fmspc>.json, qeidentity-tdx.json, tcb-signing-chain.pem, pckcrl-<platform|processor>.der, rootcacrl.der): evaluate Intel's TCB status at --at (policy: tdx_tcb_statuses); what it lacks is fetched from --pcs-url unless --offline")
	fs.StringVar(&t.cacheDir, "cache-dir", "", "VCEK/CRL and Intel collateral cache directory, created when missing (default: the user cache directory)")
	fs.BoolVar(&t.checkRevocation, "check-revocation", false, "check AMD's two CRLs of the product line (the VCEK CRL and the VLEK CRL, both the ARK's; fetched from KDS and cached, with --offline the cached ones only) and reject a revoked ASK, VCEK, ASVK or VLEK listed on either (the emulated chain: its own fake CRLs, built in); TDX evidence then needs Intel's collateral, whose PCK CRLs are checked")
	fs.BoolVar(&t.useIMDS, "imds", false, "ask Azure IMDS (THIM) for a missing VCEK before AMD KDS (inside an Azure CVM only)")
	fs.StringVar(&t.at, "at", "", "verification time for certificate validity (RFC 3339); default now")
}

// offlineNeeds says, in --offline's help, what must then be at hand.
const offlineNeeds = "a VCEK must be in the evidence or the cache; Intel's collateral (TDX) is read only from --collateral or the cache, AMD's CRLs (--check-revocation) only from the cache"

// offlineAsks rewrites the help of fs's --offline for a command whose
// purpose is to ask a service (asked: attest's verifier, maa attest's MAA
// instance): --offline keeps the local check from fetching anything, but
// that service is still asked.
func offlineAsks(fs *pflag.FlagSet, asked string) {
	fs.Lookup("offline").Usage = "the local check of the evidence fetches nothing: " + offlineNeeds + "; " + asked + " is still asked: that is the command"
}

// offlineMAAKeys adds to the help of fs's --offline that the keys of an
// MAA instance (whose: the instance or token they are for) are not
// fetched: jwksFlag gives them (verify's and attest's --maa-jwks, serve's
// --maa-jwks, maa verify's --jwks).
func offlineMAAKeys(fs *pflag.FlagSet, whose, jwksFlag string) {
	f := fs.Lookup("offline")
	f.Usage += "; the keys of " + whose + " are not fetched: give them with " + jwksFlag
}

// verifier builds the Verifier the flags describe (see config), with the
// certificate chain of collateral (lim: see upstreamLimits).
func (t *trustFlags) verifier(ctx context.Context, g *globals, imdsURL string, lim *upstreamLimits) (*verify.Verifier, *collateral.Chain, error) {
	cfg, chain, err := t.config(ctx, g, imdsURL, lim)
	if err != nil {
		return nil, nil, err
	}
	v, err := verify.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return v, chain, nil
}

// roots returns the trusted chains: AMD's pinned ones, a --roots file
// replacing its product line's, plus the emulated chain with
// --trust-emulated.
func (t *trustFlags) roots(g *globals) (*snp.Roots, error) {
	roots := snp.DefaultRoots()
	if t.rootsFile != "" {
		data, err := readFile("--roots", t.rootsFile)
		if err != nil {
			return nil, err
		}
		c, err := readRoots(data)
		if err != nil {
			g.warnOtherKind(data, kindCertificate, t.rootsFile)
			return nil, fmt.Errorf("--roots %s: %w", t.rootsFile, err)
		}
		if which := fakeamd.FakeKeyIn(c); which != "" {
			// The emulated chain comes in only as itself, so that every
			// claim and output says emulated: also when re-issued with
			// its public keys under other names (the verifier refuses
			// such a chain too: verify.ErrEmulatedKey).
			return nil, fmt.Errorf("--roots %s: its %s holds a key of the emulated CVM's fake AMD chain (public: anyone can sign with it); trust the emulated chain with --trust-emulated instead", t.rootsFile, which)
		}
		c.Source = "roots file " + t.rootsFile
		roots = roots.Replace(c)
		g.log.Debug("using non-default roots", "product", c.Product, "file", t.rootsFile)
	}
	if t.trustEmulated {
		c, err := fakeamd.Chain()
		if err != nil {
			return nil, fmt.Errorf("emulated roots: %w", err)
		}
		roots = roots.Add(c)
	}
	return roots, nil
}

// config builds the verification configuration from the flags; remarks
// for humans (non-default roots) go to the log.
func (t *trustFlags) config(ctx context.Context, g *globals, imdsURL string, lim *upstreamLimits) (verify.Config, *collateral.Chain, error) {
	opts := verify.Config{TrustEmulatedTDX: t.trustEmulated}
	if err := checkBaseURL("--kds-url", t.kdsURL, kds.DefaultBaseURL, false); err != nil {
		return verify.Config{}, nil, err
	}
	if t.pcsURL != "" {
		if err := checkBaseURL("--pcs-url", t.pcsURL, collateral.DefaultPCSURL, false); err != nil {
			return verify.Config{}, nil, err
		}
	}
	roots, err := t.roots(g)
	if err != nil {
		return verify.Config{}, nil, err
	}
	opts.Roots = roots
	if t.policyFile != "" {
		data, err := readFile("--policy", t.policyFile)
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
	if opts.Now, err = parseAt(t.at); err != nil {
		return verify.Config{}, nil, err
	}
	chain, err := t.collateral(g, roots, imdsURL, lim)
	if err != nil {
		return verify.Config{}, nil, err
	}
	opts.VCEKGetter = chain
	intel := t.intel(g, chain)
	opts.TDXCollateralGetter = intel
	if t.collateralDir != "" {
		if err := checkDir("--collateral", t.collateralDir, false); err != nil {
			return verify.Config{}, nil, err
		}
		if opts.TDXCollateral, err = pcs.LoadDir(os.DirFS(t.collateralDir)); err != nil {
			return verify.Config{}, nil, fmt.Errorf("--collateral %s: %w", t.collateralDir, err)
		}
		intel.Static = opts.TDXCollateral
	}
	if t.checkRevocation {
		if t.offline {
			g.log.Debug("revocation check uses cached CRLs only (--offline)")
		}
		opts.Revocation = chain
		if t.trustEmulated {
			// The emulated chain's own fake CRLs, in process and in
			// its own memory: never AMD's KDS, CRLs or cache slots.
			opts.EmulatedRevocation = collateral.EmulatedChain(g.log)
		}
	}
	return opts, chain, nil
}

// upstreamLimits bound the requests sent to KDS and IMDS (serve's
// --upstream-rate, --upstream-burst, --upstream-retries); nil: no budget,
// the default retries.
type upstreamLimits struct {
	rate    float64
	burst   int
	retries int
}

// collateral builds the certificate sources from the flags, in one place:
// memory, the disk cache (--cache-dir), Azure IMDS (--imds, or imdsURL of
// the platform when set) and AMD KDS (--kds-url); --offline asks nothing
// upstream. Every hop is validated by the chain against the pinned roots.
func (t *trustFlags) collateral(g *globals, roots *snp.Roots, imdsURL string, lim *upstreamLimits) (*collateral.Chain, error) {
	cacheDir := t.cacheDir
	if cacheDir == "" {
		if d, err := kds.DefaultCacheDir(); err == nil {
			cacheDir = d
		}
	}
	g.expectWaits(t, cacheDir, imdsURL)
	kc := &kds.Client{BaseURL: t.kdsURL, Logger: g.log}
	chain := &collateral.Chain{
		Sources: []collateral.Source{&collateral.Memory{}},
		Offline: t.offline,
		Logger:  g.log,
		ARK: func(product string) *x509.Certificate {
			cs := roots.Chains(snp.Product(product))
			if len(cs) == 0 {
				return nil
			}
			return cs[0].ARK
		},
	}
	if cacheDir != "" {
		chain.Sources = append(chain.Sources, &collateral.Disk{Dir: cacheDir, Logger: g.log})
	}
	if t.useIMDS {
		chain.Sources = append(chain.Sources, &collateral.IMDS{Client: &imds.Client{URL: imdsURL, Logger: g.log}})
	}
	chain.Sources = append(chain.Sources, &collateral.KDS{Client: kc})
	if lim != nil {
		var err error
		if chain.Limiter, err = collateral.NewRateLimiter(lim.rate, lim.burst, nil); err != nil {
			return nil, err
		}
		kc.MaxRetries = lim.retries
		if lim.retries == 0 {
			kc.MaxRetries = -1 // kds: 0 means its default, negative none
		}
	}
	return chain, nil
}

// intel builds the source of Intel's TDX collateral: memory, the disk
// cache of chain (--cache-dir) and Intel PCS (--pcs-url), nothing fetched
// with --offline.
func (t *trustFlags) intel(g *globals, chain *collateral.Chain) *collateral.Intel {
	// Intel's PCS is asked only when named: TDX evidence carries its PCK
	// chain, so it verifies offline; the collateral adds the TCB status.
	in := &collateral.Intel{Offline: t.offline || t.pcsURL == "", Logger: g.log, Limiter: chain.Limiter, PCS: &collateral.PCSClient{BaseURL: t.pcsURL, Logger: g.log}}
	if kc := kdsClient(chain); kc != nil {
		in.PCS.MaxRetries = kc.MaxRetries // serve's --upstream-retries
	}
	for _, s := range chain.Sources {
		if d, ok := s.(*collateral.Disk); ok {
			in.Dir = d.Dir
		}
	}
	return in
}

// kdsClient returns the KDS transport of chain, if any.
func kdsClient(chain *collateral.Chain) *kds.Client {
	for _, s := range chain.Sources {
		if k, ok := s.(*collateral.KDS); ok {
			return k.Client
		}
	}
	return nil
}

// readRoots reads --roots through the one certificate reader: PEM or
// DER holding an ASK then its ARK (further certificates, such as an ASVK,
// are ignored), or a THIM document whose certificateChain is used.
func readRoots(data []byte) (*snp.Chain, error) {
	b, err := certs.Read(data)
	if err != nil {
		return nil, err
	}
	cs := b.Certs
	if b.THIM != nil {
		cs = b.THIM.Chain
	}
	if len(cs) < 2 {
		return nil, fmt.Errorf("%w: want an ASK then an ARK certificate, found %d", snp.ErrRoots, len(cs))
	}
	return snp.NewChain(cs[0], cs[1])
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
		return decodeHexFlag("--nonce-hex", n.hex)
	}
	return nil, nil
}

// decodeHexFlag decodes the hex value of flag; its error says what is wrong
// with the value: a character that is no hex digit (and where), or an odd
// number of digits.
func decodeHexFlag(flag, v string) ([]byte, error) {
	b, err := hex.DecodeString(v)
	if ierr, ok := errors.AsType[hex.InvalidByteError](err); ok {
		c := byte(ierr)
		return nil, fmt.Errorf("%s: %q (character %d) is not a hex digit (0-9, a-f)", flag, string([]byte{c}), strings.IndexByte(v, c)+1)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: an odd number of hex digits (%d); every byte is two digits", flag, len(v))
	}
	return b, nil
}

// readFile reads the file named by a flag, bounded by maxInput; errors name
// the flag and the file. A flag's file is never standard input: "-" is
// refused (standard input belongs to the command's FILE argument; a path
// such as /dev/stdin is read like any file, bounded).
func readFile(flag, name string) ([]byte, error) {
	if name == "-" {
		return nil, fmt.Errorf("%s: \"-\" (standard input) is not accepted for a flag's file; give a path", flag)
	}
	data, err := readInput(name, nil, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return data, nil
}

// checkDir checks, before the command does anything, that the path a
// flag names (name) is a directory, naming both (pcs.LoadDir, reading an
// fs.FS, would say only "open ."). createMissing is the one difference
// between the flags: false (--collateral, read from) refuses a missing
// path ("cannot open"); true (--cache-dir, written to) accepts it, as the
// cache creates it (mode 0700) when it first writes, and a path that
// exists must still be a directory (a file, a device or a link to one is
// refused: nothing could be cached there, and every write would fail
// quietly). Any other failed lookup (a component that is a file, no
// permission) is refused, naming the path.
func checkDir(flag, name string, createMissing bool) error {
	st, err := os.Stat(name)
	verb := "open"
	if createMissing {
		verb = "use"
	}
	switch {
	case err != nil && createMissing && errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: cannot %s %s: %w", flag, verb, name, errors.Unwrap(err))
	case st.IsDir():
		return nil
	case !createMissing:
		return fmt.Errorf("%s: %s is a file, not a directory", flag, name)
	case st.Mode().IsRegular():
		return fmt.Errorf("%s: %s is a file, not a directory (give a directory; a missing one is created)", flag, name)
	}
	return fmt.Errorf("%s: %s is not a directory (%s; give a directory, a missing one is created)", flag, name, st.Mode().Type())
}

// checkOutputFile refuses "-" for a flag that names an extra output file
// (attest --token-out, maa attest --evidence-out): standard output carries
// the command's main result, and "-" would have created a file named "-".
func checkOutputFile(flag, name string) error {
	if name == "-" {
		return fmt.Errorf("%s: \"-\" (standard output) is not accepted: standard output carries the command's main result (-o); give a path", flag)
	}
	return nil
}

// expectWaits records, for the --timeout message, the hosts the
// certificate sources may wait for and the next steps.
func (g *globals) expectWaits(t *trustFlags, cacheDir, imdsURL string) {
	if t.offline {
		if g.hint == "" {
			what := "the VCEK"
			if t.checkRevocation {
				what = "the VCEK and AMD's CRLs (VCEK and VLEK)"
			}
			g.hint = "run without --offline to fetch " + what + " (Azure IMDS, AMD KDS)"
			if cacheDir != "" {
				g.hint += ", or put it in the cache directory " + cacheDir
			}
		}
		return
	}
	if t.useIMDS {
		g.waitFor(hostOf(imdsURL, imds.DefaultURL) + " (Azure IMDS)")
	}
	g.waitFor(hostOf(t.kdsURL, kds.DefaultBaseURL) + " (AMD KDS)")
	if t.pcsURL != "" {
		g.waitFor(hostOf(t.pcsURL, collateral.DefaultPCSURL) + " (Intel PCS, TDX)")
	}
	if g.hint != "" {
		return
	}
	g.hint = "use --offline with evidence that carries its VCEK, --kds-url URL for a reachable KDS mirror (TDX: --collateral DIR, or --pcs-url URL for a reachable PCS or PCCS)"
	if cacheDir != "" {
		g.hint += ", or put the VCEK in the cache directory " + cacheDir
	}
	if t.checkRevocation {
		// --offline reads AMD's CRLs only from the cache: no help without.
		g.hint += " (with --check-revocation, --offline also needs AMD's CRLs in the cache directory, fetched by an earlier run)"
	}
	g.hint += "; --timeout sets how long to wait"
}

// hostOf returns the host of rawURL (of def when rawURL is empty).
func hostOf(rawURL, def string) string {
	if rawURL == "" {
		rawURL = def
	}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return rawURL
}

// parseAt parses --at (RFC 3339); empty is the zero time (now).
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: want an RFC 3339 time such as 2025-06-01T00:00:00Z", s)
	}
	return at, nil
}
