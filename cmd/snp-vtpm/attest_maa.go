package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// checkMAAAttest refuses --maa-attest beside the flags of a token file
// (--maa-token, --maa-jwks): one token is sent, obtained one way. It also
// refuses --fresh with either: the token is about the report the CVM
// booted with, and a refreshed report (new runtime data, so new report
// data) is never the one it vouches for.
func (f *attestFlags) checkMAAAttest() error {
	switch {
	case f.fresh && (f.maaAttest || f.vouch.token != ""):
		return errors.New("--fresh: an MAA token (--maa-token, --maa-attest) vouches for the report the CVM booted with, never for a refreshed one; leave --fresh out")
	case !f.maaAttest:
		return nil
	case f.vouch.token != "":
		return errors.New("--maa-attest requests the token from MAA, --maa-token reads it from a file: give one")
	case f.vouch.jwks != "":
		return errors.New("--maa-jwks: with --maa-attest the token's keys come from the instance asked for it (its /certs)")
	}
	return nil
}

// maaToken is attest's --maa-attest: it requests an AzureGuest token for
// this CVM's boot-time report from the policy's maa_paravisor_instance (as
// "maa attest" does; with --emulate from the fake MAA), verifies it bound
// to the evidence, gives att's local check a voucher of it (a real
// instance only: the fake MAA's tokens never vouch) and returns it for
// the verifier (maa_token).
//
// The evidence MAA gets is verified first with att's verifier except the
// paravisor's identity (allow_any_paravisor): the paravisor is the one the
// token is to vouch for. The evidence sent to the verifier is gathered
// and checked again, with the voucher, in full.
func (f *attestFlags) maaToken(ctx context.Context, g *globals, p *platform, att *attester.Attester) (string, error) {
	cfg := att.Verifier.Config()
	instance := cfg.Policy.MAAIssuer()
	if instance == "" && !p.emulated {
		return "", errors.New("--maa-attest: the policy names no maa_paravisor_instance, the instance to ask for the token (add it to --policy)")
	}
	nonce, err := randomNonce()
	if err != nil {
		return "", err
	}
	tf := &maaAttestFlags{instance: instance}
	if p.emulated {
		tf.instance = ""
	}
	tgt, err := tf.target(g, nonce)
	if err != nil {
		return "", err
	}
	defer tgt.close()
	// --maa-audience is held to the policy's either way; the fake MAA's
	// tokens (--emulate) name no aud, and vouch for nothing.
	audience, err := f.vouch.tokenAudience(cfg.Policy.MAAParavisorAudience)
	if err != nil {
		return "", err
	}
	if !p.emulated {
		tgt.cfg.Audience = audience
	}
	pre, err := anyParavisor(att.Verifier)
	if err != nil {
		return "", err
	}
	token, claims, _, err := tgt.requestChecked(ctx, p, att, pre, nonce)
	if err != nil {
		return "", err
	}
	if err := checkTokenSendable("--maa-attest", token); err != nil {
		return "", err
	}
	if !p.emulated {
		att.Verifier = att.Verifier.WithParavisorVoucher(tgt.voucher(token))
	}
	what := "MAA token"
	if p.emulated {
		what = "EMULATED MAA token (fake MAA, public test key; it vouches for nothing)"
	}
	fmt.Fprintf(g.stderr, "%s from %s for VM %s, verified and bound to our evidence; sent with the evidence\n",
		what, format.Printable(claims.Issuer, 256), format.Printable(claims.VMID, 64))
	return string(token), nil
}

// sendToken returns the MAA token attest sends (maa_token; "" for none):
// requested in this run with --maa-attest (maaToken), else --maa-token's
// (vouchFlags.attach, which refuses --maa-audience without --maa-token).
// Either gives att's local check the token as its voucher.
func (f *attestFlags) sendToken(ctx context.Context, g *globals, p *platform, att *attester.Attester) (string, error) {
	if f.maaAttest {
		return f.maaToken(ctx, g, p, att)
	}
	return f.vouch.attach(g, att, f.trust.offline)
}

// checkTokenSendable is the one check of the size of the MAA token attest
// sends (--maa-token FILE's, or --maa-attest's; src names it): a verifier
// answers a request whose maa_token is over server.MaxMAATokenBytes with
// 400, so a larger token is refused here (exit 1) before the exchange.
func checkTokenSendable[T string | []byte](src string, token T) error {
	if len(token) > server.MaxMAATokenBytes {
		return fmt.Errorf("%s: the MAA token is %d bytes, more than a verifier accepts (a request's maa_token: at most %d)", src, len(token), server.MaxMAATokenBytes)
	}
	return nil
}
