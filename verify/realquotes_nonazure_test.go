package verify_test

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// nonAzureTDQuote is a real TD quote of a TD that is not an Azure CVM
// (testdata/go-tdx-guest, dcap-qvl, trustee-tdx, teekit-tdx, flashbots-azure-tdx: see their SOURCES.md), with
// its MRTD, a time its PCK chain is valid at, and its length once the
// bytes appended to it by the publishing project are cut off (0: none).
type nonAzureTDQuote struct {
	file, mrtd string
	at         time.Time
	cut        int
}

func nonAzureTDQuotes() []nonAzureTDQuote {
	jul2023, oct2025 := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), testutil.TDXFixtureTime()
	return []nonAzureTDQuote{
		{"go-tdx-guest/tdx-prod-quote-spr-e4.bin", "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb", jul2023, 4935},
		{"go-tdx-guest/cos-113-tdx-quote.bin", "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a", oct2025, 0},
		{"dcap-qvl/tdx-quote.bin", "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7", oct2025, 0},
		{"dcap-qvl/tdx-quote-hex.bin", "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29", oct2025, 0},
		{"dcap-qvl/tappd-quote.bin", "c68518a0ebb42136c12b2275164f8c72f25fa9a34392228687ed6e9caeb9c0f1dbd895e9cf475121c029dc47e70e91fd", oct2025, 0},
		{"trustee-tdx/tdx-quote-5.bin", "dfba221b48a22af8511542ee796603f37382800840dcd978703909bf8e64d4c8a1e9de86e7c9638bfcba422f3886400a", oct2025, 0},
		{"trustee-tdx/tdx-quote-6.bin", "21e8dead92d6c69d7cbba79816686c03a48485c7df0c11f6f04792d5e1d378f6b8c46615ba6946adccac6becffbb1e88", oct2025, 0},
		{"teekit-tdx/edgeless-td-quote.bin", "b65ea009e424e6f761fdd3d7c8962439453b37ecdf62da04f7bc5d327686bb8bafc8a5d24a9c31cee60e4aba87c2f71b", oct2025, 0},
		{"teekit-tdx/moemahhouk-td-quote.bin", "f2dd2696f69b950645832bdc095ffd11247eeff687eeacdb57a58d2ddb9a9f94fea40c961e19460c00ffa31420ecbc18", oct2025, 0},
		{"teekit-tdx/zkdcap-td-quote.bin", "935be7742dd89c6a4df6dba8353d89041ae0f052beef993b1e7f4524d3bc57650df20e5582158352e1240b3f1fed55d8", oct2025, 0},
		{"flashbots-azure-tdx/non-azure-dcap-tdx-1766059550570652607.bin", "a5844e88897b70c318bef929ef4dfd6c7304c52c4bc9c3f39132f0fdccecf3eb5bab70110ee42a12509a31c037288694", oct2025, 0},
	}
}

// quoteBytes is the quote of q, cut to its signed length when its
// publisher appended bytes.
func (q nonAzureTDQuote) quoteBytes(t *testing.T) []byte {
	t.Helper()
	b := testutil.ReadFile(t, q.file)
	if q.cut != 0 {
		b = b[:q.cut]
	}
	return b
}

// TestRealNonAzureTDQuotesMore: eleven more real TD quotes that are not of
// Azure CVMs (Google's SPR E4 production quote and a GCP COS 113 TD, Phala's
// dstack/tappd TDs, trustee's v5 (TDX 1.5) and 2025 v4 test quotes, the
// Edgeless, MoeMahhouk and zkdcap quotes teekit collected (the zkdcap one
// padded with 3065 zero bytes), a flashbots DCAP TD's, padded likewise) pass Intel's chain and signatures and are rejected as
// paravisor-identity naming their MRTD; with that MRTD trusted by policy
// each verifies, its MRTD in the claims.
func TestRealNonAzureTDQuotesMore(t *testing.T) {
	for _, q := range nonAzureTDQuotes() {
		t.Run(q.file, func(t *testing.T) {
			b := q.quoteBytes(t)
			_, err := newVerifier(t, verify.Config{Now: q.at}).TDXReport(context.Background(), nil, b)
			var verr *verify.Error
			if !errors.As(err, &verr) || verr.Check != verify.CheckParavisorIdentity || !strings.Contains(err.Error(), q.mrtd) {
				t.Fatalf("got %v, want %s naming MRTD %s", err, verify.CheckParavisorIdentity, q.mrtd[:16])
			}
			cfg := verify.Config{Now: q.at}
			cfg.Policy.TDXMRTDs = []verify.HexBytes{testutil.Must(hex.DecodeString(q.mrtd))(t)}
			claims, err := newVerifier(t, cfg).TDXReport(context.Background(), nil, b)
			if err != nil {
				t.Fatalf("with its MRTD trusted: %v", err)
			}
			if claims.TDX == nil || hex.EncodeToString(claims.TDX.MRTD[:]) != q.mrtd || claims.Paravisor != "policy" ||
				claims.TDX.TCBStatus != verify.TCBNotEvaluated {
				t.Errorf("claims paravisor %q tdx %+v", claims.Paravisor, claims.TDX)
			}
		})
	}
}

