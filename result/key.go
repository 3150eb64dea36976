package result

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// Bounds of keys and key sets.
const (
	// MaxKeyFileBytes bounds a signing-key PEM file.
	MaxKeyFileBytes = 16 << 10
	// MaxJWKSBytes bounds a JWKS document.
	MaxJWKSBytes = 64 << 10
	// MaxKeys bounds the number of keys in a JWKS.
	MaxKeys = 16
)

// b64 is base64url without padding, rejecting non-canonical final bits.
var b64 = base64.RawURLEncoding.Strict()

// LoadSigningKey reads a P-256 private key from PEM: exactly one block,
// "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC1), nothing but white
// space around it. Any other key type or curve is an error.
func LoadSigningKey(data []byte) (*ecdsa.PrivateKey, error) {
	if len(data) > MaxKeyFileBytes {
		return nil, fmt.Errorf("signing key: %d bytes, more than %d", len(data), MaxKeyFileBytes)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("signing key: no PEM block")
	}
	// The kind of block first: a certificate chain given for the key is
	// named as such, not as "data after the PEM block".
	if block.Type != "PRIVATE KEY" && block.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("signing key: PEM block %s, want PRIVATE KEY (PKCS#8) or EC PRIVATE KEY (SEC1)", short(block.Type))
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("signing key: data after the PEM block (one key per file)")
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("signing key: encrypted or annotated PEM blocks are not supported")
	}
	var key any
	var err error
	if block.Type == "PRIVATE KEY" {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	} else {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("signing key: not an ECDSA key; want ECDSA P-256")
	}
	if ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key: curve %s, want P-256", ek.Curve.Params().Name)
	}
	return ek, nil
}

// GenerateSigningKey returns a fresh P-256 key and its PKCS#8 PEM.
func GenerateSigningKey() (*ecdsa.PrivateKey, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// JWK is a P-256 public key as a JSON Web Key (RFC 7517, 7518).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns pub as a JWK whose kid is its thumbprint.
func PublicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil || len(raw) != 65 || pub.Curve != elliptic.P256() {
		return JWK{}, errors.New("result: not a P-256 public key")
	}
	j := JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:]), Use: "sig", Alg: AlgES256}
	j.Kid = j.Thumbprint()
	return j, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// the key's required members.
func (j JWK) Thumbprint() string {
	// RFC 7638: the required members in lexicographic order, no white space.
	canon := `{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `","y":"` + j.Y + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// publicKey checks the JWK (EC, P-256, a point on the curve, kid = its
// thumbprint, use sig, alg ES256 when present) and returns its key.
func (j JWK) publicKey() (*ecdsa.PublicKey, error) {
	switch {
	case j.Kty != "EC" || j.Crv != "P-256":
		return nil, fmt.Errorf("kty %s crv %s, want EC P-256", short(j.Kty), short(j.Crv))
	case j.Use != "" && j.Use != "sig":
		return nil, fmt.Errorf("use %s, want sig", short(j.Use))
	case j.Alg != "" && j.Alg != AlgES256:
		return nil, fmt.Errorf("alg %s, want %s", short(j.Alg), AlgES256)
	}
	x, errX := format.Base64(b64, j.X)
	y, errY := format.Base64(b64, j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("x and y must be 32-byte unpadded base64url")
	}
	raw := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, errors.New("x, y is not a point of P-256")
	}
	if j.Kid != j.Thumbprint() {
		return nil, fmt.Errorf("kid %s is not the key's JWK thumbprint", short(j.Kid))
	}
	return pub, nil
}

// KeySet is a parsed JWKS: P-256 keys by kid. It is immutable.
type KeySet struct {
	keys map[string]*ecdsa.PublicKey
}

// NewKeySet returns the key set of public keys.
func NewKeySet(pubs ...*ecdsa.PublicKey) (*KeySet, error) {
	ks := &KeySet{keys: make(map[string]*ecdsa.PublicKey, len(pubs))}
	for _, p := range pubs {
		j, err := PublicJWK(p)
		if err != nil {
			return nil, err
		}
		ks.keys[j.Kid] = p
	}
	return ks, nil
}

// ParseJWKS parses a JWKS strictly (bounded, duplicate members and unknown
// members rejected): 1 to MaxKeys P-256 keys, each kid its thumbprint.
func ParseJWKS(data []byte) (*KeySet, error) {
	var doc JWKS
	if err := strictjson.Unmarshal(bytes.TrimSpace(data), &doc, strictjson.Options{MaxBytes: MaxJWKSBytes, MaxDepth: 4, RejectUnknown: true}); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if len(doc.Keys) == 0 || len(doc.Keys) > MaxKeys {
		return nil, fmt.Errorf("JWKS: %d keys, want 1 to %d", len(doc.Keys), MaxKeys)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(doc.Keys))
	for i, k := range doc.Keys {
		pub, err := k.publicKey()
		if _, dup := keys[k.Kid]; err == nil && dup {
			err = errors.New("kid repeats an earlier key")
		}
		if err != nil {
			return nil, fmt.Errorf("JWKS: keys[%d]: %w", i, err)
		}
		keys[k.Kid] = pub
	}
	return &KeySet{keys: keys}, nil
}

// Key returns the key named kid.
func (ks *KeySet) Key(_ context.Context, kid string) (*ecdsa.PublicKey, error) {
	if p, ok := ks.keys[kid]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("kid %s: %w", short(kid), ErrUnknownKid)
}

// PublicKeys returns the set's keys, ordered by kid.
func (ks *KeySet) PublicKeys() []*ecdsa.PublicKey {
	kids := slices.Sorted(maps.Keys(ks.keys))
	out := make([]*ecdsa.PublicKey, len(kids))
	for i, kid := range kids {
		out[i] = ks.keys[kid]
	}
	return out
}

// ErrUnknownKid says that the JWKS has no key with the token's kid.
var ErrUnknownKid = errors.New("no key with this kid in the JWKS")

// MarshalJWKS returns the JWKS document of public keys.
func MarshalJWKS(pubs ...*ecdsa.PublicKey) ([]byte, error) {
	doc := JWKS{Keys: make([]JWK, 0, len(pubs))}
	for _, p := range pubs {
		j, err := PublicJWK(p)
		if err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, j)
	}
	return json.Marshal(doc)
}
