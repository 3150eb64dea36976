package maa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// The AzureGuest protocol: a guest POSTs {"AttestationInfo": B} to
// AttestURL(instance), where B is the unpadded base64url of the
// AttestationInfo JSON; MAA answers {"token": T}, where T is the unpadded
// base64url of the EncryptedToken JSON. Byte members of both documents are
// standard base64 (with padding), except the SNP report inside the proof
// (unpadded base64url).
const (
	// APIVersion is the api-version of the AzureGuest endpoint.
	APIVersion = "2020-10-01"
	// ProtocolVersion is the AttestationProtocolVersion this client sends.
	ProtocolVersion = "2.0"
	// IsolationSEVSNP is IsolationInfo.Type of an SEV-SNP CVM.
	IsolationSEVSNP = "SevSnp"
	// IsolationTDX is IsolationInfo.Type of an Intel TDX CVM; its Proof is
	// the raw TD quote Azure IMDS returned for the HCL report's TDREPORT
	// (Azure/cvm-attestation-tools, src/isolation.py TdxEvidence and
	// src/attestation_client.py: "Type": "Tdx", Proof and RunTimeData
	// standard base64).
	IsolationTDX = "Tdx"
	// TransportKeyAAD is the AES-GCM additional data of the encrypted token.
	TransportKeyAAD = "Transport Key"
	// MaxRequestBytes bounds a request body (a TCG log is tens of KB).
	MaxRequestBytes = 4 << 20
	// MaxResponseBytes bounds a response body.
	MaxResponseBytes = 1 << 20
	// MaxTPMBlob bounds each TPM structure of TPMInfo and the AK certificate.
	MaxTPMBlob = 8 << 10
	// innerKeyBytes is the AES-256 key the token is sealed with.
	innerKeyBytes = 32
)

// AttestURL returns the AzureGuest attestation URL of an instance.
func AttestURL(instance string) string {
	return strings.TrimRight(instance, "/") + "/attest/AzureGuest?api-version=" + APIVersion
}

// AttestationInfo is the document a guest sends to MAA.
type AttestationInfo struct {
	AttestationProtocolVersion string `json:"AttestationProtocolVersion"`
	// ClientPayload is echoed in the token's x-ms-runtime.client-payload;
	// "nonce" holds NonceClaim(nonce).
	ClientPayload map[string]string `json:"ClientPayload"`
	IsolationInfo IsolationInfo     `json:"IsolationInfo"`
	// OSBuild, OSDistro and OSType are strings sent as base64 bytes.
	OSBuild        []byte `json:"OSBuild"`
	OSDistro       []byte `json:"OSDistro"`
	OSType         []byte `json:"OSType"`
	OSVersionMajor int    `json:"OSVersionMajor"`
	OSVersionMinor int    `json:"OSVersionMinor"`
	// TcgLogs is the TCG boot event log.
	TcgLogs []byte  `json:"TcgLogs"`
	TpmInfo TPMInfo `json:"TpmInfo"`
}

// IsolationInfo is the hardware evidence.
type IsolationInfo struct {
	Evidence IsolationEvidence `json:"Evidence"`
	// Type is IsolationSEVSNP or IsolationTDX.
	Type string `json:"Type"`
}

// IsolationEvidence carries the hardware proof and the HCL runtime data
// whose SHA-256 the report's REPORT_DATA starts with.
type IsolationEvidence struct {
	// Proof is the JSON of SNPProof (sent as base64 bytes) on SEV-SNP, the
	// TD quote on TDX.
	Proof       []byte `json:"Proof"`
	RunTimeData []byte `json:"RunTimeData"`
}

// SNPProof is the decoded Proof: the SNP report and the PEM VCEK chain
// (VCEK, ASK, ARK), as Azure IMDS's THIM endpoint returns them.
type SNPProof struct {
	// SnpReport is the 1184-byte report, unpadded base64url.
	SnpReport     string `json:"SnpReport"`
	VcekCertChain []byte `json:"VcekCertChain"`
}

// TPMInfo is the vTPM's part: the AK, a quote of PCRs 0-7 and the
// ephemeral key the token is encrypted to, certified by the AK.
type TPMInfo struct {
	// AikCert is the AK certificate (DER, NV 0x01C101D0); may be empty.
	AikCert []byte `json:"AikCert"`
	// AikPub is the AK's TPM2B_PUBLIC.
	AikPub []byte `json:"AikPub"`
	// EncKeyCertifyInfo is the TPMS_ATTEST of TPM2_Certify of the
	// ephemeral key by the AK; EncKeyCertifyInfoSignature its raw RSASSA
	// signature.
	EncKeyCertifyInfo          []byte `json:"EncKeyCertifyInfo"`
	EncKeyCertifyInfoSignature []byte `json:"EncKeyCertifyInfoSignature"`
	// EncKeyPub is the ephemeral key's TPM2B_PUBLIC.
	EncKeyPub []byte `json:"EncKeyPub"`
	// PCRs are the SHA-256 values of the quoted PCRs.
	PCRs []PCR `json:"PCRs"`
	// PcrQuote is the quote's TPMS_ATTEST; PcrSignature its raw RSASSA
	// signature; PcrSet the quoted PCR indices.
	PcrQuote     []byte `json:"PcrQuote"`
	PcrSet       []int  `json:"PcrSet"`
	PcrSignature []byte `json:"PcrSignature"`
}

