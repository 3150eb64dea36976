// Command gen generates the fake AMD certificate chain and keys of the
// emulated CVM. It was run once; its output is committed and embedded:
//
//	go run ./emulator/fakeamd/internal/gen -out emulator/fakeamd
//
// Running it again produces new keys, which changes the emulated CVM's
// identity for every verifier that pinned the old fake ARK. The
// certificates are issued by internal/amdcert, the one fake AMD chain
// builder (synthetic evidence uses it too).
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/internal/params"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

func main() {
	out := flag.String("out", "emulator/fakeamd", "output directory (the fakeamd package)")
	flag.Parse()
	if err := run(*out); err != nil {
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
	chip := params.ChipID()
	vcekDER, err := chain.Issue(amdcert.KeyTemplate{
		Key: &vcek.PublicKey, ProductName: params.ProductName, HWID: chip[:], HWIDOctetString: true,
		TCB: snp.TCBParts{Bootloader: params.BlSPL, TEE: params.TeeSPL, SNP: params.SnpSPL, Microcode: params.UcodeSPL},
	})
	if err != nil {
		return err
	}
	certs := map[string][]byte{"ark.pem": chain.ARK.Raw, "ask.pem": chain.ASK.Raw, "vcek.pem": vcekDER}
	for file, der := range certs {
		b := []byte("Fake AMD certificate of the snp-vtpm emulator (" + params.Marker + ").\n")
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		if err := os.WriteFile(filepath.Join(out, file), b, 0o644); err != nil {
			return err
		}
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
