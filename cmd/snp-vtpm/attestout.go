package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// attestOutput is an output file of attest (-o FILE, --token-out FILE),
// opened before anything is sent to the verifier: a path that cannot be
// written (a directory, a missing directory, no permission) then fails the
// command before a secret is released, instead of after. It is written only
// once the verifier has answered; a file the open created and nothing
// was written to is removed (discard).
type attestOutput struct {
	flag, name string
	// secret: the file holds a secret, mode 0600 also when it existed
	// with a wider mode.
	secret  bool
	file    *os.File
	created bool
}

// openAttestOutput opens name (the value of flag) for writing without
// truncating it, creating it with perm when missing; "" is no file (nil).
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
	}
	o := &attestOutput{flag: flag, name: name, secret: secret, created: err != nil}
	mode, perm := os.O_WRONLY, os.FileMode(0o644)
	if o.created {
		mode |= os.O_CREATE | os.O_EXCL
	}
	if secret {
		perm = 0o600
	}
	if o.file, err = os.OpenFile(name, mode, perm); err != nil {
		return nil, fmt.Errorf("%s: cannot write: %w", flag, err)
	}
	return o, nil
}

// write replaces the file's content with data (a regular file is
// truncated first and, holding a secret, made mode 0600) and closes it.
func (o *attestOutput) write(data []byte) error {
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
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard closes a file that was not written, removing it when the open
// created it; nil or written: nothing to do.
func (o *attestOutput) discard() {
	if o == nil || o.file == nil {
		return
	}
	_ = o.file.Close()
	o.file = nil
	if o.created {
		_ = os.Remove(o.name)
	}
}

// openAttestOutputs opens -o FILE (not "-", standard output) and
// --token-out FILE before the exchange; the two must not name the same
// file (the token would overwrite the secret).
func openAttestOutputs(f *attestFlags) (secret, token *attestOutput, err error) {
	if err := checkOutputFile("--token-out", f.tokenOut); err != nil {
		return nil, nil, err
	}
	out := f.out
	if out == "-" {
		out = ""
	}
	if out != "" && f.tokenOut != "" && sameFile(out, f.tokenOut) {
		return nil, nil, fmt.Errorf("-o and --token-out both name %s: the token would overwrite the secret; give two files", f.tokenOut)
	}
	if secret, err = openAttestOutput("-o", out, true); err != nil {
		return nil, nil, err
	}
	if token, err = openAttestOutput("--token-out", f.tokenOut, false); err != nil {
		secret.discard()
		return nil, nil, err
	}
	return secret, token, nil
}

// sameFile reports whether the paths a and b name one file: the same
// existing file, or the same path once made absolute.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}
