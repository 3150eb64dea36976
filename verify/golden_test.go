package verify_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestRealEvidence verifies every real evidence document and checks the
// claims, in Go and in their JSON form.
func TestRealEvidence(t *testing.T) {
	for _, re := range realEvidences(t) {
		t.Run(re.name, func(t *testing.T) {
			claims, err := verify.Evidence(context.Background(), re.data, re.nonce, fixedOpts())
			if err != nil {
				t.Fatalf("real evidence rejected: %v", err)
			}
			if claims.Product != re.product {
				t.Errorf("product %q, want %q", claims.Product, re.product)
			}
			if got := hex.EncodeToString(claims.ChipID); !strings.HasPrefix(got, re.chip) || len(claims.ChipID) != 64 {
				t.Errorf("chip id %s, want 64 bytes starting %s", got, re.chip)
			}
			tcb := claims.ReportedTCB
			if got := [4]uint8{tcb.Bootloader, tcb.TEE, tcb.SNP, tcb.Microcode}; got != re.tcb {
				t.Errorf("reported TCB %v, want %v", got, re.tcb)
			}
			if claims.EvidenceVersion != re.version {
				t.Errorf("evidence version %d, want %d", claims.EvidenceVersion, re.version)
			}
			if !bytes.Equal(claims.Nonce, re.nonce) || !claims.NonceChecked {
				t.Errorf("nonce %x checked %v, want %x", claims.Nonce, claims.NonceChecked, re.nonce)
			}
			if claims.VMPL != 0 || claims.Debug || claims.GuestPolicy != 0x3001f {
				t.Errorf("vmpl %d debug %v policy %#x", claims.VMPL, claims.Debug, claims.GuestPolicy)
			}
			if claims.VCEKSource != "evidence" || !claims.PinnedRoots || claims.Emulated {
				t.Errorf("vcek source %q pinned %v emulated %v", claims.VCEKSource, claims.PinnedRoots, claims.Emulated)
			}
			if claims.FreshReport != (re.version == 2) {
				t.Errorf("fresh report %v for v%d", claims.FreshReport, re.version)
			}
			if claims.VMConfig == nil || claims.VMConfig.VMUniqueID == "" {
				t.Errorf("no vm-configuration: %+v", claims.VMConfig)
			}
			ev := decode(t, re.data)
			if len(claims.PCRs) != 24 {
				t.Errorf("%d PCRs, want 24", len(claims.PCRs))
			}
			for i, v := range claims.PCRs {
				if !bytes.Equal(v, ev.Quote.PCRs[i]) {
					t.Errorf("PCR %d = %x, evidence carries %x", i, []byte(v), ev.Quote.PCRs[i])
				}
			}
			checkClaimsJSON(t, claims, re)
		})
	}
}

// checkClaimsJSON checks the JSON form of claims, which the CLI prints and
// servers return.
func checkClaimsJSON(t *testing.T, claims *verify.Claims, re realEvidence) {
	t.Helper()
	js, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Product     string            `json:"product"`
		ChipID      string            `json:"chip_id"`
		ReportedTCB map[string]int    `json:"reported_tcb"`
		Measurement string            `json:"measurement"`
		VMPL        *int              `json:"vmpl"`
		PCRs        map[string]string `json:"pcrs"`
		Nonce       string            `json:"nonce"`
		Paravisor   string            `json:"paravisor"`
		IDKeyDigest string            `json:"id_key_digest"`
		AuthorKey   string            `json:"author_key_digest"`
	}
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	if m.Product != re.product {
		t.Errorf("JSON product %q", m.Product)
	}
	if len(m.ChipID) != 128 || m.ChipID != strings.ToLower(m.ChipID) || !strings.HasPrefix(m.ChipID, re.chip) {
		t.Errorf("JSON chip_id %q, want 128 lowercase hex digits starting %s", m.ChipID, re.chip)
	}
	want := map[string]int{"bootloader": int(re.tcb[0]), "tee": int(re.tcb[1]), "snp": int(re.tcb[2]), "microcode": int(re.tcb[3])}
	for k, v := range want {
		if got, ok := m.ReportedTCB[k]; !ok || got != v {
			t.Errorf("JSON reported_tcb.%s = %d (present %v), want %d", k, got, ok, v)
		}
	}
	if b, err := hex.DecodeString(m.Measurement); err != nil || len(b) != 48 {
		t.Errorf("JSON measurement %q", m.Measurement)
	}
	if m.VMPL == nil || *m.VMPL != 0 {
		t.Errorf("JSON vmpl %v", m.VMPL)
	}
	if len(m.PCRs) != 24 {
		t.Errorf("JSON pcrs has %d entries", len(m.PCRs))
	}
	for i := range 24 {
		v, ok := m.PCRs[strconv.Itoa(i)]
		if !ok || v != hex.EncodeToString(claims.PCRs[i]) {
			t.Errorf("JSON pcrs[%d] = %q", i, v)
		}
	}
	if m.Nonce != hex.EncodeToString(re.nonce) {
		t.Errorf("JSON nonce %q, want %x", m.Nonce, re.nonce)
	}
	// Every real Azure report carries an ID key of Azure's paravisor
	// (SPEC §11) and a zero author key digest.
	if m.Paravisor != "azure-hcl" || len(m.IDKeyDigest) != 96 || m.AuthorKey != strings.Repeat("0", 96) {
		t.Errorf("JSON paravisor %q id_key_digest %q author_key_digest %q", m.Paravisor, m.IDKeyDigest, m.AuthorKey)
	}
}

// TestRealNonces checks the 48-byte nonces of the real v2 and Genoa
// evidence (v2: starting 982f5c6e, its user-data is the nonce zero-padded
// and the report counts as fresh; Genoa: starting 0218488b, a report of
// version 3 or later, with CPUID).
func TestRealNonces(t *testing.T) {
	for _, tc := range []struct {
		file, prefix string
		check        func(t *testing.T, nonce []byte, claims *verify.Claims)
	}{
		{"evidence-v2.json", "982f5c6e", func(t *testing.T, nonce []byte, claims *verify.Claims) {
			if !claims.FreshReport {
				t.Error("FreshReport false for v2 evidence")
			}
			if len(claims.UserData) != 64 || !bytes.Equal(claims.UserData, append(bytes.Clone(nonce), make([]byte, 16)...)) {
				t.Errorf("user-data %x is not the nonce zero-padded to 64 bytes", []byte(claims.UserData))
			}
		}},
		{"evidence-genoa.json", "0218488b", func(t *testing.T, _ []byte, claims *verify.Claims) {
			if claims.ReportVersion < 3 {
				t.Errorf("Genoa report version %d, want >= 3 (CPUID)", claims.ReportVersion)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := testutil.ReadFile(t, testutil.SNPDir+tc.file)
			nonce := quotedNonce(t, data)
			if len(nonce) != 48 || hex.EncodeToString(nonce[:4]) != tc.prefix {
				t.Fatalf("nonce %x, want 48 bytes starting %s", nonce, tc.prefix)
			}
			claims, err := verify.Evidence(context.Background(), data, nonce, fixedOpts())
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, nonce, claims)
		})
	}
}
