// Package emulator is an emulated Azure Confidential VM for development and
// tests: the Microsoft reference TPM simulator (through go-tpm-tools, so cgo
// is required) provisioned like an Azure vTPM, a paravisor that publishes an
// HCL report with an SNP report signed by the fake AMD chain of package
// fakeamd and regenerates it when the guest writes user data, a fake
// Azure IMDS THIM endpoint serving the fake VCEK (or, with
// Options.RevokedVCEK, the revoked one the fake VCEK CRL lists), and a
// Hyper-V-like TCG boot event log (BootLog) whose measurements it extends
// into the vTPM. The fake chain's CRLs are not served here but by
// collateral.EmulatedKDS, in the verifier's process: a verifier of
// emulated evidence has no emulated CVM to ask.
//
// Nothing it produces is evidence of anything: only verifiers explicitly told
// to trust the fakeamd roots accept it.
//
// To gather evidence from Go, give package attester's Attester the CVM's
// TPM, a collateral.Chain asking the fake IMDS (IMDSURL) for the VCEK, the
// boot event log (EventLog) and, for a TDX CVM, an imds.Client whose
// TDQuoteURL is the CVM's as TDQuotes. A verifier (package verify) accepts
// the result only with the fake chains trusted: Config.Roots with
// fakeamd.Chain added to snp.DefaultRoots for SEV-SNP, and
// Config.TrustEmulatedTDX for TDX. Its claims then say Emulated. See
// ExampleStart_evidence.
//
// Without cgo (CGO_ENABLED=0) the package is empty apart from this
// documentation, so release builds contain no simulator.
package emulator
