package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// attestOutput is an output file of attest (-o FILE, --token-out FILE),
// maa attest (-o FILE, --evidence-out FILE) or evidence (-o FILE), opened
// before anything is sent to the verifier: a path that cannot be written (a
// directory, a missing directory, no permission) then fails the command
// before a secret is released, instead of after. It is written only once
// the verifier has answered; the temporary file of an output not written
// is removed (discard).
//
// A regular file, or a path not there yet, is written atomically: the open
// creates a temporary file in the file's directory, and write fills it,
// syncs it and renames it onto the file, so that the file holds the whole
// output or is as it was; on any failure the temporary file is emptied and
// removed. The temporary file has the mode the file ends with: 0600 for a
// secret, else the mode of the file it replaces (0644, less the umask, for
// a new one). Any other file (a device such as /dev/stdout) is written in
// place.
type attestOutput struct {
	flag, name string
	// secret: the file holds a secret, mode 0600 also when it existed
	// with a wider mode.
	secret bool
	// file is the file written: the temporary file when target is set,
	// else name opened without truncation.
	file *os.File
	// target, when set, is the regular file (name, its links resolved)
	// that write renames file onto.
	target string
	// writeData writes data to file (nil: (*os.File).Write): a seam that
	// lets a test fail a write part way.
	writeData func(f *os.File, data []byte) (int, error)
}

// openAttestOutput opens name (the value of flag) for writing; "" is no
// file (nil). A regular or missing file is opened for an atomic write
// (openAtomic), anything else in place, without truncating it.
func openAttestOutput(flag, name string, secret bool) (*attestOutput, error) {
	if name == "" {
		return nil, nil
	}
	st, err := os.Stat(name)
	switch {
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("%s %s: is a directory; give the path of a file", flag, name)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", flag, err)
	case err != nil || st.Mode().IsRegular():
		return openAtomic(flag, name, err == nil, secret)
	}
	o := &attestOutput{flag: flag, name: name, secret: secret}
	if o.file, err = os.OpenFile(name, os.O_WRONLY, 0); err != nil {
		return nil, fmt.Errorf("%s: cannot write: %w", flag, err)
	}
	return o, nil
}

