package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// quoteJSON is the --json output of the quote command. "signature",
// "message" and "pcrs" have the shape of the Confidential Containers TPM
// quote JSON (hex strings), so the output can be read back as a quote.
type quoteJSON struct {
	Emulated        bool            `json:"emulated,omitempty"`
	Signature       string          `json:"signature"`
	Message         string          `json:"message"`
	PCRs            []string        `json:"pcrs"`
	Nonce           string          `json:"nonce"`
	ExtraData       string          `json:"extra_data"`
	NonceHashed     bool            `json:"nonce_hashed"`
	Selection       []selectionJSON `json:"selection"`
	PCRDigest       string          `json:"pcr_digest"`
	QualifiedSigner string          `json:"qualified_signer"`
	Clock           quote.ClockInfo `json:"clock"`
	FirmwareVersion uint64          `json:"firmware_version"`
	AKPublic        string          `json:"ak_public"`
	Verified        bool            `json:"verified"`
}

type selectionJSON struct {
	Hash string `json:"hash"`
	PCRs []int  `json:"pcrs"`
}

func newQuoteCmd(g *globals) *cobra.Command {
	var (
		nonce   nonceFlags
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "quote (--nonce TEXT | --nonce-hex HEX) [--json]",
		Short: "Get a TPM quote over PCRs 0-23 for a nonce, check it and print it",
		Long: `Ask the vTPM for a TPM2_Quote by the attestation key (0x81000003) over the SHA-256
PCRs 0-23 with the nonce as qualifying data, read the PCRs, check the quote against the
attestation key read from the TPM (signature, nonce, PCR digest) and print it: the
TPMS_ATTEST message and signature in hex, the parsed fields and the PCR values.
Nothing is printed unless the quote verifies.

Nonces up to 48 bytes are quoted as they are; longer nonces are quoted as their SHA-256.

A quote that does not verify is rejected (exit status 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := nonce.required()
			if err != nil {
				return err
			}
			return runQuote(cmd.Context(), g, n, jsonOut)
		},
	}
	nonce.register(cmd.Flags(), "the nonce to quote")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the quote as JSON")
	registerTimeout(cmd, g)
	return cmd
}

func runQuote(ctx context.Context, g *globals, nonce []byte, jsonOut bool) error {
	p, err := openPlatform(ctx, g)
	if err != nil {
		return err
	}
	defer p.release(g)
	// Attester.Quote verifies the quote against the TPM's AK and fails closed.
	q, err := p.attester(g).Quote(ctx, nonce)
	if err != nil {
		return err
	}
	ak, err := vtpm.AKPublic(ctx, p.tpm)
	if err != nil {
		return err
	}
	// Verify again here, so that what is printed is exactly what was checked.
	res, err := quote.Verify(q, ak, nonce)
	if err != nil {
		return rejected(fmt.Errorf("the quote does not verify against the attestation key: %w", err))
	}
	akDER, err := x509.MarshalPKIXPublicKey(ak)
	if err != nil {
		return err
	}
	a := res.Attest
	out := quoteJSON{
		Emulated:        p.emulated,
		Signature:       hex.EncodeToString(q.Signature),
		Message:         hex.EncodeToString(q.Message),
		Nonce:           hex.EncodeToString(nonce),
		ExtraData:       hex.EncodeToString(a.ExtraData),
		NonceHashed:     len(nonce) > quote.MaxQualifyingData,
		PCRDigest:       hex.EncodeToString(a.PCRDigest),
		QualifiedSigner: hex.EncodeToString(a.QualifiedSigner),
		Clock:           a.Clock,
		FirmwareVersion: a.FirmwareVersion,
		AKPublic:        hex.EncodeToString(akDER),
		Verified:        true,
	}
	for _, v := range q.PCRs {
		out.PCRs = append(out.PCRs, hex.EncodeToString(v))
	}
	for _, s := range a.Selection {
		out.Selection = append(out.Selection, selectionJSON{Hash: quote.AlgName(s.Hash), PCRs: s.PCRs})
	}
	if jsonOut {
		return writeJSON(g.stdout, out)
	}
	w := g.stdout
	if p.emulated {
		fmt.Fprintln(w, emulatedBanner)
	}
	fmt.Fprintln(w, "TPM QUOTE (verified against the vTPM attestation key 0x81000003)")
	row := func(k, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", k, fmt.Sprintf(format, args...))
	}
	row("nonce", "%s", out.Nonce)
	if out.NonceHashed {
		row("extra data", "%s (SHA-256 of the %d-byte nonce)", out.ExtraData, len(nonce))
	} else {
		row("extra data", "%s", out.ExtraData)
	}
	for _, s := range out.Selection {
		row("selection", "%s %v", s.Hash, s.PCRs)
	}
	row("pcr digest", "%s", out.PCRDigest)
	row("qualified signer", "%s", out.QualifiedSigner)
	row("clock", "%d ms, resets %d, restarts %d, safe %s", a.Clock.Clock, a.Clock.ResetCount, a.Clock.RestartCount, yesNo(a.Clock.Safe))
	row("firmware version", "0x%016x", a.FirmwareVersion)
	row("message", "%s", out.Message)
	row("signature", "%s", out.Signature)
	for i, v := range out.PCRs {
		row(fmt.Sprintf("pcr %d", i), "%s", v)
	}
	if p.emulated {
		fmt.Fprintln(w, emulatedBanner)
	}
	return nil
}
