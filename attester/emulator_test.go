//go:build cgo

package attester_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// These tests run against the emulated Azure CVM. The TPM simulator is a
// process-wide singleton, so TestMain starts one CVM for the whole package
// and no test runs in parallel. They need cgo and never skip.

// cvm is the package's emulated CVM, set by TestMain before any test runs.
var cvm *emulator.CVM

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	c, err := emulator.Start(ctx, nil)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "emulator.Start: %v\n", err)
		os.Exit(1)
	}
	cvm = c
	code := m.Run()
	if err := c.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "emulator Close: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newAttester is an attester on the emulated CVM, with its IMDS, whose
// results are verified trusting the emulated chain.
func newAttester(t *testing.T) *attester.Attester {
	return &attester.Attester{TPM: cvm.TPM(), Certs: imdsChain(cvm.IMDSURL()), Verifier: emulatedVerifier(t, emulatedOpts(t))}
}

// imdsChain is a certificate chain of a memory store and the IMDS at url.
func imdsChain(url string) *collateral.Chain {
	return &collateral.Chain{Sources: []collateral.Source{&collateral.Memory{}, &collateral.IMDS{Client: &imds.Client{URL: url}}}}
}

// emulatedOpts trusts the pinned AMD roots plus the emulated chain.
func emulatedOpts(t *testing.T) verify.Config {
	t.Helper()
	c, err := fakeamd.Chain()
	if err != nil {
		t.Fatalf("fakeamd.Chain: %v", err)
	}
	return verify.Config{Roots: snp.DefaultRoots().Add(c)}
}

func emulatedVerifier(t *testing.T, cfg verify.Config) *verify.Verifier {
	t.Helper()
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// gather builds evidence and returns it encoded; the claims the attester
// verified must be those a verifier gets from the encoded evidence.
func gather(t *testing.T, a *attester.Attester, nonce []byte, fresh bool) (*evidence.Evidence, []byte) {
	t.Helper()
	res, err := a.Evidence(testCtx(t), nonce, fresh)
	if err != nil {
		t.Fatalf("Evidence(fresh=%v): %v", fresh, err)
	}
	data, err := res.Evidence.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	remote, err := verify.Evidence(testCtx(t), data, nonce, a.Verifier.Config())
	if err != nil {
		t.Fatalf("the attester's evidence does not verify remotely: %v", err)
	}
	if !reflect.DeepEqual(remote, res.Claims) || !bytes.Equal(res.Report, res.Evidence.HCLReport) {
		t.Fatalf("the attester's claims differ from the verifier's:\n%+v\n%+v", res.Claims, remote)
	}
	return res.Evidence, data
}

func wantCheck(t *testing.T, err error, check verify.Check) {
	t.Helper()
	var verr *verify.Error
	if !errors.As(err, &verr) {
		t.Fatalf("error = %v, want a *verify.Error with check %s", err, check)
	}
	if verr.Check != check {
		t.Fatalf("failed check = %s (%v), want %s", verr.Check, verr.Err, check)
	}
	if !errors.Is(err, verify.ErrRejected) {
		t.Fatalf("error %v does not match verify.ErrRejected", err)
	}
}

func TestEvidenceVerifies(t *testing.T) {
	nonce := []byte("relying-party-nonce-0123456789")
	for _, tc := range []struct {
		name        string
		fresh       bool
		wantVersion int
	}{
		{"fresh", true, attester.VersionFreshReport},
		{"boot report", false, attester.VersionBootReport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, data := gather(t, newAttester(t), nonce, tc.fresh)
			if ev.Version != tc.wantVersion {
				t.Fatalf("Version = %d, want %d", ev.Version, tc.wantVersion)
			}
			if !bytes.Equal(ev.VCEK, fakeamd.VCEKDER()) {
				t.Fatalf("evidence VCEK is not the emulated chip's VCEK from IMDS")
			}
			if len(ev.Quote.PCRs) != 24 {
				t.Fatalf("%d PCRs, want 24", len(ev.Quote.PCRs))
			}
			claims, err := verify.Evidence(testCtx(t), data, nonce, emulatedOpts(t))
			if err != nil {
				t.Fatalf("verify.Evidence: %v", err)
			}
			if !claims.Emulated || claims.PinnedRoots {
				t.Fatalf("claims: Emulated=%v PinnedRoots=%v, want true/false", claims.Emulated, claims.PinnedRoots)
			}
			if claims.EvidenceVersion != tc.wantVersion || claims.FreshReport != tc.fresh {
				t.Fatalf("claims: version %d fresh %v, want %d %v", claims.EvidenceVersion, claims.FreshReport, tc.wantVersion, tc.fresh)
			}
			if !claims.NonceChecked || !bytes.Equal(claims.Nonce, nonce) {
				t.Fatalf("claims nonce %x (checked %v), want %x", []byte(claims.Nonce), claims.NonceChecked, nonce)
			}
			if claims.VCEKSource != "evidence" {
				t.Fatalf("VCEK source %q, want evidence", claims.VCEKSource)
			}
			if tc.fresh && !bytes.HasPrefix(claims.UserData, nonce) {
				t.Fatalf("user-data %x does not start with the nonce", []byte(claims.UserData))
			}
			// The emulated firmware measured the runtime data's vmUniqueId
			// into PCR 6, as Azure's does.
			if id := claims.VMIdentity; id == nil || !id.PCR6Bound || id.Form != verify.VMIdentityUUID || id.VMUniqueID != claims.VMConfig.VMUniqueID {
				t.Fatalf("vm_identity %+v, want bound to %s", id, claims.VMConfig.VMUniqueID)
			}
			cfg := emulatedOpts(t)
			cfg.Policy.RequireVMIdentity = true
			if _, err := verify.Evidence(testCtx(t), data, nonce, cfg); err != nil {
				t.Fatalf("require_vm_identity: %v", err)
			}

			// Without the emulated roots the chain is not AMD's.
			_, err = verify.Evidence(testCtx(t), data, nonce, verify.Config{})
			wantCheck(t, err, verify.CheckVCEKChain)

			// Another nonce is rejected.
			_, err = verify.Evidence(testCtx(t), data, []byte("another nonce"), emulatedOpts(t))
			wantCheck(t, err, verify.CheckNonce)
		})
	}
}

