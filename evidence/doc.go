// Package evidence reads and writes the attestation evidence exchanged
// between an Azure CVM (the attester) and a verifier, in the JSON formats of
// the Confidential Containers Azure vTPM attester and verifier:
//
//   - v0 (no "version"): {"quote":{"signature":[n..],"message":[n..],"pcrs":[[n x32] x24]},
//     "report":[n..],"vcek":"PEM"}, where [n..] are JSON arrays of numbers 0..255
//     and "vcek" holds the VCEK, possibly followed by ASK and ARK, as PEM
//     CERTIFICATE blocks without headers and nothing else but white space
//     (Evidence.VCEKChain: the verifier requires them to be the VCEK's chain);
//   - v0 TDX: {"tpm_quote":{...number arrays...},"hcl_report":[n..],"td_quote":[n..]};
//   - v1: {"version":1,"tpm_quote":{"signature":hex,"message":hex,"pcrs":[hex x24]},
//     "hcl_report":base64url,"vcek":base64url DER} (TDX: "td_quote":base64url instead of "vcek");
//   - v2: as v1 with "version":2. The HCL report was refreshed with the
//     verifier's nonce as user data, so the runtime data's "user-data" starts
//     with the nonce too.
//
// v1 and v2 may carry an optional "event_log" (base64url, at most
// MaxEventLogSize bytes): the TCG boot event log, unsigned, worth only what
// its replay against the quoted PCRs proves (Evidence.EventLog).
//
// In every version "pcrs" may be absent (older trustee bundles carry the
// quote's message and signature only): Quote.PCRs is then nil, meaning the
// PCR values are unknown; the quote still signs its PCR selection and
// digest. A present "pcrs" must be an array ("null" is rejected).
//
// [Decode] reads all of them into one [Evidence]; [Evidence.Encode] writes
// the v1/v2 form; [Evidence.TrusteeCompatible] says whether the
// Confidential Containers verifier (trustee), whose members are all
// required, accepts that form (SEV-SNP evidence must carry the VCEK, and
// the 24 PCR values of a quote over PCRs 0-23). [DecodeBincodeQuote] reads the bincode-serialised quote
// files (quote.bin) of the Rust az-cvm-vtpm tooling.
//
// The package does no I/O and checks only the format: sizes, encodings and
// element counts. JSON is read by the module's one strict decoder
// (internal/strictjson, on go-json-experiment/json): duplicate member names
// at any depth, invalid UTF-8, trailing data and deep nesting are rejected.
// A [Decoder] remembers decoded fields only of evidence its caller reports
// as verified ([Decoder.Remember]). Evidence comes from a remote party that may be hostile:
// the input size and every element count are bounded before anything is
// allocated, and failures are [*FormatError] values that name the field and
// wrap one of the sentinel errors (usable with errors.Is). Signatures,
// nonces, PCR digests and the HCL report itself are checked by the quote,
// hcl, snp and verify packages.
package evidence
