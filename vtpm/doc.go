// Package vtpm talks to the virtual TPM of an Azure Confidential VM
// (AMD SEV-SNP) through go-tpm's tpm2 direct API.
//
// Every function takes a go-tpm transport.TPM, so the real device (see [Open]),
// the TPM simulator of the emulated CVM and test fakes are interchangeable.
// Responses from the TPM are treated as untrusted input: sizes and counts are
// bounds-checked before use, and every TPM failure is returned as a
// [*TPMError] that names the command and the handle concerned and classifies
// the failure with a sentinel error ([ErrIndexMissing], [ErrHandleMissing],
// [ErrAuth], [ErrNVSize]) usable with [errors.Is].
//
// Functions that issue several TPM commands check their context between
// commands, and no function waits for a TPM answer past its context: a
// command still outstanding when the context ends is abandoned (a TPM
// command cannot be cancelled once sent; it completes in the background and
// its answer is dropped) and the error matches [ErrNoAnswer] and the
// context's error. A device from [Open] runs one command at a time and,
// while an abandoned command is outstanding, refuses others at once
// (ErrNoAnswer) until the TPM answers it.
//
// On Azure the guest must be root or a member of the tss group to open
// /dev/tpmrm0.
package vtpm

import "github.com/snp-vtpm/snp-vtpm/quote"

// Well-known handles and limits of the Azure vTPM.
const (
	// NVIndexHCLReport is the NV index holding the HCL report (SNP report
	// plus runtime-data JSON) written by the paravisor.
	NVIndexHCLReport = 0x01400001
	// NVIndexUserData is the NV index the guest writes to request a fresh
	// HCL report carrying its user data.
	NVIndexUserData = 0x01400002
	// AKHandle is the persistent handle of the vTPM attestation key.
	AKHandle = 0x81000003
	// EKHandle is the persistent handle of the vTPM endorsement key.
	EKHandle = 0x81010001
	// NVIndexAKCert is the NV index holding the AK certificate issued by an
	// Azure CA.
	NVIndexAKCert = 0x01C101D0
	// DefaultDevice is the kernel's resource-managed TPM device.
	DefaultDevice = "/dev/tpmrm0"
	// MaxNonceSize is the largest nonce used as TPM2_Quote qualifyingData
	// as is; longer nonces are hashed (see [QualifyingData]).
	MaxNonceSize = quote.MaxQualifyingData
	// UserDataSize is the size of the user data carried in a refreshed HCL
	// report: shorter data is zero-padded to this size.
	UserDataSize = 64
	// PCRCount is the number of PCRs in the SHA-256 bank that is quoted.
	PCRCount = 24
)
