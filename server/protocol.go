package server

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Protocol constants.
const (
	// ChallengeSize is the size of a challenge in bytes.
	ChallengeSize = 32
	// NonceSize is the size of the nonce derived by Nonce (SHA-384). It
	// fits the vTPM's qualifyingData limit, so the quote's extraData is the
	// nonce itself.
	NonceSize = sha512.Size384
	// Suite names the HPKE cipher suite (RFC 9180) that seals the secret:
	// KEM DHKEM(X25519, HKDF-SHA256) (0x0020), KDF HKDF-SHA256 (0x0001),
	// AEAD AES-256-GCM (0x0002), base mode.
	Suite = "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM"
	// InfoPrefix starts the HPKE info string; the nonce follows it, so a
	// ciphertext opens only in the exchange it was made for.
	InfoPrefix = "snp-vtpm secret v1"
)

// The endpoints, relative to the server's base URL.
const (
	PathChallenge = "/v1/challenge"
	PathAttest    = "/v1/attest"
	PathHealth    = "/healthz"
	PathReady     = "/readyz"
	PathMetrics   = "/metrics"
)

// Nonce returns the nonce an attester must quote (and, with a refreshed
// report, put first in the report's user data) for a challenge and the
// serialized HPKE public key that will receive the secret:
// SHA-384(challenge ‖ publicKey). Both sides compute it; binding the key
// into the quote stops a man in the middle from substituting its own key.
func Nonce(challenge, publicKey []byte) []byte {
	h := sha512.New384()
	h.Write(challenge)
	h.Write(publicKey)
	return h.Sum(nil)
}

// kem, kdf and aead are the components of Suite.
func kem() hpke.KEM   { return hpke.DHKEM(ecdh.X25519()) }
func kdf() hpke.KDF   { return hpke.HKDFSHA256() }
func aead() hpke.AEAD { return hpke.AES256GCM() }

// info returns the HPKE info string for nonce: InfoPrefix ‖ nonce.
func info(nonce []byte) []byte {
	return append([]byte(InfoPrefix), nonce...)
}

// GenerateKey returns a fresh ephemeral HPKE private key of Suite and the
// serialized public key to send in an attestation request.
func GenerateKey() (hpke.PrivateKey, []byte, error) {
	k, err := kem().GenerateKey()
	if err != nil {
		return nil, nil, fmt.Errorf("server: generating HPKE key: %w", err)
	}
	return k, k.PublicKey().Bytes(), nil
}

// OpenSecret decrypts a ciphertext (enc ‖ ct) of an attestation response
// with the private key whose public key was sent, for the exchange's nonce.
func OpenSecret(priv hpke.PrivateKey, nonce, ciphertext []byte) ([]byte, error) {
	pt, err := hpke.Open(priv, kdf(), aead(), info(nonce), ciphertext)
	if err != nil {
		return nil, fmt.Errorf("server: opening the sealed secret: %w", err)
	}
	return pt, nil
}

// ChallengeResponse is the answer to POST /v1/challenge.
type ChallengeResponse struct {
	// Challenge is the single-use challenge (ChallengeSize bytes).
	Challenge []byte `json:"challenge"`
	// Expires is when the challenge stops being accepted (RFC 3339).
	Expires string `json:"expires"`
	// Suite is the HPKE suite the attester's public key must use.
	Suite string `json:"suite"`
}

