package vtpm

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/hcl"
)

// Polling of the HCL report after a user-data write.
const (
	// DefaultRefreshTimeout bounds RefreshReport when ctx has no deadline.
	DefaultRefreshTimeout = 10 * time.Second
	pollStart             = 50 * time.Millisecond
	pollMax               = 500 * time.Millisecond
)

// userDataAttributes are the attributes RefreshReport gives NVIndexUserData
// when it defines it: owner or empty-password auth may read and write it.
func userDataAttributes() tpm2.TPMANV {
	return tpm2.TPMANV{
		OwnerWrite: true,
		AuthWrite:  true,
		OwnerRead:  true,
		AuthRead:   true,
		NoDA:       true,
		NT:         tpm2.TPMNTOrdinary,
	}
}

// RefreshReport asks the paravisor for a fresh HCL report that carries
// userData (1..64 bytes, zero-padded to 64) and returns that report.
//
// It writes the padded data to NV index NVIndexUserData, defining the index
// (64 bytes, SHA-256 name algorithm, owner read/write) if it is missing and
// redefining it if it exists with another size or is not an ordinary index
// that owner auth or its empty auth value may write and that is not
// write-locked, then reads NVIndexHCLReport until the runtime data's
// "user-data" equals hex(padded userData). It polls
// with a growing interval (50 ms up to 500 ms) until ctx is done, or for at
// most DefaultRefreshTimeout when ctx has no deadline. When ctx ends the
// error matches [ErrRefreshTimeout] (or [ErrNoAnswer] if the TPM did not
// answer a command) and the context's error; when DefaultRefreshTimeout
// passes it matches [ErrRefreshTimeout] only (ctx has not ended: a caller
// must not read it as its own deadline). A report that does not
// parse ends the poll: the error matches [ErrMalformedResponse] and holds
// package hcl's *hcl.FormatError.
func RefreshReport(ctx context.Context, t transport.TPM, userData []byte) ([]byte, error) {
	return refreshReport(ctx, t, userData, DefaultRefreshTimeout)
}

// refreshReport is RefreshReport with bound in place of
// DefaultRefreshTimeout (tests shorten it).
func refreshReport(ctx context.Context, t transport.TPM, userData []byte, bound time.Duration) ([]byte, error) {
	if len(userData) == 0 || len(userData) > UserDataSize {
		return nil, &UserDataSizeError{Size: len(userData)}
	}
	padded := make([]byte, UserDataSize)
	copy(padded, userData)
	if _, ok := ctx.Deadline(); ok {
		return refresh(ctx, bind(ctx, t), padded)
	}
	own, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	report, err := refresh(own, bind(own, t), padded)
	if err == nil || own.Err() == nil || ctx.Err() != nil {
		return report, err
	}
	// Our default bound passed, not the caller's context: the error must
	// not match the context's.
	if rerr, ok := errors.AsType[*refreshTimeoutError](err); ok {
		rerr.ctxErr, rerr.bound = nil, bound
		return nil, rerr
	}
	return nil, fmt.Errorf("vtpm: %w: no answer from the TPM within %s (the context set no deadline): %v", ErrRefreshTimeout, bound, err)
}

// refreshTimeoutError is the error of a refresh whose report did not
// carry the user data in time.
type refreshTimeoutError struct {
	last   string        // the user-data of the last report read, hex
	ctxErr error         // the context's error; nil when bound passed
	bound  time.Duration // RefreshReport's own bound, when ctxErr is nil
}

func (e *refreshTimeoutError) Error() string {
	s := fmt.Sprintf("vtpm: %v: runtime data still has user-data %s", ErrRefreshTimeout, e.last)
	if e.ctxErr == nil {
		return s + fmt.Sprintf(" after %s (the context set no deadline)", e.bound)
	}
	return s + ": " + e.ctxErr.Error()
}

// Is reports whether target is ErrRefreshTimeout.
func (e *refreshTimeoutError) Is(target error) bool { return target == ErrRefreshTimeout }

// Unwrap returns the context's error.
func (e *refreshTimeoutError) Unwrap() error { return e.ctxErr }

