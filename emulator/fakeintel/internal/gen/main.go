// Command gen generates the fake Intel chain, keys, quote template and
// collateral of the emulated TDX CVM. It was run once; its output is
// committed and embedded:
//
//	go run ./emulator/fakeintel/internal/gen -out emulator/fakeintel
//
// It starts from the real Azure TD quote and Intel collateral in testdata
// (testdata/intel-collateral): the emulated quote repeats the real quote's
// TDX module, XFAM and quoting enclave, and its PCK the real PCK's SGX
// extensions, so that Intel's real TCB levels (re-signed by the fake TCB
// signing key, valid 2025-2045) rate it UpToDate. Running it again
// produces new keys, which changes the emulated TDX CVM's identity for
// every verifier that pinned the old fake root. The certificates are
// issued by internal/intelcert.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/internal/params"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

func main() {
	out := flag.String("out", "emulator/fakeintel", "output directory (the fakeintel package)")
	data := flag.String("testdata", "testdata/intel-collateral", "the real quote and collateral to start from")
	flag.Parse()
	if err := run(*out, *data); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// keys are the fake chain's keys, by file name.
type keys struct{ root, ca, pck, ak, signer *ecdsa.PrivateKey }

func newKeys() (*keys, error) {
	var k keys
	for _, p := range []**ecdsa.PrivateKey{&k.root, &k.ca, &k.pck, &k.ak, &k.signer} {
		var err error
		if *p, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// run generates the keys, chain, quote template and collateral.
func run(out, data string) error {
	realQuote, err := os.ReadFile(filepath.Join(data, "azure-tdx-quote-teekit.bin"))
	if err != nil {
		return err
	}
	q, err := tdx.ParseQuote(realQuote)
	if err != nil {
		return err
	}
	certs, err := q.PCKCertificates()
	if err != nil {
		return err
	}
	sgx, err := tdx.ParsePCKExtensions(certs[0])
	if err != nil {
		return err
	}
	k, err := newKeys()
	if err != nil {
		return err
	}
	chain, err := intelcert.NewChain(intelcert.ChainSpec{
		RootSubject:  params.RootSubject(),
		Organization: params.Marker,
		RootKey:      k.root, CAKey: k.ca, PCKKey: k.pck, SGX: *sgx,
		NotBefore: params.NotBefore(), NotAfter: params.NotAfter(),
	})
	if err != nil {
		return err
	}
	signer, err := chain.TCBSigner(k.signer)
	if err != nil {
		return err
	}
	files := map[string][]byte{"root.pem": pemOf(chain.Root.Raw), "ca.pem": pemOf(chain.CA.Raw), "pck.pem": pemOf(chain.PCK.Raw)}
	if files["quote-template.bin"], err = template(q, chain, k); err != nil {
		return err
	}
	coll, err := collateral(filepath.Join(data, "pcs-00806f050000"), chain, signer, k)
	if err != nil {
		return err
	}
	for name, b := range coll {
		files[filepath.Join("collateral", name)] = b
	}
	for name, key := range map[string]crypto.Signer{"root_key.pem": k.root, "ca_key.pem": k.ca, "pck_key.pem": k.pck,
		"attestation_key.pem": k.ak, "tcb_signing_key.pem": k.signer} {
		b, err := fakepki.KeyFile("Intel", key)
		if err != nil {
			return err
		}
		files[filepath.Join("fakekeys", name)] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func pemOf(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }

// template is the real quote with the emulated paravisor's MRTD, zero
// REPORTDATA and no trailing bytes, signed by the fake chain.
func template(q *tdx.Quote, chain *intelcert.Chain, k *keys) ([]byte, error) {
	q.Body.MRTD = params.MRTD()
	q.Body.ReportData = [64]byte{}
	q.Trailing = 0
	var pemChain []byte
	for _, c := range []*x509.Certificate{chain.PCK, chain.CA, chain.Root} {
		pemChain = append(pemChain, pemOf(c.Raw)...)
	}
	if err := intelcert.SignQuote(q, pemChain, k.pck, k.ak); err != nil {
		return nil, err
	}
	return q.Marshal(), nil
}

// collateral re-signs Intel's real TCB info and QE identity (dates moved
// to the fake chain's window) and issues empty CRLs for the fake root and
// CA.
func collateral(dir string, chain *intelcert.Chain, signer *x509.Certificate, k *keys) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, d := range []struct{ file, member string }{
		{"tcbinfo-tdx-00806f050000.json", "tcbInfo"}, {pcs.QEIdentityFile, "enclaveIdentity"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, d.file))
		if err != nil {
			return nil, err
		}
		var doc map[string]json.RawMessage
		var inner map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(doc[d.member], &inner); err != nil {
			return nil, err
		}
		inner["issueDate"] = params.NotBefore().Format(time.RFC3339)
		inner["nextUpdate"] = params.NotAfter().Format(time.RFC3339)
		raw, err := json.Marshal(inner)
		if err != nil {
			return nil, err
		}
		if out[d.file], err = intelcert.SignDocument(k.signer, d.member, raw); err != nil {
			return nil, err
		}
	}
	var err error
	none := []*big.Int{}
	if out[pcs.RootCRLFile], err = intelcert.CRL(chain.Root, k.root, none, params.NotBefore(), params.NotAfter()); err != nil {
		return nil, err
	}
	if out["pckcrl-platform.der"], err = intelcert.CRL(chain.CA, k.ca, none, params.NotBefore(), params.NotAfter()); err != nil {
		return nil, err
	}
	out[pcs.SigningChainFile] = append(pemOf(signer.Raw), pemOf(chain.Root.Raw)...)
	return out, nil
}
