// Package quote parses TPM2_Quote results (TPMS_ATTEST) and verifies them
// against an attestation key, a nonce and a set of PCR values.
//
// The package does no I/O: it works on bytes that came from a TPM or from
// evidence supplied by a remote party, which may be hostile.
package quote

// Quote is a TPM2_Quote result as carried in evidence.
type Quote struct {
	// Message is the marshalled TPMS_ATTEST structure that the TPM signed.
	Message []byte
	// Signature is the raw RSASSA-PKCS1-v1_5 SHA-256 signature over Message.
	Signature []byte
	// PCRs holds the PCR values read after the quote, index i = PCR i
	// (SHA-256 bank, 24 entries on Azure). Only the PCRs the quote selects
	// are bound by its signature. nil means the values are unknown (older
	// evidence carries message and signature only); the signed selection
	// and digest still say which PCRs were quoted.
	PCRs [][]byte
}
