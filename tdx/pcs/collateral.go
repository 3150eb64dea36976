package pcs

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Collateral is a parsed set of Intel collateral for TDX. It is not
// modified by Evaluate and may be shared between goroutines.
type Collateral struct {
	// TCBInfos are TCB infos, one per FMSPC (upper-case-insensitive hex of
	// the 6 bytes, lower case here).
	TCBInfos map[string]*TCBInfo
	// QEIdentity is the TD QE identity.
	QEIdentity *QEIdentity
	// SigningChain is the TCB signing chain (leaf first).
	SigningChain []*x509.Certificate
	// PCKCRLs are the PCK CRLs by CA: "platform" or "processor".
	PCKCRLs map[string]*x509.RevocationList
	// RootCRL is the Intel SGX Root CA's CRL.
	RootCRL *x509.RevocationList
}

// File names of a collateral directory (LoadDir), the layout of Intel's
// PCS v4 answers: the TCB info body for each FMSPC, the QE identity body,
// the TCB signing chain (PEM), the PCK CRL of each CA (DER) and the root
// CA CRL (DER).
const (
	TCBInfoPrefix    = "tcbinfo-tdx-" // + <fmspc hex> + ".json"
	QEIdentityFile   = "qeidentity-tdx.json"
	SigningChainFile = "tcb-signing-chain.pem"
	PCKCRLPrefix     = "pckcrl-" // + "platform" or "processor" + ".der"
	RootCRLFile      = "rootcacrl.der"
	maxDirFiles      = 256
	maxFileSize      = 1 << 20
)

// LoadDir reads a collateral directory (the files named by the constants
// above; other files are ignored). Every file is bounded and parsed
// strictly; a TCB info must be named by its own FMSPC (in either case),
// and only one file may name an FMSPC. The QE identity, signing chain and
// root CRL are required, as are at least one TCB info and one PCK CRL.
func LoadDir(fsys fs.FS) (*Collateral, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	if len(ents) > maxDirFiles {
		return nil, fmt.Errorf("collateral directory: %d entries, at most %d", len(ents), maxDirFiles)
	}
	c := &Collateral{TCBInfos: map[string]*TCBInfo{}, PCKCRLs: map[string]*x509.RevocationList{}}
	for _, e := range ents {
		if err := c.load(fsys, e.Name()); err != nil {
			return nil, fmt.Errorf("collateral directory: %s: %w", e.Name(), err)
		}
	}
	switch {
	case c.QEIdentity == nil, c.SigningChain == nil, c.RootCRL == nil:
		return nil, fmt.Errorf("collateral directory: want %s, %s and %s", QEIdentityFile, SigningChainFile, RootCRLFile)
	case len(c.TCBInfos) == 0:
		return nil, fmt.Errorf("collateral directory: no %s<fmspc>.json", TCBInfoPrefix)
	case len(c.PCKCRLs) == 0:
		return nil, fmt.Errorf("collateral directory: no %s<ca>.der (platform or processor)", PCKCRLPrefix)
	}
	return c, nil
}

// readBounded reads the file name of fsys, at most maxFileSize bytes.
func readBounded(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(b) > maxFileSize {
		err = fmt.Errorf("more than %d bytes", maxFileSize)
	}
	return b, err
}

// load parses the file name if it is one of the collateral files.
func (c *Collateral) load(fsys fs.FS, name string) error {
	var parse func([]byte) error
	switch {
	case strings.HasPrefix(name, TCBInfoPrefix) && path.Ext(name) == ".json":
		want := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(name, TCBInfoPrefix), ".json"))
		parse = func(b []byte) error {
			t, err := ParseTCBInfo(b)
			if err != nil {
				return err
			}
			if got := hex.EncodeToString(t.FMSPC[:]); got != want {
				return fmt.Errorf("the TCB info is for FMSPC %s, not %s", got, want)
			}
			// Names differing in the FMSPC's case name one FMSPC: the
			// directory's sort order would choose which one counts.
			if _, dup := c.TCBInfos[want]; dup {
				return fmt.Errorf("a second TCB info for FMSPC %s (file names that differ in case only)", want)
			}
			c.TCBInfos[want] = t
			return nil
		}
	case name == QEIdentityFile:
		parse = func(b []byte) (err error) { c.QEIdentity, err = ParseQEIdentity(b); return err }
	case name == SigningChainFile:
		parse = func(b []byte) (err error) { c.SigningChain, err = ParseSigningChain(b); return err }
	case name == RootCRLFile:
		parse = func(b []byte) (err error) { c.RootCRL, err = ParseCRL(b, "root_ca_crl"); return err }
	case name == PCKCRLPrefix+"platform.der" || name == PCKCRLPrefix+"processor.der":
		ca := strings.TrimSuffix(strings.TrimPrefix(name, PCKCRLPrefix), ".der")
		parse = func(b []byte) error {
			l, err := ParseCRL(b, "pck_crl")
			c.PCKCRLs[ca] = l
			return err
		}
	default:
		return nil
	}
	b, err := readBounded(fsys, name)
	if err != nil {
		return err
	}
	return parse(b)
}