// AttestRequest is the body of POST /v1/attest.
type AttestRequest struct {
	// Challenge is a challenge from POST /v1/challenge.
	Challenge []byte `json:"challenge"`
	// Evidence is the evidence (v0, v1 or v2; see package evidence) over
	// Nonce(Challenge, PublicKey): a JSON object, or a base64 string of
	// the evidence document.
	Evidence json.RawMessage `json:"evidence"`
	// PublicKey is the attester's serialized ephemeral HPKE public key
	// (32 bytes for X25519).
	PublicKey []byte `json:"public_key"`
	// Resource names the secret asked for (a server with a secrets
	// directory); empty asks for the server's single secret.
	Resource string `json:"resource,omitempty"`
	// MAAToken is an AzureGuest token (compact JWS) of the Microsoft
	// Azure Attestation instance that the server's policy, or the
	// resource's, names in maa_paravisor_instance, for this evidence's
	// report: it vouches for a paravisor whose ID key (TDX: MRTD) the
	// server does not trust (see maa.Voucher). Empty sends none. The
	// server verifies it only when the evidence's paravisor is not
	// trusted and the policy names an instance, and otherwise ignores
	// it. When present it must be 1 to MaxMAATokenBytes bytes of three
	// non-empty base64url parts joined by dots (400 request otherwise).
	MAAToken string `json:"maa_token,omitempty"`
}

// MaxMAATokenBytes bounds AttestRequest.MAAToken: MAA's AzureGuest tokens
// are 5 to 7 KB (testdata/maa).
const MaxMAATokenBytes = 16 << 10

// errMAAToken is wrapped by every refusal of a request's maa_token.
var errMAAToken = errors.New("maa_token")

// checkMAAToken returns the request's token (nil: absent or null, so
// none) after checking its shape: a compact JWS of at most
// MaxMAATokenBytes bytes, three non-empty base64url parts joined by dots.
// The token's own checks (signature, claims) are maa.Verify's.
func checkMAAToken(tok *string) (string, error) {
	if tok == nil {
		return "", nil
	}
	t := *tok
	switch {
	case t == "":
		return "", fmt.Errorf("%w: empty (leave it out, or null, to send none)", errMAAToken)
	case len(t) > MaxMAATokenBytes:
		return "", fmt.Errorf("%w: %d bytes, more than %d", errMAAToken, len(t), MaxMAATokenBytes)
	case strings.Count(t, ".") != 2 || t[0] == '.' || t[len(t)-1] == '.' || strings.Contains(t, ".."):
		return "", fmt.Errorf("%w: not a compact JWS (three non-empty parts joined by dots)", errMAAToken)
	}
	for i := range len(t) {
		if c := t[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", fmt.Errorf("%w: byte %d is not base64url or '.'", errMAAToken, i)
		}
	}
	return t, nil
}

// AttestResponse is the answer to an accepted POST /v1/attest.
type AttestResponse struct {
	// Ciphertext is the secret sealed with Suite to the request's public
	// key: the encapsulated key followed by the AEAD ciphertext.
	Ciphertext []byte `json:"ciphertext"`
	// Suite is the HPKE suite used.
	Suite string `json:"suite"`
	// Claims summarises what the verifier established.
	Claims Claims `json:"claims"`
	// Token is the signed attestation result (package result), when the
	// server has a signing key.
	Token string `json:"token,omitempty"`
}