// PCR is one quoted PCR value.
type PCR struct {
	Digest []byte `json:"Digest"`
	Index  int    `json:"Index"`
}

// EncryptedToken is MAA's answer: the JWT sealed with AES-256-GCM (AAD
// TransportKeyAAD) under an inner key that is RSA-encrypted (RSAES
// PKCS #1 v1.5) to the guest's ephemeral TPM key.
type EncryptedToken struct {
	// Jwt is the GCM ciphertext without its tag.
	Jwt               []byte `json:"Jwt"`
	EncryptedInnerKey []byte `json:"EncryptedInnerKey"`
	EncryptionParams  struct {
		Iv []byte `json:"Iv"`
	} `json:"EncryptionParams"`
	// AuthenticationData is the GCM tag.
	AuthenticationData []byte `json:"AuthenticationData"`
}

// envelope is the outer JSON of a request or response.
type requestEnvelope struct {
	AttestationInfo string `json:"AttestationInfo"`
}

type responseEnvelope struct {
	Token string `json:"token"`
}

func protoErr(doc, field string, kind error, detail string, args ...any) error {
	return &format.Error{Format: doc, Field: field, Err: fmt.Errorf("%w: "+detail, append([]any{kind}, args...)...)}
}

// wrap marshals v and returns the JSON of the envelope that env makes of
// its unpadded base64url.
func wrap(v any, env func(inner string) any) ([]byte, error) {
	inner, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env(b64.EncodeToString(inner)))
}

// unwrap parses the envelope body of doc into env with opts, decodes its
// base64url member (member, read into *field) and parses that into out.
func unwrap(body []byte, doc, member string, env any, field *string, opts strictjson.Options, out any) error {
	if err := strictjson.Unmarshal(body, env, opts); err != nil {
		return &format.Error{Format: doc, Field: "envelope", Err: err}
	}
	inner, err := format.Base64(b64, *field)
	if err != nil {
		return protoErr(doc, member, format.ErrBadEncoding, "not unpadded base64url")
	}
	if err := strictjson.Unmarshal(inner, out, opts); err != nil {
		return &format.Error{Format: doc, Field: member, Err: err}
	}
	return nil
}

// Request returns the request body for a.
func (a *AttestationInfo) Request() ([]byte, error) {
	return wrap(a, func(inner string) any { return requestEnvelope{AttestationInfo: inner} })
}

// ParseRequest parses a request body strictly (bounded, unknown members,
// duplicates and bad base64 rejected) and checks the sizes of what it
// carries. It does not verify anything.
func ParseRequest(body []byte) (*AttestationInfo, error) {
	const doc = "maa-request"
	var env requestEnvelope
	opts := strictjson.Options{MaxBytes: MaxRequestBytes, MaxDepth: 6, RejectUnknown: true}
	var a AttestationInfo
	if err := unwrap(body, doc, "AttestationInfo", &env, &env.AttestationInfo, opts, &a); err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return &a, nil
}

// check bounds the members of a parsed document.
func (a *AttestationInfo) check() error {
	const doc = "maa-request"
	t := &a.TpmInfo
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"AikCert", t.AikCert}, {"AikPub", t.AikPub}, {"EncKeyCertifyInfo", t.EncKeyCertifyInfo},
		{"EncKeyCertifyInfoSignature", t.EncKeyCertifyInfoSignature}, {"EncKeyPub", t.EncKeyPub},
		{"PcrQuote", t.PcrQuote}, {"PcrSignature", t.PcrSignature},
	} {
		if len(f.b) > MaxTPMBlob {
			return protoErr(doc, "TpmInfo."+f.name, format.ErrTooLarge, "%d bytes, at most %d", len(f.b), MaxTPMBlob)
		}
	}
	if len(t.PCRs) > 24 || len(t.PcrSet) > 24 {
		return protoErr(doc, "TpmInfo.PCRs", format.ErrTooLarge, "%d PCR values, %d indices: at most 24", len(t.PCRs), len(t.PcrSet))
	}
	for i, p := range t.PCRs {
		if p.Index < 0 || p.Index > 23 || len(p.Digest) > 64 {
			return protoErr(doc, fmt.Sprintf("TpmInfo.PCRs[%d]", i), format.ErrUnexpectedValue, "index %d, %d-byte digest", p.Index, len(p.Digest))
		}
	}
	if len(a.ClientPayload) > 16 {
		return protoErr(doc, "ClientPayload", format.ErrTooLarge, "%d members, at most 16", len(a.ClientPayload))
	}
	return nil
}

