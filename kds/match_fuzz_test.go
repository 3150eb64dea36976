package kds

import (
	"bytes"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// vcekTarget is what a KDS request asked for: the VCEK of a chip at a TCB.
type vcekTarget struct {
	product string
	chipID  []byte
	tcb     uint64
}

// targetOf is the request that the VCEK der answers.
func targetOf(t testing.TB, der []byte) vcekTarget {
	t.Helper()
	v, err := snp.ParseVCEK(der)
	if err != nil {
		t.Fatal(err)
	}
	chip := v.HWID
	if len(chip) == TurinHWIDSize {
		chip = append(bytes.Clone(chip), make([]byte, ChipIDSize-TurinHWIDSize)...)
	}
	tg := vcekTarget{product: string(v.Product), chipID: chip, tcb: uint64(snp.ComposeTCB(v.Product, v.TCB))}
	if _, err := MatchVCEK(der, tg.product, tg.chipID, tg.tcb); err != nil {
		t.Fatalf("a real VCEK does not match its own request: %v", err)
	}
	return tg
}

// FuzzMatchVCEK: MatchVCEK (and ParseVCEKInfo under it) never panics on a
// KDS answer; every refusal wraps ErrInvalidCertificate and returns no
// certificate; an accepted certificate is the answer's DER and says the
// product line, hwID and TCB that were asked for.
func FuzzMatchVCEK(f *testing.F) {
	var targets []vcekTarget
	for _, file := range []string{"go-sev-guest/vcek.der", "trustee-snp/test-vcek.der"} {
		der := testutil.ReadFile(f, file)
		targets = append(targets, targetOf(f, der))
		f.Add(uint8(len(targets)-1), der)
	}
	for _, file := range []string{testutil.SNPDir + "vcek.pem", testutil.SNPDir + "vcek-genoa.pem", "virtee-sev/cert-chain-turin.pem"} {
		der := testutil.PEMBlocks(f, testutil.ReadFile(f, file), "CERTIFICATE")[0]
		if _, err := snp.ParseVCEK(der); err != nil {
			continue // a chain file without its VCEK
		}
		targets = append(targets, targetOf(f, der))
		f.Add(uint8(len(targets)-1), der)
	}
	f.Add(uint8(0), []byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, which uint8, der []byte) {
		want := targets[int(which)%len(targets)]
		cert, err := MatchVCEK(der, want.product, want.chipID, want.tcb)
		if err != nil {
			if cert != nil || !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("certificate %v, error %v; want none and ErrInvalidCertificate", cert != nil, err)
			}
			return
		}
		info, err := ParseVCEKInfo(cert)
		if err != nil || !bytes.Equal(cert.Raw, der) {
			t.Fatalf("accepted certificate: %v", err)
		}
		line, _ := ProductLine(info.ProductName)
		hw, _ := HWID(line, want.chipID)
		parts, _ := DecomposeTCB(want.product, want.tcb)
		if line != want.product || !bytes.Equal(info.HWID, hw) || info.TCB != parts {
			t.Fatalf("accepted a VCEK of %s %x %v for %s %x %v", line, info.HWID, info.TCB, want.product, hw, parts)
		}
	})
}
