//go:build cgo

package emulator

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// The emulated AK certificate. Azure provisions the vTPM's AK certificate
// at NV index 0x01C101D0: DER X.509 whose subject is
// CN=<vm id>.TrustedVM.Azure.windows.net, issued by an Azure vTPM CA
// ("Global Virtual TPM CA - 03", or lately "Azure Cloud Virtual TPM CA -
// 11"), as recorded from real Trusted Launch VMs in agentrust-io/cmcp
// pull request 446 and issue 453. The emulated one keeps that subject shape
// under an .invalid domain, is issued by a fake CA whose name says
// EMULATED, and carries TCG's AK certificate extended key usage
// (tcg-kp-AIKCertificate, 2.23.133.8.3); the rest of Azure's extension set
// is not reproduced.
const (
	// EmulatedAKCAName is the common name of the fake vTPM CA.
	EmulatedAKCAName = "EMULATED Virtual TPM CA (snp-vtpm, not Azure)"
	// emulatedAKCertDomain follows the VM id in the subject's common name.
	emulatedAKCertDomain = ".TrustedVM.EMULATED.snp-vtpm.invalid"
)

// akCertEpoch and akCertExpiry bound the fake certificates: fixed, so the
// certificates are the same bytes in every process.
var (
	akCertEpoch  = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	akCertExpiry = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
)

// oidTCGKpAIKCertificate is tcg-kp-AIKCertificate.
var oidTCGKpAIKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 3}

// akCAKey is the fake CA's Ed25519 key, derived from a public fixed seed
// (anyone can sign with it: it proves nothing).
func akCAKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("snp-vtpm emulated vTPM CA key (public, proves nothing)"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// EmulatedAKCACertificate returns the fake vTPM CA's self-signed
// certificate (DER), the issuer of the emulated AK certificate.
func EmulatedAKCACertificate() ([]byte, error) {
	key := akCAKey()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: EmulatedAKCAName, Organization: []string{"snp-vtpm EMULATED"}},
		NotBefore:             akCertEpoch,
		NotAfter:              akCertExpiry,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
}

// AKCertificate returns the emulated AK certificate (DER) of the AK ak of
// the VM vmID, issued by EmulatedAKCACertificate. Ed25519 signatures are
// deterministic and the dates fixed, so the same AK and VM id give the
// same bytes in every process.
func AKCertificate(ak *rsa.PublicKey, vmID string) ([]byte, error) {
	caDER, err := EmulatedAKCACertificate()
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	serial := sha256.Sum256(ak.N.Bytes())
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial[:16]),
		Subject:      pkix.Name{CommonName: vmID + emulatedAKCertDomain},
		NotBefore:    akCertEpoch,
		NotAfter:     akCertExpiry,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{
			oidTCGKpAIKCertificate,
		},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, ak, akCAKey())
	if err != nil {
		return nil, fmt.Errorf("emulator: the AK certificate: %w", err)
	}
	return der, nil
}
