package vtpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// Sentinel errors of opening the TPM device, the Kind of a [*DeviceError].
// Use [errors.Is] on any error returned by this package.
var (
	// ErrNoDevice means the TPM device does not exist (or is not a device).
	ErrNoDevice = errors.New("no TPM device")
	// ErrPermission means the TPM device exists but may not be opened.
	ErrPermission = errors.New("permission denied: run as root or join the tss group")
)

// DeviceError reports a failure to open the TPM device.
type DeviceError struct {
	// Path is the device path that was opened.
	Path string
	// Kind is [ErrNoDevice], [ErrPermission] or nil.
	Kind error
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *DeviceError) Error() string {
	if e.Kind != nil {
		return fmt.Sprintf("vtpm: open %s: %v (%v)", e.Path, e.Kind, e.Err)
	}
	return fmt.Sprintf("vtpm: open %s: %v", e.Path, e.Err)
}

// Unwrap returns the classification and the underlying error.
func (e *DeviceError) Unwrap() []error { return nonNil(e.Kind, e.Err) }

// TPMError reports a failed TPM command.
type TPMError struct {
	// Command names the TPM command, e.g. "NV_Read".
	Command string
	// Handle is the handle or NV index the command was about, 0 if none.
	Handle uint32
	// Kind classifies the failure: one of the sentinel errors of this
	// package, or nil when the failure is not one of the known kinds.
	Kind error
	// Err is the underlying error (usually a go-tpm tpm2.TPMRC).
	Err error
}

// Error implements error.
func (e *TPMError) Error() string {
	what := "TPM2_" + e.Command
	if e.Handle != 0 {
		what += fmt.Sprintf(" on %s %#08x", handleKind(e.Handle), e.Handle)
	}
	if e.Kind != nil {
		return fmt.Sprintf("vtpm: %s: %v: %v", what, e.Kind, e.Err)
	}
	return fmt.Sprintf("vtpm: %s: %v", what, e.Err)
}

// Unwrap returns the classification and the underlying error.
func (e *TPMError) Unwrap() []error { return nonNil(e.Kind, e.Err) }

// ErrUserDataSize means user data for [RefreshReport] is empty or longer
// than [UserDataSize] bytes; [*UserDataSizeError] matches it.
var ErrUserDataSize = errors.New("user data size out of range")

// UserDataSizeError reports user data of an unsupported size.
type UserDataSizeError struct {
	// Size is the rejected size in bytes.
	Size int
}

// Error implements error.
func (e *UserDataSizeError) Error() string {
	return fmt.Sprintf("vtpm: user data is %d bytes, want 1..%d", e.Size, UserDataSize)
}

// Is reports whether target is [ErrUserDataSize].
func (e *UserDataSizeError) Is(target error) bool { return target == ErrUserDataSize }

// ErrUnexpectedKey means a key does not have the expected type or size;
// [*KeyError] matches it.
var ErrUnexpectedKey = errors.New("unexpected key type")

// KeyError reports a key of an unexpected type or size.
type KeyError struct {
	// Handle is the handle of the key.
	Handle uint32
	// Reason says what is wrong with the key.
	Reason string
}

// Error implements error.
func (e *KeyError) Error() string {
	return fmt.Sprintf("vtpm: key %#08x: %v: %s", e.Handle, ErrUnexpectedKey, e.Reason)
}

// Is reports whether target is [ErrUnexpectedKey].
func (e *KeyError) Is(target error) bool { return target == ErrUnexpectedKey }

func nonNil(errs ...error) []error {
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

func handleKind(h uint32) string {
	switch h >> 24 {
	case 0x01:
		return "NV index"
	case 0x81:
		return "persistent handle"
	case 0x40:
		return "hierarchy"
	default:
		return "handle"
	}
}

// Sentinel errors of a failed TPM command, the Kind of a [*TPMError].
var (
	// ErrIndexMissing means an NV index is not defined in the TPM.
	ErrIndexMissing = errors.New("NV index not defined")
	// ErrHandleMissing means a persistent object handle is not present.
	ErrHandleMissing = errors.New("persistent handle not present")
	// ErrAuth means the TPM refused the authorization (wrong password,
	// missing owner/auth read or write permission, or dictionary-attack
	// lockout).
	ErrAuth = errors.New("TPM authorization failed")
	// ErrNVSize means an NV access was outside the index or too large.
	ErrNVSize = errors.New("NV size or range error")
)

// tpmErr turns an error from a go-tpm command into a *TPMError, classifying
// well-known response codes.
func tpmErr(command string, handle uint32, err error) error {
	if err == nil {
		return nil
	}
	return &TPMError{Command: command, Handle: handle, Kind: classify(handle, err), Err: err}
}

func classify(handle uint32, err error) error {
	var rc tpm2.TPMRC
	if !errors.As(err, &rc) {
		return nil
	}
	switch {
	case errors.Is(rc, tpm2.TPMRCHandle):
		switch handle >> 24 {
		case 0x01:
			return ErrIndexMissing
		case 0x81:
			return ErrHandleMissing
		}
		return nil
	case errors.Is(rc, tpm2.TPMRCAuthFail), errors.Is(rc, tpm2.TPMRCBadAuth),
		errors.Is(rc, tpm2.TPMRCNVAuthorization), errors.Is(rc, tpm2.TPMRCAuthUnavailable),
		errors.Is(rc, tpm2.TPMRCAuthType), errors.Is(rc, tpm2.TPMRCAuthMissing),
		errors.Is(rc, tpm2.TPMRCLockout), errors.Is(rc, tpm2.TPMRCNVLocked):
		return ErrAuth
	case errors.Is(rc, tpm2.TPMRCNVRange), errors.Is(rc, tpm2.TPMRCNVSize),
		errors.Is(rc, tpm2.TPMRCNVSpace), errors.Is(rc, tpm2.TPMRCSize):
		return ErrNVSize
	}
	return nil
}

// Sentinel errors of what the TPM and the paravisor answer.
var (
	// ErrMalformedResponse means the TPM answered with something that
	// violates the TPM 2.0 specification or the Azure conventions.
	ErrMalformedResponse = errors.New("malformed TPM response")
	// ErrRefreshTimeout means the paravisor did not publish an HCL report
	// with the requested user data before the deadline.
	ErrRefreshTimeout = errors.New("HCL report not refreshed in time")
	// ErrPCRsChanged means the PCRs kept changing between the quote and
	// reading them back.
	ErrPCRsChanged = errors.New("PCRs changed while quoting")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("vtpm: %w: %s", ErrMalformedResponse, fmt.Sprintf(format, args...))
}
