package evidence

import (
	"errors"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// ErrUnknownFormat means the JSON matches none of the known evidence
// formats. Other failures wrap the module's shared kinds
// (format.ErrMissingField, format.ErrBadLength, ...); every parse error of
// this package is a [*FormatError] naming the field, so callers test the
// kind with errors.Is. (What trustee would refuse in well-formed evidence
// is a [*TrusteeError], not a parse error.)
var ErrUnknownFormat = errors.New("unknown evidence format")

// FormatError reports which field of the evidence failed to decode (Format
// "evidence"; Field is the JSON path, e.g. "tpm_quote.pcrs[3]", or
// "document" for the input as a whole). It is the module's one format error.
type FormatError = format.Error

func fieldErr(field string, err error) error {
	return format.Field("evidence", field, err)
}
