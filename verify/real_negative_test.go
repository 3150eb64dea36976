package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// realCase is a change to real evidence and the check that must reject it.
type realCase struct {
	name    string
	data    func(t *testing.T) []byte
	nonce   []byte // default "challenge"
	noNonce bool   // verify with a nil nonce
	opts    func(o *verify.Config)
	want    verify.Check
}

func v1Data(t *testing.T) []byte { return testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json") }

// v1With decodes the real v1 evidence, lets f change it and re-encodes it.
func v1With(f func(t *testing.T, ev *evidence.Evidence)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		ev := decode(t, v1Data(t))
		f(t, ev)
		return encode(t, ev)
	}
}

func vcekOf(t testing.TB, rel string) []byte {
	return testutil.PEMBlocks(t, testutil.ReadFile(t, rel), "CERTIFICATE")[0]
}

func thimVCEK(t testing.TB) []byte {
	var thim struct {
		VcekCert string `json:"vcekCert"`
	}
	if err := json.Unmarshal(testutil.ReadFile(t, "azure-thim/uvm_host_amd_certificate.json"), &thim); err != nil {
		t.Fatal(err)
	}
	return testutil.PEMBlocks(t, []byte(thim.VcekCert), "CERTIFICATE")[0]
}

func TestRealEvidenceRejected(t *testing.T) {
	v1 := decode(t, v1Data(t))
	v1VCEK, err := x509.ParseCertificate(v1.VCEK)
	if err != nil {
		t.Fatal(err)
	}
	milanOnly := (&snp.Roots{}).Add(snp.DefaultRoots().Chains(snp.Milan)[0])
	cases := []realCase{
		{name: "unchanged", data: v1Data},
		{name: "tampered report byte (measurement)", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement] ^= 0x01
		}), want: verify.CheckReportSignature},
		{name: "tampered report byte (signature)", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport[hcl.OffsetHardware+snp.OffsetSignatureR] ^= 0x80
		}), want: verify.CheckReportSignature},
		{name: "VCEK of another real chip (trustee hcl-report.bin)", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.VCEK = vcekOf(t, testutil.SNPDir+"vcek.pem")
		}), want: verify.CheckChipID}, // the real cause, named before the signature
		{name: "VCEK of another real chip (THIM)", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.VCEK = thimVCEK(t)
		}), want: verify.CheckChipID},
		{name: "VCEK of a Genoa chip for a Milan report", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.VCEK = vcekOf(t, testutil.SNPDir+"vcek-genoa.pem")
		}), want: verify.CheckProduct},
		{name: "ASK presented as VCEK", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.VCEK = testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[1]
		}), want: verify.CheckVCEKFormat},
		{name: "VCEK expired (one second after NotAfter)", data: v1Data,
			opts: func(o *verify.Config) { o.Now = v1VCEK.NotAfter.Add(time.Second) }, want: verify.CheckCertValidity},
		{name: "VCEK valid at NotAfter", data: v1Data, opts: func(o *verify.Config) { o.Now = v1VCEK.NotAfter }},
		{name: "VCEK not yet valid", data: v1Data,
			opts: func(o *verify.Config) { o.Now = v1VCEK.NotBefore.Add(-time.Second) }, want: verify.CheckCertValidity},
		{name: "wrong nonce", data: v1Data, nonce: []byte("challengf"), want: verify.CheckNonce},
		{name: "nonce with an extra byte", data: v1Data, nonce: []byte("challenge\x00"), want: verify.CheckNonce},
		{name: "no nonce", data: v1Data, noNonce: true, want: verify.CheckNonce},
		{name: "quote spliced in from another VM", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			q, err := evidence.DecodeQuoteJSON(testutil.ReadFile(t, testutil.SNPDir+"tpm-quote-v1.json"))
			if err != nil {
				t.Fatal(err)
			}
			ev.Quote = *q
		}), want: verify.CheckQuoteSignature},
		{name: "changed PCR value", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.Quote.PCRs[10][31] ^= 1
		}), want: verify.CheckPCRDigest},
		{name: "PCRs swapped", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.Quote.PCRs[0], ev.Quote.PCRs[1] = ev.Quote.PCRs[1], ev.Quote.PCRs[0]
		}), want: verify.CheckPCRDigest},
		{name: "PCR missing", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.Quote.PCRs = ev.Quote.PCRs[:23]
		}), want: verify.CheckQuoteFormat},
		{name: "quote signature bit flipped", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.Quote.Signature[100] ^= 4
		}), want: verify.CheckQuoteSignature},
		{name: "quote message truncated", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.Quote.Message = ev.Quote.Message[:40]
		}), want: verify.CheckQuoteFormat},
		{name: "runtime data changed by one byte", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			i := bytes.Index(ev.HCLReport, []byte(`"kid":"HCLAkPub"`))
			if i < 0 {
				t.Fatal("no HCLAkPub in the runtime data")
			}
			ev.HCLReport[i+len(`"kid":"HCL`)] = 'E' // "HCLEkPub": still valid JSON, no AK left
		}), want: verify.CheckRuntimeData},
		{name: "REPORT_DATA changed (report no longer signed)", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport[hcl.OffsetHardware+snp.OffsetReportData+40] = 1
		}), want: verify.CheckReportSignature}, // no verdict on unsigned runtime data
		{name: "v1 evidence relabelled v2", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.Version = 2
		}), want: verify.CheckUserData},
		{name: "v1 with policy RequireFreshReport", data: v1Data, opts: func(o *verify.Config) { o.Policy.RequireFreshReport = true }, want: verify.CheckUserData},
		{name: "no VCEK and no getter", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.VCEK = nil
		}), want: verify.CheckVCEKMissing},
		{name: "Genoa evidence against Milan-only roots", data: func(t *testing.T) []byte { return testutil.ReadFile(t, testutil.SNPDir+"evidence-genoa.json") },
			nonce: quotedNonce(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-genoa.json")), opts: func(o *verify.Config) { o.Roots = milanOnly }, want: verify.CheckVCEKChain},
		{name: "Milan evidence against no roots", data: v1Data, opts: func(o *verify.Config) { o.Roots = &snp.Roots{} }, want: verify.CheckVCEKChain},
		{name: "TDX evidence of an untrusted paravisor", data: func(t *testing.T) []byte { return testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/evidence-v1.json") },
			opts: func(o *verify.Config) { o.Policy.TDXMRTDs = []verify.HexBytes{bytes.Repeat([]byte{0xab}, 48)} }, want: verify.CheckParavisorIdentity},
		{name: "evidence truncated", data: func(t *testing.T) []byte { d := v1Data(t); return d[:len(d)/2] }, want: verify.CheckEvidenceFormat},
		{name: "evidence empty", data: func(t *testing.T) []byte { return nil }, want: verify.CheckEvidenceFormat},
		{name: "evidence over 1 MiB", data: func(t *testing.T) []byte {
			d := v1Data(t)
			return append(d[:len(d)-1], []byte(`,"pad":"`+strings.Repeat("A", 1<<20)+`"}`)...)
		}, want: verify.CheckEvidenceFormat},
		{name: "unknown version", data: func(t *testing.T) []byte {
			d := bytes.Replace(v1Data(t), []byte(`"version": 1`), []byte(`"version": 3`), 1)
			if !bytes.Contains(d, []byte(`"version": 3`)) {
				t.Fatal("version field not found")
			}
			return d
		}, want: verify.CheckEvidenceFormat},
		{name: "PCR of 31 bytes", data: func(t *testing.T) []byte {
			d := v1Data(t)
			pcr := hex.EncodeToString(v1.Quote.PCRs[3])
			return bytes.Replace(d, []byte(`"`+pcr+`"`), []byte(`"`+pcr[2:]+`"`), 1)
		}, want: verify.CheckEvidenceFormat},
		{name: "HCL report truncated to its header and report", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport = ev.HCLReport[:hcl.RuntimeDataOffset]
		}), want: verify.CheckHCLFormat},
		{name: "HCL report truncated inside the runtime data", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport = ev.HCLReport[:1300]
		}), want: verify.CheckHCLFormat},
		{name: "HCL report with oversized variable_data_size", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport[hcl.OffsetVarDataSize+3] = 0x7f
		}), want: verify.CheckHCLFormat},
		{name: "HCL report padded to 64 KiB + 1", data: func(t *testing.T) []byte {
			// Encode refuses it, so write the JSON by hand.
			ev := decode(t, v1Data(t))
			old := base64.URLEncoding.EncodeToString(ev.HCLReport)
			big := append(ev.HCLReport, make([]byte, 64<<10+1-len(ev.HCLReport))...)
			d := encode(t, ev)
			if !bytes.Contains(d, []byte(old)) {
				t.Fatal("HCL report not found in the encoding")
			}
			return bytes.Replace(d, []byte(old), []byte(base64.URLEncoding.EncodeToString(big)), 1)
		}, want: verify.CheckEvidenceFormat},
		{name: "HCL report padded to 64 KiB (still valid)", data: v1With(func(t *testing.T, ev *evidence.Evidence) {
			ev.HCLReport = append(ev.HCLReport, make([]byte, 64<<10-len(ev.HCLReport))...)
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := fixedOpts()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			nonce := []byte("challenge")
			if tc.nonce != nil {
				nonce = tc.nonce
			}
			if tc.noNonce {
				nonce = nil
			}
			claims, err := verify.Evidence(context.Background(), tc.data(t), nonce, opts)
			wantOutcome(t, claims, err, tc.want)
		})
	}
}

