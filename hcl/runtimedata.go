package hcl

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// Key ids of the keys the paravisor puts into the runtime data.
const (
	// KidAK is the kid of the vTPM attestation key (AK).
	KidAK = "HCLAkPub"
	// KidEK is the kid of the vTPM endorsement key (EK).
	KidEK = "HCLEkPub"
)

// Limits on keys taken from the runtime data.
const (
	// MinRSABits is the smallest RSA modulus accepted from a JWK.
	MinRSABits = 2048
	// MaxRSABits is the largest RSA modulus accepted from a JWK.
	MaxRSABits = 8192
)

// RuntimeData is the runtime-data JSON the paravisor puts into the HCL
// report (see [ParseRuntimeData] for how strictly it is read).
type RuntimeData struct {
	// Keys are the JWKs of "keys", in the order given.
	Keys []JWK
	// VMConfig is "vm-configuration", nil if absent.
	VMConfig *VMConfiguration
	// UserData is "user-data" hex-decoded (64 bytes: the data last written
	// to NV index 0x01400002, zero-padded), nil if absent.
	UserData []byte
}

// runtimeDataJSON is the wire form of RuntimeData, in the paravisor's key order.
type runtimeDataJSON struct {
	Keys     []JWK            `json:"keys"`
	VMConfig *VMConfiguration `json:"vm-configuration,omitempty"`
	UserData *string          `json:"user-data,omitempty"`
}

// JWK is an RSA public key in JSON Web Key form, as found in the runtime data.
type JWK struct {
	// Kid is the key id ("HCLAkPub", "HCLEkPub").
	Kid string `json:"kid"`
	// KeyOps lists the permitted operations ("sign", "encrypt").
	KeyOps []string `json:"key_ops,omitempty"`
	// Kty is the key type; only "RSA" is accepted.
	Kty string `json:"kty"`
	// E is the base64url big-endian public exponent.
	E string `json:"e"`
	// N is the base64url big-endian modulus.
	N string `json:"n"`
}

// VMConfiguration is the runtime data's "vm-configuration" object. Which
// fields are present depends on the host's paravisor version.
type VMConfiguration struct {
	// ConsoleEnabled is "console-enabled".
	ConsoleEnabled bool `json:"console-enabled"`
	// CurrentTime is "current-time" (Unix seconds; old schema only, else 0).
	CurrentTime int64 `json:"current-time,omitempty"`
	// RootCertThumbprint is "root-cert-thumbprint" (newer hosts only).
	RootCertThumbprint string `json:"root-cert-thumbprint,omitempty"`
	// SecureBoot is "secure-boot".
	SecureBoot bool `json:"secure-boot"`
	// TPMEnabled is "tpm-enabled".
	TPMEnabled bool `json:"tpm-enabled"`
	// TPMPersisted is "tpm-persisted": nil when the runtime data has no
	// such member (hosts whose HCL header is version 1 write none), which
	// says nothing about persistence, unlike a present false.
	TPMPersisted *bool `json:"tpm-persisted,omitempty"`
	// VMUniqueID is "vmUniqueId", the VM's GUID in upper case.
	VMUniqueID string `json:"vmUniqueId"`
}

// runtimeDataWire is what ParseRuntimeData decodes: the wire form with
// each object's unknown members collected, so that a near-miss of a known
// name ("Keys", "KID", "User-Data") is rejected rather than ignored.
type runtimeDataWire struct {
	Keys     []jwkWire     `json:"keys"`
	VMConfig *vmConfigWire `json:"vm-configuration"`
	UserData *string       `json:"user-data"`
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown strictjson.Unknown[runtimeDataJSON] `json:",embed"`
}

type jwkWire struct {
	JWK
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown strictjson.Unknown[JWK] `json:",embed"`
}

type vmConfigWire struct {
	VMConfiguration
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown strictjson.Unknown[VMConfiguration] `json:",embed"`
}