// Claims summarise verified evidence.
type Claims struct {
	// Platform is "sev-snp" or "tdx" (verify.PlatformTDX).
	Platform string `json:"platform,omitempty"`
	// TCBStatus is Intel's TCB status of a TDX platform ("not-evaluated"
	// without collateral); empty on SEV-SNP.
	TCBStatus string `json:"tcb_status,omitempty"`
	// Product is the AMD product line ("Milan", "Genoa", "Turin"); empty
	// (the member left out) for TDX, as are ChipID and IDKeyDigest: a TD
	// has no AMD product, CHIP_ID or ID block. An SEV-SNP answer always
	// has the three.
	Product string `json:"product,omitempty"`
	// ChipID is the SNP report's CHIP_ID.
	ChipID verify.HexBytes `json:"chip_id,omitempty"`
	// ReportedTCB is the TCB the SNP report and the VCEK are bound to; nil
	// (the member left out) for TDX, which has no AMD TCB: zeros there
	// would claim a TCB of 0.0.0.0.
	ReportedTCB *snp.TCBParts `json:"reported_tcb,omitempty"`
	// Measurement is the launch measurement (TDX: the MRTD).
	Measurement verify.HexBytes `json:"measurement"`
	// IDKeyDigest is the report's ID_KEY_DIGEST: the key that signed the
	// paravisor's ID block.
	IDKeyDigest verify.HexBytes `json:"id_key_digest,omitempty"`
	// Paravisor names the trusted paravisor that vouched for the
	// attestation key ("azure-hcl", "emulated-hcl", "policy"; see
	// verify.Claims.Paravisor).
	Paravisor string `json:"paravisor"`
	// ParavisorVoucher is the MAA instance whose token (the request's
	// maa_token) vouched for a paravisor the server does not trust
	// (Paravisor is then "maa-vouched"); empty otherwise.
	ParavisorVoucher string `json:"paravisor_voucher,omitempty"`
	// VMUniqueID is the Azure VM id from the runtime data.
	VMUniqueID string `json:"vm_unique_id,omitempty"`
	// EvidenceVersion is the evidence format version (2: fresh report).
	EvidenceVersion int `json:"evidence_version"`
	// FreshReport is true when the report was refreshed with the nonce
	// and the verifier checked it.
	FreshReport bool `json:"fresh_report"`
	// Emulated is true when the evidence came from the emulated CVM (the
	// server trusted its fake AMD chain): it proves nothing about hardware.
	Emulated bool `json:"emulated"`
	// EventLog summarises the replay of the evidence's boot event log
	// (nil: the evidence carried none).
	EventLog *EventLogSummary `json:"event_log,omitempty"`
}

// EventLogSummary is the replay of a boot event log against the quoted
// PCRs (verify.EventLogClaims, without the Secure Boot databases).
type EventLogSummary struct {
	// Replayed and Mismatch list the PCRs by verdict, ascending.
	Replayed []int `json:"replayed"`
	Mismatch []int `json:"mismatch,omitempty"`
	// SecureBoot and KernelCmdline come from replayed PCRs only.
	SecureBoot    *bool   `json:"secure_boot,omitempty"`
	KernelCmdline *string `json:"kernel_cmdline,omitempty"`
	// Error says why the log could not be replayed.
	Error string `json:"error,omitempty"`
}

// summarizeEventLog summarises el (nil for nil).
func summarizeEventLog(el *verify.EventLogClaims) *EventLogSummary {
	if el == nil {
		return nil
	}
	s := &EventLogSummary{Replayed: []int{}, SecureBoot: el.State.SecureBoot, KernelCmdline: el.State.KernelCmdline, Error: el.Error}
	for _, i := range slices.Sorted(maps.Keys(el.PCRs)) {
		switch el.PCRs[i] {
		case eventlog.Replayed:
			s.Replayed = append(s.Replayed, i)
		case eventlog.Mismatch:
			s.Mismatch = append(s.Mismatch, i)
		}
	}
	return s
}

func summarize(c *verify.Claims) Claims {
	s := Claims{
		Measurement:      c.LaunchMeasurement(),
		Paravisor:        c.Paravisor,
		ParavisorVoucher: c.ParavisorVoucher,
		EvidenceVersion:  c.EvidenceVersion,
		FreshReport:      c.FreshReport,
		Emulated:         c.Emulated,
		EventLog:         summarizeEventLog(c.EventLog),
	}
	if c.VMConfig != nil {
		s.VMUniqueID = c.VMConfig.VMUniqueID
	}
	s.Platform = string(c.Platform)
	if c.Platform != verify.PlatformTDX {
		tcb := c.ReportedTCB
		s.Product, s.ChipID, s.IDKeyDigest, s.ReportedTCB = c.Product, c.ChipID, c.IDKeyDigest, &tcb
	}
	if c.TDX != nil {
		s.TCBStatus = c.TDX.TCBStatus
	}
	return s
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	// Error says what went wrong.
	Error string `json:"error"`
	// Check names the failed verification check (see verify.Check), or
	// "challenge" for an unknown, used or expired challenge, "request" for
	// a malformed request, "resource" for an unknown resource,
	// "body-too-large" for a body over Config.MaxBodyBytes.
	Check string `json:"check,omitempty"`
}

