package eventlog_test

import (
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestRealAzureTDXBootLogs: the boot event logs of two Azure TDX CVMs
// (testdata/hyodar-azure-tdx: a BuilderNet node and another, each with its
// vTPM's AK, a SHA-256 quote of PCRs 0-23 and the HCL runtime data). Each
// quote verifies with its AK, which is the runtime data's HCLAkPub; the
// log replays PCRs 0-7, 9 and 11 to the quoted values (Hyper-V UEFI
// firmware, the PK "Microsoft Hyper-V Firmware PK", Secure Boot off, three
// EFI applications, a unified kernel image measured into PCR 11, no GRUB)
// and the rest are not covered; with one quoted PCR changed that PCR is a
// mismatch.
func TestRealAzureTDXBootLogs(t *testing.T) {
	const dir = "hyodar-azure-tdx/"
	for _, name := range []string{"buildernet", "example"} {
		t.Run(name, func(t *testing.T) {
			msg, sig := testutil.ReadFile(t, dir+name+"-quote-sha256.msg"), testutil.ReadFile(t, dir+name+"-quote-sha256.sig")
			akPub := testutil.ReadFile(t, dir+name+"-ak.tpmt")
			checkQuoteSignature(t, akPub, msg, sig)
			checkAKIsHCLAkPub(t, akPub, testutil.ReadFile(t, dir+name+"-runtime-data.json"))
			values := readPCRsJSON(t, testutil.ReadFile(t, dir+name+"-pcrs.json"))
			at, err := quote.Parse(msg)
			if err != nil {
				t.Fatal(err)
			}
			quoted, err := at.QuotedPCRs(values)
			if err != nil {
				t.Fatal(err)
			}
			log := testutil.ReadFile(t, dir+name+"-eventlog.bin")
			res, err := eventlog.Replay(log, quoted)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 24 {
				want := eventlog.NotCovered
				if i <= 7 || i == 9 || i == 11 {
					want = eventlog.Replayed
				}
				if s := res.Status(i); s != want {
					t.Errorf("PCR %d: %s, want %s", i, s, want)
				}
			}
			checkMoreState(t, moreLog{secureBoot: boolPtr(false), pk: "CN=Microsoft Hyper-V Firmware PK,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US",
				apps: 3, note: "no GRUB measurements found"}, res.State)
			quoted[11] = make([]byte, 32)
			res, err = eventlog.Replay(log, quoted)
			if err != nil || res.Status(11) != eventlog.Mismatch || res.Status(7) != eventlog.Replayed {
				t.Errorf("PCR 11 changed: %v, status %s", err, res.Status(11))
			}
		})
	}
}

// checkAKIsHCLAkPub fails t unless the AK (TPMT_PUBLIC) is the RSA key
// HCLAkPub of the HCL runtime data rd.
func checkAKIsHCLAkPub(t *testing.T, akPub, rd []byte) {
	t.Helper()
	key := tpmPublicKey(t, akPub)
	data, err := hcl.ParseRuntimeData(rd)
	if err != nil {
		t.Fatal(err)
	}
	hclAK, err := data.AK()
	if err != nil {
		t.Fatal(err)
	}
	if ak, ok := key.(*rsa.PublicKey); !ok || !ak.Equal(hclAK) {
		t.Fatalf("the quote's AK is not the runtime data's HCLAkPub")
	}
}

// readPCRsJSON reads {"pcrs":{"sha256":{"0":"hex",...}}} into values by
// index.
func readPCRsJSON(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var f struct {
		PCRs struct {
			SHA256 map[int]string `json:"sha256"`
		} `json:"pcrs"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	values := make([][]byte, quote.MaxPCRIndex+1)
	for i, h := range f.PCRs.SHA256 {
		values[i] = testutil.Must(hex.DecodeString(h))(t)
	}
	return values
}
