package verify_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestCacheSameClaims verifies every real evidence document twice with one
// Options (the second time from the cache) and once without a cache: the
// claims must be identical.
func TestCacheSameClaims(t *testing.T) {
	shared := newVerifier(t, fixedOpts())
	for _, re := range realEvidences(t) {
		t.Run(re.name, func(t *testing.T) {
			first, err := shared.Evidence(context.Background(), re.data, re.nonce)
			if err != nil {
				t.Fatal(err)
			}
			second, err := shared.Evidence(context.Background(), re.data, re.nonce)
			if err != nil {
				t.Fatal(err)
			}
			third, err := verify.Evidence(context.Background(), re.data, re.nonce, fixedOpts())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first, second) || !reflect.DeepEqual(first, third) {
				t.Errorf("claims differ:\n%s\n%s\n%s", testutil.JSON(t, first), testutil.JSON(t, second), testutil.JSON(t, third))
			}
		})
	}
}

// TestCacheClaimsNotShared checks that claims returned from a verification
// do not share memory with the cache: a caller that changes its claims
// must not change what the next verification of the same evidence sees or
// returns.
func TestCacheClaimsNotShared(t *testing.T) {
	opts := newVerifier(t, fixedOpts())
	data := testutil.ReadFile(t, testutil.SNPDir+"evidence-v2.json")
	nonce := quotedNonce(t, data)
	first, err := opts.Evidence(context.Background(), data, nonce)
	if err != nil {
		t.Fatal(err)
	}
	want := testutil.JSON(t, first)
	for _, b := range [][]byte{first.ChipID, first.Measurement, first.ReportData, first.UserData, first.FamilyID, first.ImageID, first.HostData, first.IDKeyDigest, first.AuthorKeyDigest} {
		clear(b)
	}
	first.VMConfig.VMUniqueID = "changed by the caller"
	second, err := opts.Evidence(context.Background(), data, nonce)
	if err != nil {
		t.Fatalf("second verification after the caller changed the first claims: %v", err)
	}
	if got := testutil.JSON(t, second); got != want {
		t.Errorf("claims changed through the cache:\n got %s\nwant %s", got, want)
	}
}

// TestCacheFailureAfterSuccess checks that a cached success (VCEK chain,
// report signature, parsed HCL report) never turns a failure into a
// success: the same VCEK with a tampered report, or the same report with a
// tampered quote, still fails with the same options.
func TestCacheFailureAfterSuccess(t *testing.T) {
	opts := newVerifier(t, fixedOpts())
	data := v1Data(t)
	nonce := []byte("challenge")
	if _, err := opts.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(ev *evidence.Evidence)) []byte {
		ev := decode(t, data)
		f(ev)
		return encode(t, ev)
	}
	cases := []struct {
		name string
		data []byte
		want verify.Check
	}{
		{"tampered report", tamper(func(ev *evidence.Evidence) { ev.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement+1] ^= 0x40 }), verify.CheckReportSignature},
		{"tampered report signature", tamper(func(ev *evidence.Evidence) { ev.HCLReport[hcl.OffsetHardware+snp.OffsetSignatureS] ^= 1 }), verify.CheckReportSignature},
		{"tampered runtime data", tamper(func(ev *evidence.Evidence) {
			i := bytes.Index(ev.HCLReport, []byte(`"vmUniqueId":"`))
			if i < 0 {
				t.Fatal("no vmUniqueId")
			}
			ev.HCLReport[i+len(`"vmUniqueId":"`)] ^= 1 // a hex digit or letter stays valid JSON
		}), verify.CheckRuntimeData},
		{"tampered PCR", tamper(func(ev *evidence.Evidence) { ev.Quote.PCRs[0][0] ^= 1 }), verify.CheckPCRDigest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the failure is not cached as a success either
				_, err := opts.Evidence(context.Background(), tc.data, nonce)
				wantCheck(t, err, tc.want)
			}
		})
	}
	// And the cached success is still a success.
	if _, err := opts.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	// A cached VCEK chain is checked for validity at every use (Options
	// may be changed between calls, not during one).
	verify.SetNowForTest(opts, testutil.FixtureTime().AddDate(10, 0, 0))
	_, err := opts.Evidence(context.Background(), data, nonce)
	wantCheck(t, err, verify.CheckCertValidity)
}

// TestDisableCache checks that DisableCache verifies everything again:
// evidence that verified is rejected by the same Options once its VCEK is
// expired, and a tampered copy fails.
func TestDisableCache(t *testing.T) {
	cfg := fixedOpts()
	cfg.Cache.Disable = true
	opts := newVerifier(t, cfg)
	data := v1Data(t)
	for range 3 {
		if _, err := opts.Evidence(context.Background(), data, []byte("challenge")); err != nil {
			t.Fatal(err)
		}
	}
	ev := decode(t, data)
	ev.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement+2] ^= 1
	_, err := opts.Evidence(context.Background(), encode(t, ev), []byte("challenge"))
	wantCheck(t, err, verify.CheckReportSignature)
}

// TestCacheConcurrent verifies good and bad evidence from 50 goroutines
// sharing one Options (run with -race).
func TestCacheConcurrent(t *testing.T) {
	opts := newVerifier(t, verify.Config{Roots: testev.Roots()})
	good := (&testev.Builder{}).MustBuild()
	badReport := (&testev.Builder{VMPL: 2}).MustBuild()
	tampered := decode(t, good.JSON)
	tampered.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement+3] ^= 1
	tamperedData := encode(t, tampered)
	real := v1Data(t)
	realOpts := newVerifier(t, fixedOpts())

	var wg sync.WaitGroup
	errs := make(chan string, 50*4)
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				switch (g + i) % 4 {
				case 0:
					c, err := opts.Evidence(context.Background(), good.JSON, good.Nonce)
					if err != nil || c.Product != "Milan" {
						errs <- "good evidence: " + errString(err)
					}
				case 1:
					if _, err := opts.Evidence(context.Background(), badReport.JSON, badReport.Nonce); !isCheck(err, verify.CheckVMPL) {
						errs <- "VMPL 2 evidence: " + errString(err)
					}
				case 2:
					if _, err := opts.Evidence(context.Background(), tamperedData, good.Nonce); !isCheck(err, verify.CheckReportSignature) {
						errs <- "tampered evidence: " + errString(err)
					}
				case 3:
					if _, err := realOpts.Evidence(context.Background(), real, []byte("challenge")); err != nil {
						errs <- "real evidence: " + errString(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func isCheck(err error, c verify.Check) bool {
	var verr *verify.Error
	return errors.As(err, &verr) && verr.Check == c && errors.Is(err, verify.ErrRejected)
}
