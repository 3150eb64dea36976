package vtpm

import (
	"bytes"
	"crypto/rsa"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// maxStructBytes bounds the TPM structures parsed here.
const maxStructBytes = 4096

// unmarshalExact parses b as T with go-tpm and requires that marshalling
// the result gives b back (no trailing or non-canonical bytes). A panic of
// the underlying parser on hostile input is an error.
func unmarshalExact[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](what string, b []byte) (v *T, err error) {
	if len(b) == 0 || len(b) > maxStructBytes {
		return nil, &format.Error{Format: "tpm", Field: what, Err: fmt.Errorf("%w: %d bytes, want 1 to %d", format.ErrBadLength, len(b), maxStructBytes)}
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &format.Error{Format: "tpm", Field: what, Err: fmt.Errorf("%w: unparsable", format.ErrMalformed)}
		}
	}()
	v, err = tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, &format.Error{Format: "tpm", Field: what, Err: fmt.Errorf("%w: %v", format.ErrMalformed, err)}
	}
	if !bytes.Equal(tpm2.Marshal(*v), b) {
		return nil, &format.Error{Format: "tpm", Field: what, Err: fmt.Errorf("%w: not canonical (trailing bytes?)", format.ErrTrailingData)}
	}
	return v, nil
}

// Public is a parsed TPM2B_PUBLIC of an RSA-2048 key.
type Public struct {
	// Area is the public area.
	Area *tpm2.TPMTPublic
	// Key is its RSA key.
	Key *rsa.PublicKey
	// Name is the object's name (nameAlg || digest of the area).
	Name []byte
}

// ParsePublic parses a TPM2B_PUBLIC (bounded, exact) that must hold an
// RSA-2048 key with name algorithm SHA-256.
func ParsePublic(b []byte) (*Public, error) {
	pub2b, err := unmarshalExact[tpm2.TPM2BPublic]("TPM2B_PUBLIC", b)
	if err != nil {
		return nil, err
	}
	// The TPMT_PUBLIC must fill the TPM2B exactly: go-tpm's Contents
	// ignores bytes after it, which the name (over the public area alone)
	// would not bind.
	area, err := unmarshalExact[tpm2.TPMTPublic]("TPMT_PUBLIC", pub2b.Bytes())
	if err != nil {
		return nil, err
	}
	if area.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, &format.Error{Format: "tpm", Field: "nameAlg", Err: fmt.Errorf("%w: %#04x, want SHA-256", format.ErrUnexpectedValue, uint16(area.NameAlg))}
	}
	key, err := rsaPublic(0, area)
	if err != nil {
		return nil, &format.Error{Format: "tpm", Field: "TPMT_PUBLIC", Err: fmt.Errorf("%w: %v", format.ErrUnexpectedValue, err)}
	}
	name, err := tpm2.ObjectName(area)
	if err != nil {
		return nil, &format.Error{Format: "tpm", Field: "TPMT_PUBLIC", Err: fmt.Errorf("%w: %v", format.ErrMalformed, err)}
	}
	return &Public{Area: area, Key: key, Name: name.Buffer}, nil
}

// CertifyInfo is a parsed TPMS_ATTEST of TPM2_Certify.
type CertifyInfo struct {
	// Signer is the qualified name of the signing key.
	Signer []byte
	// ExtraData is the qualifying data.
	ExtraData []byte
	// Name is the certified object's name.
	Name []byte
}

// ParseCertifyInfo parses a TPMS_ATTEST (bounded, exact) that must be of
// type TPM_ST_ATTEST_CERTIFY.
func ParseCertifyInfo(b []byte) (*CertifyInfo, error) {
	a, err := unmarshalExact[tpm2.TPMSAttest]("TPMS_ATTEST", b)
	if err != nil {
		return nil, err
	}
	if a.Type != tpm2.TPMSTAttestCertify {
		return nil, &format.Error{Format: "tpm", Field: "TPMS_ATTEST.type", Err: fmt.Errorf("%w: %#04x, want TPM_ST_ATTEST_CERTIFY", format.ErrUnexpectedValue, uint16(a.Type))}
	}
	c, err := a.Attested.Certify()
	if err != nil {
		return nil, &format.Error{Format: "tpm", Field: "TPMS_ATTEST.attested", Err: fmt.Errorf("%w: %v", format.ErrMalformed, err)}
	}
	return &CertifyInfo{Signer: a.QualifiedSigner.Buffer, ExtraData: a.ExtraData.Buffer, Name: c.Name.Buffer}, nil
}
