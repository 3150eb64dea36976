//go:build unix

package collateral

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDiskCacheNotRegularFile: a cache file that is not a regular file (a
// named pipe, a symbolic link to one elsewhere, a directory, a device) is
// passed over at once, ErrCacheFile, and the VCEK comes from KDS and
// replaces it. Opened plainly, a named pipe planted in a cache directory
// that someone else can write blocked the read (and the shared fetch that
// every later call for that VCEK joins) until a writer came.
func TestDiskCacheNotRegularFile(t *testing.T) {
	mkfifo := func(t *testing.T, path string) string {
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return path
	}
	tests := []struct {
		name  string
		plant func(t *testing.T, path string) (fifo string)
	}{
		{"named pipe", func(t *testing.T, path string) string { return mkfifo(t, path) }},
		{"symbolic link to a named pipe elsewhere", func(t *testing.T, path string) string {
			fifo := mkfifo(t, filepath.Join(t.TempDir(), "pipe"))
			if err := os.Symlink(fifo, path); err != nil {
				t.Fatal(err)
			}
			return fifo
		}},
		{"directory", func(t *testing.T, path string) string {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"symbolic link to a device", func(t *testing.T, path string) string {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pki, kds := newMilanKDS(t)
			c := kds.newClient(t.TempDir())
			chip := chipID(3)
			tcb := composeTCB(ProductMilan, milanTCB())
			path := c.vcekPath(t, ProductMilan, chip, tcb)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			fifo := tc.plant(t, path)
			k, _ := NewKey(ProductMilan, chip, tcb)
			if err := readWithin(t, fifo, func() error { _, err := c.Disk.Get(ctxTimeout(t, 5*time.Second), KindVCEK, &Query{Key: k}); return err }); !errors.Is(err, ErrCacheFile) {
				t.Fatalf("Disk.Get: %v, want ErrCacheFile", err)
			}
			var der []byte
			if err := readWithin(t, fifo, func() (err error) {
				der, err = c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			kds.wantRequests(t, 1, "KDS requests", "1")
			if tc.name == "directory" {
				return // a directory is not replaced by a file (the write is logged)
			}
			st, err := os.Lstat(path)
			if onDisk, _ := os.ReadFile(path); err != nil || !st.Mode().IsRegular() || !bytes.Equal(onDisk, der) {
				t.Errorf("cache file not replaced by the VCEK: %v, mode %v", err, st.Mode())
			}
		})
	}
}

// readWithin runs f, failing the test if it has not returned within 5 s
// (then a writer opens the named pipe fifo, if any, so that f ends).
func readWithin(t *testing.T, fifo string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		if fifo != "" {
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				_ = w.Close()
			}
		}
		<-done
		t.Fatal("reading the cache file blocked")
		return nil
	}
}