// NewSNPProof returns the Proof member for an SNP report and its PEM VCEK
// chain.
func NewSNPProof(report, vcekChainPEM []byte) ([]byte, error) {
	return json.Marshal(SNPProof{SnpReport: b64.EncodeToString(report), VcekCertChain: vcekChainPEM})
}

// SNPProof decodes the Proof member: the SNP report and the PEM chain.
func (a *AttestationInfo) SNPProof() (report, vcekChainPEM []byte, err error) {
	const doc = "maa-request"
	var p SNPProof
	if err := strictjson.Unmarshal(a.IsolationInfo.Evidence.Proof, &p, strictjson.Options{MaxBytes: 64 << 10, MaxDepth: 2, RejectUnknown: true}); err != nil {
		return nil, nil, &format.Error{Format: doc, Field: "IsolationInfo.Evidence.Proof", Err: err}
	}
	if report, err = format.Base64(b64, p.SnpReport); err != nil {
		return nil, nil, protoErr(doc, "Proof.SnpReport", format.ErrBadEncoding, "not unpadded base64url")
	}
	return report, p.VcekCertChain, nil
}

// SealToken encrypts jwt for the holder of the private part of to, as MAA
// does: a fresh AES-256 key and 12-byte IV, AES-GCM with TransportKeyAAD,
// the key RSA-encrypted with PKCS #1 v1.5. rnd nil means crypto/rand.
func SealToken(jwt []byte, to *rsa.PublicKey, rnd io.Reader) (*EncryptedToken, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, innerKeyBytes)
	var et EncryptedToken
	et.EncryptionParams.Iv = make([]byte, 12)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rnd, et.EncryptionParams.Iv); err != nil {
		return nil, err
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	sealed := aead.Seal(nil, et.EncryptionParams.Iv, jwt, []byte(TransportKeyAAD))
	n := len(sealed) - aead.Overhead()
	et.Jwt, et.AuthenticationData = sealed[:n], sealed[n:]
	// MAA encrypts the inner key with RSAES-PKCS1-v1_5 (TPM_ALG_RSAES);
	// the decryption happens in the TPM, never here.
	//lint:ignore SA1019 the wire format of the AzureGuest protocol
	if et.EncryptedInnerKey, err = rsa.EncryptPKCS1v15(rnd, to, key); err != nil {
		return nil, err
	}
	return &et, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ErrTokenDecryption says that the encrypted token did not open with the
// inner key (a wrong key, or a tampered ciphertext, IV or tag).
var ErrTokenDecryption = errors.New("the encrypted token does not open with the inner key")

// Open decrypts the JWT with the inner key (as TPM2_RSA_Decrypt returned
// it from EncryptedInnerKey).
func (e *EncryptedToken) Open(innerKey []byte) ([]byte, error) {
	switch len(innerKey) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("%w: a %d-byte inner key is not an AES key", ErrTokenDecryption, len(innerKey))
	}
	aead, err := gcm(innerKey)
	if err != nil {
		return nil, err
	}
	if len(e.EncryptionParams.Iv) != aead.NonceSize() || len(e.AuthenticationData) != aead.Overhead() {
		return nil, fmt.Errorf("%w: IV of %d bytes and tag of %d, want %d and %d", ErrTokenDecryption,
			len(e.EncryptionParams.Iv), len(e.AuthenticationData), aead.NonceSize(), aead.Overhead())
	}
	ct := append(append([]byte(nil), e.Jwt...), e.AuthenticationData...)
	jwt, err := aead.Open(nil, e.EncryptionParams.Iv, ct, []byte(TransportKeyAAD))
	if err != nil {
		return nil, ErrTokenDecryption
	}
	return jwt, nil
}

// Response returns the response body for e.
func (e *EncryptedToken) Response() ([]byte, error) {
	return wrap(e, func(inner string) any { return responseEnvelope{Token: inner} })
}

// ParseResponse parses MAA's response body (bounded and strict; members
// MAA may add are tolerated).
func ParseResponse(body []byte) (*EncryptedToken, error) {
	const doc = "maa-response"
	var env responseEnvelope
	opts := strictjson.Options{MaxBytes: MaxResponseBytes, MaxDepth: 4}
	var e EncryptedToken
	if err := unwrap(body, doc, "token", &env, &env.Token, opts, &e); err != nil {
		return nil, err
	}
	if len(e.EncryptedInnerKey) == 0 || len(e.EncryptedInnerKey) > 1024 {
		return nil, protoErr(doc, "EncryptedInnerKey", format.ErrBadLength, "%d bytes", len(e.EncryptedInnerKey))
	}
	if len(e.Jwt) == 0 || len(e.Jwt) > MaxTokenBytes {
		return nil, protoErr(doc, "Jwt", format.ErrBadLength, "%d bytes", len(e.Jwt))
	}
	return &e, nil
}