func TestLongNonceIsHashed(t *testing.T) {
	nonce := bytes.Repeat([]byte{0xA5}, 100)
	sum := sha256.Sum256(nonce)
	for _, fresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			ev, data := gather(t, newAttester(t), nonce, fresh)
			a, err := quote.Parse(ev.Quote.Message)
			if err != nil {
				t.Fatalf("quote.Parse: %v", err)
			}
			if !bytes.Equal(a.ExtraData, sum[:]) {
				t.Fatalf("extraData = %x, want SHA-256 of the nonce %x", a.ExtraData, sum)
			}
			claims, err := verify.Evidence(testCtx(t), data, nonce, emulatedOpts(t))
			if err != nil {
				t.Fatalf("verify.Evidence: %v", err)
			}
			if fresh && !bytes.HasPrefix(claims.UserData, sum[:]) {
				t.Fatalf("user-data %x does not start with SHA-256(nonce)", []byte(claims.UserData))
			}
			// A nonce that differs in its length only is rejected.
			_, err = verify.Evidence(testCtx(t), data, nonce[:99], emulatedOpts(t))
			wantCheck(t, err, verify.CheckNonce)
		})
	}
}

// TestBootReportIsNotVersion2 shows why evidence without a refreshed report
// must not claim version 2: the verifier then requires the user-data binding.
func TestBootReportIsNotVersion2(t *testing.T) {
	nonce := []byte("boot-report-nonce")
	// Reset the user data to something else first, so that the boot-time
	// report cannot carry this nonce by accident.
	if _, err := newAttester(t).Report(testCtx(t), []byte("something else")); err != nil {
		t.Fatalf("Report(user data): %v", err)
	}
	ev, _ := gather(t, newAttester(t), nonce, false)
	ev.Version = 2
	data, err := ev.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	_, err = verify.Evidence(testCtx(t), data, nonce, emulatedOpts(t))
	wantCheck(t, err, verify.CheckUserData)
}

func TestReport(t *testing.T) {
	a := newAttester(t)
	ud := []byte{1, 2, 3, 4, 5}
	blob, err := a.Report(testCtx(t), ud)
	if err != nil {
		t.Fatalf("Report(user data): %v", err)
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		t.Fatalf("hcl.Parse: %v", err)
	}
	want := make([]byte, 64)
	copy(want, ud)
	if r.RuntimeData == nil || !bytes.Equal(r.RuntimeData.UserData, want) {
		t.Fatalf("refreshed report's user-data is not the padded user data")
	}
	again, err := a.Report(testCtx(t), nil)
	if err != nil {
		t.Fatalf("Report(nil): %v", err)
	}
	if !bytes.Equal(again, blob) {
		t.Fatalf("Report(nil) after a refresh is not the refreshed report")
	}
	claims, err := emulatedVerifier(t, emulatedOpts(t)).Report(testCtx(t), blob, fakeamd.VCEKDER())
	if err != nil {
		t.Fatalf("verify.Report: %v", err)
	}
	if !bytes.Equal(claims.UserData, want) {
		t.Fatalf("claims user data %x", []byte(claims.UserData))
	}
	if _, err := a.Report(testCtx(t), make([]byte, 65)); err == nil {
		t.Fatalf("Report accepted 65 bytes of user data")
	}
	vcek, from, err := a.VCEKFor(testCtx(t), blob)
	if err != nil || !bytes.Equal(vcek, fakeamd.VCEKDER()) || from != "Azure IMDS" {
		t.Fatalf("VCEKFor = %d bytes from %q, %v; want the emulated VCEK from Azure IMDS", len(vcek), from, err)
	}
}

