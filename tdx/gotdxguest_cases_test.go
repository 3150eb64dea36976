package tdx_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// diffCase is a named mutation with each side's end-to-end verdict on the
// case's seed ("synthetic v4" unless named), with its collateral if coll,
// and the documented difference that explains a disagreement there (the
// stage and direction, then the reason).
type diffCase struct {
	name    string
	seed    string
	coll    bool
	resign  bool
	ops     [][]byte
	ours    bool // accepted by us
	theirs  bool // accepted by go-tdx-guest
	because string
}

func (c diffCase) seedName() string {
	if c.seed == "" {
		return "synthetic v4"
	}
	return c.seed
}

// headerCases mutate the header and the body.
var headerCases = []diffCase{
	{name: "unmutated", resign: true, ours: true, theirs: true},
	{name: "header SVNs, user data and every body field but the module's changed, re-signed", resign: true, ours: true, theirs: true,
		ops: [][]byte{mut("qe_svn", 0, 3), mut("pce_svn", 0, 9), mut("user_data", modeXOR, 0x13_00000001), mut("body.MRTD", modeXOR, 0x5_000000FF),
			mut("body.RTMR3", 0, 0x2f_00000011), mut("body.REPORTDATA", 0, 0x3f_00000001), mut("body.TDATTRIBUTES", 0, 1), mut("body.XFAM", modeXOR, 1)}},
	{name: "MRTD changed after signing", resign: true, ops: [][]byte{mut("body.MRTD", modeXOR|modeAfterSign, 1)}},
	{name: "REPORTDATA changed after signing", resign: true, ops: [][]byte{mut("body.REPORTDATA", modeXOR|modeAfterSign, 0x80)}},
	{name: "user data changed after signing", resign: true, ops: [][]byte{mut("user_data", modeXOR|modeAfterSign, 1)}},
	{name: "version 3, re-signed", resign: true, ops: [][]byte{mut("version", 0, 3)}},
	{name: "version 5 (TDX 1.0 body), re-signed", resign: true, ops: [][]byte{mut("version", 0, 5)}, ours: true,
		because: "parse: only go-tdx-guest rejects: " + reasonV5},
	{name: "TDX 1.5 body", seed: "synthetic v5 TD15", resign: true, ours: true, because: "parse: only go-tdx-guest rejects: " + reasonV5},
	{name: "TEE_TCB_SVN_2 changed after signing", seed: "synthetic v5 TD15", resign: true,
		ops: [][]byte{mut("body.TEE_TCB_SVN_2", modeXOR|modeAfterSign, 1)}, because: "parse: only go-tdx-guest rejects: " + reasonV5},
	{name: "version 5 after signing", resign: true, ops: [][]byte{mut("version", modeAfterSign, 5)}, because: "parse: only go-tdx-guest rejects: " + reasonV5},
	{name: "attestation key type 3, re-signed", resign: true, ops: [][]byte{mut("attestation_key_type", 0, 3)}},
	{name: "TEE type SGX, re-signed", resign: true, ops: [][]byte{mut("tee_type", 0, 0)}},
	{name: "QE vendor id changed, re-signed", resign: true, ops: [][]byte{mut("qe_vendor_id", modeXOR, 1)}, theirs: true,
		because: "parse: only we reject: " + reasonQEVendorID},
	{name: "QE vendor id changed after signing", resign: true, ops: [][]byte{mut("qe_vendor_id", modeXOR|modeAfterSign, 1)},
		because: "parse: only we reject: " + reasonQEVendorID},
	{name: "MRSIGNERSEAM not zero, re-signed", resign: true, ops: [][]byte{mut("body.MRSIGNERSEAM", 0, 1)}, theirs: true,
		because: "tdx-module: only we reject: " + reasonTDXModuleOffline},
	{name: "SEAMATTRIBUTES not zero, re-signed", resign: true, ops: [][]byte{mut("body.SEAMATTRIBUTES", 0, 1<<63)}, theirs: true,
		because: "tdx-module: only we reject: " + reasonTDXModuleOffline},
}