// ParseRuntimeData parses runtime-data JSON (the variable data of an HCL
// report). The input must be a single JSON object of at most
// [MaxRuntimeDataSize] bytes, read by the module's strict JSON decoder
// (internal/strictjson): a member name may appear only once in an object at
// any depth (a second "keys", or a key with two "n", is an error, never a
// silent replacement), strings must be valid UTF-8, nothing may follow the
// object, and names match exactly. Unknown members are tolerated (Azure adds
// fields), except names that differ from a known one only in letter case.
// If "user-data" is present it must be exactly 128 hex characters. JSON
// errors are [*FormatError] for "runtime_data" wrapping [format.ErrBadJSON] and a
// *strictjson.Error, whose message names the member (e.g. "/keys/1/n").
func ParseRuntimeData(b []byte) (*RuntimeData, error) {
	if len(b) == 0 {
		return nil, fieldErr("runtime_data", format.ErrEmpty)
	}
	if len(b) > MaxRuntimeDataSize {
		return nil, fieldErr("runtime_data", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(b), MaxRuntimeDataSize))
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fieldErr("runtime_data", fmt.Errorf("%w: not a JSON object", format.ErrBadJSON))
	}
	var w runtimeDataWire
	if err := strictjson.Unmarshal(b, &w, strictjson.Options{MaxBytes: MaxRuntimeDataSize}); err != nil {
		return nil, fieldErr("runtime_data", format.BadJSON(err))
	}
	d := &RuntimeData{}
	if w.Keys != nil {
		d.Keys = make([]JWK, len(w.Keys))
		for i := range w.Keys {
			d.Keys[i] = w.Keys[i].JWK
		}
	}
	if w.VMConfig != nil {
		vc := w.VMConfig.VMConfiguration
		d.VMConfig = &vc
	}
	if w.UserData != nil {
		s := *w.UserData
		if len(s) != 2*UserDataSize {
			return nil, fieldErr("runtime_data.user-data", fmt.Errorf("%w: %d hex characters, want %d", ErrBadUserData, len(s), 2*UserDataSize))
		}
		u, err := hex.DecodeString(s)
		if err != nil {
			return nil, fieldErr("runtime_data.user-data", fmt.Errorf("%w: %v", ErrBadUserData, err))
		}
		d.UserData = u
	}
	return d, nil
}

// UnmarshalJSON implements json.Unmarshaler with [ParseRuntimeData]'s
// strict rules, whichever JSON package calls it.
func (d *RuntimeData) UnmarshalJSON(b []byte) error {
	v, err := ParseRuntimeData(b)
	if err != nil {
		return err
	}
	*d = *v
	return nil
}

// MarshalJSON implements json.Marshaler, writing the paravisor's key order
// ("keys", "vm-configuration", "user-data" as upper-case hex). It is meant
// for building synthetic runtime data; a real report's digest covers its
// own bytes (Report.RuntimeDataRaw), never a re-encoding.
func (d RuntimeData) MarshalJSON() ([]byte, error) {
	w := runtimeDataJSON{Keys: d.Keys, VMConfig: d.VMConfig}
	if w.Keys == nil {
		w.Keys = []JWK{}
	}
	if d.UserData != nil {
		s := strings.ToUpper(hex.EncodeToString(d.UserData))
		w.UserData = &s
	}
	return json.Marshal(w)
}

// Key returns the key whose kid is exactly kid. It fails with
// [ErrKeyNotFound] if there is none and with [ErrDuplicateKey] if there is
// more than one.
func (d *RuntimeData) Key(kid string) (*JWK, error) {
	var found *JWK
	for i := range d.Keys {
		if d.Keys[i].Kid != kid {
			continue
		}
		if found != nil {
			return nil, fieldErr("runtime_data.keys["+kid+"]", ErrDuplicateKey)
		}
		found = &d.Keys[i]
	}
	if found == nil {
		return nil, fieldErr("runtime_data.keys["+kid+"]", ErrKeyNotFound)
	}
	return found, nil
}

// AK returns the vTPM attestation key: the key with kid "HCLAkPub",
// wherever it is in the list. It fails if the key is absent, duplicated or
// not an acceptable RSA key (see [JWK.RSAPublicKey]).
func (d *RuntimeData) AK() (*rsa.PublicKey, error) { return d.rsaKey(KidAK) }

// EK returns the vTPM endorsement key: the key with kid "HCLEkPub". Older
// paravisors do not publish it ([ErrKeyNotFound]).
func (d *RuntimeData) EK() (*rsa.PublicKey, error) { return d.rsaKey(KidEK) }

