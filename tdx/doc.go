// Package tdx owns the Intel TDX formats that Azure TDX Confidential VMs
// produce: the 1024-byte TDREPORT (the hardware report inside the HCL
// report, whose MAC only the CPU can check) and the TD quote (Intel DCAP
// quote version 4, or version 5 with a TDX 1.0 or TDX 1.5 body;
// ECDSA-P256) that Azure IMDS returns for it.
//
// ParseTDReport and ParseQuote parse them strictly (every size bounded,
// the quote read by its signed-data size, trailing bytes only zeros as
// Azure appends them); Marshal writes them back, for tests and tools.
// Quote.Verify checks, offline and in this order, the PCK certificate
// chain up to the pinned Intel SGX Root CA (PinnedRootSHA256), the QE
// report signature by the PCK, the QE report data's binding of the
// attestation key, and the quote signature by the attestation key.
// CheckBinding compares every quote body field with the TDREPORT's.
//
// Intel's TCB status (TCB info, QE identity, CRLs) is not evaluated here.
// The package does no I/O and writes nothing to stdout or stderr.
package tdx
