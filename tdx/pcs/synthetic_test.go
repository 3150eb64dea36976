package pcs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// innerJSON returns the signed inner objects of the real documents,
// edited by edit (nil: unchanged).
func innerJSON(t *testing.T, file string, edit func(m map[string]any)) []byte {
	t.Helper()
	var raw []byte
	if strings.Contains(file, "tcbinfo") {
		ti, err := pcs.ParseTCBInfo(testutil.ReadFile(t, file))
		if err != nil {
			t.Fatal(err)
		}
		raw = ti.Signed.Raw
	} else {
		qe, err := pcs.ParseQEIdentity(testutil.ReadFile(t, file))
		if err != nil {
			t.Fatal(err)
		}
		raw = qe.Signed.Raw
	}
	if edit == nil {
		return raw
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeCase is the trustee quote re-signed by a self-made Intel-like chain
// and collateral for it under that chain's root.
func fakeCase(t *testing.T, c tdxtest.Collateral) (*pcs.Collateral, *tdx.Quote, *tdx.Verified, *tdxtest.FakeIntel, pcs.Options) {
	t.Helper()
	return fakeCaseWith(t, tdxtest.Options{}, c, nil)
}

// fakeCaseWith is fakeCase with the chain varied by o and the trustee
// quote edited by edit (nil: unchanged) before it is signed.
func fakeCaseWith(t *testing.T, o tdxtest.Options, c tdxtest.Collateral, edit func(q *tdx.Quote)) (*pcs.Collateral, *tdx.Quote, *tdx.Verified, *tdxtest.FakeIntel, pcs.Options) {
	t.Helper()
	f := tdxtest.NewWith(t, o)
	q, err := tdx.ParseQuote(testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(q)
	}
	f.Sign(t, q)
	now := testutil.TDXFixtureTime()
	v, err := q.Verify(tdx.VerifyOptions{Now: now, Root: f.Root})
	if err != nil {
		t.Fatal(err)
	}
	if c.TCBInfo == nil {
		c.TCBInfo = innerJSON(t, tcbInfoFile, nil)
	}
	if c.QEIdentity == nil {
		c.QEIdentity = innerJSON(t, qeIDFile, nil)
	}
	c.FMSPC = "00806f050000"
	coll, err := pcs.LoadDir(f.FS(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return coll, q, v, f, pcs.Options{Now: now, Root: f.Root}
}

// TestRevoked: the PCK's serial on the PCK CRL, or its CA's on the root
// CRL (both signed under a test root), is ErrRevoked naming the CRL.
func TestRevoked(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    tdxtest.Collateral
		want string
	}{
		{"pck", tdxtest.Collateral{RevokePCK: true}, "on the PCK CRL (platform)"},
		{"ca", tdxtest.Collateral{RevokeCA: true}, "on the Intel SGX Root CA CRL"},
		// mutation29b: the TCB signing certificate on the root CA CRL.
		{"tcb signer", tdxtest.Collateral{RevokeSigner: true}, `"Intel SGX TCB Signing" serial 4 is on the Intel SGX Root CA CRL`},
		{"other serials", tdxtest.Collateral{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, v, _, opts := fakeCase(t, tc.c)
			r, err := c.Evaluate(q, v, opts)
			if tc.want == "" {
				if err != nil || r.Status != pcs.OutOfDate {
					t.Fatalf("%v %+v", err, r)
				}
				return
			}
			if !errors.Is(err, pcs.ErrRevoked) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrRevoked %q", err, tc.want)
			}
		})
	}
}

// TestFakeRootNotPinned: the same collateral is not trusted under the
// pinned root.
func TestFakeRootNotPinned(t *testing.T) {
	c, q, v, _, opts := fakeCase(t, tdxtest.Collateral{})
	opts.Root = nil
	if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrCollateral) {
		t.Fatalf("%v", err)
	}
}

func levels(m map[string]any, key string) []any { return m[key].([]any) }

func moduleLevels(m map[string]any, id string) []any {
	for _, x := range levels(m, "tdxModuleIdentities") {
		if mi := x.(map[string]any); mi["id"] == id {
			return levels(mi, "tcbLevels")
		}
	}
	panic(id)
}

func setStatus(l any, s string) { l.(map[string]any)["tcbStatus"] = s }

func tcbOf(l any) map[string]any { return l.(map[string]any)["tcb"].(map[string]any) }

// setSVN sets component i of the level's list (sgxtcbcomponents or
// tdxtcbcomponents) to svn.
func setSVN(l any, list string, i int, svn int) {
	tcbOf(l)[list].([]any)[i].(map[string]any)["svn"] = svn
}

// TestEvaluation: statuses fold as Intel's library folds them, and a quote
// below every level, of an unknown module or of another QE is rejected.
func TestEvaluation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tcb    func(m map[string]any)
		qe     func(m map[string]any)
		status string
		kind   error
	}{
		{"as Intel says", nil, nil, pcs.OutOfDate, nil},
		{"module revoked", func(m map[string]any) { setStatus(moduleLevels(m, "TDX_01")[1], pcs.Revoked) }, nil, pcs.Revoked, nil},
		{"config needed + module out of date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.ConfigurationNeeded)
		}, nil, pcs.OutOfDateConfigurationNeeded, nil},
		// mutation29b: ConfigurationAndSWHardeningNeeded folds with an
		// out-of-date module as ConfigurationNeeded does, never staying
		// an accepted status.
		{"config and SW hardening needed + module out of date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.ConfigurationAndSWHardeningNeeded)
		}, nil, pcs.OutOfDateConfigurationNeeded, nil},
		{"config and SW hardening needed + qe out of date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.ConfigurationAndSWHardeningNeeded)
			setStatus(moduleLevels(m, "TDX_01")[1], pcs.UpToDate)
		}, func(m map[string]any) { setStatus(levels(m, "tcbLevels")[0], pcs.OutOfDate) }, pcs.OutOfDateConfigurationNeeded, nil},
		{"all up to date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.SWHardeningNeeded)
			setStatus(moduleLevels(m, "TDX_01")[1], pcs.UpToDate)
		}, nil, pcs.SWHardeningNeeded, nil},
		{"qe out of date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.UpToDate)
			setStatus(moduleLevels(m, "TDX_01")[1], pcs.UpToDate)
		}, func(m map[string]any) { setStatus(levels(m, "tcbLevels")[0], pcs.OutOfDate) }, pcs.OutOfDate, nil},
		{"below every level", func(m map[string]any) { m["tcbLevels"] = levels(m, "tcbLevels")[:1] }, nil, "", pcs.ErrTCBLevel},
		{"unknown module", func(m map[string]any) { m["tdxModuleIdentities"] = levels(m, "tdxModuleIdentities")[:1] }, nil, "", pcs.ErrTCBLevel},
		{"module signer", func(m map[string]any) { m["tdxModule"].(map[string]any)["mrsigner"] = strings.Repeat("11", 48) }, nil, "", pcs.ErrTCBLevel},
		{"qe mrsigner", nil, func(m map[string]any) { m["mrsigner"] = strings.Repeat("00", 32) }, "", pcs.ErrQEIdentity},
		{"qe prodid", nil, func(m map[string]any) { m["isvprodid"] = 1 }, "", pcs.ErrQEIdentity},
		{"qe attributes", nil, func(m map[string]any) { m["attributes"] = "13000000000000000000000000000000" }, "", pcs.ErrQEIdentity},
		// mutation29b: every masked byte of ATTRIBUTES is compared, the
		// last (byte 7 under Intel's mask; byte 15 with a full mask) too.
		{"qe attributes byte 7", nil, func(m map[string]any) { m["attributes"] = "11000000000000010000000000000000" }, "", pcs.ErrQEIdentity},
		{"qe attributes byte 15", nil, func(m map[string]any) {
			m["attributes"], m["attributesMask"] = "110000000000000000000000000000FF", "FBFFFFFFFFFFFFFF00000000000000FF"
		}, "", pcs.ErrQEIdentity},
		{"qe svn", nil, func(m map[string]any) {
			levels(m, "tcbLevels")[0].(map[string]any)["tcb"] = map[string]any{"isvsvn": 9}
		}, "", pcs.ErrTCBLevel},
		// audit28c: the TCB info of the PCK's FMSPC but another PCE-ID.
		{"pce id", func(m map[string]any) { m["pceId"] = "0100" }, nil, "", pcs.ErrCollateral},
		// The PCK's PCESVN (11) below the upper levels' picks the lowest.
		{"pcesvn below the upper levels", func(m map[string]any) {
			for _, l := range levels(m, "tcbLevels")[:3] {
				tcbOf(l)["pcesvn"] = 12
			}
			setStatus(levels(m, "tcbLevels")[3], pcs.Revoked)
		}, nil, pcs.Revoked, nil},
		// SGX component 16 and TDX component 16 (the last) are compared.
		{"sgx component 16 below level 1", func(m map[string]any) {
			setSVN(levels(m, "tcbLevels")[1], "sgxtcbcomponents", 15, 1)
			setStatus(levels(m, "tcbLevels")[2], pcs.ConfigurationNeeded)
		}, nil, pcs.OutOfDateConfigurationNeeded, nil},
		{"tdx component 16 below level 1", func(m map[string]any) {
			setSVN(levels(m, "tcbLevels")[1], "tdxtcbcomponents", 15, 1)
			setStatus(levels(m, "tcbLevels")[2], pcs.ConfigurationNeeded)
		}, nil, pcs.OutOfDateConfigurationNeeded, nil},
		{"qe miscselect", nil, func(m map[string]any) { m["miscselect"] = "01000000" }, "", pcs.ErrQEIdentity},
		{"qe miscselect outside the mask", nil, func(m map[string]any) { m["miscselect"], m["miscselectMask"] = "01000000", "FEFFFFFF" }, pcs.OutOfDate, nil},
		{"qe attributes outside the mask", nil, func(m map[string]any) { m["attributes"] = "1500000000000000000000000000FF00" }, pcs.OutOfDate, nil},
		// mutation29b: SEAMATTRIBUTES (zero in the quote) must equal the
		// tdxModule's and the module identity's attributes under their masks.
		{"module attributes", func(m map[string]any) { m["tdxModule"].(map[string]any)["attributes"] = "0000000000000080" }, nil, "", pcs.ErrTCBLevel},
		{"module identity attributes", func(m map[string]any) {
			for _, x := range levels(m, "tdxModuleIdentities") {
				x.(map[string]any)["attributes"] = "0100000000000000"
			}
		}, nil, "", pcs.ErrTCBLevel},
		{"module attributes outside the mask", func(m map[string]any) {
			m["tdxModule"].(map[string]any)["attributes"], m["tdxModule"].(map[string]any)["attributesMask"] = "0100000000000000", "FEFFFFFFFFFFFFFF"
		}, nil, pcs.OutOfDate, nil},
		{"module identity signer", func(m map[string]any) {
			for _, x := range levels(m, "tdxModuleIdentities") {
				x.(map[string]any)["mrsigner"] = strings.Repeat("11", 48)
			}
		}, nil, "", pcs.ErrTCBLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, v, _, opts := fakeCase(t, tdxtest.Collateral{
				TCBInfo: innerJSON(t, tcbInfoFile, tc.tcb), QEIdentity: innerJSON(t, qeIDFile, tc.qe)})
			r, err := c.Evaluate(q, v, opts)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("%v, want %v", err, tc.kind)
				}
				return
			}
			if err != nil || r.Status != tc.status {
				t.Fatalf("%v %+v, want %s", err, r, tc.status)
			}
		})
	}
}