func TestQuote(t *testing.T) {
	a := newAttester(t)
	nonce := []byte("quote-nonce")
	q, err := a.Quote(testCtx(t), nonce)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	parsed, err := quote.Parse(q.Message)
	if err != nil {
		t.Fatalf("quote.Parse: %v", err)
	}
	if !bytes.Equal(parsed.ExtraData, nonce) {
		t.Fatalf("extraData %q, want %q", parsed.ExtraData, nonce)
	}
	if _, err := a.Quote(testCtx(t), nil); !errors.Is(err, attester.ErrNoNonce) {
		t.Fatalf("Quote(nil) error = %v, want ErrNoNonce", err)
	}
}

// fetchingOpts is emulatedOpts with a certificate source that supplies the
// emulated VCEK.
func fetchingOpts(t *testing.T) verify.Config {
	opts := emulatedOpts(t)
	opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
		der := fakeamd.VCEKDER()
		return der, r.Validate(der)
	})
	return opts
}

func TestWithoutIMDS(t *testing.T) {
	nonce := []byte("no-imds")
	// Offline, without a VCEK in the evidence, the local verification
	// cannot succeed: the attester hands out nothing.
	a := &attester.Attester{TPM: cvm.TPM(), Verifier: emulatedVerifier(t, emulatedOpts(t))}
	res, err := a.Evidence(testCtx(t), nonce, true)
	wantCheck(t, err, verify.CheckVCEKMissing)
	if res != nil {
		t.Fatal("a result with an error")
	}
	// A certificate source that supplies the VCEK makes it verify.
	a.Verifier = emulatedVerifier(t, fetchingOpts(t))
	ev, _ := gather(t, a, nonce, true)
	if ev.VCEK != nil {
		t.Fatalf("evidence carries a VCEK without IMDS")
	}
	res, err = a.Evidence(testCtx(t), nonce, true)
	if err != nil || res.Claims.VCEKSource != "fetched" {
		t.Fatalf("VCEK source %+v, %v; want fetched", res, err)
	}
}

// TestAttesterVerifies: the attester returns only what its Verifier
// accepts: its default Verifier (AMD's roots) rejects the emulated chain,
// a policy the CVM does not meet rejects it naming the check, and
// VerifiedReport verifies the report with the VCEK from IMDS. The
// certificate chain keeps only the VCEK that its validation accepted.
func TestAttesterVerifies(t *testing.T) {
	mem := &collateral.Memory{}
	a := &attester.Attester{TPM: cvm.TPM(), Certs: &collateral.Chain{Sources: []collateral.Source{mem, &collateral.IMDS{Client: &imds.Client{URL: cvm.IMDSURL()}}}}}
	res, err := a.Evidence(testCtx(t), []byte("n"), true)
	wantCheck(t, err, verify.CheckVCEKChain)
	if res != nil {
		t.Fatal("a result with an error")
	}
	if _, err := a.VerifiedReport(testCtx(t), nil); !errors.Is(err, verify.ErrRejected) {
		t.Fatalf("VerifiedReport under AMD's roots: %v, want a rejection", err)
	}
	if mem.Len() != 0 {
		t.Fatalf("the chain cached %d VCEKs that AMD's roots reject", mem.Len())
	}
	cfg := emulatedOpts(t)
	cfg.Policy.Measurements = []verify.HexBytes{bytes.Repeat([]byte{0xAB}, 48)}
	a.Verifier = emulatedVerifier(t, cfg)
	_, err = a.Evidence(testCtx(t), []byte("n"), false)
	wantCheck(t, err, verify.CheckMeasurement)
	_, err = a.VerifiedReport(testCtx(t), []byte{1})
	wantCheck(t, err, verify.CheckMeasurement)

	// The VCEK verified (the report's measurement did not): it is kept.
	if mem.Len() != 1 {
		t.Fatalf("the chain holds %d VCEKs after a verified one, want 1", mem.Len())
	}
	a.Verifier = emulatedVerifier(t, emulatedOpts(t))
	res, err = a.VerifiedReport(testCtx(t), nil)
	if err != nil || res.Claims.VCEKSource != "memory" {
		t.Fatalf("VerifiedReport: %+v, %v; want the VCEK from memory", res, err)
	}

	res, err = newAttester(t).VerifiedReport(testCtx(t), []byte{7, 7})
	if err != nil {
		t.Fatal(err)
	}
	if res.Evidence != nil || res.Claims.VCEKSource != "Azure IMDS" || !res.Claims.Emulated || !bytes.HasPrefix(res.Claims.UserData, []byte{7, 7}) {
		t.Fatalf("VerifiedReport: %+v", res.Claims)
	}
}

