package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/server"
)

// atomicSecret is the secret of these tests: distinctive, so that a copy
// of it anywhere (a file, an error, a log line) is found.
const atomicSecret = "atomic-secret: 7f3c9e0b-never-leak"

// failHalfway writes the first half of data and then fails, as a full
// disk fails a write part way.
func failHalfway(f *os.File, data []byte) (int, error) {
	n, _ := f.Write(data[:len(data)/2])
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// dirHolds returns the names in dir, and fails t when a file in dir
// (but those of except) holds the first half of the secret, which
// failHalfway writes.
func dirHolds(t *testing.T, dir string, except ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		p := filepath.Join(dir, e.Name())
		if e.Type().IsRegular() && !slices.Contains(except, p) {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(atomicSecret[:len(atomicSecret)/2])) {
				t.Errorf("%s holds (part of) the secret: %q", p, data)
			}
		}
	}
	return names
}

// TestAttestSecretWriteAtomic: -o FILE is written atomically. A write
// that fails part way (an injected failure after half the secret, as a
// full disk) or a rename that fails (the path became a directory) leaves
// the file as it was (absent, or its old content), no temporary file and
// no part of the secret anywhere, and an error that names the files but
// not the secret. Before, the file was truncated and written in place: a
// failed write left it holding part of the secret (and the old content
// lost).
func TestAttestSecretWriteAtomic(t *testing.T) {
	t.Run("write fails part way, file existed", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "secret")
		if err := os.WriteFile(p, []byte("the old content"), 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := openAttestOutput("-o", p, true)
		if err != nil {
			t.Fatal(err)
		}
		o.writeData = failHalfway
		err = o.write([]byte(atomicSecret))
		if err == nil || !strings.Contains(err.Error(), "no space left on device") || strings.Contains(err.Error(), atomicSecret[:8]) {
			t.Fatalf("write: %v", err)
		}
		if data, _ := os.ReadFile(p); string(data) != "the old content" {
			t.Errorf("the file holds %q, want its old content", data)
		}
		if names := dirHolds(t, dir); len(names) != 1 {
			t.Errorf("files left: %v", names)
		}
	})
	t.Run("write fails part way, new file", func(t *testing.T) {
		dir := t.TempDir()
		o, err := openAttestOutput("-o", filepath.Join(dir, "secret"), true)
		if err != nil {
			t.Fatal(err)
		}
		o.writeData = failHalfway
		if err := o.write([]byte(atomicSecret)); err == nil {
			t.Fatal("write succeeded")
		}
		if names := dirHolds(t, dir); len(names) != 0 {
			t.Errorf("files left: %v", names)
		}
	})
	t.Run("short write", func(t *testing.T) {
		dir := t.TempDir()
		o, err := openAttestOutput("-o", filepath.Join(dir, "secret"), true)
		if err != nil {
			t.Fatal(err)
		}
		o.writeData = func(f *os.File, data []byte) (int, error) { return f.Write(data[:3]) }
		if err := o.write([]byte(atomicSecret)); err == nil || err.Error() != "short write" {
			t.Fatalf("write: %v, want short write", err)
		}
		if names := dirHolds(t, dir); len(names) != 0 {
			t.Errorf("files left: %v", names)
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "secret")
		o, err := openAttestOutput("-o", p, true)
		if err != nil {
			t.Fatal(err)
		}
		// After the open, before the write, the path became a directory
		// that is not empty: the rename onto it fails.
		if err := os.MkdirAll(filepath.Join(p, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		err = o.write([]byte(atomicSecret))
		if err == nil || !strings.Contains(err.Error(), "rename ") || strings.Contains(err.Error(), atomicSecret[:8]) {
			t.Fatalf("write: %v", err)
		}
		if names := dirHolds(t, dir); len(names) != 1 || names[0] != "secret" {
			t.Errorf("files left: %v", names)
		}
	})
	t.Run("written", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "secret")
		if err := os.WriteFile(p, []byte("old, longer content"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link")
		if err := os.Symlink("secret", link); err != nil {
			t.Fatal(err)
		}
		o, err := openAttestOutput("-o", link, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.write([]byte(atomicSecret)); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(p); string(data) != atomicSecret || st.Mode().Perm() != 0o600 {
			t.Errorf("the file holds %q, mode %v", data, st.Mode().Perm())
		}
		if lst, err := os.Lstat(link); err != nil || lst.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v %v", lst, err)
		}
		if names := dirHolds(t, dir, p); len(names) != 2 {
			t.Errorf("files left: %v", names)
		}
	})
	t.Run("discarded", func(t *testing.T) {
		dir := t.TempDir()
		o, err := openAttestOutput("-o", filepath.Join(dir, "secret"), true)
		if err != nil {
			t.Fatal(err)
		}
		o.discard()
		if names := dirHolds(t, dir); len(names) != 0 {
			t.Errorf("files left: %v", names)
		}
	})
	t.Run("link to a missing file", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "link")
		if err := os.Symlink("missing", link); err != nil {
			t.Fatal(err)
		}
		if _, err := openAttestOutput("-o", link, true); err == nil || !strings.Contains(err.Error(), "-o: cannot write: "+link+" is a link to a missing file") {
			t.Fatalf("open: %v", err)
		}
		if names := dirHolds(t, dir); len(names) != 1 {
			t.Errorf("files left: %v", names)
		}
	})
}

// TestDeliverSecretFailureSaysNoSecret: when -o FILE cannot be written
// after the release, attest's error (human and --json) names the file and
// says the secret was released, and neither it, standard output, standard
// error nor the debug log carries the secret.
func TestDeliverSecretFailureSaysNoSecret(t *testing.T) {
	for _, jsonOut := range []bool{false, true} {
		dir := t.TempDir()
		p := filepath.Join(dir, "secret")
		o, err := openAttestOutput("-o", p, true)
		if err != nil {
			t.Fatal(err)
		}
		o.writeData = failHalfway
		var stdout, stderr, logs bytes.Buffer
		g := &globals{stdout: &stdout, stderr: &stderr, log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		_, err = deliverSecret(g, &attestFlags{out: p, jsonOut: jsonOut}, &server.Result{Secret: []byte(atomicSecret)}, o)
		if err == nil || !strings.HasPrefix(err.Error(), "-o "+p+": the secret was released but not written: ") {
			t.Fatalf("--json %v: %v", jsonOut, err)
		}
		for what, s := range map[string]string{"error": err.Error(), "stdout": stdout.String(), "stderr": stderr.String(), "log": logs.String()} {
			if strings.Contains(s, atomicSecret[:8]) {
				t.Errorf("--json %v: the %s carries the secret: %s", jsonOut, what, s)
			}
		}
		if names := dirHolds(t, dir); len(names) != 0 {
			t.Errorf("--json %v: files left: %v", jsonOut, names)
		}
	}
}
