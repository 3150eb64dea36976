package testutil

import (
	"errors"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// IsFieldError reports whether err is a *format.Error naming field whose
// cause is kind (errors.Is): how every parser and encoder of the module
// names what it rejected.
func IsFieldError(err error, field string, kind error) bool {
	fe, ok := errors.AsType[*format.Error](err)
	return ok && fe.Field == field && errors.Is(err, kind)
}

// IsFormatError is IsFieldError for err itself: the *format.Error of
// formatName (its message starts "<formatName>: <field>: "), not wrapped.
func IsFormatError(err error, formatName, field string, kind error) bool {
	fe, ok := err.(*format.Error)
	return ok && fe.Format == formatName && IsFieldError(err, field, kind)
}
