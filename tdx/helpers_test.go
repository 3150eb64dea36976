package tdx_test

import (
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// fixtureTime is when the real quotes' chains (and Intel's collateral in
// testdata/intel-collateral) are valid.
var fixtureTime = testutil.TDXFixtureTime()

// realQuotes are the real Azure TD quotes of testdata.
var realQuotes = []struct {
	file   string
	mrtd   string
	qesvn  uint16
	length int
	fmspc  string // "" = 00806f050000
	pcesvn uint16 // 0 = 11
}{
	{"trustee-az-vtpm/az-tdx-vtpm/td-quote.bin", "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b", 5, 5006, "", 0},
	{"intel-collateral/azure-tdx-quote-teekit.bin", "fe27b2aa3a05ec56864c308aff03dd13c189a6112d21e417ec1afe626a8cb9d91482d1379ec02fe6308972950a930d0a", 6, 5010, "", 0},
	{"ita-aztdx/td-quote.bin", "bb379f8e734a755832509f61403f99db2258a70a01e1172a499d6d364101b0675455b4e372a35c1f006541f2de0d7154", 6, 5006, "", 0},
	{"teekit-tdx/azure-td-quote-ita.bin", "fe27b2aa3a05ec56864c308aff03dd13c189a6112d21e417ec1afe626a8cb9d91482d1379ec02fe6308972950a930d0a", 6, 5006, "", 0},
	{"flashbots-azure-tdx/td-quote-1764620247.bin", "12bdbc1609ef066db7a9ec7b26d7509346f4ca46e846274096cb25939b1e711944061ca19a30c6743f1e599148eee451", 6, 5010, "90c06f000000", 13},
	{"flashbots-azure-tdx/td-quote-1764662251.bin", "12bdbc1609ef066db7a9ec7b26d7509346f4ca46e846274096cb25939b1e711944061ca19a30c6743f1e599148eee451", 6, 5010, "90c06f000000", 13},
}

func parseFile(t testing.TB, file string) (*tdx.Quote, []byte) {
	t.Helper()
	b := testutil.ReadFile(t, file)
	q, err := tdx.ParseQuote(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return q, b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	return testutil.Must(time.Parse(time.RFC3339, s))(t)
}