func TestIMDSFailureGivesEvidenceWithoutVCEK(t *testing.T) {
	// A closed port: IMDS fails, the evidence is still produced.
	a := &attester.Attester{TPM: cvm.TPM(), Certs: imdsChain("http://127.0.0.1:1/metadata/THIM/amd/certification"),
		Verifier: emulatedVerifier(t, fetchingOpts(t))}
	ev, _ := gather(t, a, []byte("imds down"), false)
	if ev.VCEK != nil {
		t.Fatalf("evidence carries a VCEK although IMDS failed")
	}
	if der, _, err := a.VCEKFor(testCtx(t), ev.HCLReport); err == nil || !errors.Is(err, verify.ErrCertificateUnavailable) || der != nil {
		t.Fatalf("VCEKFor against a closed port: %d bytes, %v; want ErrCertificateUnavailable", len(der), err)
	}
}

// TestRequireVCEK: with RequireVCEK, SEV-SNP evidence whose VCEK no
// source supplies (IMDS down, or no Certs at all) is not handed out, even
// when the Verifier could fetch the VCEK and the evidence would verify:
// the error matches ErrNoVCEK and verify.ErrCertificateUnavailable (not a
// rejection). A VCEK from IMDS satisfies it.
func TestRequireVCEK(t *testing.T) {
	down := imdsChain("http://127.0.0.1:1/metadata/THIM/amd/certification")
	for _, tc := range []struct {
		name  string
		certs *collateral.Chain
		fail  bool
	}{
		{"IMDS up", imdsChain(cvm.IMDSURL()), false},
		{"IMDS down", down, true},
		{"no Certs", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &attester.Attester{TPM: cvm.TPM(), Certs: tc.certs, Verifier: emulatedVerifier(t, fetchingOpts(t)), RequireVCEK: true}
			res, err := a.Evidence(testCtx(t), []byte("require"), false)
			if !tc.fail {
				if err != nil || res.Evidence.VCEK == nil {
					t.Fatalf("Evidence: %v; want evidence with the VCEK", err)
				}
				return
			}
			if res != nil || !errors.Is(err, attester.ErrNoVCEK) || !errors.Is(err, verify.ErrCertificateUnavailable) || errors.Is(err, verify.ErrRejected) {
				t.Fatalf("Evidence: %v, %v; want no result and ErrNoVCEK, ErrCertificateUnavailable, no rejection", res, err)
			}
			a.RequireVCEK = false
			if res, err := a.Evidence(testCtx(t), []byte("require"), false); err != nil || res.Evidence.VCEK != nil {
				t.Fatalf("without RequireVCEK: %v; want evidence without the VCEK", err)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newAttester(t).Evidence(ctx, []byte("n"), true); !errors.Is(err, context.Canceled) {
		t.Fatalf("Evidence with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestEvidenceCarriesEventLog: the boot event log at EventLogPath travels in
// the evidence, the verifier replays it, and a log that does not match the
// quoted PCRs (a GCE log against the emulated CVM's PCRs) is reported, not
// an error, unless the policy names a PCR it must replay.
func TestEvidenceCarriesEventLog(t *testing.T) {
	log, err := os.ReadFile("../testdata/eventlogs/gce-rhel8-uefi.bin")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "binary_bios_measurements")
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAttester(t)
	a.EventLogPath = path
	res, err := a.Evidence(testCtx(t), []byte("event log nonce"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Evidence.EventLog, log) {
		t.Fatalf("evidence carries %d bytes of event log, want the %d of the file", len(res.Evidence.EventLog), len(log))
	}
	el := res.Claims.EventLog
	if el == nil || el.PCRs[0] != "mismatch" {
		t.Fatalf("event log claims %+v, want PCR 0 reported as a mismatch", el)
	}
	cfg := emulatedOpts(t)
	cfg.Policy.EventLogPCRs = []int{0}
	_, err = emulatedVerifier(t, cfg).Decoded(testCtx(t), res.Evidence, []byte("event log nonce"))
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckEventLog {
		t.Fatalf("policy event_log_pcrs [0]: err = %v, want check %s", err, verify.CheckEventLog)
	}
	a.NoEventLog = true
	res, err = a.Evidence(testCtx(t), []byte("event log nonce"), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evidence.EventLog != nil {
		t.Fatalf("NoEventLog: the evidence carries %d bytes of event log", len(res.Evidence.EventLog))
	}
}
