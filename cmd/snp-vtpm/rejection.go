package main

import (
	"errors"
	"io"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// rejectionJSON is the --json output of a rejection, the same document for
// every command: {"verified": false, "check": ..., "error": ...}.
type rejectionJSON struct {
	Verified bool   `json:"verified"`
	Check    string `json:"check"`
	Error    string `json:"error"`
}

// rejectionOf returns the failed check and its reason when err is a
// rejection (exit status 2) naming a check: a local verification, the
// verifier's 403, an MAA token or an attestation-result token.
func rejectionOf(err error) (rejectionJSON, bool) {
	if err == nil || exitCode(err) != exitRejected {
		return rejectionJSON{}, false
	}
	if aerr, ok := errors.AsType[*server.APIError](err); ok {
		// The verifier's message is a verify.Error's text, which starts
		// with the check; "error" is the reason alone, as for verify.
		msg := strings.TrimPrefix(aerr.Message, aerr.Check+" check failed: ")
		return rejectionJSON{Check: aerr.Check, Error: plain(msg)}, true
	}
	if verr, ok := errors.AsType[*verify.Error](err); ok && verr.Err != nil {
		return rejectionJSON{Check: string(verr.Check), Error: plain(verr.Err.Error())}, true
	}
	if merr, ok := errors.AsType[*maa.Error](err); ok && merr.Err != nil {
		return rejectionJSON{Check: string(merr.Check), Error: plain(merr.Err.Error())}, true
	}
	if rerr, ok := errors.AsType[*result.Error](err); ok && rerr.Err != nil {
		return rejectionJSON{Check: string(rerr.Check), Error: plain(rerr.Err.Error())}, true
	}
	return rejectionJSON{}, false
}

// writeRejection prints err as the --json rejection document on w when it
// is a rejection naming a check, and returns err.
func writeRejection(w io.Writer, err error) error {
	if rej, ok := rejectionOf(err); ok {
		_ = writeJSON(w, rej)
	}
	return err
}