// qeCases mutate the QE report, its auth data and the attestation key.
var qeCases = []diffCase{
	{name: "QE MRSIGNER changed, re-signed", resign: true, ops: [][]byte{mut("qe.mrsigner", modeXOR, 1)}, theirs: true,
		because: "qe-identity: only we reject: " + reasonQEIdentityOffline},
	{name: "QE ISVPRODID 1, re-signed", resign: true, ops: [][]byte{mut("qe.isvprodid", 0, 1)}, theirs: true,
		because: "qe-identity: only we reject: " + reasonQEIdentityOffline},
	{name: "QE in DEBUG mode, re-signed", resign: true, ops: [][]byte{mut("qe.attributes", modeXOR, 2)}, theirs: true,
		because: "qe-identity: only we reject: " + reasonQEIdentityOffline},
	{name: "QE ISVSVN, CPUSVN, MRENCLAVE and reserved bytes changed, re-signed", resign: true, ours: true, theirs: true,
		ops: [][]byte{mut("qe.isvsvn", 0, 9), mut("qe.cpusvn", modeXOR, 1), mut("qe.mrenclave", modeXOR, 1), mut("qe.reserved4", 0, 7)}},
	{name: "QE MRENCLAVE changed after signing", resign: true, ops: [][]byte{mut("qe.mrenclave", modeXOR|modeAfterSign, 1)}},
	{name: "QE report data's zero half set, re-signed by the PCK", resign: true, ops: [][]byte{mut("qe.report_data", modeXOR|modeResignQE, 0x30_00000001)}},
	{name: "QE report data changed, not re-signed", resign: true, ops: [][]byte{mut("qe.report_data", modeXOR, 1)}},
	{name: "QE auth data changed after signing", resign: true, ops: [][]byte{mut("qe_auth_data", modeXOR|modeAfterSign, 1)}},
	{name: "QE auth data changed, re-signed", resign: true, ops: [][]byte{mut("qe_auth_data", modeXOR, 0x1f_00000001)}, ours: true, theirs: true},
	{name: "QE auth data empty, re-signed", resign: true, ops: [][]byte{mut("qe_auth_len", 0, 0)}, ours: true, theirs: true},
	{name: "QE auth data of 512 bytes, re-signed", resign: true, ops: [][]byte{mut("qe_auth_len", 0, 512)}, ours: true, theirs: true},
	{name: "QE auth data empty after signing", resign: true, ops: [][]byte{mut("qe_auth_len", modeAfterSign, 0)}},
	{name: "attestation key changed", resign: true, ops: [][]byte{mut("attestation_key", modeXOR, 1)}},
	{name: "attestation key changed and bound again", resign: true, ops: [][]byte{mut("attestation_key", modeXOR|modeRebindQE, 0x3f_00000001)}},
	{name: "attestation key off the curve and bound", resign: true, ops: [][]byte{mut("attestation_key", modeXOR|modeRebindQE, 40<<32|0x10)}},
}

// signatureCases edit r and s of both signatures.
var signatureCases = []diffCase{
	{name: "quote signature r zero", resign: true, ops: [][]byte{mut("signature", 0, sigZero)}},
	{name: "quote signature s zero", resign: true, ops: [][]byte{mut("signature", 0, sigS|sigZero)}},
	{name: "quote signature r = n", resign: true, ops: [][]byte{mut("signature", 0, sigN)}},
	{name: "quote signature s + n", resign: true, ops: [][]byte{mut("signature", 0, sigS|sigPlusN)}},
	{name: "quote signature s = 2^256-1", resign: true, ops: [][]byte{mut("signature", 0, sigS|sigOnes)}},
	{name: "quote signature s negated (n - s)", resign: true, ops: [][]byte{mut("signature", 0, sigS|sigNegate)}, ours: true, theirs: true},
	{name: "quote signature byte flipped", resign: true, ops: [][]byte{mut("signature", 0, 7<<24|1<<16|0x80)}},
	{name: "QE report signature r zero", resign: true, ops: [][]byte{mut("qe_signature", 0, sigZero)}},
	{name: "QE report signature r + n", resign: true, ops: [][]byte{mut("qe_signature", 0, sigPlusN)}},
	{name: "QE report signature s = n", resign: true, ops: [][]byte{mut("qe_signature", 0, sigS|sigN)}},
	{name: "QE report signature s negated (n - s)", resign: true, ops: [][]byte{mut("qe_signature", 0, sigS|sigNegate)}, ours: true, theirs: true},
}

