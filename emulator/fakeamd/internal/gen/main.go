// Command gen generates the fake AMD certificate chain and keys of the
// emulated CVM. It was run once; its output is committed and embedded:
//
//	go run ./emulator/fakeamd/internal/gen -out emulator/fakeamd
//
// Running it again produces new keys, which changes the emulated CVM's
// identity for every verifier that pinned the old fake ARK. The
// certificates are issued by internal/amdcert, the one fake AMD chain
// builder (synthetic evidence uses it too).
//
// With -crls it keeps the committed keys and certificates and issues only
// the fake revocation artefacts again, signed with the committed fake ARK
// and ASK keys: the fake VCEK CRL (listing the revoked VCEK), the fake
// VLEK CRL (empty) and the revoked VCEK (the fake VCEK's key and
// extensions, serial params.RevokedVCEKSerial):
//
//	go run ./emulator/fakeamd/internal/gen -crls -out emulator/fakeamd
//
// Their contents are fixed (only the RSASSA-PSS salts of the signatures
// change from run to run).
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/internal/params"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

func main() {
	out := flag.String("out", "emulator/fakeamd", "output directory (the fakeamd package)")
	crls := flag.Bool("crls", false, "keep the committed keys; issue only the fake CRLs and the revoked VCEK again")
	flag.Parse()
	gen := run
	if *crls {
		gen = runCRLs
	}
	if err := gen(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// run generates the keys and the chain. The ARK says Marker as its
// organisation (no verifier checks the ARK's subject); the ASK and VCEK keep
// AMD's organisation, which go-sev-guest's verifier requires.
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
	chain, err := amdcert.NewChain(amdcert.ChainSpec{
		Product: params.ProductLine, ARKKey: ark, ASKKey: ask, Marker: params.Marker,
		ARKOrganization: params.Marker, NotBefore: params.NotBefore(), NotAfter: params.NotAfter(),
	})
	if err != nil {
		return err
	}
	vcekDER, err := chain.Issue(vcekTemplate(&vcek.PublicKey, 0))
	if err != nil {
		return err
	}
	files := map[string][]byte{"ark.pem": certFile(chain.ARK.Raw), "ask.pem": certFile(chain.ASK.Raw), "vcek.pem": certFile(vcekDER)}
	if err := revocationFiles(files, chain, ark, &vcek.PublicKey); err != nil {
		return err
	}
	if err := writeFiles(out, files); err != nil {
		return err
	}
	keys := map[string]crypto.Signer{"ark_key.pem": ark, "ask_key.pem": ask, "vcek_key.pem": vcek}
	for file, key := range keys {
		b, err := fakepki.KeyFile("AMD", key)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "fakekeys", file), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// vcekTemplate is the fake VCEK (serial 0) or the revoked one
// (params.RevokedVCEKSerial): the emulated chip's id and TCB.
func vcekTemplate(pub *ecdsa.PublicKey, serial int64) amdcert.KeyTemplate {
	chip := params.ChipID()
	return amdcert.KeyTemplate{
		Key: pub, ProductName: params.ProductName, HWID: chip[:], HWIDOctetString: true,
		TCB:       snp.TCBParts{Bootloader: params.BlSPL, TEE: params.TeeSPL, SNP: params.SnpSPL, Microcode: params.UcodeSPL},
		NotBefore: params.NotBefore(), NotAfter: params.NotAfter(), Serial: serial,
	}
}

// certFile is a committed fake certificate: a line saying what it is,
// then the PEM.
func certFile(der []byte) []byte {
	b := []byte("Fake AMD certificate of the snp-vtpm emulator (" + params.Marker + ").\n")
	return append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
}

// crlFile is a committed fake CRL: a line saying what it is, then the PEM.
func crlFile(what string, der []byte) []byte {
	b := []byte("Fake AMD " + what + " of the snp-vtpm emulator (" + params.Marker + "), issued by the fake ARK.\n")
	return append(b, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
}

// CRL file names in the fakeamd package.
const (
	revokedVCEKFile = "vcek_revoked.pem"
	vcekCRLFile     = "vcek_crl.pem"
	vlekCRLFile     = "vlek_crl.pem"
)

// revocationFiles adds to files the revoked VCEK (chain's ASK signs it
// for vcek, the fake VCEK's key) and the two CRLs of the fake ARK (key
// ark), shaped like AMD's (RSASSA-PSS SHA-384, CRL number, authority key
// identifier, no other extension), valid params.NotBefore..NotAfter: the
// VCEK CRL lists the revoked VCEK (at NotBefore), the VLEK CRL nothing.
func revocationFiles(files map[string][]byte, chain *amdcert.Chain, ark *rsa.PrivateKey, vcek *ecdsa.PublicKey) error {
	revoked, err := chain.Issue(vcekTemplate(vcek, params.RevokedVCEKSerial))
	if err != nil {
		return err
	}
	pss := func(l *x509.RevocationList) { l.SignatureAlgorithm = x509.SHA384WithRSAPSS }
	vcekCRL, err := fakepki.EditedCRL(chain.ARK, ark, []*big.Int{big.NewInt(params.RevokedVCEKSerial)}, params.NotBefore(), params.NotAfter(), pss)
	if err != nil {
		return err
	}
	vlekCRL, err := fakepki.EditedCRL(chain.ARK, ark, nil, params.NotBefore(), params.NotAfter(), pss)
	if err != nil {
		return err
	}
	files[revokedVCEKFile] = certFile(revoked)
	files[vcekCRLFile] = crlFile("VCEK CRL", vcekCRL)
	files[vlekCRLFile] = crlFile("VLEK CRL", vlekCRL)
	return nil
}

// runCRLs issues the revocation files again with the committed fake keys
// and certificates (fakeamd, fakekeys), which it leaves as they are.
func runCRLs(out string) error {
	ark, ask, vcek := fakekeys.ARKKey(), fakekeys.ASKKey(), fakekeys.VCEKKey()
	arkCert, askCert := fakeamd.ARK(), fakeamd.ASK()
	if ark == nil || ask == nil || vcek == nil || arkCert == nil || askCert == nil {
		return errors.New("the committed fake keys or certificates are unusable")
	}
	chain := &amdcert.Chain{Product: snp.Product(params.ProductLine), Marker: params.Marker, ARK: arkCert, ASK: askCert, ASKKey: ask}
	files := map[string][]byte{}
	if err := revocationFiles(files, chain, ark, &vcek.PublicKey); err != nil {
		return err
	}
	return writeFiles(out, files)
}

// writeFiles writes files into the directory out.
func writeFiles(out string, files map[string][]byte) error {
	for file, b := range files {
		if err := os.WriteFile(filepath.Join(out, file), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