// TestRealSPRQuoteAsPublished: go-tdx-guest's SPR E4 quote as the file
// holds it, with the 39 bytes "\nextra bytes(only for testing purpose)\n"
// appended after the signed data, is tdx-quote-format naming the trailing
// data; a GCP TD quote before its PCK certificate was issued is
// tdx-pck-chain.
func TestRealSPRQuoteAsPublished(t *testing.T) {
	q := nonAzureTDQuotes()[0]
	raw := testutil.ReadFile(t, q.file)
	if len(raw) != q.cut+39 || !strings.Contains(string(raw[q.cut:]), "only for testing purpose") {
		t.Fatalf("fixture: %d bytes", len(raw))
	}
	_, err := newVerifier(t, verify.Config{Now: q.at}).TDXReport(context.Background(), nil, raw)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckTDXQuoteFormat || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("got %v, want %s naming the trailing data", err, verify.CheckTDXQuoteFormat)
	}
	cos := nonAzureTDQuotes()[1]
	_, err = newVerifier(t, verify.Config{Now: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}).TDXReport(context.Background(), nil, cos.quoteBytes(t))
	if !errors.As(err, &verr) || verr.Check != verify.CheckTDXPCKChain {
		t.Errorf("COS 113 quote before its PCK: %v, want %s", err, verify.CheckTDXPCKChain)
	}
}

// TestRealNonAzureTDQuotesTCB: with Intel's collateral published next to
// them, dcap-qvl's sample TD quote (FMSPC b0c06f000000, June 2025
// collateral) is UpToDate at TCB date 2024-03-13, and go-tdx-guest's SPR E4
// quote (FMSPC 50806f000000, June 2023 collateral) is below every TCB
// level (its PCK's SGX components 3 3 2 2 2 … against 5 5 2 2 3 …):
// tdx-tcb-status.
func TestRealNonAzureTDQuotesTCB(t *testing.T) {
	load := func(dir string) *pcs.Collateral {
		return testutil.Must(pcs.LoadDir(os.DirFS(filepath.Join(testutil.Dir(), dir))))(t)
	}
	qs := nonAzureTDQuotes()
	dq, spr := qs[2], qs[0]
	cfg := verify.Config{Now: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), TDXCollateral: load("dcap-qvl/pcs-b0c06f000000")}
	cfg.Policy.TDXMRTDs = []verify.HexBytes{testutil.Must(hex.DecodeString(dq.mrtd))(t)}
	claims, err := newVerifier(t, cfg).TDXReport(context.Background(), nil, dq.quoteBytes(t))
	if err != nil {
		t.Fatalf("dcap-qvl quote with its collateral: %v", err)
	}
	if x := claims.TDX; x.TCBStatus != pcs.UpToDate || x.TCBDate != "2024-03-13T00:00:00Z" || len(x.AdvisoryIDs) != 0 {
		t.Errorf("dcap-qvl quote: status %q date %q advisories %v", x.TCBStatus, x.TCBDate, x.AdvisoryIDs)
	}
	cfg = verify.Config{Now: spr.at, TDXCollateral: load("go-tdx-guest/pcs-50806f000000")}
	cfg.Policy.TDXMRTDs = []verify.HexBytes{testutil.Must(hex.DecodeString(spr.mrtd))(t)}
	_, err = newVerifier(t, cfg).TDXReport(context.Background(), nil, spr.quoteBytes(t))
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckTDXTCBStatus || !errors.Is(err, pcs.ErrTCBLevel) {
		t.Errorf("SPR quote with its collateral: %v, want %s (%v)", err, verify.CheckTDXTCBStatus, pcs.ErrTCBLevel)
	}
}

// TestRealDebugTDQuote: trustee's TD quote of a TD launched with DEBUG
// (testdata/trustee-tdx/tdx-quote-4-debug.bin, TDATTRIBUTES 0x0100001000000000)
// is debug-policy under the default policy, also with its MRTD trusted.
func TestRealDebugTDQuote(t *testing.T) {
	q := testutil.ReadFile(t, "trustee-tdx/tdx-quote-4-debug.bin")
	const mrtd = "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031"
	for _, trusted := range []bool{false, true} {
		cfg := verify.Config{Now: testutil.TDXFixtureTime()}
		if trusted {
			cfg.Policy.TDXMRTDs = []verify.HexBytes{testutil.Must(hex.DecodeString(mrtd))(t)}
		}
		_, err := newVerifier(t, cfg).TDXReport(context.Background(), nil, q)
		var verr *verify.Error
		if !errors.As(err, &verr) || verr.Check != verify.CheckDebug || !strings.Contains(err.Error(), "DEBUG") {
			t.Errorf("MRTD trusted %v: %v, want %s", trusted, err, verify.CheckDebug)
		}
	}
}
