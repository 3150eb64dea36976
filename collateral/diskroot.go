package collateral

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrCacheFile: a disk cache file cannot be used (not a regular file,
// empty, larger than its bound, or reached through a symbolic link that
// leaves the cache directory); it is passed over and replaced by what the
// next source gives.
var ErrCacheFile = errors.New("unusable cache file")

// ErrCacheLink: a directory on the way to a disk cache file, below the
// cache directory, is a symbolic link (the cache never makes one). The
// file is neither read nor written through it: reads pass it over, so the
// collateral is fetched, and writes are refused and logged, never made
// where the link points. It matches ErrCacheFile.
var ErrCacheLink = fmt.Errorf("a directory of the cache is a symbolic link: %w", ErrCacheFile)

// readCacheFile reads the cache file rel (a relative path below dir) of 1
// to limit bytes, through an os.Root of dir: nothing outside dir is read,
// whatever links inside it say. A directory on the way that is a symbolic
// link is ErrCacheLink; a file that is a link leaving dir, or not a
// regular file (a named pipe, a device, a directory, a link to one), is
// ErrCacheFile, refused without waiting: opened without O_NONBLOCK, a
// named pipe planted in the cache directory would block the read, and
// with it every fetch of that item, until a writer came. A missing file
// (or cache directory) wraps os.ErrNotExist.
func readCacheFile(dir, rel string, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(cmp.Or(dir, "."))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	path := filepath.Join(dir, rel)
	if err := checkCacheDirs(root, dir, filepath.Dir(rel)); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(rel, openReadFlags, 0)
	if err != nil {
		if st, lerr := root.Lstat(rel); !errors.Is(err, fs.ErrNotExist) && lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("cache file %s is a symbolic link out of the cache directory (%v): %w", path, err, ErrCacheFile)
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cache file %s is not a regular file (%s): %w", path, st.Mode().Type(), ErrCacheFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("cache file %s larger than %d bytes: %w", path, limit, ErrCacheFile)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty cache file %s: %w", path, ErrCacheFile)
	}
	return b, nil
}

// writeCacheFile writes data to the cache file rel (a relative path below
// dir, which is created if needed) through a temporary file in the same
// directory and a rename, so readers see either the old or the new file
// whole. Everything below dir goes through an os.Root of dir: a directory
// on the way that is a symbolic link is ErrCacheLink (checked first, and
// os.Root refuses a link that leaves dir should one appear meanwhile), so
// nothing is ever written outside dir.
func writeCacheFile(dir, rel string, data []byte) (err error) {
	dir = cmp.Or(dir, ".")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	sub := filepath.Dir(rel)
	if err := checkCacheDirs(root, dir, sub); err != nil {
		return err
	}
	if err := root.MkdirAll(sub, 0o700); err != nil {
		return err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmpName := filepath.Join(sub, "."+filepath.Base(rel)+".tmp-"+hex.EncodeToString(rnd[:]))
	tmp, err := root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = root.Remove(tmpName)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return root.Rename(tmpName, rel)
}

// checkCacheDirs returns ErrCacheLink if a directory of the relative path
// sub below root (whose name is dir), or one on the way to it, is a
// symbolic link. Missing directories are fine (a write creates them).
func checkCacheDirs(root *os.Root, dir, sub string) error {
	if sub == "." || sub == "" {
		return nil
	}
	prefix := ""
	for part := range strings.SplitSeq(filepath.ToSlash(sub), "/") {
		prefix = filepath.Join(prefix, part)
		st, err := root.Lstat(prefix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("collateral: %s: %w", filepath.Join(dir, prefix), ErrCacheLink)
		}
	}
	return nil
}
