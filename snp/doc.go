// Package snp verifies AMD SEV-SNP attestation reports: it parses the
// 1184-byte ATTESTATION_REPORT, checks a VCEK certificate against AMD roots
// pinned per product line (Milan, Genoa, Turin), checks the report signature
// with the VCEK, and binds the VCEK to the report's chip id and reported TCB.
//
// The pinned roots are the AMD ARK/ASK certificates embedded in
// github.com/google/go-sev-guest; a chain carried by evidence or returned by
// a server is never trusted. The package does no I/O.
package snp