// refresh is RefreshReport of padded (64 bytes) under ctx, through t bound
// to ctx.
func refresh(ctx context.Context, t transport.TPM, padded []byte) ([]byte, error) {
	nv, err := ensureUserDataIndex(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := writeNV(ctx, t, nv, padded); err != nil {
		return nil, err
	}

	want := hex.EncodeToString(padded)
	interval := pollStart
	var last string
	for {
		report, err := ReadHCLReport(ctx, t)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if err == nil {
			got, perr := reportUserData(report)
			if perr != nil {
				return nil, perr
			}
			if strings.EqualFold(got, want) {
				return report, nil
			}
			last = got
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			if last == "" {
				last = "(none)"
			}
			return nil, &refreshTimeoutError{last: last, ctxErr: ctx.Err()}
		case <-timer.C:
		}
		interval = min(interval*2, pollMax)
	}
}

// ensureUserDataIndex makes sure NVIndexUserData exists as an index this
// package can write the user data to (see writableUserData) and returns
// its public state. Another index there is undefined and defined again.
func ensureUserDataIndex(ctx context.Context, t transport.TPM) (*nvIndex, error) {
	nv, err := readNVPublic(ctx, t, NVIndexUserData)
	switch {
	case err == nil && writableUserData(&nv.pub):
		return nv, nil
	case err == nil:
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, uerr := tpm2.NVUndefineSpace{AuthHandle: ownerAuth(), NVIndex: nv.named()}.Execute(t)
		if uerr != nil {
			return nil, tpmErr("NV_UndefineSpace", NVIndexUserData, uerr)
		}
	case !errors.Is(err, ErrIndexMissing):
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, err = tpm2.NVDefineSpace{
		AuthHandle: ownerAuth(),
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex:    tpm2.TPMHandle(NVIndexUserData),
			NameAlg:    tpm2.TPMAlgSHA256,
			Attributes: userDataAttributes(),
			DataSize:   UserDataSize,
		}),
	}.Execute(t)
	if err != nil {
		return nil, tpmErr("NV_DefineSpace", NVIndexUserData, err)
	}
	return readNVPublic(ctx, t, NVIndexUserData)
}

// writableUserData reports whether pub is an index that takes the user
// data: an ordinary index of UserDataSize bytes, written with owner auth or
// its own (empty) auth value, not locked against writes. Any other index
// there (left by another tool, or hostile: an extend index of SHA-512, a
// write-locked or policy-only index) could never take it: the refresh
// failed on it.
func writableUserData(pub *tpm2.TPMSNVPublic) bool {
	a := pub.Attributes
	return pub.DataSize == UserDataSize && a.NT == tpm2.TPMNTOrdinary && (a.OwnerWrite || a.AuthWrite) && !a.WriteLocked
}

// writeNV writes data at offset 0 of the index in chunks of
// TPM_PT_NV_BUFFER_MAX.
func writeNV(ctx context.Context, t transport.TPM, nv *nvIndex, data []byte) error {
	if len(data) > int(nv.pub.DataSize) {
		return &TPMError{Command: "NV_Write", Handle: nv.index, Kind: ErrNVSize,
			Err: fmt.Errorf("%d bytes do not fit the %d-byte index", len(data), nv.pub.DataSize)}
	}
	auth, err := nv.writeAuth()
	if err != nil {
		return err
	}
	chunk, err := NVBufferMax(ctx, t)
	if err != nil {
		return err
	}
	for off := 0; off < len(data); {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("vtpm: writing NV index %#08x: %w", nv.index, err)
		}
		n := min(chunk, len(data)-off)
		_, err := tpm2.NVWrite{
			AuthHandle: auth,
			NVIndex:    nv.named(),
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off : off+n]},
			Offset:     uint16(off), // off < DataSize <= 0xFFFF
		}.Execute(t)
		if err != nil {
			return tpmErr("NV_Write", nv.index, err)
		}
		off += n
	}
	return nil
}

// reportUserData extracts the runtime data's "user-data" from an HCL report
// in hex ("" when the runtime data has none, as in older reports). The
// report is parsed by package hcl, the one owner of its layout.
func reportUserData(report []byte) (string, error) {
	r, err := hcl.Parse(report)
	if err != nil {
		return "", fmt.Errorf("vtpm: %w: HCL report: %w", ErrMalformedResponse, err)
	}
	return hex.EncodeToString(r.RuntimeData.UserData), nil
}
