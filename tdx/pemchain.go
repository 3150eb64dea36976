package tdx

import (
	"bytes"
	"encoding/pem"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// PEMChain says how strictly SplitPEM reads a PEM certificate chain: the
// quote's PCK chain here, the issuer chains of Intel's collateral in
// package pcs.
type PEMChain struct {
	// Format and Field name the chain in the *format.Error of a failure.
	Format, Field string
	// Min and Max bound the number of CERTIFICATE blocks (Min >= 1).
	Min, Max int
	// Padding lists the bytes that may follow the last block.
	Padding string
}

// SplitPEM returns the DER of the CERTIFICATE blocks of chain, Min to Max
// of them, after which only Padding bytes may follow; any other block
// type is an error. The certificates are not parsed.
func (c PEMChain) SplitPEM(chain []byte) ([][]byte, error) {
	ders := make([][]byte, 0, c.Max)
	rest := chain
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" || len(ders) == c.Max {
			return nil, format.Fieldf(c.Format, c.Field, format.ErrUnexpectedValue, "want %d to %d CERTIFICATE blocks", c.Min, c.Max)
		}
		ders = append(ders, blk.Bytes)
	}
	if len(bytes.Trim(rest, c.Padding)) != 0 {
		if len(ders) == 0 {
			// A DER chain (as Intel's QVL samples carry) is not PEM.
			return nil, format.Fieldf(c.Format, c.Field, format.ErrBadEncoding, "no PEM CERTIFICATE block found (%d bytes; the chain must be PEM, not DER)", len(rest))
		}
		return nil, format.Fieldf(c.Format, c.Field, format.ErrTrailingData, "%d bytes that are not PEM", len(rest))
	}
	if len(ders) == 0 {
		return nil, format.Field(c.Format, c.Field, format.ErrEmpty)
	}
	if len(ders) < c.Min {
		return nil, format.Fieldf(c.Format, c.Field, format.ErrTruncated, "%d certificates, want at least %d", len(ders), c.Min)
	}
	return ders, nil
}
