// Package guest requests an MAA token from inside an Azure Confidential VM
// with the AzureGuest protocol (see package maa): it gathers the vTPM's
// part through package vtpm (the AK certificate and public area, a quote
// of PCRs 0-7 over the nonce, an ephemeral RSA-2048 decrypt-only key bound
// by PolicyPCR to PCRs 0-7 and certified by the AK), adds the caller's
// isolation evidence (the HCL report's SNP report and runtime data, the
// VCEK chain) and TCG log, posts the document and decrypts the answer in
// the TPM: the inner AES key with TPM2_RSA_Decrypt in a PolicyPCR session,
// then the token with AES-GCM. Only a vTPM whose PCRs 0-7 still hold the
// quoted values can read the token.
//
// The token is returned unverified: verify it with maa.Verify (and
// maa.Bind to the caller's own verified evidence) before using it.
package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// AttestedPCRs are the PCRs MAA's AzureGuest protocol quotes and binds the
// ephemeral key to.
var attestedPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7}

// Inputs is what the caller gathered and verified itself.
type Inputs struct {
	// HCLReport is the HCL report blob (NV 0x01400001) whose SNP report
	// and runtime data are sent.
	HCLReport []byte
	// VCEKChainPEM is the VCEK, ASK and ARK in PEM (THIM's order); SEV-SNP
	// only.
	VCEKChainPEM []byte
	// TDQuote is the TD quote of the HCL report's TDREPORT (Azure IMDS
	// /acc/tdquote); TDX only.
	TDQuote []byte
	// EventLog is the TCG boot event log.
	EventLog []byte
	// Nonce goes into the client payload (as maa.NonceClaim) and is the
	// quote's qualifying data; required.
	Nonce []byte
	// OSType, OSDistro, OSBuild and the version describe the guest OS.
	OSType, OSDistro, OSBuild      string
	OSVersionMajor, OSVersionMinor int
}

// Request is a prepared AzureGuest request holding its ephemeral key in
// the TPM. Close it.
type Request struct {
	// Info is the document sent.
	Info *maa.AttestationInfo
	tpm  transport.TPM
	key  *vtpm.EphemeralKey
}

// Prepare gathers the vTPM's part and assembles the document. An absent AK
// certificate (NV 0x01C101D0) is sent empty.
func Prepare(ctx context.Context, t transport.TPM, in *Inputs) (*Request, error) {
	if len(in.Nonce) == 0 {
		return nil, errors.New("maa/guest: a nonce is required")
	}
	r, err := hcl.Parse(in.HCLReport)
	if err != nil {
		return nil, fmt.Errorf("maa/guest: the HCL report: %w", err)
	}
	iso, err := isolation(r, in)
	if err != nil {
		return nil, err
	}
	info := &maa.AttestationInfo{
		AttestationProtocolVersion: maa.ProtocolVersion,
		ClientPayload:              map[string]string{"nonce": maa.NonceClaim(in.Nonce)},
		IsolationInfo:              iso,
		OSType:                     []byte(in.OSType), OSDistro: []byte(in.OSDistro), OSBuild: []byte(in.OSBuild),
		OSVersionMajor: in.OSVersionMajor, OSVersionMinor: in.OSVersionMinor, TcgLogs: in.EventLog,
	}
	req := &Request{Info: info, tpm: t}
	if err := req.tpmInfo(ctx, in.Nonce); err != nil {
		_ = req.Close()
		return nil, err
	}
	return req, nil
}

// isolation is the hardware evidence of the HCL report r: the SNP report
// with the VCEK chain, or the TD quote of its TDREPORT.
func isolation(r *hcl.Report, in *Inputs) (maa.IsolationInfo, error) {
	rt := bytes.Clone(r.RuntimeDataRaw)
	switch r.Type {
	case hcl.ReportTypeSNP:
		proof, err := maa.NewSNPProof(r.SNPReport, in.VCEKChainPEM)
		if err != nil {
			return maa.IsolationInfo{}, err
		}
		return maa.IsolationInfo{Type: maa.IsolationSEVSNP, Evidence: maa.IsolationEvidence{Proof: proof, RunTimeData: rt}}, nil
	case hcl.ReportTypeTDX:
		if len(in.TDQuote) == 0 {
			return maa.IsolationInfo{}, errors.New("maa/guest: a TDX CVM needs the TD quote of its TDREPORT (Inputs.TDQuote)")
		}
		return maa.IsolationInfo{Type: maa.IsolationTDX, Evidence: maa.IsolationEvidence{Proof: bytes.Clone(in.TDQuote), RunTimeData: rt}}, nil
	}
	return maa.IsolationInfo{}, fmt.Errorf("maa/guest: the HCL report holds a %s report; only SEV-SNP and TDX are supported", r.Type)
}