// chainCases edit the PEM PCK chain, or verify chains of another shape.
var chainCases = []diffCase{
	{name: "PCK chain without the root", resign: true, ops: [][]byte{mut("pck_chain", 0, chainDropRoot)}, ours: true,
		because: "pck-chain: only go-tdx-guest rejects: " + reasonChainNoRoot},
	{name: "text before the PCK chain", resign: true, ops: [][]byte{mut("pck_chain", 0, chainJunkBefore)}, theirs: true,
		because: "pck-chain: only we reject: " + reasonPEMStrict},
	{name: "text between PEM blocks", resign: true, ops: [][]byte{mut("pck_chain", 0, chainJunkBetween)}, theirs: true,
		because: "pck-chain: only we reject: " + reasonPEMStrict},
	{name: "PEM header", resign: true, ops: [][]byte{mut("pck_chain", 0, chainHeader)}, theirs: true,
		because: "pck-chain: only we reject: " + reasonPEMStrict},
	{name: "newline after the chain", resign: true, ops: [][]byte{mut("pck_chain", 0, chainTrailingLF)}, ours: true,
		because: "pck-chain: only go-tdx-guest rejects: " + reasonChainPadding},
	{name: "one NUL after the chain (Azure)", resign: true, ops: [][]byte{mut("pck_chain", 0, chainTrailingNUL)}, ours: true, theirs: true},
	{name: "two NULs after the chain", resign: true, ops: [][]byte{mut("pck_chain", 0, chainTwoNULs)}, ours: true,
		because: "pck-chain: only go-tdx-guest rejects: " + reasonChainPadding},
	{name: "text after the chain", resign: true, ops: [][]byte{mut("pck_chain", 0, chainTrailingJunk)}},
	{name: "CRLF line endings", resign: true, ops: [][]byte{mut("pck_chain", 0, chainCRLF)}, ours: true, theirs: true},
	{name: "four certificates", resign: true, ops: [][]byte{mut("pck_chain", 0, chainFourCerts)}},
	{name: "the root re-issued by its key", resign: true, ops: [][]byte{mut("pck_chain", 0, chainReissuedRoot)}, theirs: true,
		because: "pck-chain: only we reject: " + reasonRootBytes},
	{name: "empty PCK chain", resign: true, ops: [][]byte{mut("pck_chain", 0, chainEmpty)},
		because: "parse: only we reject: " + reasonEmptyPCKData},
	{name: "PCK and CA swapped", resign: true, ops: [][]byte{mut("pck_chain", 0, chainSwapped)}},
	{name: "PCK certificate byte flipped", resign: true, ops: [][]byte{mut("pck_chain", 0, chainFlipPCK)}},
	{name: "PCK of a Processor CA", seed: "teekit, Processor CA", resign: true, ours: true,
		because: "pck-chain: only go-tdx-guest rejects: " + reasonProcessorCA},
	{name: "PCK without Intel's profile", seed: "teekit, bare PCK", resign: true, ours: true,
		because: "pck-chain: only go-tdx-guest rejects: " + reasonPCKProfile},
	{name: "the emulated platform's quote", seed: "emulated (fakekeys)", ours: true,
		because: "pck-chain: only go-tdx-guest rejects: " + reasonPCKProfile},
}

