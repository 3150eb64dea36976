//go:build unix

package collateral

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
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

// snapshot returns the regular files below dir with their contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range cacheFiles(t, dir) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[f] = string(b)
	}
	return m
}

// plantLinks makes each link (a path relative to dir) a symbolic link to
// its target (relative to targets), creating the directories on the way
// and the target.
func plantLinks(t *testing.T, dir, targets string, links map[string]string) {
	t.Helper()
	for link, target := range links {
		to := filepath.Join(targets, target)
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(link)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(to, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiskCacheSymlinkedDir: a directory below the cache directory that
// is a symbolic link (to another cache elsewhere, or to another directory
// of this one) is neither read nor written through: the VCEK, cert chain
// and CRL come from KDS, Disk.Get says ErrCacheLink, the write is refused
// and logged, and nothing where the link points changes. Before, the
// cache read what the link pointed to and wrote its files there
// (MkdirAll, CreateTemp and Rename follow links).
func TestDiskCacheSymlinkedDir(t *testing.T) {
	pki, kds := newMilanKDS(t)
	kds.setCRL(snp.SigningKeyVCEK, pki.crl(t, time.Now().Add(24*time.Hour)))
	chip := chipID(5)
	tcb := composeTCB(ProductMilan, milanTCB())
	ctx := ctxTimeout(t, 10*time.Second)
	fill := func(c *testClient) error {
		if _, err := c.GetVCEK(ctx, milanReq(chip, pki.validator())); err != nil {
			return err
		}
		if _, err := c.CertChain(ctx, ProductMilan); err != nil {
			return err
		}
		_, err := c.CRL(ctx, ProductMilan)
		return err
	}
	elsewhere := t.TempDir() // a cache outside the one used, with every item
	if err := fill(kds.newClient(elsewhere)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// links (relative to the cache directory) to targets (relative to
		// elsewhere, or to the cache directory with inside)
		links  map[string]string
		inside bool
	}{
		{"each kind's directory links elsewhere", map[string]string{"vcek": "vcek", "cert_chain": "cert_chain", "crl": "crl"}, false},
		{"each product line's directory links elsewhere", map[string]string{"vcek/Milan": "vcek/Milan", "cert_chain/Milan": "cert_chain/Milan", "crl/Milan": "crl/Milan"}, false},
		{"links to directories of the same cache", map[string]string{"vcek": "other", "cert_chain": "other", "crl": "other"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			targets := elsewhere
			if tc.inside {
				targets = dir
			}
			plantLinks(t, dir, targets, tc.links)
			before := snapshot(t, elsewhere)
			var logs testutil.LogBuffer
			kds.requests.Store(0)
			c := kds.newClient(dir)
			c.Logger = logs.Logger()
			if err := fill(c); err != nil {
				t.Fatal(err)
			}
			k, _ := NewKey(ProductMilan, chip, tcb)
			for _, kind := range []Kind{KindVCEK, KindCertChain, KindCRL} {
				if _, err := c.Disk.Get(ctx, kind, &Query{Key: k}); !errors.Is(err, ErrCacheLink) || !errors.Is(err, ErrCacheFile) {
					t.Errorf("Disk.Get %s: %v, want ErrCacheLink", kindName(kind), err)
				}
			}
			kds.wantRequests(t, 3, "KDS requests", "3 (nothing read through the links)")
			if st := c.Stats(); st.DiskHits != 0 {
				t.Errorf("disk hits %d through a symbolic link", st.DiskHits)
			}
			if after := snapshot(t, elsewhere); !maps.Equal(after, before) {
				t.Errorf("files where the links point changed: %d before, %d after", len(before), len(after))
			}
			if tc.inside {
				if files := cacheFiles(t, filepath.Join(dir, "other")); len(files) != 0 {
					t.Errorf("written through a link inside the cache: %v", files)
				}
			}
			if n := strings.Count(logs.String(), "could not write the disk cache"); n != 3 || !strings.Contains(logs.String(), "symbolic link") {
				t.Errorf("%d refused writes logged, want 3 naming the symbolic link:\n%s", n, logs.String())
			}
		})
	}
}

// TestIntelDiskCacheSymlinkedDir: the same for Intel's collateral: with
// <cache>/intel a symbolic link to another cache holding every item, the
// items come from the PCS, and nothing there is read or written.
func TestIntelDiskCacheSymlinkedDir(t *testing.T) {
	q, v := teekit(t)
	fake, elsewhere := newFakePCS(t), t.TempDir()
	if _, err := newIntel(fake.URL, elsewhere).TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, elsewhere)
	if len(before) == 0 {
		t.Fatal("nothing cached: the test would test nothing")
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(elsewhere, "intel"), filepath.Join(dir, "intel")); err != nil {
		t.Fatal(err)
	}
	var logs testutil.LogBuffer
	in := newIntel(fake.URL, dir)
	in.Logger = logs.Logger()
	asked := fake.Requests()
	col, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
	if err != nil {
		t.Fatal(err)
	}
	wantUpToDate(t, col, q, v)
	if s := in.Stats(); s.DiskHits != 0 || fake.Requests()-asked != 4 {
		t.Errorf("stats %+v, %d PCS requests: want no disk hit and the 4 items fetched", s, fake.Requests()-asked)
	}
	if after := snapshot(t, elsewhere); !maps.Equal(after, before) {
		t.Errorf("files where the link points changed: %d before, %d after", len(before), len(after))
	}
	if !strings.Contains(logs.String(), "could not write the disk cache") || !strings.Contains(logs.String(), "symbolic link") {
		t.Errorf("refused writes not logged:\n%s", logs.String())
	}
}
