package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// platform is where the CLI gathers evidence: the real vTPM and Azure IMDS,
// or the emulated Azure CVM (--emulate).
type platform struct {
	tpm     transport.TPM
	imdsURL string
	// tdQuoteURL is Azure IMDS's TD quote endpoint (TDX CVMs).
	tdQuoteURL string
	emulated   bool
	eventLog   []byte // the emulated CVM's boot event log
	close      func() error
}

// openPlatform opens the emulated CVM when --emulate is given (printing the
// emulated banner on stderr), the TPM device --tpm otherwise. The caller
// must call Close.
func openPlatform(ctx context.Context, g *globals) (*platform, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if g.emulate != "" {
		p, err := openEmulated(ctx, g)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(g.stderr, emulatedBanner)
		return p, nil
	}
	g.waitFor("the TPM " + g.tpmPath)
	t, err := vtpm.Open(g.tpmPath)
	if err != nil {
		if errors.Is(err, vtpm.ErrNoDevice) {
			return nil, fmt.Errorf("%w. Next: run this command inside an Azure Confidential VM (or name its TPM with --tpm); elsewhere try --emulate", err)
		}
		return nil, err
	}
	g.logger().Debug("opened TPM", "path", g.tpmPath)
	return &platform{tpm: t, imdsURL: imds.DefaultURL, tdQuoteURL: imds.DefaultTDQuoteURL, close: t.Close}, nil
}

// Close releases the TPM (and stops the emulated CVM).
func (p *platform) Close() error {
	if p == nil || p.close == nil {
		return nil
	}
	return p.close()
}

// release closes the platform, logging (not returning) a failure: for defer.
func (p *platform) release(g *globals) {
	if err := p.Close(); err != nil {
		g.logger().Warn("closing the TPM", "err", err)
	}
}

// attester returns an attester on the platform's TPM (without a
// certificate source: see verifiedAttester).
func (p *platform) attester(g *globals) *attester.Attester {
	// The emulated CVM carries its own boot event log: the host's would
	// not replay against the simulator's PCRs.
	return &attester.Attester{TPM: p.tpm, Logger: g.logger(), EventLog: p.eventLog, NoEventLog: p.emulated && p.eventLog == nil,
		TDQuotes: &imds.Client{TDQuoteURL: p.tdQuoteURL, Logger: g.logger()}}
}

// verifiedAttester returns the platform's attester whose results are
// verified locally with the Verifier the trust flags describe (the
// emulated chain trusted in --emulate mode). Its VCEK comes through the
// Verifier's certificate chain with the platform's Azure IMDS first (then
// AMD KDS); with --offline (on a real CVM) the chain asks neither. In
// --emulate mode only the in-process IMDS is asked (AMD does not know the
// emulated chip).
func (p *platform) verifiedAttester(ctx context.Context, g *globals, trust trustFlags) (*attester.Attester, error) {
	if p.emulated {
		trust.trustEmulated = true
	}
	v, chain, err := trust.verifier(ctx, g, p.imdsURL, nil)
	if err != nil {
		return nil, err
	}
	a := p.attester(g)
	a.Verifier = v
	a.Certs = chain
	imdsSource := &collateral.IMDS{Client: &imds.Client{URL: p.imdsURL, Logger: g.logger()}}
	switch {
	case p.emulated:
		a.Certs = &collateral.Chain{Sources: []collateral.Source{imdsSource}, Logger: g.logger()}
	case trust.offline:
		g.logger().Debug("--offline: not asking Azure IMDS for the VCEK")
	case !trust.useIMDS:
		// Upstream sources are asked in order, after the local ones.
		chain.Sources = append([]collateral.Source{imdsSource}, chain.Sources...)
	}
	return a, nil
}

// logger returns the CLI's logger (set before any command runs), or one
// that discards everything.
func (g *globals) logger() *slog.Logger {
	if g.log != nil {
		return g.log
	}
	return slog.New(slog.DiscardHandler)
}