// TestRealV2RelabelledV1 checks that real v2 evidence read as v1 still
// verifies but does not claim a fresh report.
func TestRealV2RelabelledV1(t *testing.T) {
	data := testutil.ReadFile(t, testutil.SNPDir+"evidence-v2.json")
	ev := decode(t, data)
	ev.Version = 1
	claims, err := verify.Evidence(context.Background(), encode(t, ev), quotedNonce(t, data), fixedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if claims.FreshReport {
		t.Error("FreshReport true for v1 evidence")
	}
}

// TestRealUserDataZero checks the premise of the relabelling test: the real
// v1 evidence's user-data is 64 zero bytes.
func TestRealUserDataZero(t *testing.T) {
	claims, err := verify.Evidence(context.Background(), v1Data(t), []byte("challenge"), fixedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(claims.UserData, make([]byte, 64)) {
		t.Errorf("user-data %x", []byte(claims.UserData))
	}
}

func TestAllowNoNonce(t *testing.T) {
	opts := fixedOpts()
	opts.AllowNoNonce = true
	claims, err := verify.Evidence(context.Background(), v1Data(t), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if claims.NonceChecked || string(claims.Nonce) != "challenge" {
		t.Errorf("NonceChecked %v nonce %q", claims.NonceChecked, claims.Nonce)
	}
	// A nonce that is given is checked even when AllowNoNonce is set.
	_, err = verify.Evidence(context.Background(), v1Data(t), []byte("other"), opts)
	wantCheck(t, err, verify.CheckNonce)
}

// TestEmptyNonce checks that an empty nonce is "no nonce", never a value
// that a quote with empty extraData would match, and that a fresh report
// needs a checked nonce.
func TestEmptyNonce(t *testing.T) {
	ev := (&testev.Builder{Nonce: []byte{}, ExtraData: []byte{}}).MustBuild()
	for _, n := range [][]byte{nil, {}} {
		_, err := verify.Evidence(context.Background(), ev.JSON, n, verify.Config{Roots: ev.Roots()})
		wantCheck(t, err, verify.CheckNonce)
	}
	// v2 evidence without a nonce check proves no fresh report.
	v2 := (&testev.Builder{}).MustBuild()
	opts := verify.Config{Roots: v2.Roots(), AllowNoNonce: true}
	claims, err := verify.Evidence(context.Background(), v2.JSON, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if claims.NonceChecked || claims.FreshReport {
		t.Errorf("NonceChecked %v FreshReport %v, want false, false", claims.NonceChecked, claims.FreshReport)
	}
	opts = verify.Config{Roots: v2.Roots(), AllowNoNonce: true, Policy: verify.Policy{RequireFreshReport: true}}
	_, err = verify.Evidence(context.Background(), v2.JSON, nil, opts)
	wantCheck(t, err, verify.CheckUserData)
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := verify.Evidence(ctx, v1Data(t), []byte("challenge"), fixedOpts())
	if !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("err = %v, want context.Canceled and not ErrRejected", err)
	}
}

// TestVCEKGetter checks evidence without a VCEK and a certificate source.
func TestVCEKGetter(t *testing.T) {
	full := decode(t, v1Data(t))
	right := full.VCEK
	noVCEK := *full
	noVCEK.VCEK = nil
	data := encode(t, &noVCEK)
	wrong := vcekOf(t, testutil.SNPDir+"vcek.pem")

	t.Run("right VCEK", func(t *testing.T) {
		var calls atomic.Int32
		opts := fixedOpts()
		opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
			calls.Add(1)
			if req.Product != "Milan" || hex.EncodeToString(req.ChipID[:4]) != "66a5a7b4" || len(req.ChipID) != 64 {
				t.Errorf("request %s %x", req.Product, req.ChipID)
			}
			if got := snp.TCB(req.ReportedTCB).Parts(snp.Milan); got != (snp.TCBParts{Bootloader: 4, SNP: 24, Microcode: 219}) {
				t.Errorf("request TCB %v", got)
			}
			if err := req.Validate(wrong); err == nil {
				t.Error("Validate accepted another chip's VCEK")
			}
			if err := req.Validate(right); err != nil {
				t.Errorf("Validate rejected the right VCEK: %v", err)
			}
			return right, nil
		})
		claims, err := verify.Evidence(context.Background(), data, []byte("challenge"), opts)
		if err != nil {
			t.Fatal(err)
		}
		if claims.VCEKSource != "fetched" || calls.Load() == 0 {
			t.Errorf("VCEK source %q after %d calls", claims.VCEKSource, calls.Load())
		}
	})
	t.Run("wrong VCEK, getter validates", func(t *testing.T) {
		var validateErr error
		opts := fixedOpts()
		opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
			if err := req.Validate(wrong); err != nil {
				validateErr = err
				return nil, err
			}
			return wrong, nil
		})
		_, err := verify.Evidence(context.Background(), data, []byte("challenge"), opts)
		wantCheck(t, err, verify.CheckVCEKMissing)
		if validateErr == nil {
			t.Error("Validate accepted the wrong VCEK")
		}
	})
	t.Run("wrong VCEK, getter ignores Validate", func(t *testing.T) {
		opts := fixedOpts()
		opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
			return wrong, nil
		})
		_, err := verify.Evidence(context.Background(), data, []byte("challenge"), opts)
		wantCheck(t, err, verify.CheckChipID) // checked again after the getter, before the signature
	})
	t.Run("getter fails", func(t *testing.T) {
		opts := fixedOpts()
		opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
			return nil, errors.New("offline")
		})
		_, err := verify.Evidence(context.Background(), data, []byte("challenge"), opts)
		wantCheck(t, err, verify.CheckVCEKMissing)
	})
	t.Run("getter sees the canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		opts := fixedOpts()
		opts.VCEKGetter = verify.VCEKGetterFunc(func(ctx context.Context, req verify.VCEKRequest) ([]byte, error) {
			cancel()
			return nil, ctx.Err()
		})
		_, err := verify.Evidence(ctx, data, []byte("challenge"), opts)
		if !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrRejected) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestRealReports checks verify.Report on stored reports.
