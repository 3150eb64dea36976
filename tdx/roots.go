package tdx

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// PinnedRootSHA256 is the SHA-256 of the DER of Intel's SGX Root CA
// certificate, the one root a PCK chain is accepted under.
const PinnedRootSHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// intelSGXRootCAPEM is the Intel SGX Root CA certificate (CN=Intel SGX Root
// CA, O=Intel Corporation, valid 2018-05-21 to 2049-12-31, ECDSA P-256),
// as carried in the certification data of real Azure TD quotes
// (testdata/trustee-az-vtpm/az-tdx-vtpm/td-quote.bin and
// testdata/intel-collateral/azure-tdx-quote-teekit.bin) and published by
// Intel; its hash is PinnedRootSHA256 (checked by TestPinnedRoot).
const intelSGXRootCAPEM = `-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
`

// IntelRoot returns a new copy of the pinned Intel SGX Root CA
// certificate. It fails only if the embedded certificate does not parse
// or does not hash to PinnedRootSHA256 (which TestPinnedRoot rules out).
func IntelRoot() (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(intelSGXRootCAPEM))
	if blk == nil {
		return nil, fmt.Errorf("tdx: the embedded Intel SGX Root CA is not PEM")
	}
	if sum := sha256.Sum256(blk.Bytes); hex.EncodeToString(sum[:]) != PinnedRootSHA256 {
		return nil, fmt.Errorf("tdx: the embedded Intel SGX Root CA hashes to %x, want %s", sum, PinnedRootSHA256)
	}
	return x509.ParseCertificate(blk.Bytes)
}
