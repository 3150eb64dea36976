package vtpm

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// ErrPolicyPCR means that the PCRs an ephemeral key is bound to no longer
// hold the values the key was created for: the PolicyPCR session fails
// and the key cannot decrypt.
var ErrPolicyPCR = errors.New("the PCRs no longer match the ephemeral key's PolicyPCR")

// EphemeralKey is an RSA-2048 decrypt-only key in the null hierarchy (it
// vanishes at the TPM's next reset) whose only authorization is a
// PolicyPCR session over a SHA-256 PCR selection at the values the PCRs
// had when it was created, certified by the attestation key with
// TPM2_Certify. MAA encrypts the token's key to it. Close flushes it.
type EphemeralKey struct {
	handle    tpm2.TPMHandle
	name      tpm2.TPM2BName
	mask      uint32
	pcrDigest []byte
	// Public is the key's TPM2B_PUBLIC.
	Public []byte
	// Key is the RSA public key.
	Key *rsa.PublicKey
	// PCRValues are the SHA-256 values of PCRs 0-23 when the key was
	// created; the key is bound to the selected ones.
	PCRValues [][]byte
	// CertifyInfo is the TPMS_ATTEST of TPM2_Certify of the key by the AK;
	// CertifySignature is its raw RSASSA-PKCS1-v1_5 SHA-256 signature.
	CertifyInfo, CertifySignature []byte
}

// EphemeralTemplate is the ephemeral key's public template: RSA-2048,
// decrypt only, no user auth (policy only), fixedTPM, authPolicy policy.
func EphemeralTemplate(policy []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgRSA,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, NoDA: true, Decrypt: true,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: policy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   2048,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)}),
	}
}

// PCRPolicyDigest returns the policy digest of one TPM2_PolicyPCR over the
// SHA-256 PCRs listed (distinct, 0-23) at values (index i = PCR i; at least
// the listed ones): SHA-256(zeros || TPM_CC_PolicyPCR || TPML_PCR_SELECTION
// || SHA-256 of the selected values in ascending order).
func PCRPolicyDigest(pcrs []int, values [][]byte) ([]byte, error) {
	mask, err := pcrMask(pcrs)
	if err != nil {
		return nil, err
	}
	return policyDigest(mask, values)
}

func policyDigest(mask uint32, values [][]byte) ([]byte, error) {
	for i := range PCRCount {
		if mask&(1<<i) != 0 && (i >= len(values) || len(values[i]) != 32) {
			return nil, fmt.Errorf("vtpm: no SHA-256 value for PCR %d", i)
		}
	}
	calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
	if err != nil {
		return nil, err
	}
	cmd := tpm2.PolicyPCR{PcrDigest: tpm2.TPM2BDigest{Buffer: selectedDigest(values, mask)}, Pcrs: pcrSelection(mask)}
	if err := cmd.Update(calc); err != nil {
		return nil, err
	}
	return calc.Hash().Digest, nil
}

// NewEphemeralKey reads the PCRs, creates the ephemeral key bound to the
// PCRs listed (MAA uses 0-7) and certifies it with the AK. The caller must
// Close it.
func NewEphemeralKey(ctx context.Context, t transport.TPM, pcrs []int) (*EphemeralKey, error) {
	mask, err := pcrMask(pcrs)
	if err != nil {
		return nil, err
	}
	t = bind(ctx, t)
	_, akName, err := readAK(ctx, t)
	if err != nil {
		return nil, err
	}
	values, err := ReadPCRs(ctx, t)
	if err != nil {
		return nil, err
	}
	policy, err := policyDigest(mask, values)
	if err != nil {
		return nil, err
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHNull, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(EphemeralTemplate(policy)),
	}.Execute(t)
	if err != nil {
		return nil, tpmErr("CreatePrimary", uint32(tpm2.TPMRHNull), err)
	}
	k := &EphemeralKey{handle: rsp.ObjectHandle, name: rsp.Name, mask: mask, pcrDigest: selectedDigest(values, mask), PCRValues: values}
	if err := k.fill(ctx, t, rsp, akName); err != nil {
		_ = k.Close(t) // not sent once ctx ended: the resource manager flushes it when the device is closed
		return nil, err
	}
	return k, nil
}

// fill reads back the created key and certifies it with the AK.
func (k *EphemeralKey) fill(ctx context.Context, t transport.TPM, rsp *tpm2.CreatePrimaryResponse, akName tpm2.TPM2BName) error {
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return malformed("CreatePrimary public area: %v", err)
	}
	if k.Key, err = rsaPublic(uint32(k.handle), pub); err != nil {
		return err
	}
	k.Public = tpm2.Marshal(rsp.OutPublic)
	if err := ctx.Err(); err != nil {
		return err
	}
	crt, err := tpm2.Certify{
		ObjectHandle: tpm2.AuthHandle{Handle: k.handle, Name: k.name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:   tpm2.AuthHandle{Handle: tpm2.TPMHandle(AKHandle), Name: akName, Auth: tpm2.PasswordAuth(nil)},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgRSASSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
	}.Execute(t)
	if err != nil {
		return tpmErr("Certify", AKHandle, err)
	}
	sig, err := crt.Signature.Signature.RSASSA()
	if err != nil || crt.Signature.SigAlg != tpm2.TPMAlgRSASSA || sig.Hash != tpm2.TPMAlgSHA256 {
		return malformed("Certify signature is not RSASSA with SHA-256")
	}
	k.CertifyInfo = bytes.Clone(crt.CertifyInfo.Bytes())
	k.CertifySignature = bytes.Clone(sig.Sig.Buffer)
	return nil
}

// Decrypt decrypts ciphertext (RSAES-PKCS1-v1_5) with the key, authorized
// by a PolicyPCR session. When a bound PCR changed since the key was
// created the session fails and the error matches ErrPolicyPCR.
func (k *EphemeralKey) Decrypt(ctx context.Context, t transport.TPM, ciphertext []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t = bind(ctx, t)
	var policyErr error
	sess := tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(tpm transport.TPM, h tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
		_, policyErr = tpm2.PolicyPCR{PolicySession: h, PcrDigest: tpm2.TPM2BDigest{Buffer: k.pcrDigest}, Pcrs: pcrSelection(k.mask)}.Execute(tpm)
		return policyErr
	})
	rsp, err := tpm2.RSADecrypt{
		KeyHandle:  tpm2.AuthHandle{Handle: k.handle, Name: k.name, Auth: sess},
		CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: ciphertext},
		InScheme:   tpm2.TPMTRSADecrypt{Scheme: tpm2.TPMAlgRSAES},
	}.Execute(t)
	switch {
	case policyErr != nil:
		return nil, fmt.Errorf("vtpm: %w: PolicyPCR: %w", ErrPolicyPCR, tpmErr("PolicyPCR", 0, policyErr))
	case err != nil && errors.Is(err, tpm2.TPMRCPolicyFail):
		return nil, fmt.Errorf("vtpm: %w: %w", ErrPolicyPCR, tpmErr("RSA_Decrypt", uint32(k.handle), err))
	case err != nil:
		return nil, tpmErr("RSA_Decrypt", uint32(k.handle), err)
	}
	return bytes.Clone(rsp.Message.Buffer), nil
}

// Close flushes the key from the TPM.
func (k *EphemeralKey) Close(t transport.TPM) error {
	if k == nil || k.handle == 0 {
		return nil
	}
	_, err := tpm2.FlushContext{FlushHandle: k.handle}.Execute(t)
	k.handle = 0
	return err
}
