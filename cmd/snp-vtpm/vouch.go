package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// vouchFlags are verify's and attest's --maa-token, --maa-jwks and
// --maa-audience: an AzureGuest token of the policy's
// maa_paravisor_instance, which vouches for a paravisor whose ID key (or,
// on TDX, MRTD) this verifier does not know. attest also sends the token
// to the verifier (serve), whose policy names the instance too.
type vouchFlags struct {
	token, jwks, audience string
}

// register adds the flags to cmd, whose trust flags are registered
// already: --offline's help then says that --maa-jwks gives the keys.
func (f *vouchFlags) register(cmd *cobra.Command) {
	offlineMAAKeys(cmd.Flags(), "--maa-token's instance", "--maa-jwks")
	cmd.Flags().StringVar(&f.token, "maa-token", "", "AzureGuest token (file) of the policy's maa_paravisor_instance for this evidence's report: vouches for a paravisor whose ID key (TDX: MRTD, with a tdxvm token) is not trusted")
	cmd.Flags().StringVar(&f.jwks, "maa-jwks", "", "the instance's JWKS (file) for --maa-token; default: fetched from the instance's /certs (with --offline it must be given)")
	cmd.Flags().StringVar(&f.audience, "maa-audience", "", "the aud the MAA token (--maa-token; attest's --maa-attest too) must name (an instance whose policy emits one); default: the policy's maa_paravisor_audience, else none (given with it, it must be equal)")
}

// apply sets cfg.ParavisorVoucher from the flags (nothing without
// --maa-token). The token is verified against the policy's instance:
// issuer, and keys from --maa-jwks or fetched from it (offline, the trust
// flags' --offline: a usage error instead), at cfg.Now, with no aud or one
// naming the audience (tokenAudience), and maa.DefaultMaxLifetime.
func (f *vouchFlags) apply(g *globals, cfg *verify.Config, offline bool) error {
	v, err := f.voucher(g, cfg, offline)
	if err != nil || v == nil {
		return err
	}
	cfg.ParavisorVoucher = v
	return nil
}

// voucher returns the voucher of the flags for a verifier of cfg (see
// apply), nil without --maa-token.
func (f *vouchFlags) voucher(g *globals, cfg *verify.Config, offline bool) (*maa.Voucher, error) {
	if f.token == "" {
		switch {
		case f.jwks != "":
			return nil, errors.New("--maa-jwks needs --maa-token")
		case f.audience != "":
			return nil, errors.New("--maa-audience needs --maa-token")
		}
		return nil, nil
	}
	instance := cfg.Policy.MAAIssuer()
	if instance == "" {
		return nil, errors.New("--maa-token: the policy names no maa_paravisor_instance, so no token is consulted (add it to --policy)")
	}
	token, err := readFile("--maa-token", f.token)
	if err != nil {
		return nil, err
	}
	audience, err := f.tokenAudience(cfg.Policy.MAAParavisorAudience)
	if err != nil {
		return nil, err
	}
	// The token is checked at the evidence's verification time (--at).
	mc := maa.Config{Issuer: instance, Time: cfg.Now, Audience: audience}
	if mc.Keys, err = maaKeys(g, "--maa-jwks", f.jwks, instance, offline); err != nil {
		return nil, err
	}
	return &maa.Voucher{Token: token, Config: mc}, nil
}

// attach gives attest's local verification (att.Verifier) the voucher of
// the flags, so that evidence of a paravisor it does not trust is checked
// as the verifier will check it, and returns the token to send to the
// verifier (maa_token; "" without --maa-token): the file's, without its
// surrounding ASCII white space. offline is --offline: the local check
// fetches no JWKS (see apply).
func (f *vouchFlags) attach(g *globals, att *attester.Attester, offline bool) (string, error) {
	cfg := att.Verifier.Config()
	v, err := f.voucher(g, &cfg, offline)
	if err != nil || v == nil {
		return "", err
	}
	token := strings.Trim(string(v.Token), " \t\r\n")
	if err := checkTokenSendable("--maa-token "+f.token, token); err != nil {
		return "", err
	}
	att.Verifier = att.Verifier.WithParavisorVoucher(v)
	return token, nil
}

// tokenAudience returns the aud the token must name: the policy's
// maa_paravisor_audience (policy) or --maa-audience (see policyAudience).
func (f *vouchFlags) tokenAudience(policy string) (string, error) {
	return policyAudience("--maa-audience", f.audience, policy)
}

// policyAudience returns the aud a vouching token must name: the policy's
// maa_paravisor_audience (policy) or given, the flag's. When both are
// given they must be equal: the flag never overrides the policy, so a
// policy that pins a relying party cannot be widened to another from the
// command line, nor a mistyped flag silently ignored.
func policyAudience(flag, given, policy string) (string, error) {
	if given != "" && policy != "" && given != policy {
		return "", fmt.Errorf("%s %.100q: the policy's maa_paravisor_audience is %.100q (give one, or the same)", flag, given, policy)
	}
	if policy != "" {
		return policy, nil
	}
	return given, nil
}
