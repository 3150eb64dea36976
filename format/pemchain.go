package format

import (
	"bytes"
	"encoding/pem"
)

// PEMChain says how strictly SplitPEM reads a PEM certificate chain: a TD
// quote's PCK chain (package tdx), the issuer chains of Intel's collateral
// (package pcs), the VCEK of version 0 evidence (package evidence).
type PEMChain struct {
	// Format and Field name the chain in the *Error of a failure.
	Format, Field string
	// Min and Max bound the number of CERTIFICATE blocks (Min >= 1).
	Min, Max int
	// Padding lists the bytes that may follow the last block.
	Padding string
}

// SplitPEM returns the DER of the CERTIFICATE blocks of chain, Min to Max
// of them. Only Padding bytes may come before, between and after the
// blocks, and each block must be well-formed PEM without headers: the
// chain carries nothing but the certificates (encoding/pem alone would
// skip any text before a block, and a malformed block, unseen). Any other
// block type is an error. The certificates are not parsed.
func (c PEMChain) SplitPEM(chain []byte) ([][]byte, error) {
	ders := make([][]byte, 0, c.Max)
	rest := bytes.TrimLeft(chain, c.Padding)
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, pemBegin) {
			return nil, c.notPEM(len(ders), len(rest))
		}
		blk, after := pem.Decode(rest)
		// pem.Decode skips a malformed block and returns the next one: the
		// block read must be the one that starts here.
		if blk == nil || bytes.Count(rest[:len(rest)-len(after)], pemBegin) != 1 || len(blk.Headers) != 0 {
			return nil, Fieldf(c.Format, c.Field, ErrBadEncoding, "block %d is not a well-formed PEM block without headers", len(ders))
		}
		if blk.Type != "CERTIFICATE" || len(ders) == c.Max {
			return nil, Fieldf(c.Format, c.Field, ErrUnexpectedValue, "want %d to %d CERTIFICATE blocks", c.Min, c.Max)
		}
		ders = append(ders, blk.Bytes)
		rest = bytes.TrimLeft(after, c.Padding)
	}
	if len(ders) == 0 {
		return nil, Field(c.Format, c.Field, ErrEmpty)
	}
	if len(ders) < c.Min {
		return nil, Fieldf(c.Format, c.Field, ErrTruncated, "%d certificates, want at least %d", len(ders), c.Min)
	}
	return ders, nil
}

// pemBegin starts every PEM block.
var pemBegin = []byte("-----BEGIN ")

// notPEM is the error for n bytes that are neither padding nor a PEM block,
// after blocks blocks.
func (c PEMChain) notPEM(blocks, n int) error {
	if blocks == 0 {
		// A DER chain (as Intel's QVL samples carry) is not PEM.
		return Fieldf(c.Format, c.Field, ErrBadEncoding, "no PEM CERTIFICATE block found (%d bytes; the chain must be PEM, not DER)", n)
	}
	return Fieldf(c.Format, c.Field, ErrTrailingData, "%d bytes that are not PEM after block %d", n, blocks-1)
}
