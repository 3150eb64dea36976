package vtpm

import (
	"context"
	"crypto/rsa"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// akBits is the modulus size of the Azure vTPM attestation key.
const akBits = 2048

// readAK runs TPM2_ReadPublic on the AK and checks that it is an RSA-2048
// signing key. It returns the key's name too (needed to authorize it).
func readAK(ctx context.Context, t transport.TPM) (*rsa.PublicKey, tpm2.TPM2BName, error) {
	key, name, _, err := readAKArea(ctx, t)
	return key, name, err
}

// readAKArea is readAK that also returns the AK's TPM2B_PUBLIC.
func readAKArea(ctx context.Context, t transport.TPM) (*rsa.PublicKey, tpm2.TPM2BName, []byte, error) {
	key, name, rsp, err := readAKResponse(ctx, t)
	if err != nil {
		return nil, name, nil, err
	}
	return key, name, tpm2.Marshal(rsp.OutPublic), nil
}

func readAKResponse(ctx context.Context, t transport.TPM) (*rsa.PublicKey, tpm2.TPM2BName, *tpm2.ReadPublicResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, tpm2.TPM2BName{}, nil, err
	}
	rsp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(AKHandle)}.Execute(bind(ctx, t))
	if err != nil {
		return nil, tpm2.TPM2BName{}, nil, tpmErr("ReadPublic", AKHandle, err)
	}
	key, name, err := checkAK(rsp)
	return key, name, rsp, err
}

func checkAK(rsp *tpm2.ReadPublicResponse) (*rsa.PublicKey, tpm2.TPM2BName, error) {
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, tpm2.TPM2BName{}, malformed("ReadPublic of %#08x: %v", uint32(AKHandle), err)
	}
	key, err := rsaPublic(AKHandle, pub)
	if err != nil {
		return nil, tpm2.TPM2BName{}, err
	}
	if !pub.ObjectAttributes.SignEncrypt {
		return nil, tpm2.TPM2BName{}, &KeyError{Handle: AKHandle, Reason: "not a signing key"}
	}
	if len(rsp.Name.Buffer) == 0 {
		return nil, tpm2.TPM2BName{}, malformed("ReadPublic of %#08x returned an empty name", uint32(AKHandle))
	}
	return key, rsp.Name, nil
}

// rsaPublic converts a TPM public area into an RSA-2048 public key.
func rsaPublic(handle uint32, pub *tpm2.TPMTPublic) (*rsa.PublicKey, error) {
	if pub.Type != tpm2.TPMAlgRSA {
		return nil, &KeyError{Handle: handle, Reason: fmt.Sprintf("key algorithm is %#04x, want RSA", uint16(pub.Type))}
	}
	parms, err := pub.Parameters.RSADetail()
	if err != nil {
		return nil, malformed("public area of %#08x: RSA parameters: %v", handle, err)
	}
	unique, err := pub.Unique.RSA()
	if err != nil {
		return nil, malformed("public area of %#08x: RSA modulus: %v", handle, err)
	}
	if parms.KeyBits != akBits {
		return nil, &KeyError{Handle: handle, Reason: fmt.Sprintf("RSA key is %d bits, want %d", parms.KeyBits, akBits)}
	}
	if len(unique.Buffer) != akBits/8 || unique.Buffer[0]&0x80 == 0 {
		return nil, malformed("public area of %#08x: RSA modulus is %d bytes or not full length, want %d", handle, len(unique.Buffer), akBits/8)
	}
	key, err := tpm2.RSAPub(parms, unique)
	if err != nil {
		return nil, malformed("public area of %#08x: %v", handle, err)
	}
	if key.E < 3 || key.E%2 == 0 {
		return nil, &KeyError{Handle: handle, Reason: fmt.Sprintf("RSA public exponent %d is invalid", key.E)}
	}
	return key, nil
}

// AKPublic returns the public part of the vTPM attestation key at
// AKHandle. The key must be an RSA-2048 signing key ([*KeyError] matching
// [ErrUnexpectedKey] otherwise); a missing key yields an error matching
// [ErrHandleMissing].
func AKPublic(ctx context.Context, t transport.TPM) (*rsa.PublicKey, error) {
	key, _, err := readAK(ctx, t)
	return key, err
}

// AKPublicArea returns the attestation key's TPM2B_PUBLIC (as MAA's
// AzureGuest protocol sends it) after the checks of AKPublic.
func AKPublicArea(ctx context.Context, t transport.TPM) ([]byte, error) {
	_, _, area, err := readAKArea(ctx, t)
	return area, err
}