// TestCRLSignedByAnotherKey (mutation29b): a CRL naming the right issuer
// but signed by another key is ErrCollateral, the PCK CRL and the root CA
// CRL alike.
func TestCRLSignedByAnotherKey(t *testing.T) {
	for _, which := range []string{"pck", "root"} {
		t.Run(which, func(t *testing.T) {
			c, q, v, f, opts := fakeCase(t, tdxtest.Collateral{})
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			issuer := f.CA
			if which == "root" {
				issuer = f.Root
			}
			at := testutil.TDXFixtureTime()
			der, err := intelcert.CRL(issuer, k, nil, at.Add(-time.Hour), at.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			l, err := pcs.ParseCRL(der, "crl")
			if err != nil {
				t.Fatal(err)
			}
			if which == "root" {
				c.RootCRL = l
			} else {
				c.PCKCRLs["platform"] = l
			}
			if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), "is not signed by") {
				t.Fatalf("%v, want ErrCollateral: not signed", err)
			}
		})
	}
}

// TestSigningChainRootPinned (mutation29b): a TCB signing chain whose
// second certificate is not the root it is verified under is refused,
// though its leaf chains to that root.
func TestSigningChainRootPinned(t *testing.T) {
	c, q, v, f, opts := fakeCase(t, tdxtest.Collateral{})
	c.SigningChain = append(c.SigningChain[:1:1], f.CA)
	if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), "not the pinned") {
		t.Fatalf("%v, want ErrCollateral: not the pinned root", err)
	}
}