// framingCases edit sizes, types and the bytes after the quote.
var framingCases = []diffCase{
	{name: "signed data size 100", resign: true, ops: [][]byte{mut("raw.signed_data_size", 0, 100)},
		because: "parse: go-tdx-guest panics: " + reasonTheirPanic},
	{name: "signed data size 0", resign: true, ops: [][]byte{mut("raw.signed_data_size", 0, 0)},
		because: "parse: go-tdx-guest panics: " + reasonTheirPanic},
	{name: "signed data size's low bit flipped, a zero byte after", resign: true, ops: [][]byte{mut("raw.trailing", 0, 1), mut("raw.signed_data_size", modeXOR, 1)}},
	{name: "certification data type 5", resign: true, ops: [][]byte{mut("raw.cert_type", 0, 5)}},
	{name: "certification data size one less", resign: true, ops: [][]byte{mut("raw.cert_size", modeXOR, 1)}},
	{name: "certification data size 300", resign: true, ops: [][]byte{mut("raw.cert_size", 0, 300), mut("raw.signed_data_size", 0, 128+6+300)},
		because: "parse: go-tdx-guest panics: " + reasonTheirPanic},
	{name: "QE auth data size past the data", resign: true, ops: [][]byte{mut("raw.qe_auth_size", 0, 0xFFFF)},
		because: "parse: go-tdx-guest panics: " + reasonTheirPanic},
	{name: "QE auth data size 0 over 32 bytes", resign: true, ops: [][]byte{mut("raw.qe_auth_size", 0, 0)}},
	{name: "PCK certification data type 6", resign: true, ops: [][]byte{mut("raw.pck_type", 0, 6)}},
	{name: "PCK certification data size one less", resign: true, ops: [][]byte{mut("raw.pck_size", modeXOR, 1)}},
	{name: "zero bytes after the quote", resign: true, ops: [][]byte{mut("raw.trailing", 0, 70)}, ours: true, theirs: true},
	{name: "non-zero byte after the quote", resign: true, ops: [][]byte{mut("raw.trailing", 0, 1<<8|1)}, theirs: true,
		because: "parse: only we reject: " + reasonTrailing},
	{name: "last byte cut", resign: true, ops: [][]byte{mut("raw.truncate", 0, 1)}},
	{name: "64 KiB of zeros after the quote", resign: true, ops: [][]byte{mut("raw.huge", 0, 0)}, theirs: true,
		because: "parse: only we reject: " + reasonTooLarge},
	{name: "body size of a TDX 1.5 body on a TDX 1.0 one", seed: "synthetic v5 TD10", resign: true,
		ops: [][]byte{mut("raw.body_size", 0, tdx.BodySizeTD15)}},
}

// collateralCases compare the TCB status and QE identity against Intel's
// documents re-signed under the seed's root.
var collateralCases = []diffCase{
	{name: "collateral: unmutated", coll: true, resign: true, ours: true, theirs: true},
	{name: "collateral: platform below UpToDate, TDX module UpToDate", coll: true, resign: true,
		ops: [][]byte{mut("body.TEE_TCB_SVN", 0, 2<<32|6)}, theirs: true, because: "tcb: only we reject: " + reasonModuleOverridesPlatform},
	{name: "collateral: TDX module OutOfDate", coll: true, resign: true, ops: [][]byte{mut("body.TEE_TCB_SVN", 0, 2)}},
	{name: "collateral: no TDX module identity TDX_02", coll: true, resign: true, ops: [][]byte{mut("body.TEE_TCB_SVN", 0, 1<<32|2)}},
	{name: "collateral: TDX 1.0 module without identity (TEE_TCB_SVN[1] = 0)", coll: true, resign: true,
		ops: [][]byte{mut("body.TEE_TCB_SVN", 0, 1<<32), mut("body.TEE_TCB_SVN", 0, 5)}, ours: true, theirs: true},
	{name: "collateral: below every platform level", coll: true, resign: true, ops: [][]byte{mut("body.TEE_TCB_SVN", 0, 2<<32|4)}},
	{name: "collateral: QE below every level", coll: true, resign: true, ops: [][]byte{mut("qe.isvsvn", 0, 3)}},
	{name: "collateral: QE MISCSELECT", coll: true, resign: true, ops: [][]byte{mut("qe.miscselect", 0, 1)}},
	{name: "collateral: QE attribute under the mask", coll: true, resign: true, ops: [][]byte{mut("qe.attributes", modeXOR, 8)}},
	{name: "collateral: QE attribute outside the mask", coll: true, resign: true, ops: [][]byte{mut("qe.attributes", modeXOR, 4)}, ours: true, theirs: true},
	{name: "collateral: MRSIGNERSEAM not zero", coll: true, resign: true, ops: [][]byte{mut("body.MRSIGNERSEAM", 0, 1)}},
	{name: "collateral: trustee quote (OutOfDate)", seed: "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin as found", coll: true},
	{name: "collateral: teekit quote (UpToDate)", seed: "intel-collateral/azure-tdx-quote-teekit.bin as found", coll: true, ours: true, theirs: true},
	{name: "collateral: real quote below every level (Feb 2026)", seed: "azure-cvm-attestation-tools/td-quote-v4.bin as found", coll: true},
}

