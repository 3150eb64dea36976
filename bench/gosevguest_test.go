package bench

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sgvalidate "github.com/google/go-sev-guest/validate"
	sgverify "github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/logger"

	"github.com/snp-vtpm/snp-vtpm/hcl"
)

func init() {
	// go-sev-guest logs warnings through google/logger (to stderr by
	// default); keep them out of benchmark output. Its flag
	// (-workaround_kds_productname) is registered on flag.CommandLine,
	// where the test binary's flags are too; it is left at its default.
	logger.Init("go-sev-guest", false, false, io.Discard)
}

// goSevGuest is the straightforward verification of v1 evidence a user
// would write with go-sev-guest v0.15.0, encoding/json, crypto/rsa and
// go-tpm: decode the JSON, cut the SNP report out of the HCL report,
// abi.ReportToProto, verify.SnpAttestation with the embedded AMD roots
// (chain, validity, report signature), validate.SnpAttestation (chip id ==
// VCEK hwID, TCBs, policy, VMPL), the runtime-data hash in REPORT_DATA, the
// AK from the runtime data, the quote signature, its nonce and its PCR
// digest.
type goSevGuest struct {
	verifyOpts   *sgverify.Options
	validateOpts *sgvalidate.Options
}

func newGoSevGuest(now time.Time) *goSevGuest {
	roots := map[string][]*trust.AMDRootCerts{}
	for p, r := range trust.DefaultRootCerts {
		roots[p] = []*trust.AMDRootCerts{r}
	}
	o := sgverify.DefaultOptions()
	o.Now = now
	o.TrustedRoots = roots
	o.DisableCertFetching = true // the evidence carries the VCEK
	vmpl := 0
	return &goSevGuest{
		verifyOpts: o,
		validateOpts: &sgvalidate.Options{
			GuestPolicy:               abi.SnpPolicy{SMT: true},
			PermitProvisionalFirmware: true,
			VMPL:                      &vmpl,
		},
	}
}

type ggEvidence struct {
	Version  int `json:"version"`
	TPMQuote struct {
		Signature string   `json:"signature"`
		Message   string   `json:"message"`
		PCRs      []string `json:"pcrs"`
	} `json:"tpm_quote"`
	HCLReport string `json:"hcl_report"`
	VCEK      string `json:"vcek"`
}

type ggRuntimeData struct {
	Keys []struct {
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		E   string `json:"e"`
		N   string `json:"n"`
	} `json:"keys"`
}

func (g *goSevGuest) verify(data, nonce []byte) error {
	var w ggEvidence
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	quoted, err := decodeAll(hex.DecodeString, append([]string{w.TPMQuote.Signature, w.TPMQuote.Message}, w.TPMQuote.PCRs...)...)
	if err != nil {
		return err
	}
	sig, msg, pcrs := quoted[0], quoted[1], quoted[2:]
	blobs, err := decodeAll(base64.URLEncoding.DecodeString, w.HCLReport, w.VCEK)
	if err != nil {
		return err
	}
	blob, vcek := blobs[0], blobs[1]

	// HCL report: header, SNP report, IGVM header (read with hcl's parser:
	// its variable_data_size is the runtime data's size), runtime data.
	const reportOff, reportEnd, rdOff = hcl.HeaderSize, hcl.HeaderSize + abi.ReportSize, hcl.RuntimeDataOffset
	if len(blob) < rdOff {
		return errors.New("short HCL report")
	}
	igvm, err := hcl.ParseIGVMHeader(blob[rdOff-hcl.IGVMHeaderSize : rdOff])
	if err != nil {
		return err
	}
	rdLen := int(igvm.VariableDataSize)
	if rdLen > len(blob)-rdOff {
		return errors.New("bad runtime data size")
	}
	runtimeData := blob[rdOff : rdOff+rdLen]
	report, err := abi.ReportToProto(blob[reportOff:reportEnd])
	if err != nil {
		return err
	}
	att := &spb.Attestation{Report: report, CertificateChain: &spb.CertificateChain{VcekCert: vcek}}
	if err := sgverify.SnpAttestation(att, g.verifyOpts); err != nil {
		return err
	}
	if err := sgvalidate.SnpAttestation(att, g.validateOpts); err != nil {
		return err
	}
	rdHash := sha256.Sum256(runtimeData)
	if !bytes.Equal(report.GetReportData()[:32], rdHash[:]) {
		return errors.New("runtime data not bound")
	}

	var rd ggRuntimeData
	if err := json.Unmarshal(runtimeData, &rd); err != nil {
		return err
	}
	var ak *rsa.PublicKey
	for _, k := range rd.Keys {
		if k.Kid != "HCLAkPub" || k.Kty != "RSA" {
			continue
		}
		ne, err := decodeAll(base64.RawURLEncoding.DecodeString, k.N, k.E)
		if err != nil {
			return err
		}
		ak = &rsa.PublicKey{N: new(big.Int).SetBytes(ne[0]), E: int(new(big.Int).SetBytes(ne[1]).Int64())}
	}
	if ak == nil {
		return errors.New("no HCLAkPub")
	}

	digest := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, digest[:], sig); err != nil {
		return err
	}
	attest, err := tpm2.Unmarshal[tpm2.TPMSAttest](msg)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(attest.ExtraData.Buffer, nonce) != 1 {
		return errors.New("nonce mismatch")
	}
	qi, err := attest.Attested.Quote()
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, sel := range qi.PCRSelect.PCRSelections {
		if sel.Hash != tpm2.TPMAlgSHA256 {
			return fmt.Errorf("PCR bank %v", sel.Hash)
		}
		for i, b := range sel.PCRSelect {
			for bit := range 8 {
				if b&(1<<bit) != 0 {
					idx := i*8 + bit
					if idx >= len(pcrs) {
						return fmt.Errorf("PCR %d not supplied", idx)
					}
					h.Write(pcrs[idx])
				}
			}
		}
	}
	if !bytes.Equal(h.Sum(nil), qi.PCRDigest.Buffer) {
		return errors.New("PCR digest mismatch")
	}
	return nil
}

// decodeAll decodes each of ss with decode.
func decodeAll(decode func(string) ([]byte, error), ss ...string) ([][]byte, error) {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := decode(s)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
