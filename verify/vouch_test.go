package verify_test

import (
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

const testInstance = "https://example.attest.azure.net"

// fakeVoucher vouches as authority for reports whose ID_KEY_DIGEST is
// digest, or fails with err; it counts its calls.
type fakeVoucher struct {
	authority string
	digest    [48]byte
	err       error
	calls     int
}

func (f *fakeVoucher) VouchParavisor(_ context.Context, r *snp.Report) (string, error) {
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	if r.IDKeyDigest != f.digest {
		return "", errors.New("another report")
	}
	return f.authority, nil
}

// TestParavisorVouched: an ID_KEY_DIGEST the verifier does not know is
// accepted when the policy names an MAA instance and that instance
// vouches for the report; in every other case it stays rejected, with the
// *UntrustedParavisorError reachable through errors.As.
func TestParavisorVouched(t *testing.T) {
	newKey := sha512.Sum384([]byte("a new Azure paravisor ID key"))
	ev := (&testev.Builder{Version: 1, IDKeyDigest: d48(newKey)}).MustBuild()
	for _, tc := range []struct {
		name     string
		instance string
		voucher  *fakeVoucher
		want     string // "" accepted, else a text of the failure
		calls    int
	}{
		{"vouched", testInstance, &fakeVoucher{authority: testInstance, digest: newKey}, "", 1},
		{"vouched, trailing slash", testInstance + "/", &fakeVoucher{authority: testInstance, digest: newKey}, "", 1},
		{"no policy instance", "", &fakeVoucher{authority: testInstance, digest: newKey}, "not a trusted paravisor", 0},
		{"no token", testInstance, nil, "no token of it was given", 0},
		{"token refused", testInstance, &fakeVoucher{err: errors.New("signature check failed")}, "did not vouch for it: signature check failed", 1},
		{"another report", testInstance, &fakeVoucher{authority: testInstance, digest: randomDigest(t)}, "did not vouch", 1},
		{"another instance", testInstance, &fakeVoucher{authority: "https://other.attest.azure.net", digest: newKey}, "the policy accepts only", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{MAAParavisorInstance: tc.instance}}
			if tc.voucher != nil {
				cfg.ParavisorVoucher = tc.voucher
			}
			claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if claims.Paravisor != verify.ParavisorVouched || claims.ParavisorVoucher != testInstance {
					t.Errorf("paravisor %q voucher %q", claims.Paravisor, claims.ParavisorVoucher)
				}
			} else {
				wantCheck(t, err, verify.CheckParavisorIdentity)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
				// Whatever the voucher said, the typed error is there.
				var ue *verify.UntrustedParavisorError
				if !errors.As(err, &ue) || ue.Digest != newKey {
					t.Errorf("errors.As(*UntrustedParavisorError) = %v (%v), want the report's digest", ue, err)
				}
			}
			if tc.voucher != nil && tc.voucher.calls != tc.calls {
				t.Errorf("voucher asked %d times, want %d", tc.voucher.calls, tc.calls)
			}
		})
	}
}

// TestParavisorNeverVouched: the zero digest and the emulator's public key
// are refused before any voucher is asked, and a trusted digest needs none.
func TestParavisorNeverVouched(t *testing.T) {
	for _, d := range [][48]byte{{}, fakeamd.IDKeyDigest()} {
		ev := (&testev.Builder{Version: 1, IDKeyDigest: d48(d)}).MustBuild()
		v := &fakeVoucher{authority: testInstance, digest: d}
		cfg := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{MAAParavisorInstance: testInstance}, ParavisorVoucher: v}
		_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
		wantCheck(t, err, verify.CheckParavisorIdentity)
		if v.calls != 0 {
			t.Errorf("digest %x: voucher asked", d[:4])
		}
	}
	ev := (&testev.Builder{Version: 1}).MustBuild()
	v := &fakeVoucher{err: errors.New("must not be asked")}
	claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: verify.Policy{MAAParavisorInstance: testInstance}, ParavisorVoucher: v})
	if err != nil || v.calls != 0 || claims.Paravisor != verify.ParavisorAzure || claims.ParavisorVoucher != "" {
		t.Fatalf("trusted paravisor: %v, %d calls, %+v", err, v.calls, claims)
	}
}