// Options configure Evaluate.
type Options struct {
	// Now is the verification time; zero means time.Now().
	Now time.Time
	// Root replaces the pinned Intel SGX Root CA (tests only); nil means
	// tdx.IntelRoot().
	Root *x509.Certificate
}

// Result is Intel's verdict on a TD quote.
type Result struct {
	// Status is the combined TCB status (platform, TDX module, QE).
	Status string
	// PlatformStatus, ModuleStatus and QEStatus are the statuses of the
	// matched levels; ModuleStatus is empty when TEE_TCB_SVN[1] is 0 (no
	// module identity applies).
	PlatformStatus, ModuleStatus, QEStatus string
	// AdvisoryIDs are the advisories of the matched levels, without
	// repeats, in order of first appearance.
	AdvisoryIDs []string
	// TCBDate is the earliest tcbDate of the matched levels.
	TCBDate time.Time
	// TCBEvaluationDataNumber is the TCB info's.
	TCBEvaluationDataNumber int
}

// caName names the PCK CRL of a PCK CA by the CA's common name.
func caName(cn string) string {
	if cn == tdx.ProcessorCACN {
		return "processor"
	}
	return "platform"
}

// Evaluate checks the collateral at opts.Now (the TCB signing chain, both
// CRLs, both documents' signatures and windows; ErrCollateral), the
// revocation of the quote's PCK and CA (ErrRevoked), then evaluates the
// verified quote q (v is what q.Verify established): the TCB info for the
// PCK's FMSPC and PCE-ID, the platform level, the TDX module identity and
// the QE identity (ErrTCBLevel, ErrQEIdentity).
func (c *Collateral) Evaluate(q *tdx.Quote, v *tdx.Verified, opts Options) (*Result, error) {
	if c == nil || q == nil || v == nil || v.PCK == nil || v.Intermediate == nil {
		return nil, errors.New("pcs: Evaluate needs collateral and a verified quote")
	}
	now, root := opts.Now, opts.Root
	if now.IsZero() {
		now = time.Now()
	}
	if root == nil {
		var err error
		if root, err = tdx.IntelRoot(); err != nil {
			return nil, err
		}
	}
	signer, err := verifySigner(c.SigningChain, root, now)
	if err != nil {
		return nil, err
	}
	if err := checkCRL(c.RootCRL, root, now, "Intel SGX Root CA CRL", v.Intermediate, signer); err != nil {
		return nil, err
	}
	ca := caName(v.Intermediate.Subject.CommonName)
	if err := checkCRL(c.PCKCRLs[ca], v.Intermediate, now, "PCK CRL ("+ca+")", v.PCK); err != nil {
		return nil, err
	}
	fmspc := hex.EncodeToString(v.SGX.FMSPC[:])
	ti := c.TCBInfos[fmspc]
	if ti == nil {
		return nil, collErr("no TCB info for the PCK's FMSPC %s (want %s%s.json)", fmspc, TCBInfoPrefix, fmspc)
	}
	if err := ti.check(signer, now, v.SGX); err != nil {
		return nil, err
	}
	if c.QEIdentity == nil {
		return nil, collErr("no QE identity")
	}
	if err := c.QEIdentity.verifyAt(signer, "QE identity", now); err != nil {
		return nil, err
	}
	return evaluate(ti, c.QEIdentity, q, v)
}

// check verifies t's signature and window and that it is for the PCK's
// platform.
func (t *TCBInfo) check(signer *x509.Certificate, now time.Time, sgx tdx.PCKExtensions) error {
	if err := t.verifyAt(signer, "TCB info", now); err != nil {
		return err
	}
	if t.FMSPC != sgx.FMSPC || t.PCEID != sgx.PCEID {
		return collErr("the TCB info is for FMSPC %x PCE-ID %x, the PCK certificate for FMSPC %x PCE-ID %x", t.FMSPC, t.PCEID, sgx.FMSPC, sgx.PCEID)
	}
	return nil
}
