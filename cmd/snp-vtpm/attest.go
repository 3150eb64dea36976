package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// attestFlags are the flags of the attest command.
type attestFlags struct {
	serverURL string
	fresh     bool
	out       string
	caCert    string
	resource  string
	tokenOut  string
	jsonOut   bool
	maaAttest bool
	trust     trustFlags
	vouch     vouchFlags
}

// attestJSON is the --json output of attest: the verifier's summary of the
// verified evidence and the secret it released, standard base64 as the
// protocol's ciphertext (absent with -o FILE, which then holds it).
type attestJSON struct {
	Verified   bool          `json:"verified"`
	Claims     server.Claims `json:"claims"`
	Resource   string        `json:"resource,omitempty"`
	Secret     []byte        `json:"secret,omitempty"`
	SecretFile string        `json:"secret_file,omitempty"`
	Token      string        `json:"token,omitempty"`
}

// attestLong is the help text of "attest".
const attestLong = `Attest this CVM to a remote verifier started with "snp-vtpm serve" and print the secret
it releases (or write it to -o FILE, mode 0600).

The exchange: make an ephemeral HPKE key pair (` + server.Suite + `),
get a challenge, gather evidence whose quote carries nonce = SHA-384(challenge || public key)
(--fresh also refreshes the SNP report with it: evidence version 2), post it, and open the
secret the verifier sealed to the key. Only this process can open it. The evidence is
verified here first, as "verify" would (the trust flags choose roots, policy and
certificate sources), so evidence that fails a check is never sent.

--resource NAME asks a verifier with --secrets-dir for that resource's secret (404 when
it has none of that name; 403 naming the check when the resource's extra policy fails).
--token-out FILE writes the verifier's signed attestation result (when it signs them;
"snp-vtpm result verify" checks it).

Output files are checked before anything is sent: -o FILE and --token-out FILE are opened
first, so a directory, a missing directory, a file that cannot be written, --token-out -
or both flags naming one file is exit 1 with nothing sent (a file created then is removed
when the command fails). Once the verifier has released the secret, the secret is delivered
first (standard output, -o FILE, or the --json document). If --token-out is then not
written (the verifier signs no results, or the write fails), the exit status is 1 and the
error line names the file not written and where the secret was delivered: it is not lost.
-o FILE and --token-out FILE (regular files, or paths not there yet) are written atomically:
a temporary file in the file's directory (mode 0600 for the secret; for the token the mode of
the file it replaces, 0644 for a new one) is written, synced and renamed onto it, so FILE holds
the whole output or is left as it was (a link is followed; the temporary file is removed on
failure). So are the output files of "evidence" and "maa attest".

--json prints one JSON document on standard output instead: {"verified": true, "claims":
{...the verifier's summary...}, "secret": "<standard base64 of the secret>", "resource",
"token" (when signed)}; with -o FILE the secret goes to the file and "secret_file" names it.
A rejection is {"verified": false, "check", "error"}, as every command's --json prints it;
nothing is printed on standard error but warnings and the error line.

--maa-token FILE sends an AzureGuest token of Microsoft Azure Attestation (from "snp-vtpm
maa attest", valid 8 hours) for this CVM's report with the evidence, so that a verifier
whose policy names maa_paravisor_instance accepts a paravisor it does not trust (a new
Azure paravisor key); give --policy naming the same instance, as the evidence is checked
here too (--maa-jwks, --maa-audience as for verify). The token is for the report the
CVM booted with: --fresh, whose refreshed report is new each time, is refused beside it
(as beside --maa-attest). A verifier that needs no token ignores it.
--maa-attest requests that token in the same run instead, from the policy's
maa_paravisor_instance (as "snp-vtpm maa attest" does, also with --offline: asking MAA
is what it is for); its evidence is checked here in full except the paravisor's identity,
which the token then vouches for in the check of the evidence sent (its aud: the policy's
maa_paravisor_audience or --maa-audience, as for --maa-token). With --emulate the
fake MAA issues it: the emulated paravisor is trusted anyway, so a verifier ignores it.

With --emulate the evidence comes from the emulated CVM: the verifier must run with
--trust-emulated to accept it.

Exit status 2 means the evidence was rejected, here or by the verifier (stderr names
the check); a verifier that cannot be reached, or that cannot get collateral, is 1.`

