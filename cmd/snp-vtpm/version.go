package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// versionInfo is the output of "snp-vtpm version".
type versionInfo struct {
	Module     string          `json:"module"`
	Version    string          `json:"version"`
	VCS        *vcsInfo        `json:"vcs,omitempty"`
	GoVersion  string          `json:"go_version"`
	Build      buildFlavor     `json:"build"`
	Roots      []rootPrint     `json:"pinned_roots"`
	Paravisors []paravisorInfo `json:"trusted_paravisors"`
}

// vcsInfo is the revision the binary was built from; Modified says the
// work tree had changes.
type vcsInfo struct {
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
}

// buildFlavor says how the binary was built: with cgo (dynamically
// linked), and so with the emulated CVM (--emulate), or without.
type buildFlavor struct {
	Cgo      bool `json:"cgo"`
	Emulator bool `json:"emulator"`
}

// rootPrint is the SHA-256 fingerprint of one pinned AMD certificate.
type rootPrint struct {
	Product string `json:"product"`
	Cert    string `json:"cert"`
	SHA256  string `json:"sha256"`
}

// paravisorInfo is one trusted paravisor ID key digest.
type paravisorInfo struct {
	Name        string `json:"name"`
	IDKeyDigest string `json:"id_key_digest"`
}

func newVersionCmd(g *globals) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, build and the pinned trust anchors of this binary",
		Long: `Print the module version and commit, the Go version, whether the emulated CVM
(--emulate, cgo builds only) is built in, the SHA-256 fingerprints of the pinned AMD
certificates (ARK, ASK and ASVK per product line) and the paravisor ID key digests
trusted by default.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if jsonOut {
				return writeJSON(g.stdout, v)
			}
			printVersion(g, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	return cmd
}

// buildVersion collects the version information of this binary.
func buildVersion() *versionInfo {
	v := &versionInfo{Module: "github.com/snp-vtpm/snp-vtpm", Version: "(devel)", GoVersion: runtime.Version()}
	v.Build.Emulator = emulatorBuiltIn
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Module, v.Version = bi.Main.Path, bi.Main.Version
		var vcs vcsInfo
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcs.Commit = s.Value
			case "vcs.modified":
				vcs.Modified = s.Value == "true"
			case "CGO_ENABLED":
				v.Build.Cgo = s.Value == "1"
			}
		}
		if vcs.Commit != "" {
			v.VCS = &vcs
		}
	}
	roots := snp.DefaultRoots()
	for _, p := range []snp.Product{snp.Milan, snp.Genoa, snp.Turin} {
		for _, c := range roots.Chains(p) {
			for _, cert := range []struct {
				name string
				der  []byte
			}{{"ARK", rawOf(c.ARK)}, {"ASK", rawOf(c.ASK)}, {"ASVK", rawOf(c.ASVK)}} {
				if cert.der != nil {
					sum := sha256.Sum256(cert.der)
					v.Roots = append(v.Roots, rootPrint{Product: string(p), Cert: cert.name, SHA256: hex.EncodeToString(sum[:])})
				}
			}
		}
	}
	for _, p := range verify.DefaultParavisors() {
		v.Paravisors = append(v.Paravisors, paravisorInfo{Name: p.Name, IDKeyDigest: hex.EncodeToString(p.Digest[:])})
	}
	return v
}

// printVersion prints v for humans.
func printVersion(g *globals, v *versionInfo) {
	w := g.stdout
	fmt.Fprintf(w, "snp-vtpm %s (%s)\n", v.Version, v.Module)
	commit := "unknown"
	if v.VCS != nil {
		commit = v.VCS.Commit
		if v.VCS.Modified {
			commit += " (modified)"
		}
	}
	fmt.Fprintf(w, "  commit     %s\n  go         %s\n", commit, v.GoVersion)
	emu := "not built in (a static, cgo-free build)"
	if v.Build.Emulator {
		emu = "built in (cgo build: --emulate works)"
	}
	fmt.Fprintf(w, "  emulator   %s\n", emu)
	fmt.Fprintln(w, "pinned AMD roots (SHA-256 of the DER certificate):")
	for _, r := range v.Roots {
		fmt.Fprintf(w, "  %-6s %-4s %s\n", r.Product, r.Cert, r.SHA256)
	}
	fmt.Fprintln(w, "trusted paravisor ID key digests (SHA-384):")
	for _, p := range v.Paravisors {
		fmt.Fprintf(w, "  %-9s %s\n", p.Name, p.IDKeyDigest)
	}
}

// rawOf returns the DER of c, nil for no certificate.
func rawOf(c *x509.Certificate) []byte {
	if c == nil {
		return nil
	}
	return c.Raw
}