func TestRealReports(t *testing.T) {
	t.Run("THIM report with the THIM VCEK", func(t *testing.T) {
		claims, err := reportWith(context.Background(), testutil.ReadFile(t, "azure-thim/snp_report.bin"), thimVCEK(t), fixedOpts())
		if err != nil {
			t.Fatal(err)
		}
		if claims.Product != "Milan" || hex.EncodeToString(claims.ChipID[:4]) != "b12164b4" || claims.EvidenceVersion != -1 ||
			claims.VCEKSource != "given" || claims.ReportedTCB != (snp.TCBParts{Bootloader: 3, SNP: 8, Microcode: 115}) {
			t.Errorf("claims %s %x v%d %s %v", claims.Product, claims.ChipID[:4], claims.EvidenceVersion, claims.VCEKSource, claims.ReportedTCB)
		}
		if claims.VMConfig != nil || claims.PCRs != nil {
			t.Error("a bare report has no runtime data or PCRs")
		}
	})
	t.Run("THIM report tampered", func(t *testing.T) {
		r := testutil.ReadFile(t, "azure-thim/snp_report.bin")
		r[snp.OffsetMeasurement] ^= 1
		_, err := reportWith(context.Background(), r, thimVCEK(t), fixedOpts())
		wantCheck(t, err, verify.CheckReportSignature)
	})
	t.Run("THIM report with another chip's VCEK", func(t *testing.T) {
		_, err := reportWith(context.Background(), testutil.ReadFile(t, "azure-thim/snp_report.bin"), vcekOf(t, testutil.SNPDir+"vcek.pem"), fixedOpts())
		wantCheck(t, err, verify.CheckChipID)
	})
	t.Run("trustee HCL report", func(t *testing.T) {
		claims, err := reportWith(context.Background(), testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin"), vcekOf(t, testutil.SNPDir+"vcek.pem"), fixedOpts())
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(claims.ChipID[:4]) != "19752a44" || len(claims.AKPublic) == 0 || claims.VMConfig == nil {
			t.Errorf("chip %x AK %d bytes VMConfig %v", claims.ChipID[:4], len(claims.AKPublic), claims.VMConfig)
		}
	})
	t.Run("azure-cvm-tooling report with a VCEK of another chip", func(t *testing.T) {
		_, err := reportWith(context.Background(), testutil.ReadFile(t, "azure-cvm-tooling/hcl-report-snp.bin"), vcekOf(t, "azure-cvm-tooling/certs.pem"), fixedOpts())
		// The VCEK is of another chip: that is the cause, not the
		// signature it cannot verify.
		wantCheck(t, err, verify.CheckChipID)
	})
	t.Run("no VCEK and no getter", func(t *testing.T) {
		_, err := reportWith(context.Background(), testutil.ReadFile(t, "azure-thim/snp_report.bin"), nil, fixedOpts())
		wantCheck(t, err, verify.CheckVCEKMissing)
	})
	t.Run("short report", func(t *testing.T) {
		_, err := reportWith(context.Background(), testutil.ReadFile(t, "azure-thim/snp_report.bin")[:1000], thimVCEK(t), fixedOpts())
		wantCheck(t, err, verify.CheckHCLFormat)
	})
}

// TestDecodedIncomplete checks Decoded on evidence values that Decode would
// never produce: they are rejected, never a panic.
func TestDecodedIncomplete(t *testing.T) {
	full := decode(t, v1Data(t))
	cases := []struct {
		name string
		ev   *evidence.Evidence
		want verify.Check
	}{
		{"nil evidence", nil, verify.CheckEvidenceFormat},
		{"zero evidence", &evidence.Evidence{}, verify.CheckHCLFormat},
		{"no quote", &evidence.Evidence{Version: 1, HCLReport: full.HCLReport, VCEK: full.VCEK}, verify.CheckQuoteFormat},
		// An empty PCR list lacks the selected values (nil, unknown values, is
		// accepted: TestNoPCRValues).
		{"empty PCR list", &evidence.Evidence{Version: 1, HCLReport: full.HCLReport, VCEK: full.VCEK,
			Quote: quote.Quote{Message: full.Quote.Message, Signature: full.Quote.Signature, PCRs: [][]byte{}}}, verify.CheckQuoteFormat},
		// Versions Decode never gives: -1 verified, with the claims of a
		// bare report (evidence_version -1), and 3 on as a refreshed v2.
		{"version -1", withVersion(full, -1), verify.CheckEvidenceFormat},
		{"version 3", withVersion(full, 3), verify.CheckEvidenceFormat},
		{"version 1 (control)", withVersion(full, 1), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				_, err = decodedWith(context.Background(), tc.ev, []byte("challenge"), fixedOpts())
			}()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			wantCheck(t, err, tc.want)
		})
	}
}

// withVersion returns a copy of ev with Version v.
func withVersion(ev *evidence.Evidence, v int) *evidence.Evidence {
	e := *ev
	e.Version = v
	return &e
}
