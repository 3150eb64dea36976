package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Bounds of a secrets directory.
const (
	// MaxResources bounds the resources of a secrets directory.
	MaxResources = 4096
	// MaxResourceBytes bounds one resource's secret.
	MaxResourceBytes = 1 << 20
	// MaxResourceName bounds a resource name.
	MaxResourceName = 255
	// PolicySuffix ends the name of a resource's extra policy file.
	PolicySuffix = ".policy.json"
)

// Resource is one secret of a secrets directory, with the policy that adds
// requirements to the server's for releasing it.
type Resource struct {
	// Secret is released, sealed, to attesters whose evidence passes both
	// the server's policy and Policy.
	Secret []byte
	// Policy, when non-nil, is the resource's extra policy (NAME.policy.json).
	Policy *verify.Policy
}

// ValidResourceName reports whether name is a safe resource name: 1 to
// MaxResourceName bytes of slash-separated segments of ASCII letters,
// digits, '.', '_' and '-', none empty, "." or starting with ".." (a
// Kubernetes volume's own entries), and not ending in PolicySuffix. Absolute paths and backslashes are not names.
func ValidResourceName(name string) bool {
	if name == "" || len(name) > MaxResourceName || strings.HasSuffix(name, PolicySuffix) {
		return false
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || strings.HasPrefix(seg, "..") {
			return false
		}
		for _, c := range []byte(seg) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
			if !ok {
				return false
			}
		}
	}
	return true
}

// LoadSecretsDir reads the resources of dir: every regular file is a
// resource named by its slash-separated path relative to dir, and
// NAME.policy.json beside NAME is its extra policy (strict, as verify
// reads policies). The directory is opened as an os.Root, so a symbolic
// link that leads outside it is an error; so are names that are not
// ValidResourceName, a policy without its resource, a policy name that is
// not a regular file (a directory, a link to one), anything else that is
// not a regular file or a directory (a named pipe, a device: never
// opened), a file or directory every user may write (the directory
// itself included; on Linux, unless the directory's file system is
// mounted read-only, where no one can write), empty or oversized files and
// more than MaxResources resources. Nothing of a secret appears in the
// errors.
//
// Entries whose name starts with ".." are skipped: a Kubernetes secret or
// configMap volume keeps each version of its files in a "..<timestamp>"
// directory with a "..data" link to the current one, and shows every key
// as a link through "..data", which is what is read. Such a volume is
// mounted read-only (its mount point is mode 1777).
func LoadSecretsDir(dir string) (map[string]Resource, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets dir: %w", err)
	}
	defer root.Close()
	modeOK := checkNotWorldWritable
	if readOnlyFS(dir) {
		modeOK = func(string, fs.FileMode) error { return nil }
	}
	files := map[string][]byte{}
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), "..") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			// A directory under a policy's name (a bind mount of a missing
			// file creates one) would leave its resource without the policy.
			if strings.HasSuffix(p, PolicySuffix) {
				return fmt.Errorf("%s: a directory, not a policy file", p)
			}
			st, err := root.Stat(p)
			if err != nil {
				return err
			}
			return modeOK(p, st.Mode())
		}
		if len(files) >= 2*MaxResources {
			return fmt.Errorf("more than %d resources", MaxResources)
		}
		data, err := readRootFile(root, p, modeOK)
		if err != nil {
			return err
		}
		files[p] = data
		return nil
	}
	if err := fs.WalkDir(root.FS(), ".", walk); err != nil {
		return nil, fmt.Errorf("secrets dir %s: %w", dir, err)
	}
	return resourcesOf(files)
}

// readRootFile reads one file of root, bounded; a symbolic link is
// followed only within root (os.Root refuses an escape). What is not a
// regular file is refused before it is opened: opening a named pipe would
// wait for a writer, and serve would hang at start.
func readRootFile(root *os.Root, p string, modeOK func(string, fs.FileMode) error) ([]byte, error) {
	st, err := root.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", p, st.Mode().Type())
	}
	if err := modeOK(p, st.Mode()); err != nil {
		return nil, err
	}
	f, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	if st.Size() == 0 || st.Size() > MaxResourceBytes {
		return nil, fmt.Errorf("%s: %d bytes, want 1 to %d", p, st.Size(), MaxResourceBytes)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return data, nil
}

// checkNotWorldWritable refuses a file or directory of a secrets
// directory that every user of the machine may write: anyone could then
// replace a secret with one of their own, or remove or rewrite a
// resource's policy (which is read at the next start). Windows' mode bits
// do not say who may write, so nothing is checked there.
func checkNotWorldWritable(p string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" || mode.Perm()&0o002 == 0 {
		return nil
	}
	return fmt.Errorf("%s: writable by every user (mode %s); chmod o-w", p, mode.Perm())
}

// resourcesOf pairs the files of a secrets directory into resources.
func resourcesOf(files map[string][]byte) (map[string]Resource, error) {
	out := map[string]Resource{}
	for p, data := range files {
		if strings.HasSuffix(p, PolicySuffix) {
			continue
		}
		if !ValidResourceName(p) {
			return nil, fmt.Errorf("secrets dir: %q is not a valid resource name (letters, digits, '.', '_', '-', '/')", p)
		}
		r := Resource{Secret: data}
		if pol, ok := files[p+PolicySuffix]; ok {
			parsed, err := verify.ParsePolicy(pol)
			if err != nil {
				return nil, fmt.Errorf("secrets dir: %s%s: %w", p, PolicySuffix, err)
			}
			r.Policy = parsed
		}
		out[p] = r
	}
	for p := range files {
		if name, ok := strings.CutSuffix(p, PolicySuffix); ok {
			if _, has := out[name]; !has {
				return nil, fmt.Errorf("secrets dir: %s has no resource %s beside it", p, path.Base(name))
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("secrets dir: no resources")
	}
	if len(out) > MaxResources {
		return nil, fmt.Errorf("secrets dir: %d resources, more than %d", len(out), MaxResources)
	}
	return out, nil
}

// resource is a loaded resource with the verifier of its extra policy.
type resource struct {
	secret   []byte
	verifier *verify.Verifier // nil: no extra policy
	policy   *verify.Policy
	maa      *maaPolicy // the vouching of policy; nil: it names no MAA instance
}

// openResources builds the per-resource verifiers on base's configuration.
func openResources(rs map[string]Resource, base *verify.Verifier) (map[string]*resource, error) {
	out := make(map[string]*resource, len(rs))
	for name, r := range rs {
		if !ValidResourceName(name) || len(r.Secret) == 0 {
			return nil, fmt.Errorf("server: resource %q: invalid name or empty secret", name)
		}
		res := &resource{secret: append([]byte(nil), r.Secret...)}
		if r.Policy != nil {
			// Shares base's caches: one bound for the server, whatever
			// the number of resources (up to MaxResources) with policies.
			v, err := base.WithPolicy(*r.Policy)
			if err != nil {
				return nil, fmt.Errorf("server: resource %q: %w", name, err)
			}
			res.verifier, res.policy = v, r.Policy
		}
		out[name] = res
	}
	return out, nil
}