// Check values of ErrorResponse that are not verification checks.
const (
	CheckChallenge = "challenge"
	CheckRequest   = "request"
)

// maxSizeHint bounds the buffer readAttestRequest sizes from a declared
// body length.
const maxSizeHint = 64 << 10

// readAttestRequest reads an attestation request body of at most maxBytes bytes
// with the strict JSON decoder: unknown members, duplicate members at any
// depth (the evidence object included), names that differ in letter case,
// invalid UTF-8 and data after the object are errors (*strictjson.Error).
// A body larger than maxBytes gives the reader's error. sizeHint (the declared
// Content-Length, or ≤ 0) sizes the buffer up to maxSizeHint bytes, so that
// a typical body is read without regrowing it; it is not trusted otherwise.
//
// A request is read in one pass by scanAttestRequest; only one it leaves
// alone (an error, or a rare shape such as escaped member names) goes
// through strictjson.Unmarshal, which accepts it or names the problem.
func readAttestRequest(body io.Reader, maxBytes, sizeHint int64) (*AttestRequest, error) {
	return readAttestRequestInto(new([]byte), body, maxBytes, sizeHint)
}

// readAttestRequestInto is readAttestRequest reading the body into *buf
// (grown when too small, and then replaced by the grown buffer). The
// request's Evidence is a slice of *buf: the buffer must not be used again
// while the request is.
func readAttestRequestInto(buf *[]byte, body io.Reader, maxBytes, sizeHint int64) (*AttestRequest, error) {
	if want := int(min(max(sizeHint, 0), maxSizeHint)) + bytes.MinRead; cap(*buf) < want {
		*buf = make([]byte, 0, want)
	}
	b := bytes.NewBuffer((*buf)[:0])
	_, err := b.ReadFrom(body)
	*buf = b.Bytes()[:0]
	if err != nil {
		return nil, err
	}
	return decodeAttestRequest(b.Bytes(), maxBytes)
}

// maxPooledBody is the largest body buffer a Server keeps for the next
// request: one sized for a typical body (maxSizeHint), not one grown by a
// rare large one.
const maxPooledBody = maxSizeHint + bytes.MinRead

