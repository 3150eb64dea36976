package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Kinds of input file, for the hint printed when a file is given to a
// command (or flag) that does not read its kind.
const (
	kindEvidence    = "evidence"
	kindHCL         = "hcl"
	kindTDQuote     = "td-quote"
	kindPolicy      = "policy"
	kindJWKS        = "jwks"
	kindMAAJWKS     = "maa-jwks"
	kindMAAToken    = "maa-token"
	kindResultToken = "result-token"
	kindJWT         = "jwt"
	kindCertificate = "certificate"
	// kindEventLog is what eventlog reads; inputKind never returns it (a
	// binary log has no mark of its own).
	kindEventLog = "event-log"
)

// inputKind guesses what data is from its first bytes: a JSON document
// (evidence, a policy or a JWKS), an HCL report ("HCLA"), a TD quote (DCAP
// version 4 or 5, TEE type TDX), a JWT (an MAA token, a signed result of
// serve or another) or a PEM certificate; "" when it is none of them.
func inputKind(data []byte) string {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		return jsonDocKind(trimmed)
	case bytes.HasPrefix(data, []byte("HCLA")):
		return kindHCL
	case len(data) >= 8 && (binary.LittleEndian.Uint16(data) == 4 || binary.LittleEndian.Uint16(data) == 5) &&
		binary.LittleEndian.Uint32(data[4:]) == 0x81:
		return kindTDQuote
	case bytes.Contains(data[:min(len(data), 512)], []byte("-----BEGIN CERTIFICATE-----")):
		return kindCertificate
	}
	return jwtKind(trimmed)
}

// jsonDocKind tells the JSON documents apart: evidence names its version or
// quote, a JWKS its keys (an MAA instance's has RSA keys, serve's EC ones),
// a policy is one that verify.ParsePolicy accepts.
// A document that does not parse is taken for (broken) evidence, as
// before these kinds were told apart; other JSON is "".
func jsonDocKind(doc []byte) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(doc, &members) != nil {
		return kindEvidence
	}
	for _, name := range []string{"version", "tpm_quote", "quote"} {
		if _, ok := members[name]; ok {
			return kindEvidence
		}
	}
	if keys, ok := members["keys"]; ok {
		return jwksKind(keys)
	}
	if len(members) > 0 {
		if _, err := verify.ParsePolicy(doc); err == nil {
			return kindPolicy
		}
	}
	return ""
}

// jwksKind tells an MAA instance's JWKS (a key of kty RSA: MAA signs with
// RS256) from another (serve's result keys are EC P-256).
func jwksKind(keys json.RawMessage) string {
	var ks []struct {
		Kty string `json:"kty"`
	}
	_ = json.Unmarshal(keys, &ks)
	for _, k := range ks {
		if k.Kty == "RSA" {
			return kindMAAJWKS
		}
	}
	return kindJWKS
}

// jwtKind tells a compact JWS (three base64url parts, a JSON header) by
// its alg: RS256 is MAA's, ES256 serve's signed results; "" for anything
// else.
func jwtKind(text []byte) string {
	text = bytes.TrimRight(text, " \t\r\n")
	parts := bytes.Split(text, []byte("."))
	if len(parts) != 3 || !bytes.HasPrefix(text, []byte("eyJ")) {
		return ""
	}
	header, err := base64.RawURLEncoding.DecodeString(string(parts[0]))
	var h struct {
		Alg string `json:"alg"`
	}
	if err != nil || json.Unmarshal(header, &h) != nil {
		return ""
	}
	switch h.Alg {
	case "RS256":
		return kindMAAToken
	case "ES256":
		return kindResultToken
	}
	return kindJWT
}