func newAttestCmd(g *globals) *cobra.Command {
	var f attestFlags
	cmd := &cobra.Command{
		Use:   "attest --server URL [--resource NAME] [--fresh] [-o FILE] [--token-out FILE] [--ca-cert FILE] [--maa-token FILE | --maa-attest] [--json]",
		Short: "Attest this CVM to a verifier (snp-vtpm serve) and receive its secret",
		Long:  attestLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := emptyFlagValue(cmd.Flags(), "resource"); err != nil {
				return err
			}
			err := runAttest(cmd.Context(), g, &f)
			if f.jsonOut {
				return writeRejection(g.stdout, err)
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.serverURL, "server", "", "base URL of the verifier, e.g. https://verifier:8443 (required)")
	fs.BoolVar(&f.fresh, "fresh", false, "refresh the SNP report with the nonce (evidence version 2)")
	fs.StringVarP(&f.out, "output", "o", "", "write the secret to this file (mode 0600, atomically) instead of standard output")
	fs.StringVar(&f.resource, "resource", "", "name of the secret to ask for (a verifier with --secrets-dir)")
	fs.StringVar(&f.tokenOut, "token-out", "", "write the signed attestation result to this file (atomically)")
	fs.BoolVar(&f.jsonOut, "json", false, `print the claims and the secret (standard base64) as one JSON document; a rejection as {"verified": false, "check", "error"}`)
	fs.StringVar(&f.caCert, "ca-cert", "", "PEM CA certificate(s) to trust for the verifier's TLS certificate (instead of the system roots)")
	registerTimeout(cmd, g)
	f.trust.register(fs)
	offlineAsks(fs, "the verifier (--server), and with --maa-attest the MAA instance,")
	f.vouch.register(cmd)
	fs.BoolVar(&f.maaAttest, "maa-attest", false, "request the AzureGuest token from the policy's maa_paravisor_instance in this run (as maa attest does; --emulate: the fake MAA) and send it; instead of --maa-token FILE, not with --fresh")
	_ = cmd.MarkFlagRequired("server")
	return cmd
}

func runAttest(ctx context.Context, g *globals, f *attestFlags) error {
	if f.serverURL == "" {
		return errors.New("--server is required")
	}
	if err := f.checkMAAAttest(); err != nil {
		return err
	}
	if err := checkBaseURL("--server", f.serverURL, "https://verifier:8443 (or http://127.0.0.1:8443 for serve without TLS)", false); err != nil {
		return err
	}
	hc, err := attestHTTPClient(f.caCert)
	if err != nil {
		return err
	}
	// Every output file is opened before anything is sent: a path that
	// cannot be written fails here, while no secret has been released.
	secretOut, tokenOut, err := openAttestOutputs(f)
	if err != nil {
		return err
	}
	defer secretOut.discard()
	defer tokenOut.discard()
	g.waitFor(hostOf(f.serverURL, "") + " (the verifier)")
	g.hint = "check that the verifier (--server) is up and reachable; --timeout sets how long to wait"
	// Open the platform before asking for a challenge, so that starting
	// it does not eat into the challenge's lifetime.
	p, att, err := openVerifiedAttester(ctx, g, f.trust)
	if err != nil {
		return err
	}
	defer p.release(g)
	token, err := f.sendToken(ctx, g, p, att)
	if err != nil {
		return err
	}
	gather := func(ctx context.Context, nonce []byte) ([]byte, error) {
		res, err := att.Evidence(ctx, nonce, f.fresh)
		if err != nil {
			return nil, err
		}
		return res.Evidence.Encode()
	}
	client := &server.Client{URL: f.serverURL, HTTPClient: hc, Resource: f.resource, MAAToken: token}
	res, err := client.Attest(ctx, gather)
	if err != nil {
		return withNotVerifierHint(withTLSTrustHint(withEmulatedTrustHint(g, err), f.caCert))
	}
	// The secret first: once released it is delivered whatever happens
	// to the token.
	where, err := deliverSecret(g, f, res, secretOut)
	if err != nil {
		return err
	}
	return writeTokenOut(tokenOut, res.Token, where)
}

// deliverSecret delivers the released secret: the human summary on
// stderr and the secret on stdout or in -o FILE, or the --json document;
// it returns where the secret went, for writeTokenOut's error.
func deliverSecret(g *globals, f *attestFlags, res *server.Result, secretOut *attestOutput) (string, error) {
	where := "on standard output"
	if secretOut != nil {
		where = "to " + secretOut.name
	}
	if f.jsonOut {
		return where, printAttestJSON(g, f, res, secretOut)
	}
	printAttested(g.stderr, res, g.emulate != "")
	if secretOut == nil {
		_, err := g.stdout.Write(res.Secret)
		return where, err
	}
	if err := secretOut.write(res.Secret); err != nil {
		return where, fmt.Errorf("-o %s: the secret was released but not written: %w", secretOut.name, err)
	}
	return where, nil
}

// writeTokenOut writes the verifier's signed result to --token-out
// (tokenOut nil: not asked for). Called once the secret was delivered
// (where): a verifier that signs nothing, or a write that fails, is exit 1
// naming the file not written and saying that the secret was delivered.
func writeTokenOut(tokenOut *attestOutput, token, where string) error {
	if tokenOut == nil {
		return nil
	}
	if token == "" {
		tokenOut.discard()
		return fmt.Errorf("--token-out %s not written: the verifier returned no signed result (it runs without --signing-key); the secret was delivered %s", tokenOut.name, where)
	}
	if err := tokenOut.write([]byte(token + "\n")); err != nil {
		return fmt.Errorf("--token-out %s not written: %w; the secret was delivered %s", tokenOut.name, err, where)
	}
	return nil
}

// printAttestJSON is attest's --json output; with -o FILE the secret goes
// to FILE, not into the document.
func printAttestJSON(g *globals, f *attestFlags, res *server.Result, secretOut *attestOutput) error {
	out := attestJSON{Verified: true, Claims: res.Claims, Resource: f.resource, Token: res.Token}
	if secretOut == nil {
		out.Secret = res.Secret
	} else {
		if err := secretOut.write(res.Secret); err != nil {
			return fmt.Errorf("-o %s: the secret was released but not written: %w", secretOut.name, err)
		}
		out.SecretFile = secretOut.name
	}
	return writeJSON(g.stdout, out)
}

// printAttested is attest's human summary of the verifier's claims, on
// stderr (stdout carries the secret). The claims' strings are the
// verifier's text: printed cut and escaped (format.Printable), they cannot
// write escape sequences or lines of their own to the terminal. The
// emulated banner is printed for claims that say emulated unless
// bannerShown (--emulate printed it already, on the line before).
func printAttested(w io.Writer, res *server.Result, bannerShown bool) {
	c := res.Claims
	c.Product, c.TCBStatus = format.Printable(c.Product, maxClaimText), format.Printable(c.TCBStatus, maxClaimText)
	if c.Emulated && !bannerShown {
		fmt.Fprintln(w, emulatedBanner)
	}
	if c.Platform == string(verify.PlatformTDX) {
		fmt.Fprintf(w, "attested: Intel TDX, mr td %.16s..., tcb status %s, evidence v%d (fresh report: %s); secret of %d bytes received\n",
			c.Measurement.String(), c.TCBStatus, c.EvidenceVersion, yesNo(c.FreshReport), len(res.Secret))
	} else {
		tcb := "none given"
		if t := c.ReportedTCB; t != nil {
			tcb = tcbString(t.Bootloader, t.TEE, t.SNP, t.Microcode, t.FMC, c.Product)
		}
		fmt.Fprintf(w, "attested: %s chip %.16s..., reported tcb %s, evidence v%d (fresh report: %s); secret of %d bytes received\n",
			c.Product, c.ChipID.String(), tcb,
			c.EvidenceVersion, yesNo(c.FreshReport), len(res.Secret))
	}
	if c.EventLog != nil {
		fmt.Fprintf(w, "boot event log: %s\n", eventLogSummaryString(c.EventLog))
	}
}

// maxClaimText bounds a string claim of the verifier's in attest's summary.
const maxClaimText = 64

// attestHTTPClient returns the HTTP client of attest: the default
// transport's settings, trusting only the CAs in caFile when given.
func attestHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := readFile("--ca-cert", caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-cert %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// eventLogSummaryString explains the server's summary of the boot event
// log's replay.
func eventLogSummaryString(el *server.EventLogSummary) string {
	if el.Error != "" {
		return "NOT REPLAYED: " + format.Printable(el.Error, 4*maxClaimText)
	}
	s := fmt.Sprintf("replayed PCRs %v", el.Replayed)
	if len(el.Mismatch) > 0 {
		s += fmt.Sprintf("; MISMATCH %v", el.Mismatch)
	}
	if el.SecureBoot != nil {
		s += "; secure boot " + onOff(*el.SecureBoot)
	}
	if el.KernelCmdline != nil {
		s += "; kernel command line " + strconv.Quote(*el.KernelCmdline)
	}
	return s
}

// withEmulatedTrustHint adds the next step to the verifier's refusal of
// the emulated CVM's chain (403 vcek-chain or tdx-pck-chain under
// --emulate): the verifier must trust it. The refusal alone names a VCEK
// issuer, which does not tell the user that the verifier needs a flag.
func withEmulatedTrustHint(g *globals, err error) error {
	aerr, ok := errors.AsType[*server.APIError](err)
	if g.emulate == "" || !ok || aerr.StatusCode != http.StatusForbidden ||
		(aerr.Check != string(verify.CheckVCEKChain) && aerr.Check != string(verify.CheckTDXPCKChain)) {
		return err
	}
	return fmt.Errorf("%w. Next: this evidence is the emulated CVM's, under a fake AMD or Intel chain; a verifier accepts it only when run with --trust-emulated (snp-vtpm serve --trust-emulated, for testing)", err)
}

// withNotVerifierHint adds the next step to a 404 or 405 that names no
// check: there is no snp-vtpm serve endpoint at --server (another service,
// or a base URL with a path), where the answer alone said only the status.
func withNotVerifierHint(err error) error {
	aerr, ok := errors.AsType[*server.APIError](err)
	if !ok || aerr.Check != "" || (aerr.StatusCode != http.StatusNotFound && aerr.StatusCode != http.StatusMethodNotAllowed) {
		return err
	}
	return fmt.Errorf("%w. Next: --server does not answer as snp-vtpm serve (no %s there): give the verifier's base URL, scheme, host and port without a path, such as https://verifier:8443", err, server.PathChallenge)
}

// withTLSTrustHint adds the next step to a verifier's TLS certificate that
// the client does not trust: give its CA with --ca-cert (or the right one).
func withTLSTrustHint(err error, caCert string) error {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok {
		return err
	}
	if caCert == "" {
		return fmt.Errorf("%w. Next: give the verifier's CA certificate with --ca-cert FILE (the system roots do not trust it)", err)
	}
	return fmt.Errorf("%w. Next: check that --ca-cert %s holds the CA of the verifier's certificate and that the certificate names the --server host", err, caCert)
}
