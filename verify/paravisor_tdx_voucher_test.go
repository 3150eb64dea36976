package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// tdxVoucher vouches as authority for a TD quote whose MRTD is mrtd (and
// records what it was asked about).
type tdxVoucher struct {
	authority string
	mrtd      [48]byte
	asked     int
}

func (v *tdxVoucher) VouchParavisor(context.Context, *snp.Report) (string, error) {
	return "", errors.New("not an SEV-SNP voucher")
}

func (v *tdxVoucher) VouchTDXParavisor(_ context.Context, q *tdx.Quote) (string, error) {
	v.asked++
	if q.Body.MRTD != v.mrtd {
		return "", errors.New("another MRTD")
	}
	return v.authority, nil
}

// snpOnlyVoucher vouches for SEV-SNP reports only.
type snpOnlyVoucher struct{}

func (snpOnlyVoucher) VouchParavisor(context.Context, *snp.Report) (string, error) {
	return "https://x.attest.azure.net", nil
}

// TestTDXParavisorVoucher: a TD quote whose MRTD is not trusted verifies
// when the policy's MAA instance vouches for it (a TDXParavisorVoucher),
// and fails paravisor-identity without a policy instance, with a voucher
// that cannot vouch for TDX, or with the word of another authority.
func TestTDXParavisorVoucher(t *testing.T) {
	var mrtd [48]byte
	copy(mrtd[:], "a new Azure TDX paravisor, not yet in the list")
	data, root := resigned(t, func(q *tdx.Quote) { q.Body.MRTD = mrtd })
	ev := decode(t, data)
	copy(ev.HCLReport[hcl.OffsetHardware+528:], mrtd[:]) // the TDREPORT's MRTD (TDINFO at 512, after ATTRIBUTES and XFAM)
	data = encode(t, ev)
	const instance = "https://sharedeus2.eus2.attest.azure.net"
	for _, tc := range []struct {
		name     string
		instance string
		voucher  verify.ParavisorVoucher
		ok       bool
	}{
		{"vouched", instance, &tdxVoucher{authority: instance, mrtd: mrtd}, true},
		{"no policy instance", "", &tdxVoucher{authority: instance, mrtd: mrtd}, false},
		{"no voucher", instance, nil, false},
		{"SEV-SNP-only voucher", instance, snpOnlyVoucher{}, false},
		{"another authority", instance, &tdxVoucher{authority: "https://other.attest.azure.net", mrtd: mrtd}, false},
		{"token for another MRTD", instance, &tdxVoucher{authority: instance}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tdxOpts()
			cfg.Policy.MAAParavisorInstance = tc.instance
			cfg.ParavisorVoucher = tc.voucher
			c, err := verifyUnder(t, cfg, root, data)
			if !tc.ok {
				wantOutcome(t, c, err, verify.CheckParavisorIdentity)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Paravisor != verify.ParavisorVouched || c.ParavisorVoucher != instance {
				t.Errorf("paravisor %q voucher %q", c.Paravisor, c.ParavisorVoucher)
			}
		})
	}
}

// TestTDXEmulatedMRTDNeverVouched: a TD quote under a chain that is not
// the emulated one, carrying the emulated TDX paravisor's MRTD (public:
// anyone may claim it), fails paravisor-identity even when the policy's
// MAA instance vouches for it, as SEV-SNP's fake ID key does; another
// untrusted MRTD vouched for the same way verifies.
func TestTDXEmulatedMRTDNeverVouched(t *testing.T) {
	const instance = "https://sharedeus2.eus2.attest.azure.net"
	var other [48]byte
	copy(other[:], "a new Azure TDX paravisor, not yet in the list")
	for _, tc := range []struct {
		name string
		mrtd [48]byte
		ok   bool
	}{
		{"emulated MRTD", fakeintel.MRTD(), false},
		// mutation29b: the zero MRTD is never vouched for either.
		{"zero MRTD", [48]byte{}, false},
		{"another MRTD", other, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, root := resigned(t, func(q *tdx.Quote) { q.Body.MRTD = tc.mrtd })
			ev := decode(t, data)
			copy(ev.HCLReport[hcl.OffsetHardware+528:], tc.mrtd[:]) // the TDREPORT's MRTD
			data = encode(t, ev)
			voucher := &tdxVoucher{authority: instance, mrtd: tc.mrtd}
			cfg := tdxOpts()
			cfg.Policy.MAAParavisorInstance = instance
			cfg.ParavisorVoucher = voucher
			v := newVerifier(t, cfg)
			verify.SetTDXRootForTest(v, root)
			c, err := v.Evidence(context.Background(), data, quotedNonce(t, data))
			if !tc.ok {
				wantOutcome(t, c, err, verify.CheckParavisorIdentity)
				if voucher.asked != 0 {
					t.Errorf("the voucher was asked %d times about the %s", voucher.asked, tc.name)
				}
				return
			}
			if err != nil || c.Paravisor != verify.ParavisorVouched {
				t.Fatalf("err %v, claims %+v", err, c)
			}
		})
	}
}

// TestTDXParavisorPolicyList (mutation29b): a policy's tdx_mr_tds is the
// list even with allow_any_paravisor (an MRTD not in it is refused), and the
// zero MRTD is never trusted, even when the list names it.
func TestTDXParavisorPolicyList(t *testing.T) {
	var other [48]byte
	copy(other[:], "a new Azure TDX paravisor, not yet in the list")
	for _, tc := range []struct {
		name     string
		mrtd     *[48]byte // nil: the quote's own
		list     [][48]byte
		allowAny bool
	}{
		{"allow any, but a list without the MRTD", nil, [][48]byte{other}, true},
		{"zero MRTD listed", &[48]byte{}, [][48]byte{{}}, false},
		{"zero MRTD listed, allow any", &[48]byte{}, [][48]byte{{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, root := resigned(t, func(q *tdx.Quote) {
				if tc.mrtd != nil {
					q.Body.MRTD = *tc.mrtd
				}
			})
			if tc.mrtd != nil {
				ev := decode(t, data)
				copy(ev.HCLReport[hcl.OffsetHardware+528:], tc.mrtd[:]) // the TDREPORT's MRTD
				data = encode(t, ev)
			}
			cfg := tdxOpts()
			cfg.Policy.AllowAnyParavisor = tc.allowAny
			for _, d := range tc.list {
				cfg.Policy.TDXMRTDs = append(cfg.Policy.TDXMRTDs, d[:])
			}
			v, err := verify.New(cfg)
			if err != nil {
				return // a policy New refuses trusts nothing
			}
			verify.SetTDXRootForTest(v, root)
			c, err := v.Evidence(context.Background(), data, quotedNonce(t, data))
			wantOutcome(t, c, err, verify.CheckParavisorIdentity)
		})
	}
}
