package hcl_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"

	"github.com/snp-vtpm/snp-vtpm/hcl"
)

// Parse an HCL report read from NV index 0x01400001, check that the SNP
// report binds the runtime data, and get the vTPM attestation key.
func ExampleParse() {
	blob, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/hcl-report.bin")
	if err != nil {
		panic(err)
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		panic(err)
	}
	fmt.Println("type:", r.Type, "hash:", r.HashType, "runtime data:", len(r.RuntimeDataRaw), "bytes")
	if err := r.CheckBinding(); err != nil {
		panic(err)
	}
	ak, err := r.RuntimeData.AK()
	if err != nil {
		panic(err)
	}
	fmt.Println("AK:", ak.N.BitLen(), "bits, e =", ak.E)
	fmt.Println("VM:", r.RuntimeData.VMConfig.VMUniqueID)
	// Output:
	// type: SNP hash: SHA-256 runtime data: 1110 bytes
	// AK: 2048 bits, e = 65537
	// VM: 911B0EF8-9DBA-48B0-B275-4E4DF2D39252
}

// Errors say which field failed; test their kind with errors.Is.
func ExampleFormatError() {
	blob := make([]byte, 2048)
	copy(blob, "HCLB")
	_, err := hcl.Parse(blob)
	fmt.Println(err)
	// Output:
	// hcl: magic: bad magic (48434c42, want 48434c41)
}

// Build a synthetic HCL report around a fake SNP report, as an emulated
// paravisor would: REPORT_DATA[0:32] = SHA-256(runtime data).
func ExampleBuild() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	rd := hcl.RuntimeData{
		Keys:     []hcl.JWK{hcl.NewRSAJWK(hcl.KidAK, []string{"sign"}, &key.PublicKey)},
		VMConfig: &hcl.VMConfiguration{SecureBoot: true, TPMEnabled: true, VMUniqueID: "00000000-0000-0000-0000-000000000001"},
		UserData: make([]byte, hcl.UserDataSize),
	}
	runtimeData, err := json.Marshal(rd)
	if err != nil {
		panic(err)
	}
	snp := make([]byte, hcl.SNPReportSize) // a real emulator signs this
	copy(snp[0x50:], hcl.HashTypeSHA256.Sum(runtimeData))

	blob, err := hcl.Build(hcl.ReportTypeSNP, snp, runtimeData, 2600)
	if err != nil {
		panic(err)
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		panic(err)
	}
	ak, _ := r.RuntimeData.AK()
	fmt.Println(len(blob), r.CheckBinding() == nil, ak.Equal(&key.PublicKey))
	// Output:
	// 2600 true true
}