func TestPolicyMAAInstance(t *testing.T) {
	for in, ok := range map[string]bool{
		`"https://sharedeus2.eus2.attest.azure.net"`:  true,
		`"https://sharedeus2.eus2.attest.azure.net/"`: true,
		`"http://sharedeus2.eus2.attest.azure.net"`:   false,
		`"sharedeus2.eus2.attest.azure.net"`:          false,
		`"https://a.example/path"`:                    false,
		`"https://a.example?x=1"`:                     false,
		`"https://user@a.example"`:                    false,
		`"https://a.example%zz"`:                      false, // not a URL
		`"https://a b.example"`:                       false, // not a URL
		`"https:///"`:                                 false, // no host
		`"http://user@a.example"`:                     false,
		`"https://"`:                                  false,
		`"https://a.example#f"`:                       false,
		// The emulated MAA's (maa.EmulatedIssuer): its tokens anyone can mint.
		`"https://emulated-maa.snp-vtpm.invalid"`:  false,
		`"https://emulated-maa.snp-vtpm.invalid/"`: false,
		`"https://EMULATED-MAA.snp-vtpm.INVALID."`: false,
		`"https://x.invalid:443"`:                  false,
		// Not under .invalid (verify.InvalidTLDHost): a label of that name.
		`"https://invalid.example"`: true,
		`1`:                         false,
	} {
		_, err := verify.ParsePolicy([]byte(`{"maa_paravisor_instance":` + in + `}`))
		if (err == nil) != ok {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// audVoucher is a fakeVoucher that says which aud its tokens must name
// (verify.AudienceVoucher).
type audVoucher struct {
	fakeVoucher
	aud string
}

func (a *audVoucher) ParavisorAudience() string { return a.aud }

// TestParavisorVouchedAudience: with the policy's maa_paravisor_audience,
// only a voucher that requires exactly that aud is asked; a voucher that
// does not say (a plain ParavisorVoucher) or requires another aud, or
// none, is refused without being asked, so a Go caller's voucher built
// without the policy's audience cannot widen it.
func TestParavisorVouchedAudience(t *testing.T) {
	newKey := sha512.Sum384([]byte("a new Azure paravisor ID key"))
	ev := (&testev.Builder{Version: 1, IDKeyDigest: d48(newKey)}).MustBuild()
	const aud = "https://rp.example"
	for _, tc := range []struct {
		name     string
		audience string // the policy's
		voucher  verify.ParavisorVoucher
		want     string // "" accepted, else a text of the failure
		asked    int
	}{
		{"policy audience, voucher requires it", aud, &audVoucher{fakeVoucher{authority: testInstance, digest: newKey}, aud}, "", 1},
		{"policy audience, voucher requires another", aud, &audVoucher{fakeVoucher{authority: testInstance, digest: newKey}, "https://other.example"}, "the voucher requires aud", 0},
		{"policy audience, voucher requires none", aud, &audVoucher{fakeVoucher{authority: testInstance, digest: newKey}, ""}, "the voucher requires aud", 0},
		{"policy audience, voucher does not say", aud, &fakeVoucher{authority: testInstance, digest: newKey}, "does not say which aud", 0},
		{"no policy audience, plain voucher", "", &fakeVoucher{authority: testInstance, digest: newKey}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := verify.Config{Roots: testev.Roots(), ParavisorVoucher: tc.voucher,
				Policy: verify.Policy{MAAParavisorInstance: testInstance, MAAParavisorAudience: tc.audience}}
			claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
			if tc.want == "" {
				if err != nil || claims.Paravisor != verify.ParavisorVouched {
					t.Fatalf("err %v, claims %+v", err, claims)
				}
			} else {
				wantCheck(t, err, verify.CheckParavisorIdentity)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
				if ue, ok := errors.AsType[*verify.UntrustedParavisorError](err); !ok || ue.Digest != newKey {
					t.Errorf("errors.As(*UntrustedParavisorError) = %v (%v)", ue, err)
				}
			}
			calls := 0
			switch v := tc.voucher.(type) {
			case *audVoucher:
				calls = v.calls
			case *fakeVoucher:
				calls = v.calls
			}
			if calls != tc.asked {
				t.Errorf("voucher asked %d times, want %d", calls, tc.asked)
			}
		})
	}
}

// TestParavisorVoucherUnavailable: a voucher that could not decide (its
// keys unavailable: ErrCertificateUnavailable) or whose context ended
// gives no verdict: an *UnavailableError of paravisor-identity (not
// ErrRejected), or the context's error.
func TestParavisorVoucherUnavailable(t *testing.T) {
	newKey := sha512.Sum384([]byte("a new Azure paravisor ID key"))
	ev := (&testev.Builder{Version: 1, IDKeyDigest: d48(newKey)}).MustBuild()
	pol := verify.Policy{MAAParavisorInstance: testInstance}
	down := &fakeVoucher{err: fmt.Errorf("JWKS: %w: connection refused", verify.ErrCertificateUnavailable)}
	_, err := verify.Evidence(t.Context(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol, ParavisorVoucher: down})
	ue, ok := errors.AsType[*verify.UnavailableError](err)
	if !ok || ue.Check != verify.CheckParavisorIdentity || errors.Is(err, verify.ErrRejected) || !errors.Is(err, verify.ErrCertificateUnavailable) {
		t.Fatalf("keys unavailable: %v, want an *UnavailableError of %s that is no rejection", err, verify.CheckParavisorIdentity)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = verify.Evidence(ctx, ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol, ParavisorVoucher: &fakeVoucher{err: ctx.Err()}})
	if !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("context ended: %v, want context.Canceled and no rejection", err)
	}
}

// TestWithParavisorVoucher: the derived Verifier asks its own voucher and
// leaves the base's alone (a request's token never reaches another), and
// a result cached by one does not vouch for the other.
func TestWithParavisorVoucher(t *testing.T) {
	newKey := sha512.Sum384([]byte("a new Azure paravisor ID key"))
	ev := (&testev.Builder{Version: 1, IDKeyDigest: d48(newKey)}).MustBuild()
	base, err := verify.New(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{MAAParavisorInstance: testInstance}})
	if err != nil {
		t.Fatal(err)
	}
	good := &fakeVoucher{authority: testInstance, digest: newKey}
	claims, err := base.WithParavisorVoucher(good).Evidence(t.Context(), ev.JSON, ev.Nonce)
	if err != nil || claims.ParavisorVoucher != testInstance || good.calls != 1 {
		t.Fatalf("vouched: %v, %+v, %d calls", err, claims, good.calls)
	}
	for name, v := range map[string]*verify.Verifier{"base": base, "nil voucher": base.WithParavisorVoucher(nil)} {
		if _, err := v.Evidence(t.Context(), ev.JSON, ev.Nonce); !strings.Contains(fmt.Sprint(err), "no token of it was given") {
			t.Errorf("%s after a vouched verification: %v, want paravisor-identity without a token", name, err)
		}
	}
	if good.calls != 1 || base.Config().ParavisorVoucher != nil {
		t.Errorf("the derived voucher leaked: %d calls, base voucher %v", good.calls, base.Config().ParavisorVoucher)
	}
	if base.Stats() != base.WithParavisorVoucher(good).Stats() {
		t.Error("the derived Verifier does not share the base's caches")
	}
}
