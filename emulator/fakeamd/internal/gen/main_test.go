package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-sev-guest/kds"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
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
		c, err := x509.ParseCertificate(pemBlock(t, dir, name).Bytes)
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
	if err := load(revokedVCEKFile).CheckSignatureFrom(ask); err != nil {
		t.Errorf("revoked VCEK: %v", err)
	}
	for _, f := range []string{vcekCRLFile, vlekCRLFile} {
		l, err := x509.ParseRevocationList(pemBlock(t, dir, f).Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.CheckSignatureFrom(ark); err != nil {
			t.Errorf("%s: %v", f, err)
		}
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

// TestRunCRLs (emu30b): gen -crls, with the committed keys, issues the
// committed revoked VCEK and CRLs again: the same signed contents (only
// the RSASSA-PSS salts differ), so the committed files are what the
// generator makes and no fake key had to change.
func TestRunCRLs(t *testing.T) {
	dir := t.TempDir()
	if err := runCRLs(dir); err != nil {
		t.Fatal(err)
	}
	block := func(file string) *pem.Block { return pemBlock(t, dir, file) }
	for file, committed := range map[string][]byte{vcekCRLFile: fakeamd.VCEKCRLDER(), vlekCRLFile: fakeamd.VLEKCRLDER()} {
		got, err := x509.ParseRevocationList(block(file).Bytes)
		if err != nil {
			t.Fatal(err)
		}
		want, err := x509.ParseRevocationList(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.RawTBSRevocationList, want.RawTBSRevocationList) {
			t.Errorf("%s: the generator's contents differ from the committed CRL's", file)
		}
	}
	got, err := x509.ParseCertificate(block(revokedVCEKFile).Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := fakeamd.RevokedVCEK(); want == nil || !bytes.Equal(got.RawTBSCertificate, want.RawTBSCertificate) {
		t.Error("the generator's revoked VCEK differs from the committed one")
	}
}

// pemBlock returns the PEM block of the generated file dir/file, which
// must open with a line that says it is fake.
func pemBlock(t *testing.T, dir, file string) *pem.Block {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	if line, _, _ := bytes.Cut(b, []byte("\n")); !bytes.HasPrefix(line, []byte("Fake AMD")) || !bytes.Contains(line, []byte(params.Marker)) {
		t.Errorf("%s lacks the line that says it is fake", file)
	}
	p, _ := pem.Decode(b)
	if p == nil {
		t.Fatalf("%s: no PEM", file)
	}
	return p
}
