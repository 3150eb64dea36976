package testev

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
)

// TrusteeTEEPubKey is a tee-pubkey as the Confidential Containers KBS
// protocol carries it (a JWK of the attester's RSA key; the values are
// arbitrary).
var TrusteeTEEPubKey = map[string]any{"kty": "RSA", "alg": "RSA1_5", "n": "sWQlr9gqBFXzPsHoh2lFYFPmVW8t8yW2FeVW0uOpe1w", "e": "AQAB"}

// TrusteeReportData is the report data trustee's attestation service
// expects an Azure vTPM quote to carry for a KBS challenge: SHA-384 (its
// default for every TEE but IBM SE) of the JSON canonical form (RFC 8785,
// JCS) of the primary runtime data {"tee-pubkey", "nonce",
// "additional-evidence"}. 48 bytes.
func TrusteeReportData(nonce string, teePubKey any, additionalEvidence string) ([]byte, error) {
	return TrusteeDigest(map[string]any{"tee-pubkey": teePubKey, "nonce": nonce, "additional-evidence": additionalEvidence})
}

// TrusteeDigest is SHA-384 of the JCS form of v, a tree of maps, strings
// and integers whose member names are ASCII (for those, Go's sorted map
// keys are JCS's UTF-16 order, and encoding/json without HTML escaping
// writes JCS's string and integer forms).
func TrusteeDigest(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("testev: canonical JSON: %w", err)
	}
	d := sha512.Sum384(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return d[:], nil
}
