//go:build unix

package server

import (
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

// TestLoadSecretsDirKubernetesVolume: a Kubernetes secret volume (each key
// a link through "..data" to the current "..<timestamp>" directory) loads
// its keys, with their policies, and nothing of its own entries; a
// world-writable directory is still refused where the file system is
// writable (t.TempDir's).
func TestLoadSecretsDirKubernetesVolume(t *testing.T) {
	d := t.TempDir()
	version := "..2026_12_06_22_00_00.123456789"
	writeFiles(t, d, map[string]string{
		version + "/db-key":             "secret-db",
		version + "/db-key.policy.json": `{"allow_debug":false}`,
		version + "/api":                "secret-api",
	})
	symlink(t, version, filepath.Join(d, "..data"))
	for _, key := range []string{"db-key", "db-key.policy.json", "api"} {
		symlink(t, "..data/"+key, filepath.Join(d, key))
	}
	chmod(t, d, map[string]os.FileMode{".": 0o755, version: 0o755})
	res, err := LoadSecretsDir(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || string(res["db-key"].Secret) != "secret-db" || res["db-key"].Policy == nil ||
		string(res["api"].Secret) != "secret-api" || res["api"].Policy != nil {
		t.Fatalf("resources %v", slices.Sorted(maps.Keys(res)))
	}
	chmod(t, d, map[string]os.FileMode{".": 0o777 | os.ModeSticky})
	if readOnlyFS(d) {
		t.Skip("the temporary directory is on a read-only file system")
	}
	if _, err := LoadSecretsDir(d); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Fatalf("world-writable volume on a writable file system: %v", err)
	}
}

// TestReadOnlyFS: every mount point of /proc/self/mounts is read-only
// for readOnlyFS exactly when its options say "ro", and a path that does
// not exist is not.
func TestReadOnlyFS(t *testing.T) {
	if readOnlyFS(filepath.Join(t.TempDir(), "missing")) {
		t.Fatal("a missing path is read-only")
	}
	if runtime.GOOS != "linux" {
		return
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]string{} // mount point -> options of its last (top) mount
	for line := range strings.Lines(string(mounts)) {
		if f := strings.Fields(line); len(f) >= 4 && !strings.Contains(f[1], `\`) {
			last[f[1]] = f[3]
		}
	}
	seen := map[bool]int{}
	for point, opts := range last {
		var st syscall.Statfs_t
		if syscall.Statfs(point, &st) != nil {
			continue
		}
		ro := slices.Contains(strings.Split(opts, ","), "ro")
		if got := readOnlyFS(point); got != ro {
			t.Errorf("readOnlyFS(%s) = %v, mount options %s", point, got, opts)
		}
		seen[ro]++
	}
	t.Logf("checked %d read-only and %d writable mount points", seen[true], seen[false])
	if seen[false] == 0 {
		t.Fatal("no writable mount point checked")
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