func (d *RuntimeData) rsaKey(kid string) (*rsa.PublicKey, error) {
	k, err := d.Key(kid)
	if err != nil {
		return nil, err
	}
	return k.rsaPublicKey("runtime_data.keys[" + kid + "]")
}

// RSAPublicKey converts the JWK to an RSA public key. It requires kty "RSA",
// e and n as RFC 7518 Base64urlUInt in their one form (unpadded base64url,
// no leading zero octet), an odd exponent in 3..2^31-1 and an odd modulus
// of MinRSABits..MaxRSABits bits.
func (k *JWK) RSAPublicKey() (*rsa.PublicKey, error) { return k.rsaPublicKey("jwk") }

func (k *JWK) rsaPublicKey(field string) (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fieldErr(field+".kty", fmt.Errorf("%w: key type %q, want \"RSA\"", ErrBadKey, format.Truncate(k.Kty, 32)))
	}
	// The longest n and e of an acceptable key: MaxRSABits and 2^31-1,
	// unpadded, without leading zero octets.
	const maxNChars, maxEChars = (MaxRSABits/8*4 + 2) / 3, 6
	if len(k.N) > maxNChars {
		return nil, fieldErr(field+".n", fmt.Errorf("%w: %w (%d base64 characters)", ErrBadKey, format.ErrTooLarge, len(k.N)))
	}
	nb, err := decodeUInt(k.N)
	if err != nil {
		return nil, fieldErr(field+".n", fmt.Errorf("%w: %v", ErrBadKey, err))
	}
	if len(k.E) > maxEChars {
		return nil, fieldErr(field+".e", fmt.Errorf("%w: %w (%d base64 characters)", ErrBadKey, format.ErrTooLarge, len(k.E)))
	}
	eb, err := decodeUInt(k.E)
	if err != nil {
		return nil, fieldErr(field+".e", fmt.Errorf("%w: %v", ErrBadKey, err))
	}
	var e uint64
	for _, c := range eb {
		e = e<<8 | uint64(c)
		if e > 1<<31-1 {
			return nil, fieldErr(field+".e", fmt.Errorf("%w: exponent too large", ErrBadKey))
		}
	}
	if e < 3 || e%2 == 0 {
		return nil, fieldErr(field+".e", fmt.Errorf("%w: exponent %d", ErrBadKey, e))
	}
	n := new(big.Int).SetBytes(nb)
	if bits := n.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return nil, fieldErr(field+".n", fmt.Errorf("%w: %d-bit modulus, want %d..%d", ErrBadKey, bits, MinRSABits, MaxRSABits))
	}
	if n.Bit(0) == 0 {
		return nil, fieldErr(field+".n", fmt.Errorf("%w: even modulus", ErrBadKey))
	}
	return &rsa.PublicKey{N: n, E: int(e)}, nil
}

// NewRSAJWK returns the JWK form of pub (unpadded base64url, as the
// paravisor writes it), for building synthetic runtime data.
func NewRSAJWK(kid string, keyOps []string, pub *rsa.PublicKey) JWK {
	e := big.NewInt(int64(pub.E)).Bytes()
	return JWK{
		Kid:    kid,
		KeyOps: keyOps,
		Kty:    "RSA",
		E:      base64.RawURLEncoding.EncodeToString(e),
		N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
	}
}

// decodeUInt decodes an RFC 7518 Base64urlUInt in its one form: unpadded
// base64url (RFC 7515 section 2: the trailing '=' omitted), no line breaks
// (which Go's decoder skips even in Strict mode), no non-zero bits after
// the last byte, and the minimum number of octets (no leading zero octet;
// zero is the single octet 0).
func decodeUInt(s string) ([]byte, error) {
	if s == "" {
		return nil, format.ErrEmpty
	}
	b, err := format.Base64(base64.RawURLEncoding, s)
	if err != nil {
		return nil, err
	}
	if len(b) > 1 && b[0] == 0 {
		return nil, fmt.Errorf("%w: leading zero octet (a Base64urlUInt has the minimum number of octets)", format.ErrBadEncoding)
	}
	return b, nil
}
