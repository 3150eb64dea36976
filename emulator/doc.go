// Package emulator is an emulated Azure Confidential VM for development and
// tests: the Microsoft reference TPM simulator (through go-tpm-tools, so cgo
// is required) provisioned like an Azure vTPM, a paravisor that publishes an
// HCL report with an SNP report signed by the fake AMD chain of package
// fakeamd and regenerates it when the guest writes user data, a fake
// Azure IMDS THIM endpoint serving the fake VCEK, and a Hyper-V-like TCG
// boot event log (BootLog) whose measurements it extends into the vTPM.
//
// Nothing it produces is evidence of anything: only verifiers explicitly told
// to trust the fakeamd roots accept it.
//
// Without cgo (CGO_ENABLED=0) the package is empty apart from this
// documentation, so release builds contain no simulator.
package emulator