// tpmInfo fills TpmInfo: AK certificate and public area, the ephemeral
// key (before the quote, so that a PCR change in between shows as a quote
// that does not match the key's policy), the quote of PCRs 0-7.
func (req *Request) tpmInfo(ctx context.Context, nonce []byte) error {
	ti := &req.Info.TpmInfo
	cert, err := vtpm.AKCertificate(ctx, req.tpm)
	switch {
	case errors.Is(err, vtpm.ErrNoAKCert):
	case err != nil:
		return fmt.Errorf("maa/guest: reading the AK certificate: %w", err)
	default:
		ti.AikCert = cert
	}
	if ti.AikPub, err = vtpm.AKPublicArea(ctx, req.tpm); err != nil {
		return fmt.Errorf("maa/guest: %w", err)
	}
	if req.key, err = vtpm.NewEphemeralKey(ctx, req.tpm, attestedPCRs); err != nil {
		return fmt.Errorf("maa/guest: the ephemeral key: %w", err)
	}
	ti.EncKeyPub, ti.EncKeyCertifyInfo, ti.EncKeyCertifyInfoSignature = req.key.Public, req.key.CertifyInfo, req.key.CertifySignature
	q, err := vtpm.QuotePCRs(ctx, req.tpm, nonce, attestedPCRs)
	if err != nil {
		return fmt.Errorf("maa/guest: quoting PCRs 0-7: %w", err)
	}
	ti.PcrQuote, ti.PcrSignature, ti.PcrSet = q.Message, q.Signature, attestedPCRs
	for _, i := range attestedPCRs {
		ti.PCRs = append(ti.PCRs, maa.PCR{Index: i, Digest: q.PCRs[i]})
	}
	return nil
}

// Close flushes the ephemeral key.
func (req *Request) Close() error {
	if req.key == nil {
		return nil
	}
	err := req.key.Close(req.tpm)
	req.key = nil
	return err
}

// ErrService says that the MAA instance refused the request or could not
// be reached; nothing was learnt about the token.
var ErrService = errors.New("the MAA instance did not issue a token")

// Post sends the document to instance (maa.AttestURL) with client (nil:
// http.DefaultClient) and returns the response body. A redirect from
// https to another scheme is refused (httpget.NoDowngrade): the document
// is never re-sent in the clear.
func (req *Request) Post(ctx context.Context, client *http.Client, instance string) ([]byte, error) {
	body, err := req.Info.Request()
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, maa.AttestURL(instance), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := httpget.NoDowngrade(client).Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrService, err)
	}
	defer func() { _ = resp.Body.Close() }()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maa.MaxResponseBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: reading the response: %w", ErrService, err)
	case len(rb) > maa.MaxResponseBytes:
		return nil, fmt.Errorf("%w: the response exceeds %d bytes", ErrService, maa.MaxResponseBytes)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: HTTP %d: %.300q", ErrService, resp.StatusCode, rb)
	}
	return rb, nil
}

// Decrypt opens MAA's response in the TPM and returns the (unverified)
// token. When PCRs 0-7 changed since Prepare the error matches
// vtpm.ErrPolicyPCR.
func (req *Request) Decrypt(ctx context.Context, response []byte) ([]byte, error) {
	if req.key == nil {
		return nil, errors.New("maa/guest: the request is closed")
	}
	et, err := maa.ParseResponse(response)
	if err != nil {
		return nil, err
	}
	inner, err := req.key.Decrypt(ctx, req.tpm, et.EncryptedInnerKey)
	if err != nil {
		return nil, fmt.Errorf("maa/guest: decrypting the token's key in the TPM: %w", err)
	}
	return et.Open(inner)
}

// Attest is Prepare, Post and Decrypt.
func Attest(ctx context.Context, t transport.TPM, client *http.Client, instance string, in *Inputs) ([]byte, error) {
	req, err := Prepare(ctx, t, in)
	if err != nil {
		return nil, err
	}
	defer func() { _ = req.Close() }()
	resp, err := req.Post(ctx, client, instance)
	if err != nil {
		return nil, err
	}
	return req.Decrypt(ctx, resp)
}
