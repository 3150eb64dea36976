package pcs_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

const (
	tcbInfoFile = testutil.IntelCollateralDir + "tcbinfo-tdx-00806f050000.json"
	qeIDFile    = testutil.IntelCollateralDir + "qeidentity-tdx.json"
)

// TestTamperedDocuments: one changed byte in a signed body or its
// signature is ErrCollateral naming the document.
func TestTamperedDocuments(t *testing.T) {
	q, v := verifiedQuote(t, "intel-collateral/azure-tdx-quote-teekit.bin")
	tcb, qe := testutil.ReadFile(t, tcbInfoFile), testutil.ReadFile(t, qeIDFile)
	for _, tc := range []struct {
		name      string
		doc       []byte
		old, repl string
		want      string
	}{
		{"tcbinfo body", tcb, `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":18`, "TCB info: signature does not verify"},
		{"tcbinfo whitespace", tcb, `"tcbType":0,`, `"tcbType":0 ,`, "TCB info: signature does not verify"},
		{"tcbinfo status", tcb, `"OutOfDate"`, `"UpToDate"`, "TCB info: signature does not verify"},
		{"tcbinfo signature", tcb, `"signature":"`, `"signature":"0`, ""},
		{"qeidentity body", qe, `"isvsvn":4`, `"isvsvn":3`, "QE identity: signature does not verify"},
		{"qeidentity signature", qe, `"signature":"a9`, `"signature":"a8`, "QE identity: signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(tc.doc, []byte(tc.old)) {
				t.Fatalf("%q not in the document", tc.old)
			}
			mut := bytes.Replace(tc.doc, []byte(tc.old), []byte(tc.repl), 1)
			if tc.want == "" { // a longer signature: a parse error
				mut = bytes.Replace(tc.doc, []byte(tc.old), []byte(tc.repl), 1)
				if _, err := pcs.ParseTCBInfo(mut); !errors.Is(err, format.ErrBadLength) {
					t.Fatalf("%v, want ErrBadLength", err)
				}
				return
			}
			c := loadReal(t)
			var err error
			if bytes.Equal(tc.doc, tcb) {
				c.TCBInfos["00806f050000"], err = pcs.ParseTCBInfo(mut)
			} else {
				c.QEIdentity, err = pcs.ParseQEIdentity(mut)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()})
			if !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrCollateral %q", err, tc.want)
			}
		})
	}
}

// TestWrongFMSPC: Intel's real TCB info of another FMSPC (20a06f000000)
// verifies but is not for the PCK's platform.
func TestWrongFMSPC(t *testing.T) {
	q, v := verifiedQuote(t, "intel-collateral/azure-tdx-quote-teekit.bin")
	other, err := pcs.ParseTCBInfo(testutil.ReadFile(t, "intel-collateral/other-fmspc/tcbinfo-tdx-20a06f000000.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := loadReal(t)
	c.TCBInfos = map[string]*pcs.TCBInfo{"20a06f000000": other}
	_, err = c.Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()})
	if !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), "no TCB info for the PCK's FMSPC 00806f050000") {
		t.Errorf("%v", err)
	}
	c.TCBInfos = map[string]*pcs.TCBInfo{"00806f050000": other} // filed under the wrong name
	_, err = c.Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()})
	if !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), "the TCB info is for FMSPC 20a06f000000") {
		t.Errorf("%v", err)
	}
}

// TestStrictJSON: duplicate members (inner and outer), trailing data,
// unknown members, case variants, a missing signature, other ids and
// versions are parse errors.
func TestStrictJSON(t *testing.T) {
	tcb, qe := string(testutil.ReadFile(t, tcbInfoFile)), string(testutil.ReadFile(t, qeIDFile))
	for _, tc := range []struct {
		name string
		doc  string
		qe   bool
		kind error
	}{
		{"duplicate inner", strings.Replace(tcb, `"tcbType":0,`, `"tcbType":0,"tcbType":0,`, 1), false, strictjson.ErrDuplicateKey},
		{"duplicate outer", strings.Replace(tcb, `,"signature":`, `,"signature":"00","signature":`, 1), false, strictjson.ErrDuplicateKey},
		{"duplicate qe", strings.Replace(qe, `"isvprodid":2,`, `"isvprodid":2,"isvprodid":3,`, 1), true, strictjson.ErrDuplicateKey},
		{"trailing data", tcb + "{}", false, strictjson.ErrTrailingData},
		{"trailing qe", qe + " x", true, strictjson.ErrTrailingData},
		{"unknown inner", strings.Replace(tcb, `"tcbType":0,`, `"tcbType":0,"extra":1,`, 1), false, strictjson.ErrUnknownMember},
		{"case variant", strings.Replace(tcb, `"tcbType":0,`, `"TcbType":0,`, 1), false, format.ErrMalformed},
		{"other id", strings.Replace(tcb, `"id":"TDX"`, `"id":"SGX"`, 1), false, format.ErrUnexpectedValue},
		{"other version", strings.Replace(qe, `"version":2`, `"version":1`, 1), true, format.ErrUnsupportedVersion},
		{"tcb info version 2 (SGX's layout)", strings.Replace(tcb, `"version":3`, `"version":2`, 1), false, format.ErrUnsupportedVersion},
		{"the SGX QE's identity", strings.Replace(qe, `"id":"TD_QE"`, `"id":"QE"`, 1), true, format.ErrUnexpectedValue},
		{"no signature", strings.Replace(qe, `,"signature":`, `,"sig":`, 1), true, format.ErrMissingField},
		// mutation29b: the envelope holds exactly the document and its signature.
		{"extra outer member", strings.Replace(tcb, `,"signature":`, `,"extra":1,"signature":`, 1), false, format.ErrMissingField},
		{"extra outer member qe", strings.Replace(qe, `,"signature":`, `,"tcbInfo":{},"signature":`, 1), true, format.ErrMissingField},
		{"bad status", strings.Replace(tcb, `"OutOfDate"`, `"Fine"`, 1), false, format.ErrUnexpectedValue},
		{"svn out of range", strings.Replace(qe, `"isvsvn":4`, `"isvsvn":70000`, 1), true, format.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.qe {
				_, err = pcs.ParseQEIdentity([]byte(tc.doc))
			} else {
				_, err = pcs.ParseTCBInfo([]byte(tc.doc))
			}
			if err == nil || !errors.Is(err, tc.kind) {
				t.Fatalf("%v, want %v", err, tc.kind)
			}
		})
	}
}

