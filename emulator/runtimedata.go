//go:build cgo

package emulator

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// HCLReportSize is the size of the emulated HCL report NV index, as on older
// Azure hosts (today's hosts use 2600 bytes). The simulator's NV indices
// hold at most 2048 bytes, which leaves 2048-1236 = 812 bytes for the
// runtime-data JSON: enough for HCLAkPub, a compact vm-configuration and
// "user-data", but not for the HCLEkPub key that real hosts add, so the
// emulated runtime data has no HCLEkPub.
const HCLReportSize = 2048

// runtimeData is the wire form of the paravisor's runtime-data JSON, in
// Azure's key order.
type runtimeData struct {
	Keys     []hcl.JWK `json:"keys"`
	VMConfig any       `json:"vm-configuration"` // hcl.VMConfiguration or tdxVMConfig
	UserData string    `json:"user-data"`
}

// tdxVMConfig is the vm-configuration of real TDX hosts (HCL header
// version 2): also "root-cert-thumbprint" and "tpm-persisted", the latter
// written when false, in alphabetical order.
type tdxVMConfig struct {
	ConsoleEnabled     bool   `json:"console-enabled"`
	RootCertThumbprint string `json:"root-cert-thumbprint"`
	SecureBoot         bool   `json:"secure-boot"`
	TPMEnabled         bool   `json:"tpm-enabled"`
	TPMPersisted       bool   `json:"tpm-persisted"`
	VMUniqueID         string `json:"vmUniqueId"`
}

// emulatedRootThumbprint is the emulated TDX paravisor's
// "root-cert-thumbprint": base64url SHA-256 of the fake Intel root's DER,
// in the form of the real value (43 characters), never the real one.
func emulatedRootThumbprint() string {
	sum := sha256.Sum256(fakeintel.Root().Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ErrRuntimeDataTooLarge means the runtime data does not fit the HCL report
// NV index (e.g. because of a very long VMUniqueID).
var ErrRuntimeDataTooLarge = errors.New("emulator: runtime data does not fit the 2048-byte HCL report")

// buildRuntimeData returns the runtime-data JSON naming ak and carrying
// userData (64 bytes) as upper-case hex, as Azure's paravisor writes it.
// Its vm-configuration has the members of a real Milan host whose HCL
// header is version 1 (console-enabled, secure-boot, tpm-enabled,
// vmUniqueId): "root-cert-thumbprint" and "tpm-persisted" come only with
// header version 2 on real hosts (fidelity_test.go), as in the runtime
// data of the emulated TDX paravisor (tdx set), whose header is version 2.
func buildRuntimeData(ak *rsa.PublicKey, vmID string, userData [64]byte, tdx bool) ([]byte, error) {
	rd := runtimeData{
		Keys: []hcl.JWK{hcl.NewRSAJWK("HCLAkPub", []string{"sign"}, ak)},
		VMConfig: hcl.VMConfiguration{
			ConsoleEnabled: true,
			SecureBoot:     true,
			TPMEnabled:     true,
			VMUniqueID:     vmID,
		},
		UserData: strings.ToUpper(hex.EncodeToString(userData[:])),
	}
	if tdx {
		rd.VMConfig = tdxVMConfig{ConsoleEnabled: true, RootCertThumbprint: emulatedRootThumbprint(),
			SecureBoot: true, TPMEnabled: true, VMUniqueID: vmID}
	}
	b, err := json.Marshal(rd)
	if err != nil {
		return nil, fmt.Errorf("emulator: encoding runtime data: %w", err)
	}
	if len(b) > HCLReportSize-hcl.RuntimeDataOffset {
		return nil, fmt.Errorf("%w (%d > %d bytes)", ErrRuntimeDataTooLarge, len(b), HCLReportSize-hcl.RuntimeDataOffset)
	}
	return b, nil
}

// runtimeDataAndDigest returns the runtime data and the hardware report's
// REPORT_DATA binding it: SHA-256(runtime data) || zeros.
func runtimeDataAndDigest(ak *rsa.PublicKey, vmID string, userData [64]byte, tdx bool) ([]byte, [64]byte, error) {
	var reportData [64]byte
	rd, err := buildRuntimeData(ak, vmID, userData, tdx)
	if err != nil {
		return nil, reportData, err
	}
	sum := sha256.Sum256(rd)
	copy(reportData[:], sum[:])
	return rd, reportData, nil
}

// buildTDXHCLReport builds the HCL report of the emulated TDX paravisor: a
// TDREPORT of the emulated TD (fakeintel.DefaultBody: the emulated MRTD)
// whose REPORTDATA[0:32] is SHA-256 of the runtime data, wrapped with the
// runtime data and padded to HCLReportSize. Its MAC is zeros: only a CPU
// could check it, and verifiers trust the TDREPORT only through the quote
// (fake IMDS /acc/tdquote) whose body equals it.
func buildTDXHCLReport(ak *rsa.PublicKey, vmID string, userData [64]byte) ([]byte, error) {
	rd, reportData, err := runtimeDataAndDigest(ak, vmID, userData, true)
	if err != nil {
		return nil, err
	}
	body, err := fakeintel.DefaultBody(reportData)
	if err != nil {
		return nil, err
	}
	tr := &tdx.TDReport{Type: [4]byte{0x81}, Body: body}
	blob, err := hcl.Build(hcl.ReportTypeTDX, tr.Marshal(), rd, HCLReportSize)
	if err != nil {
		return nil, fmt.Errorf("emulator: building HCL report: %w", err)
	}
	return blob, nil
}

// buildHCLReport builds the HCL report the paravisor publishes: a fresh SNP
// report whose report_data[0:32] is SHA-256 of the runtime data, signed by
// the fake VCEK, wrapped with the runtime data and padded to HCLReportSize.
// Its ID_KEY_DIGEST is fakeamd.IDKeyDigest.
func buildHCLReport(ak *rsa.PublicKey, vmID string, measurement [48]byte, userData [64]byte) ([]byte, error) {
	rd, reportData, err := runtimeDataAndDigest(ak, vmID, userData, false)
	if err != nil {
		return nil, err
	}
	// The paravisor was launched with the emulator's fake ID key, as Azure's
	// is with Microsoft's: verifiers trust it with --trust-emulated only.
	report := fakeamd.NewReport(reportData, fakeamd.WithMeasurement(measurement), fakeamd.WithIDKeyDigest(fakeamd.IDKeyDigest()))
	key := fakekeys.VCEKKey()
	if key == nil {
		return nil, errors.New("emulator: the fake VCEK key is unusable")
	}
	if err := snp.SignReport(report, key); err != nil {
		return nil, err
	}
	blob, err := hcl.Build(hcl.ReportTypeSNP, report, rd, HCLReportSize)
	if err != nil {
		return nil, fmt.Errorf("emulator: building HCL report: %w", err)
	}
	return blob, nil
}
