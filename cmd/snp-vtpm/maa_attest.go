package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/maa/guest"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// maaAttestFlags are the flags of "maa attest".
type maaAttestFlags struct {
	instance, out, evidenceOut string
	nonce                      nonceFlags
	tok                        maaTokenFlags
	trust                      trustFlags
}

func newMAAAttestCmd(g *globals) *cobra.Command {
	f := new(maaAttestFlags)
	cmd := &cobra.Command{
		Args:  cobra.NoArgs,
		Use:   "attest (--instance URL | --emulate) [--nonce TEXT] [-o FILE] [--evidence-out FILE]",
		Short: "Request an MAA AzureGuest token for this CVM (decrypted in the vTPM, verified here)",
		Long: `Request a Microsoft Azure Attestation token for this CVM with the AzureGuest protocol
(POST URL/attest/AzureGuest?api-version=2020-10-01) and print it (or write it to -o FILE).

The request carries the HCL report's SNP report and runtime data with the VCEK chain (on TDX:
the TD quote of the HCL report's TDREPORT and the runtime data), the
boot event log, the nonce (--nonce, --nonce-hex; default 32 random bytes) as client payload,
and from the vTPM: the AK certificate and public key, a quote of PCRs 0-7 over the nonce and
an ephemeral RSA-2048 decrypt-only key bound by PolicyPCR to PCRs 0-7, certified by the AK.
MAA encrypts the token to that key: it is decrypted in the vTPM (TPM2_RSA_Decrypt in a
PolicyPCR session, then AES-GCM), so only this VM with PCRs 0-7 unchanged can read it.

Before printing it, the token is verified here: RS256 by the instance's key (URL/certs),
issuer, no aud (or one naming --audience, for an instance whose policy emits it), iat, nbf
and exp with a validity period of at most --max-lifetime, the CVM claims, our nonce, and
bound to our own evidence, gathered and verified first (the trust flags apply): HCLAkPub,
VM id, REPORT_DATA, measurement, TCB.
--evidence-out FILE writes that evidence, for "maa verify --evidence".

When the policy (--policy) names --instance as maa_paravisor_instance (a trailing slash
aside), the token is to vouch for a paravisor the policy may not trust: the evidence MAA
gets is then checked here in full except the paravisor's identity (allow_any_paravisor,
for that step only), and once the token is verified and bound it is checked again under
the whole policy with the token as the voucher for its paravisor (its aud must then be
the policy's maa_paravisor_audience: --audience, if given, must equal it). If that fails,
nothing is written and the exit is 2. The token is what "attest --maa-token" and
"verify --maa-token" take.

With --emulate (or --emulate=tdx) a fake MAA on a loopback port answers (it checks the quote,
the key's certification and PolicyPCR, the AK certificate's key, the SNP report or TD quote
and the boot log, and signs with a PUBLIC TEST
KEY whose certificate says EMULATED); only "maa verify --trust-emulated" accepts its tokens.
--instance under .invalid (the emulated MAA's issuer, a host that never resolves) is a usage
error (exit 1) before anything is asked: the emulated MAA is --emulate.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMAAAttest(cmd.Context(), g, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.instance, "instance", "", "MAA instance URL, e.g. https://sharedeus2.eus2.attest.azure.net")
	fs.StringVarP(&f.out, "output", "o", "-", `write the token to this file ("-": standard output)`)
	fs.StringVar(&f.evidenceOut, "evidence-out", "", "also write the evidence the token was bound to")
	f.nonce.register(fs, "the nonce for the client payload and the quote (default: 32 random bytes)")
	f.tok.register(fs)
	f.trust.register(fs)
	offlineAsks(fs, "the MAA instance (for the token, and for its keys at /certs to check it)")
	registerTimeout(cmd, g)
	return cmd
}

// maaTarget is the instance a token is requested from and how it is
// verified.
type maaTarget struct {
	instance string
	cfg      maa.Config
	close    func()
}

// target starts the fake MAA (--emulate) or configures the real instance.
func (f *maaAttestFlags) target(g *globals, nonce []byte) (*maaTarget, error) {
	if g.emulate != "" {
		if f.instance != "" {
			return nil, errors.New("--instance: with --emulate the fake MAA on loopback answers; leave --instance out")
		}
		url, stop, err := startFakeMAA()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(g.stderr, "EMULATED MAA listening on %s\n", url)
		keys := &maa.Fetcher{Instance: url}
		return &maaTarget{instance: url, close: stop,
			cfg: maa.Config{Keys: keys, Issuer: maa.EmulatedIssuer, Nonce: nonce, TrustEmulated: true}}, nil
	}
	if f.instance == "" {
		return nil, errors.New("--instance URL is required (an https:// MAA instance, e.g. https://sharedeus2.eus2.attest.azure.net)")
	}
	if err := checkBaseURL("--instance", f.instance, "https://sharedeus2.eus2.attest.azure.net", true); err != nil {
		return nil, err
	}
	if err := checkEmulatedInstance(f.instance, nextAttest); err != nil {
		return nil, err
	}
	keys := &maa.Fetcher{Instance: f.instance, Client: &httpget.Client{HTTPClient: http.DefaultClient, Service: "maa", MaxRetries: 2, Logger: g.log}}
	g.waitFor(hostOf(f.instance, f.instance) + " (MAA)")
	return &maaTarget{instance: f.instance, close: func() {}, cfg: maa.Config{Keys: keys, Issuer: f.instance, Nonce: nonce}}, nil
}

func runMAAAttest(ctx context.Context, g *globals, f *maaAttestFlags) error {
	if err := checkOutputFile("--evidence-out", f.evidenceOut); err != nil {
		return err
	}
	tokenFile, evFile, err := f.openOutputs()
	if err != nil {
		return err
	}
	defer tokenFile.discard()
	defer evFile.discard()
	nonce, err := f.nonce.value()
	if err != nil {
		return err
	}
	if nonce == nil {
		if nonce, err = randomNonce(); err != nil {
			return err
		}
	}
	tgt, err := f.target(g, nonce)
	if err != nil {
		return err
	}
	defer tgt.close()
	if err := f.tok.apply(&tgt.cfg); err != nil {
		return err
	}
	p, att, err := openVerifiedAttester(ctx, g, f.trust)
	if err != nil {
		return err
	}
	defer p.release(g)
	pre, vouching, err := tgt.preCheck(att.Verifier)
	if err != nil {
		return err
	}
	if vouching {
		pol := att.Verifier.Config().Policy
		if tgt.cfg.Audience, err = policyAudience("--audience", f.tok.audience, pol.MAAParavisorAudience); err != nil {
			return err
		}
	}
	token, claims, res, err := tgt.requestChecked(ctx, p, att, pre, nonce)
	if err != nil {
		return err
	}
	if vouching {
		if err := tgt.recheck(ctx, att.Verifier, token, res, nonce); err != nil {
			return err
		}
	}
	return f.write(g, p.emulated, token, res, claims, tokenFile, evFile)
}

// openOutputs opens -o FILE (not "-", standard output) and --evidence-out
// FILE before anything is asked of the vTPM or MAA, so that a path that
// cannot be written (a directory, a missing directory) fails first: it
// failed with "open DIR: is a directory" once the token was obtained.
func (f *maaAttestFlags) openOutputs() (token, ev *attestOutput, err error) {
	return openOutputPair(f.out, "--evidence-out", f.evidenceOut, "the evidence would overwrite the token")
}

// preCheck returns the verifier that checks the evidence sent to tgt's
// instance before it is asked, and whether the token is to vouch for the
// paravisor: when v's policy's maa_paravisor_instance is that instance (a
// trailing slash aside), v without the paravisor's identity
// (anyParavisor), and true; otherwise v, and false.
func (tgt *maaTarget) preCheck(v *verify.Verifier) (*verify.Verifier, bool, error) {
	pol := v.Config().Policy
	instance := pol.MAAIssuer()
	if instance == "" || instance != strings.TrimSuffix(tgt.instance, "/") {
		return v, false, nil
	}
	pre, err := anyParavisor(v)
	return pre, err == nil, err
}

// anyParavisor returns v with every rule on the paravisor's identity
// lifted (allow_any_paravisor; no id_key_digests, tdx_mr_tds or voucher):
// the check of the evidence an MAA token is requested for when that
// token is to vouch for the paravisor.
func anyParavisor(v *verify.Verifier) (*verify.Verifier, error) {
	cfg := v.Config()
	cfg.Policy.AllowAnyParavisor, cfg.Policy.IDKeyDigests, cfg.Policy.TDXMRTDs, cfg.ParavisorVoucher = true, nil, nil, nil
	return verify.New(cfg)
}

// requestChecked gathers evidence for nonce on p with att, verified by
// pre (att's verifier, or anyParavisor of it), and requests a token of it
// from tgt's instance (see request). It returns the token, its claims and
// the evidence.
func (tgt *maaTarget) requestChecked(ctx context.Context, p *platform, att *attester.Attester, pre *verify.Verifier, nonce []byte) ([]byte, *maa.Claims, *attester.Result, error) {
	a := *att
	a.Verifier = pre
	res, err := a.Evidence(ctx, nonce, false)
	if err != nil {
		return nil, nil, nil, err
	}
	token, claims, err := tgt.request(ctx, p, pre, res, nonce)
	if err != nil {
		return nil, nil, nil, err
	}
	return token, claims, res, nil
}

// voucher is token, verified as tgt verifies its tokens, as the voucher
// for the paravisor of the evidence it was issued for.
func (tgt *maaTarget) voucher(token []byte) *maa.Voucher {
	return &maa.Voucher{Token: token, Config: tgt.cfg}
}

// recheck verifies res's evidence (gathered over nonce) again in full
// with v, whose policy names tgt's instance, and token as the voucher for
// its paravisor, as a verifier given the token will (verify --maa-token,
// serve), and sets res.Claims to the result. A rejection is exit 2.
func (tgt *maaTarget) recheck(ctx context.Context, v *verify.Verifier, token []byte, res *attester.Result, nonce []byte) error {
	claims, err := v.WithParavisorVoucher(tgt.voucher(token)).Decoded(ctx, res.Evidence, nonce)
	if err != nil {
		return rejected(fmt.Errorf("the evidence does not verify with the token as the voucher for its paravisor: %w", err))
	}
	res.Claims = claims
	return nil
}

// request asks tgt's instance for an AzureGuest token of res (evidence
// gathered over nonce on p and verified by v, whose roots hold its VCEK's
// chain) and returns it verified with tgt.cfg and bound to res: a token
// that does not is a rejection (exit 2).
func (tgt *maaTarget) request(ctx context.Context, p *platform, v *verify.Verifier, res *attester.Result, nonce []byte) ([]byte, *maa.Claims, error) {
	in, err := maaInputs(res, v, p, nonce)
	if err != nil {
		return nil, nil, err
	}
	token, err := guest.Attest(ctx, p.tpm, http.DefaultClient, tgt.instance, in)
	if err != nil {
		return nil, nil, err
	}
	claims, err := maa.Verify(ctx, token, tgt.cfg)
	if err == nil {
		err = maa.Bind(claims, res.Claims)
	}
	if err != nil {
		if errors.Is(err, maa.ErrRejected) {
			return nil, nil, rejected(fmt.Errorf("the token MAA issued does not verify here: %w", err))
		}
		return nil, nil, err
	}
	return token, claims, nil
}

// write writes the token (and the evidence) and a summary on stderr.
// tokenFile and evFile are -o and --evidence-out, opened (nil: standard
// output, no evidence).
func (f *maaAttestFlags) write(g *globals, emulated bool, token []byte, res *attester.Result, c *maa.Claims, tokenFile, evFile *attestOutput) error {
	if evFile != nil {
		data, err := res.Evidence.Encode()
		if err != nil {
			return err
		}
		if emulated {
			data = markEmulated(data)
		}
		if err := evFile.write(append(data, '\n')); err != nil {
			return fmt.Errorf("--evidence-out %s: %w", f.evidenceOut, err)
		}
	}
	token = append(bytes.Clone(token), '\n')
	if tokenFile == nil {
		if _, err := g.stdout.Write(token); err != nil {
			return err
		}
	} else if err := tokenFile.write(token); err != nil {
		return fmt.Errorf("-o %s: %w", f.out, err)
	}
	what := "MAA token"
	if emulated {
		what = "EMULATED MAA token (fake MAA, public test key)"
	}
	fmt.Fprintf(g.stderr, "%s from %s for VM %s, verified and bound to our evidence; expires %s\n",
		what, c.Issuer, c.VMID, unixUTC(c.Expiry))
	return nil
}

// maaInputs assembles the isolation evidence of a verified result: its HCL
// report, the VCEK with the ASK and ARK that signed it (SEV-SNP) or the TD
// quote (TDX), the boot log.
func maaInputs(res *attester.Result, v *verify.Verifier, p *platform, nonce []byte) (*guest.Inputs, error) {
	in := &guest.Inputs{HCLReport: res.Report, EventLog: res.Evidence.EventLog, Nonce: nonce, OSType: "Linux"}
	if res.Claims.Platform == verify.PlatformTDX {
		in.TDQuote = res.Evidence.TDQuote
	} else {
		chain, err := vcekChainPEM(res.Evidence.VCEK, v, res.Claims.Product)
		if err != nil {
			return nil, err
		}
		in.VCEKChainPEM = chain
	}
	if p.emulated {
		in.OSDistro, in.OSBuild = "EMULATED", "snp-vtpm emulated CVM"
		return in, nil
	}
	in.OSDistro, in.OSBuild, in.OSVersionMajor, in.OSVersionMinor = osRelease("/etc/os-release")
	return in, nil
}

// vcekChainPEM returns the VCEK, ASK and ARK (PEM) as THIM serves them: the
// trusted chain of the product whose ASK signed the VCEK.
func vcekChainPEM(vcekDER []byte, v *verify.Verifier, product string) ([]byte, error) {
	vcek, err := x509.ParseCertificate(vcekDER)
	if err != nil {
		return nil, fmt.Errorf("the evidence's VCEK: %w", err)
	}
	for _, c := range v.Config().Roots.Chains(snp.Product(product)) {
		if vcek.CheckSignatureFrom(c.ASK) == nil {
			var b bytes.Buffer
			for _, der := range [][]byte{vcekDER, c.ASK.Raw, c.ARK.Raw} {
				_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
			}
			return b.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("no trusted %s ASK signed the VCEK (a VLEK is not supported by maa attest)", product)
}

// randomNonce returns 32 random bytes: the nonce of a token request
// when none is given.
func randomNonce() ([]byte, error) {
	nonce := make([]byte, 32)
	_, err := rand.Read(nonce)
	return nonce, err
}

// osRelease reads the distribution's name and version (best effort).
func osRelease(path string) (distro, build string, major, minor int) {
	fh, err := os.Open(path)
	if err != nil {
		return "Linux", "", 0, 0
	}
	defer fh.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(fh, 64<<10)) // a few hundred bytes in practice
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vals[k] = strings.Trim(v, `"`)
		}
	}
	maj, mnr, _ := strings.Cut(vals["VERSION_ID"], ".")
	major, _ = strconv.Atoi(maj)
	minor, _ = strconv.Atoi(mnr)
	return vals["NAME"], vals["VERSION"], major, minor
}