var diffCases = slices.Concat(headerCases, fieldCases(), qeCases, signatureCases, chainCases, framingCases, collateralCases)

// fieldCases change every body field and every field of the QE report
// but its report data, re-signed (the quote by the attestation key, the
// QE report by the PCK) and after signing.
func fieldCases() []diffCase {
	var out []diffCase
	for _, f := range slices.Concat((&tdx.Body{}).Fields(), (&tdx.Body{}).TD15Fields()) {
		signed := diffCase{name: "body " + f.Name + " changed, re-signed", resign: true, ops: [][]byte{mut("body."+f.Name, modeXOR, 1<<32|0x40)},
			ours: true, theirs: true}
		after := diffCase{name: "body " + f.Name + " changed after signing", resign: true, ops: [][]byte{mut("body."+f.Name, modeXOR|modeAfterSign, 1<<32|0x40)}}
		switch f.Name {
		case "MRSIGNERSEAM", "SEAMATTRIBUTES":
			signed.ours, signed.because = false, "tdx-module: only we reject: "+reasonTDXModuleOffline
		case "TEE_TCB_SVN_2", "MR_SERVICETD":
			signed.seed, after.seed = "synthetic v5 TD15", "synthetic v5 TD15"
			signed.theirs, signed.because, after.because = false, "parse: only go-tdx-guest rejects: "+reasonV5, "parse: only go-tdx-guest rejects: "+reasonV5
		}
		out = append(out, signed, after)
	}
	for _, f := range []string{"cpusvn", "miscselect", "reserved1", "attributes", "mrenclave", "reserved2", "mrsigner", "reserved3",
		"isvprodid", "isvsvn", "reserved4"} {
		signed := diffCase{name: "QE " + f + " changed, re-signed by the PCK", resign: true,
			ops: [][]byte{mut("qe."+f, modeXOR|modeAfterSign|modeResignQE, 1<<32|1)}, ours: true, theirs: true}
		if f == "mrsigner" || f == "isvprodid" {
			signed.ours, signed.because = false, "qe-identity: only we reject: "+reasonQEIdentityOffline
		}
		out = append(out, signed, diffCase{name: "QE " + f + " changed after signing", resign: true,
			ops: [][]byte{mut("qe."+f, modeXOR|modeAfterSign, 1<<32|1)}})
	}
	return out
}

// TestTDXQuoteDifferential runs every case on every seed, with and
// without its collateral: each disagreement must be documented. On the
// case's own seed it also checks each side's verdict and the reason that
// explains the disagreement.
func TestTDXQuoteDifferential(t *testing.T) {
	seeds := loadDiffSeeds(t)
	for _, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			ops := slices.Concat(tc.ops...)
			for _, s := range seeds {
				checkAllExplained(t, s, tc.resign, ops)
			}
			s := seedNamed(t, seeds, tc.seedName())
			c := s.coll
			if !tc.coll {
				c = nil
			}
			res := compareQuote(t, mutate(t, s, tc.resign, ops), s, c)
			if res.ours.accepted() != tc.ours || res.theirs.accepted() != tc.theirs {
				t.Errorf("%s: accepted by us %v (%s: %v), by go-tdx-guest %v (%s: %v); want %v, %v", s.name, res.ours.accepted(),
					res.ours.failed, res.ours.err, res.theirs.accepted(), res.theirs.failed, res.theirs.err, tc.ours, tc.theirs)
			}
			if tc.because != "" && !slices.Contains(res.explained, tc.because) {
				t.Errorf("%s: explained %q, want %q", s.name, res.explained, tc.because)
			}
			if tc.because == "" && len(res.explained) > 0 {
				t.Errorf("%s: disagreement %q where both sides should agree", s.name, res.explained)
			}
		})
	}
}

// checkAllExplained compares the mutated quote of s without collateral
// and, if s has some, with it.
func checkAllExplained(t *testing.T, s *diffSeed, resign bool, ops []byte) {
	t.Helper()
	b := mutate(t, s, resign, ops)
	for _, c := range []*collSet{nil, s.coll} {
		if res := compareQuote(t, b, s, c); len(res.unexplained) > 0 {
			t.Errorf("%s (collateral %v): unexplained disagreement: %s", s.name, c != nil, strings.Join(res.unexplained, "; "))
		}
		if s.coll == nil {
			break
		}
	}
}

