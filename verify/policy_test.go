package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestParsePolicy(t *testing.T) {
	m48 := strings.Repeat("ab", 48)
	p32 := strings.Repeat("cd", 32)
	good := []struct {
		name, json string
		check      func(t *testing.T, p *verify.Policy)
	}{
		{"empty", `{}`, func(t *testing.T, p *verify.Policy) {
			if p.MinTCB != nil || p.Measurements != nil || p.PCRs != nil || p.AllowDebug {
				t.Errorf("%+v", p)
			}
		}},
		{"everything", `{"min_tcb":{"bootloader":3,"tee":0,"snp":8,"microcode":115,"fmc":1},"measurements":["` + m48 + `"],
			"pcrs":{"0":"` + p32 + `","23":"` + p32 + `"},"products":["Milan","Turin"],"allow_debug":true,
			"allow_uncommitted_tcb":true,"require_fresh_report":true}`, func(t *testing.T, p *verify.Policy) {
			if *p.MinTCB != (snp.TCBParts{FMC: 1, Bootloader: 3, SNP: 8, Microcode: 115}) || len(p.Measurements) != 1 ||
				len(p.PCRs) != 2 || len(p.PCRs[23]) != 32 || len(p.Products) != 2 || !p.AllowDebug || !p.AllowUncommittedTCB || !p.RequireFreshReport {
				t.Errorf("%+v", p)
			}
		}},
		{"product name with stepping", `{"products":["Milan-B0"]}`, func(t *testing.T, p *verify.Policy) {
			// Accepted, so it must match Milan evidence (see TestPolicyProductName).
			if len(p.Products) != 1 {
				t.Errorf("%+v", p)
			}
		}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.ParsePolicy([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
	bad := []struct{ name, json string }{
		{"not JSON", `min_tcb: 3`},
		{"misspelt field", `{"min_tbc":{}}`},
		{"misspelt TCB field", `{"min_tcb":{"ucode":1}}`},
		{"TCB component over 255", `{"min_tcb":{"snp":256}}`},
		{"short measurement", `{"measurements":["abcd"]}`},
		{"measurement not hex", `{"measurements":["` + strings.Repeat("zz", 48) + `"]}`},
		{"null measurement", `{"measurements":[null]}`},
		{"PCR 24", `{"pcrs":{"24":"` + p32 + `"}}`},
		{"PCR -1", `{"pcrs":{"-1":"` + p32 + `"}}`},
		{"PCR value of 31 bytes", `{"pcrs":{"7":"` + p32[2:] + `"}}`},
		{"PCR index not a number", `{"pcrs":{"seven":"` + p32 + `"}}`},
		{"unknown product", `{"products":["Rome"]}`},
		{"lower-case product", `{"products":["milan"]}`},
		{"a second document after the policy", `{"allow_debug":false} {"measurements":["` + m48 + `"]}`},
		{"garbage after the policy", `{"allow_debug":false} trailing`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := verify.ParsePolicy([]byte(tc.json)); err == nil {
				t.Fatalf("accepted: %+v", p)
			}
		})
	}
}

// TestPolicyProductName checks that a product given as a VCEK productName
// ("Milan-B0"), which ParsePolicy accepts, allows that product line.
func TestPolicyProductName(t *testing.T) {
	p, err := verify.ParsePolicy([]byte(`{"products":["Milan-B0"]}`))
	if err != nil {
		t.Fatal(err)
	}
	opts := fixedOpts()
	opts.Policy = *p
	if _, err := verify.Evidence(context.Background(), v1Data(t), []byte("challenge"), opts); err != nil {
		t.Fatalf("Milan evidence rejected by policy products [Milan-B0]: %v", err)
	}
	p, err = verify.ParsePolicy([]byte(`{"products":["Genoa-B1"]}`))
	if err != nil {
		t.Fatal(err)
	}
	opts = fixedOpts()
	opts.Policy = *p
	_, err = verify.Evidence(context.Background(), v1Data(t), []byte("challenge"), opts)
	wantCheck(t, err, verify.CheckProduct)
}