// emulatedCollateral is the emulated TDX CVM's fake Intel collateral.
func emulatedCollateral(t *testing.T) *pcs.Collateral {
	t.Helper()
	c, err := pcs.LoadDir(fakeintel.Collateral())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSwappedCRLs: each CRL must be issued by the certificate it is
// checked against (the root's CRL is not the PCK CA's), and both are
// required.
func TestSwappedCRLs(t *testing.T) {
	q, v := verifiedQuote(t, "intel-collateral/azure-tdx-quote-teekit.bin")
	for _, tc := range []struct {
		name string
		edit func(c *pcs.Collateral)
		want string
	}{
		{"root crl as pck crl", func(c *pcs.Collateral) { c.PCKCRLs["platform"] = c.RootCRL }, `PCK CRL (platform) is issued by "Intel SGX Root CA"`},
		{"pck crl as root crl", func(c *pcs.Collateral) { c.RootCRL = c.PCKCRLs["platform"] }, `Intel SGX Root CA CRL is issued by "Intel SGX PCK Platform CA"`},
		{"no pck crl", func(c *pcs.Collateral) { delete(c.PCKCRLs, "platform") }, "no PCK CRL (platform)"},
		// The emulated CVM's PCK CRL: its issuer has Intel's common name,
		// so the whole names are shown (they said "X, not by X").
		{"emulated pck crl", func(c *pcs.Collateral) { c.PCKCRLs["platform"] = emulatedCollateral(t).PCKCRLs["platform"] }, "(the same common name, another issuer)"},
		{"no qe identity", func(c *pcs.Collateral) { c.QEIdentity = nil }, "no QE identity"},
	} {
		c := loadReal(t)
		tc.edit(c)
		_, err := c.Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()})
		if !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestModuleIdentityFields: each hex field of a TDX module identity (its
// MRSIGNER, attributes and attributes mask) is checked, the others
// well-formed: a wrong length or a non-hex digit is a format error naming
// the field.
func TestModuleIdentityFields(t *testing.T) {
	tcb := string(testutil.ReadFile(t, tcbInfoFile))
	zeros := strings.Repeat("0", 96)
	orig := `"id":"TDX_03","mrsigner":"` + zeros + `","attributes":"0000000000000000","attributesMask":"FFFFFFFFFFFFFFFF"`
	if !strings.Contains(tcb, orig) {
		t.Fatal("module identity TDX_03 not in the TCB info")
	}
	for _, tc := range []struct {
		field, repl string
		kind        error
	}{
		{"mrsigner", `"id":"TDX_03","mrsigner":"` + zeros[2:] + `","attributes":"0000000000000000","attributesMask":"FFFFFFFFFFFFFFFF"`, format.ErrBadLength},
		{"attributes", `"id":"TDX_03","mrsigner":"` + zeros + `","attributes":"000000000000000G","attributesMask":"FFFFFFFFFFFFFFFF"`, format.ErrBadEncoding},
		{"attributesMask", `"id":"TDX_03","mrsigner":"` + zeros + `","attributes":"0000000000000000","attributesMask":"FFFFFFFFFFFFFF"`, format.ErrBadLength},
	} {
		_, err := pcs.ParseTCBInfo([]byte(strings.Replace(tcb, orig, tc.repl, 1)))
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), "tdxModuleIdentities[0]."+tc.field) {
			t.Errorf("%s: %v, want %v naming tdxModuleIdentities[0].%s", tc.field, err, tc.kind, tc.field)
		}
	}
}
