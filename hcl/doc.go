// Package hcl parses and builds the HCL report that the Azure paravisor (the
// HCL) exposes to a Confidential VM through the vTPM, in NV index
// 0x01400001, and the runtime-data JSON carried inside it.
//
// An HCL report wraps a hardware attestation report (an AMD SEV-SNP
// ATTESTATION_REPORT, or an Intel TDX TDREPORT) together with a JSON document,
// the runtime data, that holds the public part of the vTPM attestation key
// (AK). The hardware report binds the runtime data: its REPORT_DATA starts with
// the SHA-256 digest of exactly the variable_data_size bytes of JSON, and the
// rest of REPORT_DATA is zero. [Report.CheckBinding] checks that binding and
// [RuntimeData.AK] returns the AK, selected by kid "HCLAkPub".
//
// Layout (all integers little-endian):
//
//	offset  size  field
//	0       4     magic "HCLA"
//	4       4     header version (1 or 2)
//	8       4     report_size = 1236 + variable_data_size
//	12      4     request_type (2)
//	16      4     status (0)
//	20      12    reserved (0)
//	32      1184  hardware report (SNP report; or TDREPORT + zero padding)
//	1216    4     data_size = 20 + variable_data_size
//	1220    4     IGVM request version (1)
//	1224    4     report_type (2 SNP, 4 TDX)
//	1228    4     report_data_hash_type (1 SHA-256, the only one accepted; 2 SHA-384, 3 SHA-512)
//	1232    4     variable_data_size (n)
//	1236    n     runtime-data JSON, then zero padding to the NV index size
//
// The package does no I/O. The blob is treated as hostile: every size field is
// bounds-checked before use, nothing is allocated from an unchecked length, and
// every failure is a [*FormatError] naming the field that failed, wrapping one
// of the package's sentinel errors (usable with errors.Is).
//
// Parse does not verify the hardware report's signature; that is the job of
// the snp package (SNP) or a TDX quote verifier.
package hcl