// TestLoadDirFMSPCName (mutation29b): a TCB info file named for one FMSPC
// and holding another's is refused.
func TestLoadDirFMSPCName(t *testing.T) {
	f := tdxtest.New(t)
	fsys := f.FS(t, tdxtest.Collateral{TCBInfo: innerJSON(t, tcbInfoFile, nil), QEIdentity: innerJSON(t, qeIDFile, nil), FMSPC: "00906ed50000"})
	if _, err := pcs.LoadDir(fsys); err == nil || !strings.Contains(err.Error(), "is for FMSPC 00806f050000, not 00906ed50000") {
		t.Fatalf("%v, want the FMSPC mismatch", err)
	}
}

// TestQELevelBoundary (mutation29b): the QE's ISVSVN reaches a QE
// identity level of exactly its SVN, not one of its SVN + 1.
func TestQELevelBoundary(t *testing.T) {
	q, err := tdx.ParseQuote(testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	svn := int(q.QEISVSVN())
	for _, tc := range []struct {
		level int
		kind  error
	}{{svn - 1, nil}, {svn, nil}, {svn + 1, pcs.ErrTCBLevel}} {
		t.Run(fmt.Sprint(tc.level), func(t *testing.T) {
			c, q, v, _, opts := fakeCase(t, tdxtest.Collateral{QEIdentity: innerJSON(t, qeIDFile, func(m map[string]any) {
				tcbOf(levels(m, "tcbLevels")[0])["isvsvn"] = tc.level
			})})
			r, err := c.Evaluate(q, v, opts)
			switch {
			case tc.kind != nil && !errors.Is(err, tc.kind):
				t.Fatalf("QE SVN %d, level %d: %v, want %v", svn, tc.level, err, tc.kind)
			case tc.kind == nil && (err != nil || r.QEStatus != pcs.UpToDate):
				t.Fatalf("QE SVN %d, level %d: %v %+v, want the level's UpToDate", svn, tc.level, err, r)
			}
		})
	}
}

// TestTEETCBSVNRules (audit28c): how TEE_TCB_SVN meets Intel's real TCB
// info of the Azure FMSPC (platform levels need TDX components 5/0/7,
// 3/0/6, 3/0/5; TDX_01 levels SVN 4 UpToDate, 2 OutOfDate; TDX_03 SVN 3):
// with a module version (byte 1) above 0, bytes 0 and 1 are the module
// identity's to judge and skipped at the platform level; with version 0
// there is no module identity and every byte meets the platform levels.
// Each quote is the trustee quote with TEE_TCB_SVN edited, signed again
// under a test root.
func TestTEETCBSVNRules(t *testing.T) {
	for _, tc := range []struct {
		name              string
		svn               [3]byte
		status, plat, mod string
		kind              error
	}{
		{"platform up to date, TDX_01 out of date", [3]byte{2, 1, 7}, pcs.OutOfDate, pcs.UpToDate, pcs.OutOfDate, nil},
		{"byte 0 skipped at the platform level (version 1)", [3]byte{4, 1, 7}, pcs.UpToDate, pcs.UpToDate, pcs.UpToDate, nil},
		{"TDX_01 SVN 0 below every module level", [3]byte{0, 1, 7}, "", "", "", pcs.ErrTCBLevel},
		{"TDX_03 SVN 4", [3]byte{4, 3, 7}, pcs.UpToDate, pcs.UpToDate, pcs.UpToDate, nil},
		{"TDX_03 SVN 2 below its only level", [3]byte{2, 3, 7}, "", "", "", pcs.ErrTCBLevel},
		{"no TDX_02 identity", [3]byte{4, 2, 7}, "", "", "", pcs.ErrTCBLevel},
		{"version 0: byte 0 meets the platform levels", [3]byte{4, 0, 7}, pcs.OutOfDate, pcs.OutOfDate, "", nil},
		{"version 0, byte 0 at the top level", [3]byte{5, 0, 7}, pcs.UpToDate, pcs.UpToDate, "", nil},
		{"version 0, byte 0 below every level", [3]byte{2, 0, 7}, "", "", "", pcs.ErrTCBLevel},
		{"byte 2 below every level", [3]byte{4, 1, 4}, "", "", "", pcs.ErrTCBLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, v, _, opts := fakeCaseWith(t, tdxtest.Options{}, tdxtest.Collateral{}, func(q *tdx.Quote) {
				q.Body.TEETCBSVN = [16]byte{tc.svn[0], tc.svn[1], tc.svn[2]}
			})
			r, err := c.Evaluate(q, v, opts)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("%v, want %v", err, tc.kind)
				}
				return
			}
			if err != nil || r.Status != tc.status || r.PlatformStatus != tc.plat || r.ModuleStatus != tc.mod {
				t.Fatalf("%v %+v, want %s (platform %s, module %q)", err, r, tc.status, tc.plat, tc.mod)
			}
		})
	}
}

