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

// TestAttestTokenOutAtomic: --token-out FILE is written atomically, as -o
// is: a write that fails part way leaves an existing file as it was and a
// new one absent, with no temporary file; a written file keeps the mode of
// the file it replaced, and a new one gets 0644 less the umask (the mode
// of a file created in place), not the secret's 0600. Before, the token
// was truncated and written in place: a failed write left part of it.
func TestAttestTokenOutAtomic(t *testing.T) {
	const token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
	open := func(t *testing.T, p string) *attestOutput {
		t.Helper()
		_, o, err := openAttestOutputs(&attestFlags{tokenOut: p})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	mode := func(t *testing.T, p string) os.FileMode {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	for _, tc := range []struct {
		name string
		old  []byte // nil: no file
		perm os.FileMode
		fail bool
		want string
	}{
		{"write fails, file existed", []byte("the old token"), 0o640, true, "the old token"},
		{"write fails, new file", nil, 0, true, ""},
		{"written, file existed", []byte("the old, longer token"), 0o640, false, token},
		{"written, new file", nil, 0, false, token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "result.jwt")
			if tc.old != nil {
				if err := os.WriteFile(p, tc.old, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, tc.perm); err != nil {
					t.Fatal(err)
				}
			}
			o := open(t, p)
			if tc.fail {
				o.writeData = failHalfway
			}
			err := o.write([]byte(token))
			if (err != nil) != tc.fail {
				t.Fatalf("write: %v", err)
			}
			names := dirHolds(t, dir)
			data, rerr := os.ReadFile(p)
			switch {
			case tc.want == "" && (len(names) != 0 || rerr == nil):
				t.Errorf("files left: %v", names)
			case tc.want != "" && (string(data) != tc.want || len(names) != 1):
				t.Errorf("the file holds %q (files %v), want %q", data, names, tc.want)
			}
			if tc.fail || tc.want == "" {
				return
			}
			want := tc.perm
			if tc.old == nil {
				ref := filepath.Join(t.TempDir(), "ref")
				f, err := os.OpenFile(ref, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
				want = mode(t, ref)
			}
			if got := mode(t, p); got != want {
				t.Errorf("mode %v, want %v", got, want)
			}
		})
	}
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

// TestOutputPairSameNewFileThroughLink: -o and --token-out that name one
// file not there yet through two spellings of its directory (one through a
// symbolic link to it) are refused before anything is sent, as two
// spellings of an existing file are. Both are written atomically, so the
// token, renamed after the secret, would replace it: the secret said
// delivered to FILE and lost.
func TestOutputPairSameNewFileThroughLink(t *testing.T) {
	for _, tc := range []struct {
		name, out, token string // relative to a directory holding real/ and alias -> real
		same             bool
	}{
		{"through a linked directory", "alias/f", "real/f", true},
		{"through a linked directory, other way", "real/f", "alias/f", true},
		{"through a linked directory and ..", "alias/../real/f", "real/f", true},
		{"through a link to a deeper directory and ..", "deep/../f", "real/f", true},
		{"two names in one directory", "alias/f", "real/g", false},
		{"one name in two directories", "real/f", "f", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			real := filepath.Join(dir, "real")
			for _, d := range []string{real, filepath.Join(real, "sub")} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for link, to := range map[string]string{"alias": real, "deep": filepath.Join(real, "sub")} {
				if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			s, tok, err := openAttestOutputs(&attestFlags{out: dir + "/" + tc.out, tokenOut: dir + "/" + tc.token}) // not Join: it would clean ".."
			if !tc.same {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				s.discard()
				tok.discard()
				if names := dirHolds(t, real); len(names) != 1 {
					t.Errorf("files left: %v", names)
				}
				return
			}
			if err == nil {
				werr := s.write([]byte(atomicSecret))
				if terr := tok.write([]byte("token")); werr == nil {
					werr = terr
				}
				data, _ := os.ReadFile(filepath.Join(real, "f"))
				t.Fatalf("accepted (writes: %v); the file holds %q", werr, data)
			}
			if !strings.Contains(err.Error(), "both name") {
				t.Errorf("err = %v, want it to say both name one file", err)
			}
			if names := dirHolds(t, real); len(names) != 1 {
				t.Errorf("files left: %v", names)
			}
		})
	}
}