// getBody returns a request body buffer of s's pool (or a new, empty one).
func (s *Server) getBody() *[]byte {
	if b, ok := s.bodies.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// putBody returns a body buffer to s's pool once its request is done with:
// nothing may keep a slice of it (the decoded evidence never aliases it,
// errors and log lines copy what they quote; TestBodyBufferNotRetained
// holds the server to that). A buffer grown past maxPooledBody is dropped.
func (s *Server) putBody(b *[]byte) {
	if cap(*b) > maxPooledBody {
		return
	}
	if s.bodyHook != nil {
		s.bodyHook((*b)[:cap(*b)])
	}
	s.bodies.Put(b)
}

// decodeAttestRequest decodes a whole request body, as readAttestRequest
// describes. The request's Evidence is a slice of data.
func decodeAttestRequest(data []byte, maxBytes int64) (*AttestRequest, error) {
	o := strictjson.Options{MaxBytes: int(min(maxBytes, math.MaxInt32)), RejectUnknown: true}
	req, tok, ok := scanAttestRequest(data, o)
	if !ok {
		var wire attestRequestWire
		if err := strictjson.Unmarshal(data, &wire, o); err != nil {
			return nil, err
		}
		req = &AttestRequest{Challenge: wire.Challenge, Evidence: json.RawMessage(wire.Evidence),
			PublicKey: wire.PublicKey, Resource: wire.Resource}
		tok = wire.MAAToken
	}
	var err error
	if req.MAAToken, err = checkMAAToken(tok); err != nil {
		return nil, err
	}
	return req, nil
}

// scanAttestRequest reads a request in one pass (strictjson.Scanner): what
// it accepts, strictjson.Unmarshal into attestRequestWire accepts too and
// decodes to the same request (FuzzReadAttestRequest). It gives up on
// anything else: an unknown member, an escape in a base64, resource or
// maa_token string, a value of the wrong kind, bad base64, any JSON
// error. The maa_token member comes back as it was read (nil: absent or
// null), for checkMAAToken.
func scanAttestRequest(data []byte, o strictjson.Options) (req *AttestRequest, maaToken *string, ok bool) {
	s := strictjson.NewScanner(data, o)
	req = new(AttestRequest)
	s.Object(1, func(name []byte) {
		switch string(name) {
		case "challenge":
			req.Challenge = scanBase64(&s)
		case "evidence":
			req.Evidence = s.Skip(2)
		case "public_key":
			req.PublicKey = scanBase64(&s)
		case "resource":
			req.Resource = scanString(&s)
		case "maa_token":
			maaToken = nil
			if !s.Null() {
				t := scanString(&s)
				maaToken = &t
			}
		default:
			s.Fail()
		}
	})
	if !s.End() {
		return nil, nil, false
	}
	return req, maaToken, true
}

// scanBase64 reads a []byte member as the strict decoder does: null is
// nil, a string is standard padded base64 in its canonical form (RFC 4648
// 3.2, 3.3, 3.5: no line breaks, no non-zero bits after the last byte)
// and empty decodes to an empty, non-nil slice. It gives up on an
// escaped string (which the decoder would unescape first).
func scanBase64(s *strictjson.Scanner) []byte {
	if s.Null() {
		return nil
	}
	text, escaped := s.String()
	if escaped || !s.OK() {
		s.Fail()
		return nil
	}
	b, err := base64.StdEncoding.Strict().AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(text))), text)
	if err != nil || len(text) != base64.StdEncoding.EncodedLen(len(b)) {
		s.Fail()
		return nil
	}
	return b
}

// scanString reads a string member as the strict decoder does (null is
// ""), giving up on an escaped one.
func scanString(s *strictjson.Scanner) string {
	if s.Null() {
		return ""
	}
	text, escaped := s.String()
	if escaped {
		s.Fail()
	}
	return string(text)
}

// attestRequestWire is AttestRequest as readAttestRequest decodes it: the
// same members, with the evidence kept where it lies in the body instead of
// copied (json.RawMessage copies it).
type attestRequestWire struct {
	Challenge []byte   `json:"challenge"`
	Evidence  rawValue `json:"evidence"`
	PublicKey []byte   `json:"public_key"`
	Resource  string   `json:"resource,omitempty"`
	MAAToken  *string  `json:"maa_token"` // nil: absent or null
}

// rawValue is a JSON value as the decoder read it (checked like every
// other value: duplicate names, UTF-8, depth), a slice of the decoded
// input; the input must outlive it and not change.
type rawValue []byte

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (v *rawValue) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*v = rawValue(val)
	return nil
}

// evidenceBytes returns the evidence document of a request: the raw JSON
// object, or the decoded base64 string.
func evidenceBytes(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, errors.New("evidence is missing")
	case raw[0] == '{':
		return raw, nil
	case raw[0] == '"':
		var s string
		if err := strictjson.Unmarshal(raw, &s, strictjson.Options{MaxBytes: len(raw)}); err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		b, err := decodeBase64(s)
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		return b, nil
	}
	return nil, errors.New("evidence must be a JSON object or a base64 string")
}

// decodeBase64 accepts standard or URL base64, padded or not, in its one
// canonical form: no line breaks (which Go's decoder skips, even in Strict
// mode, where JSON writes them as "\n") and no non-zero bits after the
// last byte. Errors wrap format.ErrBadEncoding.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return format.Base64(enc, s)
}