// TestProcessorCACRL (audit28c): a PCK of the Processor CA is looked up
// on the processor PCK CRL, not the platform one.
func TestProcessorCACRL(t *testing.T) {
	o := tdxtest.Options{ProcessorCA: true}
	c, q, v, _, opts := fakeCaseWith(t, o, tdxtest.Collateral{RevokePCK: true}, nil)
	if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrRevoked) || !strings.Contains(err.Error(), "PCK CRL (processor)") {
		t.Fatalf("revoked: %v, want ErrRevoked naming the processor CRL", err)
	}
	c, q, v, _, opts = fakeCaseWith(t, o, tdxtest.Collateral{}, nil)
	if r, err := c.Evaluate(q, v, opts); err != nil || r.Status != pcs.OutOfDate {
		t.Fatalf("not revoked: %v %+v", err, r)
	}
	c.PCKCRLs = map[string]*x509.RevocationList{pcs.CAPlatform: c.PCKCRLs[pcs.CAProcessor]}
	if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), "no PCK CRL (processor)") {
		t.Fatalf("filed as the platform CRL: %v, want ErrCollateral", err)
	}
}

// TestTCBSignerIssuedByRoot (audit28c): TCB info and QE identity signed
// by a key that the pinned (here: test) root did not certify as "Intel
// SGX TCB Signing" are unusable collateral (ErrCollateral): a signer of
// that name issued by the PCK CA, the PCK CA itself, the root's own key.
func TestTCBSignerIssuedByRoot(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(f *tdxtest.FakeIntel) (*x509.Certificate, *ecdsa.PrivateKey)
		want string
	}{
		{"issued by the PCK CA", func(f *tdxtest.FakeIntel) (*x509.Certificate, *ecdsa.PrivateKey) {
			k := testutil.Must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))(t)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: pcs.TCBSigningCN},
				NotBefore: f.CA.NotBefore, NotAfter: f.CA.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature}
			return testutil.Must(fakepki.Issue(tmpl, f.CA, &k.PublicKey, f.CAKey))(t), k
		}, "the TCB signing certificate: x509"},
		{"the PCK CA", func(f *tdxtest.FakeIntel) (*x509.Certificate, *ecdsa.PrivateKey) { return f.CA, f.CAKey }, "want \"Intel SGX TCB Signing\""},
		{"the root", func(f *tdxtest.FakeIntel) (*x509.Certificate, *ecdsa.PrivateKey) { return f.Root, f.RootKey }, "want \"Intel SGX TCB Signing\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, v, f, opts := fakeCase(t, tdxtest.Collateral{})
			cert, key := tc.make(f)
			resign := func(name string, raw []byte) []byte { return testutil.Must(intelcert.SignDocument(key, name, raw))(t) }
			ti := testutil.Must(pcs.ParseTCBInfo(resign("tcbInfo", c.TCBInfos["00806f050000"].Signed.Raw)))(t)
			c.TCBInfos["00806f050000"] = ti
			c.QEIdentity = testutil.Must(pcs.ParseQEIdentity(resign("enclaveIdentity", c.QEIdentity.Signed.Raw)))(t)
			c.SigningChain = []*x509.Certificate{cert}
			if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrCollateral %q", err, tc.want)
			}
		})
	}
}

