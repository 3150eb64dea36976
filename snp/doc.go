// Package snp owns the AMD SEV-SNP attestation report and its certificates.
// It parses the 1184-byte ATTESTATION_REPORT by the layout of its version
// (1 to 5) and builds it back (Report.Marshal, SignReport: the emulator and
// the tests build reports through it, so no other package knows an
// offset). It checks a VCEK or VLEK certificate against AMD roots pinned
// per product line (Milan, Genoa, Turin: ARK, ASK for VCEKs, ASVK for
// VLEKs), checks the report signature with it, and binds a VCEK to the
// report's chip id and a VCEK or VLEK to its reported TCB.
//
// The pinned roots are the AMD certificates embedded in
// github.com/google/go-sev-guest; a chain carried by evidence or returned by
// a server is never trusted. The package does no I/O.
package snp
