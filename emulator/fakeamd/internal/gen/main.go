// Command gen generates the fake AMD certificate chain and keys of the
// emulated CVM. It was run once; its output is committed and embedded:
//
//	go run ./emulator/fakeamd/internal/gen -out emulator/fakeamd
//
// Running it again produces new keys, which changes the emulated CVM's
// identity for every verifier that pinned the old fake ARK.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/internal/params"
)

// AMD KDS extension OIDs (1.3.6.1.4.1.3704.1.x), see SPEC §3.
var (
	oidStructVersion = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 1}
	oidProductName   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	oidBlSPL         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	oidTeeSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	oidSnpSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	oidSPL4          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 4}
	oidSPL5          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 5}
	oidSPL6          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 6}
	oidSPL7          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 7}
	oidUcodeSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	oidHwID          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
	oidDescription   = asn1.ObjectIdentifier{2, 5, 4, 13}
)

const keyBanner = "PUBLIC TEST KEY of the snp-vtpm emulator's fake AMD chain.\n" +
	"It is published on purpose, protects nothing and has nothing to do with AMD.\n"

func main() {
	out := flag.String("out", "emulator/fakeamd", "output directory (the fakeamd package)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// name builds an AMD-style subject. go-sev-guest's verifier insists that
// the VCEK's subject and issuer carry exactly AMD's organisation, unit and
// location, so the ASK and VCEK keep Organization "Advanced Micro Devices";
// the ARK (whose subject no verifier checks) says Marker as its
// organisation, and every certificate carries Marker as a description
// attribute.
func name(cn, org string) pkix.Name {
	return pkix.Name{
		Country:            []string{"US"},
		Locality:           []string{"Santa Clara"},
		Province:           []string{"CA"},
		Organization:       []string{org},
		OrganizationalUnit: []string{"Engineering"},
		CommonName:         cn,
		ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidDescription, Value: params.Marker}},
	}
}

// extension DER-encodes an AMD VCEK extension value.
func extension(id asn1.ObjectIdentifier, v any, params string) (pkix.Extension, error) {
	b, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("extension %v: %w", id, err)
	}
	return pkix.Extension{Id: id, Value: b}, nil
}

// vcekExtensions returns AMD's VCEK extensions for the emulated chip.
func vcekExtensions() ([]pkix.Extension, error) {
	chip := params.ChipID()
	values := []struct {
		id     asn1.ObjectIdentifier
		v      any
		params string
	}{
		{oidStructVersion, 1, ""},
		{oidProductName, params.ProductName, "ia5"},
		{oidBlSPL, params.BlSPL, ""},
		{oidTeeSPL, params.TeeSPL, ""},
		{oidSnpSPL, params.SnpSPL, ""},
		{oidSPL4, 0, ""},
		{oidSPL5, 0, ""},
		{oidSPL6, 0, ""},
		{oidSPL7, 0, ""},
		{oidUcodeSPL, params.UcodeSPL, ""},
		{oidHwID, chip[:], ""},
	}
	exts := make([]pkix.Extension, 0, len(values))
	for _, v := range values {
		e, err := extension(v.id, v.v, v.params)
		if err != nil {
			return nil, err
		}
		exts = append(exts, e)
	}
	return exts, nil
}

func run(out string) error {
	ark, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		return err
	}
	ask, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		return err
	}
	vcek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return err
	}

	arkName := name("ARK-"+params.ProductLine, params.Marker)
	askName := name("SEV-"+params.ProductLine, "Advanced Micro Devices")
	arkTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               arkName,
		NotBefore:             params.NotBefore(),
		NotAfter:              params.NotAfter(),
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	arkDER, err := x509.CreateCertificate(rand.Reader, arkTmpl, arkTmpl, &ark.PublicKey, ark)
	if err != nil {
		return fmt.Errorf("ARK: %w", err)
	}
	arkCert, err := x509.ParseCertificate(arkDER)
	if err != nil {
		return err
	}
	askTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               askName,
		NotBefore:             params.NotBefore(),
		NotAfter:              params.NotAfter(),
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	askDER, err := x509.CreateCertificate(rand.Reader, askTmpl, arkCert, &ask.PublicKey, ark)
	if err != nil {
		return fmt.Errorf("ASK: %w", err)
	}
	askCert, err := x509.ParseCertificate(askDER)
	if err != nil {
		return err
	}
	exts, err := vcekExtensions()
	if err != nil {
		return err
	}
	vcekTmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(0),
		Subject:            name("SEV-VCEK", "Advanced Micro Devices"),
		NotBefore:          params.NotBefore(),
		NotAfter:           params.NotAfter(),
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions:    exts,
	}
	vcekDER, err := x509.CreateCertificate(rand.Reader, vcekTmpl, askCert, &vcek.PublicKey, ask)
	if err != nil {
		return fmt.Errorf("VCEK: %w", err)
	}

	certs := map[string][]byte{"ark.pem": arkDER, "ask.pem": askDER, "vcek.pem": vcekDER}
	for file, der := range certs {
		if err := writePEM(filepath.Join(out, file), "Fake AMD certificate of the snp-vtpm emulator ("+params.Marker+").\n", "CERTIFICATE", der); err != nil {
			return err
		}
	}
	keys := map[string]crypto.Signer{"ark_key.pem": ark, "ask_key.pem": ask, "vcek_key.pem": vcek}
	for file, key := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(out, "fakekeys", file), keyBanner, "PRIVATE KEY", der); err != nil {
			return err
		}
	}
	return nil
}

func writePEM(path, banner, typ string, der []byte) error {
	b := []byte(banner)
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})...)
	return os.WriteFile(path, b, 0o644)
}
