package maa

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// Bounds of a token. Real AzureGuest tokens are 3-7 KB.
const (
	// MaxTokenBytes bounds the compact token.
	MaxTokenBytes = 256 << 10
	// maxHeaderBytes bounds the decoded header.
	maxHeaderBytes = 4 << 10
	// maxDepth bounds the nesting of header and payload JSON (the deepest
	// real claim, a runtime key's key_ops, nests 5 deep).
	maxDepth = 16
)

// AlgRS256 is the only algorithm accepted.
const AlgRS256 = "RS256"

// Header is a token's JOSE header. JKU is read only to be reported
// (package result refuses a token naming one); x5u, x5c and jwk are not
// read at all: the key is never taken from the token.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ,omitempty"`
	JKU string `json:"jku,omitempty"`
	// Crit is the raw crit member, nil when the header has none; any
	// value, null and [] included, is rejected.
	Crit jsontext.Value `json:"crit,omitempty"`
}

// Token is a parsed compact JWS whose signature is not yet verified.
type Token struct {
	// Header is the decoded JOSE header.
	Header Header
	// SigningInput is "BASE64URL(header).BASE64URL(payload)", the bytes
	// the signature covers.
	SigningInput []byte
	// Payload is the decoded payload; untrusted until the signature is
	// verified.
	Payload []byte
	// Signature is the decoded signature.
	Signature []byte
}

// asciiSpace is the white space Parse ignores around a token.
const asciiSpace = " \t\n\v\f\r"

// b64 is base64url without padding, rejecting non-canonical final bits.
var b64 = base64.RawURLEncoding.Strict()

// Parse reads a token in compact JWS form: three base64url parts separated
// by dots; surrounding ASCII white space (a file's final newline) is
// ignored. The JSON serialization, padding and other algorithms' shapes
// are rejected (CheckFormat); the header is strict JSON. The payload is
// only decoded: parse it with ParseClaims after the signature is verified.
func Parse(token []byte) (*Token, error) {
	// ASCII only: bytes.TrimSpace would also drop U+0085, U+00A0 and
	// the like, a second encoding of the same token.
	token = bytes.Trim(token, asciiSpace)
	if len(token) > MaxTokenBytes {
		return nil, failf(CheckFormat, "the token is %d bytes, more than %d", len(token), MaxTokenBytes)
	}
	if len(token) == 0 {
		return nil, failf(CheckFormat, "empty token")
	}
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 {
		return nil, failf(CheckFormat, "a compact JWS has 3 dot-separated parts, this token has %d (JSON serialization and JWE are not accepted)", len(parts))
	}
	var t Token
	hdr, err := decodePart("header", parts[0], maxHeaderBytes)
	if err != nil {
		return nil, err
	}
	if err := strictjson.Unmarshal(hdr, &t.Header, strictjson.Options{MaxBytes: maxHeaderBytes, MaxDepth: 4}); err != nil {
		return nil, &Error{Check: CheckFormat, Err: fmt.Errorf("header: %w", err)}
	}
	if t.Header.Crit != nil {
		// A crit member of any value (null and [] too, which RFC 7515
		// forbids) is refused: no extension is implemented here.
		return nil, failf(CheckFormat, "header: crit (%s) names extensions this verifier does not implement", format.Truncate(string(t.Header.Crit), 32))
	}
	if t.Header.Typ != "" && t.Header.Typ != "JWT" {
		return nil, failf(CheckFormat, "header: typ %q, want JWT", format.Truncate(t.Header.Typ, 32))
	}
	if t.Payload, err = decodePart("payload", parts[1], MaxTokenBytes); err != nil {
		return nil, err
	}
	if t.Signature, err = decodePart("signature", parts[2], 1024); err != nil {
		return nil, err
	}
	t.SigningInput = token[:len(parts[0])+1+len(parts[1])]
	return &t, nil
}

// decodePart decodes one base64url part of at most limit decoded bytes.
// Line breaks are refused: Go's decoder skips CR and LF even in Strict
// mode, so a signature with one inside would verify under a second
// encoding of the same token.
func decodePart(name string, p []byte, limit int) ([]byte, error) {
	if b64.DecodedLen(len(p)) > limit {
		return nil, failf(CheckFormat, "%s: %d base64 characters, more than the %d bytes allowed", name, len(p), limit)
	}
	if err := format.NoLineBreak(p); err != nil {
		return nil, failf(CheckFormat, "%s: not unpadded base64url: %v", name, err)
	}
	out := make([]byte, b64.DecodedLen(len(p)))
	n, err := b64.Decode(out, p)
	if err != nil {
		return nil, failf(CheckFormat, "%s: not unpadded base64url: %v", name, err)
	}
	return out[:n], nil
}
