package tdx

import "github.com/snp-vtpm/snp-vtpm/format"

// PEMChain is [format.PEMChain]: how strictly a PEM certificate chain is
// read (the quote's PCK chain here, the issuer chains of Intel's collateral
// in package pcs).
type PEMChain = format.PEMChain