// TestPCKCRLIssuerNotUnderRoot: a PCK CRL whose issuer chain is a
// Platform CA of Intel's name but not issued by the pinned root (alone,
// or followed by the pinned root) is ErrCollateral naming the issuer,
// though the CRL verifies under that CA; under the CA's own root it is
// accepted.
func TestPCKCRLIssuerNotUnderRoot(t *testing.T) {
	f := tdxtest.New(t)
	crl := f.Files(t, tdxtest.Collateral{FMSPC: "00806f050000", TCBInfo: []byte("{}"), QEIdentity: []byte("{}")})["pckcrl-platform.der"]
	certPEM := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	now := testutil.TDXFixtureTime()
	intel, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := pcs.CheckPCKCRL(crl, append(certPEM(f.CA), certPEM(f.Root)...), pcs.CAPlatform, pcs.Options{Now: now, Root: f.Root}); err != nil || l.Issuer.CommonName != "Intel SGX PCK Platform CA" {
		t.Fatalf("under its own root: %v", err)
	}
	for name, chain := range map[string][]byte{
		"CA alone":            certPEM(f.CA),
		"CA then pinned root": append(certPEM(f.CA), certPEM(intel)...),
	} {
		_, err := pcs.CheckPCKCRL(crl, chain, pcs.CAPlatform, pcs.Options{Now: now})
		if !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), `the PCK CRL's issuer "Intel SGX PCK Platform CA"`) {
			t.Errorf("%s: %v, want ErrCollateral: the PCK CRL's issuer", name, err)
		}
	}
}