// warnOtherKind warns, when data is of a kind that another command (or
// flag) than the one that rejected it (which reads kind self) reads, which
// command or flag that is.
func (g *globals) warnOtherKind(data []byte, self, file string) {
	kind := inputKind(data)
	if kind == "" && file != "-" {
		if what, decode := encodedBinary(data); what != "" {
			g.log.Warn(file + " is " + what + ": give the bytes it encodes (" + decode + " " + file + " > FILE.bin)")
			return
		}
	}
	if kind == "" || kind == self || file == "-" {
		return
	}
	var next string
	switch kind {
	case kindEvidence:
		next = `an evidence document (JSON): verify it with "snp-vtpm verify --nonce ... ` + file + `"`
	case kindHCL:
		next = `an HCL report: validate it with "snp-vtpm report -f ` + file + `"`
	case kindTDQuote:
		next = `a TD quote: validate it with "snp-vtpm report --td-quote ` + file + `"`
	case kindPolicy:
		next = `a policy: give it as --policy ` + file + ` (e.g. "snp-vtpm verify --policy ` + file + ` --nonce ... EVIDENCE_FILE")`
	case kindJWKS:
		next = `a JWKS (token signing keys, none RSA, as "snp-vtpm serve" publishes for its results): give it as "snp-vtpm result verify --jwks ` + file + `"`
	case kindMAAJWKS:
		next = `an MAA instance's JWKS (RSA token signing keys): give it as "snp-vtpm maa verify --jwks ` + file + `", or as --maa-jwks ` + file + ` of verify, attest or serve`
	case kindMAAToken:
		next = `an MAA token (an RS256 JWT): verify it with "snp-vtpm maa verify ... ` + file + `"`
	case kindResultToken:
		next = `a signed attestation result of "snp-vtpm serve" (an ES256 JWT): verify it with "snp-vtpm result verify --jwks ... ` + file + `"`
	case kindJWT:
		next = `a JWT: "snp-vtpm maa verify" checks MAA tokens, "snp-vtpm result verify" the results of "snp-vtpm serve"`
	case kindCertificate:
		next = `a PEM certificate: give a VCEK as "snp-vtpm report -f REPORT --vcek ` + file + `", an ASK and its ARK as --roots ` + file
	}
	g.log.Warn(file + " looks like " + next)
}

// encodedBinary tells a file that is the hex or base64 text of an SNP
// report, an HCL report or a TD quote (reports and quotes are often
// published or logged as text): what it is ("the base64 text of a TD
// quote") and the command that decodes it; "" when it is none of them.
// Binary input is never taken for text: a report or quote has bytes
// outside both alphabets.
func encodedBinary(data []byte) (what, decode string) {
	text := bytes.Join(bytes.Fields(data), nil)
	if len(text) == 0 || len(text) > 4*maxEncodedInput {
		return "", ""
	}
	var raw []byte
	if b, err := hex.DecodeString(string(text)); err == nil {
		raw, what, decode = b, "the hex text", "xxd -r -p"
	} else if b, err := base64.StdEncoding.DecodeString(string(text)); err == nil {
		raw, what, decode = b, "the base64 text", "base64 -d"
	} else if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(string(text), "=")); err == nil {
		raw, what, decode = b, "the base64url text", "basenc --base64url -d"
	} else {
		return "", ""
	}
	switch k := inputKind(raw); {
	case k == kindHCL:
		return what + " of an HCL report", decode
	case k == kindTDQuote:
		return what + " of a TD quote", decode
	case len(raw) == snp.ReportSize && knownReportVersion(raw):
		return what + " of an SNP report", decode
	}
	return "", ""
}

// knownReportVersion reports whether the SNP report raw (snp.ReportSize
// bytes) names a version AMD's ABI defines (snp.ReportVersionLayout).
func knownReportVersion(raw []byte) bool {
	_, ok := snp.ReportVersionLayout(binary.LittleEndian.Uint32(raw[snp.OffsetVersion:]))
	return ok
}

// maxEncodedInput bounds the decoded size encodedBinary looks at: more
// than any HCL report (an NV index) or TD quote.
const maxEncodedInput = 64 << 10
