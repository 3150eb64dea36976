package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-sev-guest/kds"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/internal/params"
)

// The generator still produces a valid chain (its committed output is
// checked by the fakeamd tests).
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("generating two RSA-4096 keys is slow")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "fakekeys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run(dir); err != nil {
		t.Fatalf("run: %v", err)
	}
	load := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s: no PEM", name)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ark, ask, vcek := load("ark.pem"), load("ask.pem"), load("vcek.pem")
	if err := ask.CheckSignatureFrom(ark); err != nil {
		t.Error(err)
	}
	if err := vcek.CheckSignatureFrom(ask); err != nil {
		t.Error(err)
	}
	exts, err := kds.VcekCertificateExtensions(vcek)
	if err != nil {
		t.Fatal(err)
	}
	chip := params.ChipID()
	if !bytes.Equal(exts.HWID, chip[:]) || uint64(exts.TCBVersion) != params.TCB(params.BlSPL, params.TeeSPL, params.SnpSPL, params.UcodeSPL) {
		t.Error("extensions do not match the chip parameters")
	}
	for _, k := range []string{"ark_key.pem", "ask_key.pem", "vcek_key.pem"} {
		b, err := os.ReadFile(filepath.Join(dir, "fakekeys", k))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("PUBLIC TEST KEY")) {
			t.Errorf("%s lacks the public-test-key banner", k)
		}
	}
}