// TestTDXQuoteDifferentialReal: every real quote as found, at its time,
// gets the same verdict from both sides (go-tdx-guest rejecting the
// version 5 ones at parse), without and with Intel's collateral; the
// version 4 ones verify on both sides without collateral.
func TestTDXQuoteDifferentialReal(t *testing.T) {
	verified := 0
	for _, s := range loadDiffSeeds(t) {
		if s.signer != nil || s.root.Subject.CommonName != tdx.RootCACN {
			continue
		}
		for _, c := range []*collSet{nil, s.coll} {
			res := compareQuote(t, s.q.Marshal(), s, c)
			if len(res.unexplained) > 0 || res.ours.accepted() != res.theirs.accepted() && !slices.Contains(res.explained, "parse: only go-tdx-guest rejects: "+reasonV5) {
				t.Errorf("%s (collateral %v): ours %s %v, go-tdx-guest %s %v, unexplained %q", s.name, c != nil,
					res.ours.failed, res.ours.err, res.theirs.failed, res.theirs.err, res.unexplained)
			}
			if c == nil && res.ours.accepted() && res.theirs.accepted() {
				verified++
			}
			if s.coll == nil {
				break
			}
		}
	}
	if verified != 4 {
		t.Errorf("%d real quotes verified by both, want the 4 version 4 ones", verified)
	}
}

// TestTDXQuoteRevocationDifferential: with the seed's PCK, or its CA,
// revoked by the collateral's CRLs, both sides reject the quote at
// revocation.
func TestTDXQuoteRevocationDifferential(t *testing.T) {
	seeds := loadDiffSeeds(t)
	s := seeds[slices.IndexFunc(seeds, func(s *diffSeed) bool { return s.name == "synthetic v4" })]
	for _, revoke := range []struct{ pck, ca bool }{{pck: true}, {ca: true}} {
		docs := intelDocs(t)
		docs.RevokePCK, docs.RevokeCA = revoke.pck, revoke.ca
		c := newCollSet(t, s.signer.Files(t, docs), s.q.PCKChain)
		res := compareQuote(t, s.q.Marshal(), s, c)
		if res.ours.failed != stRevocation || res.theirs.failed != stRevocation || len(res.unexplained) > 0 {
			t.Errorf("PCK revoked %v, CA revoked %v: ours %s %v, go-tdx-guest %s %v, unexplained %q", revoke.pck, revoke.ca,
				res.ours.failed, res.ours.err, res.theirs.failed, res.theirs.err, res.unexplained)
		}
	}
}

// FuzzTDXQuoteDifferential mutates real and synthetic quotes (header,
// body, QE report, auth data, attestation key, signatures, PCK chain,
// framing), re-signs them or not, and requires every disagreement with
// go-tdx-guest, without and with collateral, to be a documented one.
func FuzzTDXQuoteDifferential(f *testing.F) {
	seeds := loadDiffSeeds(f)
	for i := range seeds {
		f.Add(uint8(i), true, []byte(nil))
	}
	for _, tc := range diffCases {
		f.Add(uint8(slices.IndexFunc(seeds, func(s *diffSeed) bool { return s.name == tc.seedName() })), tc.resign, slices.Concat(tc.ops...))
	}
	f.Fuzz(func(t *testing.T, seed uint8, resign bool, ops []byte) {
		if len(ops) > 8*testutil.MutOpSize {
			return
		}
		s := seeds[int(seed)%len(seeds)]
		b := mutate(t, s, resign, ops)
		for _, c := range []*collSet{nil, s.coll} {
			if c == nil && s.coll != nil {
				continue // the seeds with collateral are compared with it: the same stages and more
			}
			if res := compareQuote(t, b, s, c); len(res.unexplained) > 0 {
				t.Fatalf("%s (collateral %v): unexplained disagreement: %s\nquote %x", s.name, c != nil, strings.Join(res.unexplained, "; "), b)
			}
		}
	})
}