// openAtomic opens the file name (the value of flag; exists: a regular
// file, else missing) for an atomic write: a file that exists must be
// writable, as when it was written in place, and a link is followed (the
// output replaces the file it names, not the link); a link to a missing
// file is refused. The temporary file is created now, so that a directory
// that cannot be written fails before anything is sent.
func openAtomic(flag, name string, exists, secret bool) (*attestOutput, error) {
	target, perm, keep := name, os.FileMode(0o644), false
	if secret {
		perm = 0o600
	}
	if exists {
		t, err := filepath.EvalSymlinks(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		f, err := os.OpenFile(t, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot write: %w", flag, err)
		}
		st, err := f.Stat()
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		target = t
		if !secret {
			perm, keep = st.Mode().Perm(), true
		}
	} else if _, err := os.Lstat(name); err == nil {
		return nil, fmt.Errorf("%s: cannot write: %s is a link to a missing file", flag, name)
	}
	dir := filepath.Dir(target)
	tmp, err := createTemp(dir, filepath.Base(target), perm)
	if err == nil && keep {
		// The mode of the file replaced, which the umask did not make.
		if err = tmp.Chmod(perm); err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot write: cannot create a file in %s: %w", flag, dir, errors.Unwrap(err))
	}
	return &attestOutput{flag: flag, name: name, secret: secret, file: tmp, target: target}, nil
}

// createTemp creates a new file ".BASE.tmp-RANDOM" in dir with perm (less
// the umask), as os.CreateTemp does with 0600.
func createTemp(dir, base string, perm os.FileMode) (*os.File, error) {
	for range 16 {
		f, err := os.OpenFile(filepath.Join(dir, "."+base+".tmp-"+rand.Text()), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, "."+base+".tmp-*"), Err: fs.ErrExist}
}

// write replaces the file's content with data and closes it: a file
// opened by openAtomic is written by writeAtomic, another in place (a
// regular file, which only a race can bring here, truncated first and,
// holding a secret, made mode 0600).
func (o *attestOutput) write(data []byte) error {
	if o.target != "" {
		return o.writeAtomic(data)
	}
	f := o.file
	o.file = nil
	st, err := f.Stat()
	if err == nil && st.Mode().IsRegular() {
		err = f.Truncate(0)
		if err == nil && o.secret {
			err = f.Chmod(0o600)
		}
	}
	if err == nil {
		err = o.writeAll(f, data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeAtomic writes data to the temporary file, syncs and closes it and
// renames it onto the target. On any failure the temporary file is
// emptied (by its path, which needs no write permission on its
// directory) and removed, and the target is as it was. The errors name
// the files, never data. The directory is synced after the rename, best
// effort: the secret is in place whether or not that succeeds.
func (o *attestOutput) writeAtomic(data []byte) error {
	f := o.file
	o.file = nil
	tmp := f.Name()
	err := o.writeAll(f, data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, o.target)
	}
	if err != nil {
		_ = os.Truncate(tmp, 0)
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(o.target)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// writeAll writes data to f with o.writeData (default (*os.File).Write);
// a short write without an error is io.ErrShortWrite.
func (o *attestOutput) writeAll(f *os.File, data []byte) error {
	w := o.writeData
	if w == nil {
		w = (*os.File).Write
	}
	n, err := w(f, data)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	return err
}

// discard closes a file that was not written, removing the temporary file
// of an atomic write; nil or written: nothing to do.
func (o *attestOutput) discard() {
	if o == nil || o.file == nil {
		return
	}
	_ = o.file.Close()
	if o.target != "" {
		_ = os.Remove(o.file.Name())
	}
	o.file = nil
}

// openAttestOutputs opens -o FILE (not "-", standard output) and
// --token-out FILE before the exchange; the two must not name the same
// file (the token would overwrite the secret).
func openAttestOutputs(f *attestFlags) (secret, token *attestOutput, err error) {
	if err := checkOutputFile("--token-out", f.tokenOut); err != nil {
		return nil, nil, err
	}
	return openOutputPair(f.out, "--token-out", f.tokenOut, "the token would overwrite the secret")
}

// openOutputPair opens -o FILE (not "-", standard output; written as a
// secret: mode 0600) and a second output file named by flag, both written
// atomically (openAttestOutput), before anything is asked, so that a path that cannot be
// written fails first. The two must not name one file (clash says what
// would be lost); the first is discarded when the second fails.
func openOutputPair(out, flag, name, clash string) (first, second *attestOutput, err error) {
	if out == "-" {
		out = ""
	}
	if out != "" && name != "" && sameFile(out, name) {
		return nil, nil, fmt.Errorf("-o and %s both name %s: %s; give two files", flag, name, clash)
	}
	if first, err = openAttestOutput("-o", out, true); err != nil {
		return nil, nil, err
	}
	if second, err = openAttestOutput(flag, name, false); err != nil {
		first.discard()
		return nil, nil, err
	}
	return first, second, nil
}

// sameFile reports whether the paths a and b name one file: the same
// existing file, or the same name in the same directory, the links of
// their directories resolved (a file not there yet may be named through a
// link to its directory: both would be renamed onto it, the second
// replacing the first).
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	ra, rb := resolvedPath(a), resolvedPath(b)
	return ra != "" && ra == rb
}

// resolvedPath is name made absolute, its directory's links resolved when
// it can be ("" when name cannot be made absolute). The directory is
// taken as written, not cleaned first: "link/.." is link's target's parent.
func resolvedPath(name string) string {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	abs, err := filepath.Abs(filepath.Join(dir, base))
	if err != nil {
		return ""
	}
	return abs
}
