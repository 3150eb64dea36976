//go:build unix

package server

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadSecretsDirSpecialFiles holds LoadSecretsDir to refusing, at once,
// what is not a regular file or a directory (a named pipe was opened and
// serve waited forever for a writer) and what every user may write (a
// secret or policy anyone could replace), through a link too; and, as
// before, names that are not UTF-8 and oversized files.
func TestLoadSecretsDirSpecialFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d string) // d holds "a" (0600) and "sub/b" (0600), dirs 0700
		want  string                       // substring of the error; "" loads
	}{
		{"0644 files, 0755 dirs", func(t *testing.T, d string) {
			chmod(t, d, map[string]os.FileMode{".": 0o755, "a": 0o644, "sub": 0o755, "sub/b": 0o644})
		}, ""},
		{"named pipe", func(t *testing.T, d string) {
			if err := syscall.Mkfifo(filepath.Join(d, "pipe"), 0o600); err != nil {
				t.Skip(err)
			}
		}, "pipe: not a regular file"},
		{"link to a named pipe", func(t *testing.T, d string) {
			if err := syscall.Mkfifo(filepath.Join(d, "sub", "pipe"), 0o600); err != nil {
				t.Skip(err)
			}
			symlink(t, "sub/pipe", filepath.Join(d, "alias"))
		}, "not a regular file"},
		{"world-writable secret", func(t *testing.T, d string) { chmod(t, d, map[string]os.FileMode{"a": 0o602}) }, "a: writable by every user"},
		{"world-writable policy", func(t *testing.T, d string) {
			writeFiles(t, d, map[string]string{"a.policy.json": "{}"})
			chmod(t, d, map[string]os.FileMode{"a.policy.json": 0o666})
		}, "a.policy.json: writable by every user"},
		{"world-writable subdirectory", func(t *testing.T, d string) { chmod(t, d, map[string]os.FileMode{"sub": 0o777}) }, "sub: writable by every user"},
		{"world-writable directory", func(t *testing.T, d string) { chmod(t, d, map[string]os.FileMode{".": 0o777 | os.ModeSticky}) }, ".: writable by every user"},
		{"non-UTF-8 name", func(t *testing.T, d string) {
			writeFiles(t, d, map[string]string{"n\xffame": "x"})
		}, `"n\xffame" is not a valid resource name`},
		{"secret over MaxResourceBytes", func(t *testing.T, d string) {
			writeFiles(t, d, map[string]string{"big": strings.Repeat("x", MaxResourceBytes+1)})
		}, "big: 1048577 bytes, want 1 to 1048576"},
		{"link to a world-writable file", func(t *testing.T, d string) {
			writeFiles(t, d, map[string]string{"sub/w": "x"})
			chmod(t, d, map[string]os.FileMode{"sub/w": 0o646})
			symlink(t, "sub/w", filepath.Join(d, "alias"))
		}, "writable by every user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			writeFiles(t, d, map[string]string{"a": "secret-a", "sub/b": "secret-b"})
			tc.setup(t, d)
			done := make(chan error, 1)
			go func() {
				_, err := LoadSecretsDir(d)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("LoadSecretsDir hangs")
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("LoadSecretsDir: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("LoadSecretsDir = %v, want an error with %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "secret-"):
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

// chmod sets the mode of each name, relative to d ("." is d).
func chmod(t *testing.T, d string, modes map[string]os.FileMode) {
	t.Helper()
	for name, mode := range modes {
		if err := os.Chmod(filepath.Join(d, filepath.FromSlash(name)), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
