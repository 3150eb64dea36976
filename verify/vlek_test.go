package verify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// vlekBuilder returns a Builder of a report signed by a VLEK of product p.
func vlekBuilder(p snp.Product, mod func(b *testev.Builder)) testev.Builder {
	b := testev.Builder{Product: p, VCEK: testev.VCEKTemplate{VLEK: true}}
	if mod != nil {
		mod(&b)
	}
	return b
}

// TestVLEK: reports whose SIGNER_INFO says VLEK verify against a VLEK
// issued by the product line's ASVK (VLEK <- ASVK <- ARK); a VLEK binds to
// no chip (a zero chip id verifies, with MASK_CHIP_KEY, the VCEK masked,
// too) but its TCB must match REPORTED_TCB; a VLEK of a wrong ASVK, a VLEK
// for a report that says VCEK and a VCEK for a report that says VLEK are
// rejected.
func TestVLEK(t *testing.T) {
	zero := [64]byte{}
	wrongASVK, err := testev.NewChain(snp.Milan, testev.ARKKey(), testev.ASKKey(), testev.OtherRSAKey())
	if err != nil {
		t.Fatal(err)
	}
	var cases []synthCase
	for _, p := range snp.Products() {
		cases = append(cases,
			synthCase{name: string(p) + " VLEK verifies", b: vlekBuilder(p, nil), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
				if c.SigningKey != "VLEK" || c.Product != string(p) {
					t.Errorf("signing key %q product %s", c.SigningKey, c.Product)
				}
			}},
			synthCase{name: string(p) + " VLEK with a masked zero chip id verifies", b: vlekBuilder(p, func(b *testev.Builder) {
				b.ChipID, b.SignerInfo = &zero, snp.SigningKeyVLEK<<2|snp.SignerInfoMaskChipKey
			})},
			synthCase{name: string(p) + " VLEK TCB differs from REPORTED_TCB", b: vlekBuilder(p, func(b *testev.Builder) {
				b.VCEK.TCB = testev.DefaultTCB(p)
				b.VCEK.TCB.SNP++
			}), want: verify.CheckVCEKTCB},
			synthCase{name: string(p) + " VLEK but SIGNER_INFO says VCEK", b: vlekBuilder(p, func(b *testev.Builder) {
				b.MutateReport = setSignerInfo(snp.SigningKeyVCEK)
			}), want: verify.CheckReportSignature},
			synthCase{name: string(p) + " VCEK but SIGNER_INFO says VLEK", b: testev.Builder{Product: p, SignerInfo: snp.SigningKeyVLEK << 2}, want: verify.CheckReportSignature},
		)
	}
	cases = append(cases,
		synthCase{name: "VLEK signed by an ASVK no root pins", b: vlekBuilder(snp.Milan, func(b *testev.Builder) { b.Chain = wrongASVK }), want: verify.CheckVCEKChain},
		synthCase{name: "VLEK under roots without an ASVK", b: vlekBuilder(snp.Milan, nil), opts: func(o *verify.Config) {
			c := testev.PrivateChain(snp.Milan)
			sc, err := snp.NewChain(c.ASK, c.ARK)
			if err != nil {
				t.Fatal(err)
			}
			o.Roots = (&snp.Roots{}).Add(sc)
		}, want: verify.CheckVCEKChain},
		synthCase{name: "VLEK signed by another key", b: vlekBuilder(snp.Genoa, func(b *testev.Builder) { b.ReportKey = testev.NewVCEKKey() }), want: verify.CheckReportSignature},
	)
	runSynth(t, cases)
}

// TestVLEKNotFetchable: AMD's KDS serves no VLEKs, so a VLEK report whose
// evidence carries no certificate fails with vcek-missing naming the VLEK,
// even with a certificate source configured (which is never asked).
func TestVLEKNotFetchable(t *testing.T) {
	zero := [64]byte{}
	b := vlekBuilder(snp.Milan, func(b *testev.Builder) { b.OmitVCEK, b.ChipID = true, &zero })
	ev := b.MustBuild()
	getter := &countingGetter{}
	_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), VCEKGetter: getter})
	wantCheck(t, err, verify.CheckVCEKMissing)
	if !strings.Contains(err.Error(), "VLEK") || getter.calls != 0 {
		t.Errorf("err = %v, getter calls %d", err, getter.calls)
	}
}

type countingGetter struct{ calls int }

func (g *countingGetter) GetVCEK(context.Context, verify.VCEKRequest) ([]byte, error) {
	g.calls++
	return nil, verify.ErrCertificateUnavailable
}

// TestVLEKExpired: a VLEK lives one year; once expired, the error says to
// verify an archived report at its time (--at), and doing so verifies.
func TestVLEKExpired(t *testing.T) {
	nb := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b := vlekBuilder(snp.Milan, func(b *testev.Builder) {
		b.VCEK.NotBefore, b.VCEK.NotAfter = nb, nb.AddDate(1, 0, 0)
	})
	ev := b.MustBuild()
	_, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots()})
	wantCheck(t, err, verify.CheckCertValidity)
	if !strings.Contains(err.Error(), "--at") {
		t.Errorf("expired VLEK error does not name --at: %v", err)
	}
	at := nb.AddDate(0, 6, 0)
	c, err := reportWith(context.Background(), ev.Report, ev.VCEKDER, verify.Config{Roots: testev.Roots(), Now: at})
	if err != nil || c.SigningKey != "VLEK" {
		t.Fatalf("archived VLEK report at %s: %v", at, err)
	}
}

// checker is a RevocationChecker that records what it is asked (the
// signing key's name, then each certificate's common name) and answers err.
type checker struct {
	asked *[]string
	err   error
}

func (c checker) CheckRevoked(_ context.Context, _ string, signingKey uint32, certs ...*x509.Certificate) error {
	*c.asked = append(*c.asked, snp.SigningKeyName(signingKey))
	for _, cert := range certs {
		*c.asked = append(*c.asked, cert.Subject.CommonName)
	}
	return c.err
}

// TestVLEKRevocation: with revocation checking, a VLEK-signed report is
// checked against the VLEK CRL: the checker is told the signing key is a
// VLEK and given the ASVK that signed it and the VLEK (it used to be given
// the ASK, which did not sign the VLEK, to look up in the VCEK CRL, so a
// revoked ASVK passed unchecked; then such reports were rejected
// outright). A VCEK-signed report is still checked with its ASK and VCEK.
// What the checker refuses is rejected (revocation).
func TestVLEKRevocation(t *testing.T) {
	revoked := errors.New("revoked by test")
	for _, tc := range []struct {
		name  string
		b     testev.Builder
		err   error
		want  verify.Check
		asked []string
	}{
		{"VCEK: ASK and VCEK checked", testev.Builder{}, nil, "", []string{"VCEK", "SEV-Milan", "SEV-VCEK"}},
		{"VLEK: ASVK and VLEK checked", vlekBuilder(snp.Milan, nil), nil, "", []string{"VLEK", "SEV-VLEK-Milan", "SEV-VLEK"}},
		{"Genoa VLEK", vlekBuilder(snp.Genoa, nil), nil, "", []string{"VLEK", "SEV-VLEK-Genoa", "SEV-VLEK"}},
		{"Turin VLEK", vlekBuilder(snp.Turin, nil), nil, "", []string{"VLEK", "SEV-VLEK-Turin", "SEV-VLEK"}},
		{"VLEK revoked", vlekBuilder(snp.Milan, nil), revoked, verify.CheckRevocation, []string{"VLEK", "SEV-VLEK-Milan", "SEV-VLEK"}},
		{"VCEK revoked", testev.Builder{}, revoked, verify.CheckRevocation, []string{"VCEK", "SEV-Milan", "SEV-VCEK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.b.Build()
			if err != nil {
				t.Fatal(err)
			}
			var asked []string
			cfg := verify.Config{Roots: testev.Roots(), Revocation: checker{&asked, tc.err}}
			c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
			wantOutcome(t, c, err, tc.want)
			if !slices.Equal(asked, tc.asked) {
				t.Errorf("revocation checker asked about %q, want %q", asked, tc.asked)
			}
			if tc.want != "" && !errors.Is(err, revoked) {
				t.Errorf("error %v does not wrap the checker's", err)
			}
		})
	}
}

// TestRevocationUnavailable: a checker whose CRL source is down
// (ErrCertificateUnavailable) ends verification without a verdict: not a
// rejection, so serve answers 503 and the CLI exits 1. A checker's other
// errors still reject.
func TestRevocationUnavailable(t *testing.T) {
	down := fmt.Errorf("%w: KDS answered 503", verify.ErrCertificateUnavailable)
	for _, b := range []testev.Builder{{}, vlekBuilder(snp.Milan, nil)} {
		ev, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		var asked []string
		cfg := verify.Config{Roots: testev.Roots(), Revocation: checker{&asked, down}}
		_, err = verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
		if err == nil || errors.Is(err, verify.ErrRejected) || !errors.Is(err, verify.ErrCertificateUnavailable) {
			t.Errorf("CRL source down: %v, want an unavailable error that is not a rejection", err)
		}
		wantUnavailable(t, err, verify.CheckRevocation)
	}
}

// TestSigningKeyKindBeforeChipID: a real report given with a genuine
// certificate of the other kind (a VLEK-signed AWS report with a Milan
// VCEK, a VCEK-signed report with AWS's VLEK) is rejected as
// report-signature, naming SIGNER_INFO's key against the certificate's
// (snp.ErrSigningKey), before the chip id and TCB binding. Before, the
// same mistake was named by a symptom: vcek-chip-id "CHIP_ID is zero
// (masked by the host: MASK_CHIP_ID)" for the VLEK-signed report (whose
// chip id AMD leaves zero), or vcek-tcb for the VLEK's other TCB, and
// report-signature only when chip id and TCB happened to match.
func TestSigningKeyKindBeforeChipID(t *testing.T) {
	const awsVLEKReport, awsVLEK = "constellation/aws-vlek-report.bin", "constellation/aws-vlek.pem"
	for _, tc := range []struct{ name, report, cert string }{
		{"AWS VLEK report, a Milan VCEK", awsVLEKReport, "virtee-sev/vcek-milan.der"},
		{"AWS VLEK report, an Azure VCEK", awsVLEKReport, "constellation/azure-vcek-thim.der"},
		{"trustee's VLEK report at VMPL 1, a Milan VCEK", "trustee-snp/test-vlek-report.bin", "virtee-sev/vcek-milan.der"},
		{"Azure VCEK report, AWS's VLEK", "constellation/azure-snp-report-1204.bin", awsVLEK},
		{"virtee VCEK report, AWS's VLEK", "virtee-sev/report-milan.bin", awsVLEK},
		{"Oak VCEK report, AWS's VLEK (same bl, tee, snp)", "oak/milan-oc-report.bin", awsVLEK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := verify.Policy{AllowUncommittedTCB: true, VMPL: 1}
			_, err := reportWith(context.Background(), testutil.ReadFile(t, tc.report), certDER(t, tc.cert),
				verify.Config{Now: testutil.FixtureTime(), Policy: policy})
			verr, ok := errors.AsType[*verify.Error](err)
			if !ok || verr.Check != verify.CheckReportSignature || !errors.Is(err, snp.ErrSigningKey) || !errors.Is(err, verify.ErrRejected) {
				t.Fatalf("err = %v, want report-signature naming the signing key's kind (snp.ErrSigningKey)", err)
			}
		})
	}
}

// TestVLEKMissingNamesProductLine: a VLEK-signed report given without a
// certificate (KDS serves no VLEK) is vcek-missing naming the product line
// of the VLEK to supply: Genoa and Turin from the CPUID of synthetic
// version 5 reports, Milan from real AWS version 3 reports; a version 2
// report (real AWS, 2023) carries no CPUID and the error says so.
func TestVLEKMissingNamesProductLine(t *testing.T) {
	synth := func(p snp.Product) []byte {
		b := vlekBuilder(p, func(b *testev.Builder) { b.OmitVCEK = true })
		return b.MustBuild().Report
	}
	for _, tc := range []struct {
		name   string
		report []byte
		want   string
	}{
		{"synthetic Genoa v5", synth(snp.Genoa), "VLEK (a Genoa chip: its certificate is issued by SEV-VLEK-Genoa)"},
		{"synthetic Turin v5", synth(snp.Turin), "VLEK (a Turin chip: its certificate is issued by SEV-VLEK-Turin)"},
		{"real AWS v3 (constellation)", testutil.ReadFile(t, "constellation/aws-vlek-report.bin"), "VLEK (a Milan chip: its certificate is issued by SEV-VLEK-Milan)"},
		{"real AWS v3 at VMPL 1 (trustee)", testutil.ReadFile(t, "trustee-snp/test-vlek-report.bin"), "VLEK (a Milan chip"},
		{"real AWS v2 (2023)", testutil.ReadFile(t, "constellation/aws-vlek-report-2023.bin"), "VLEK (product line not named: a version 2 report carries no CPUID)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reportWith(context.Background(), tc.report, nil, verify.Config{Now: testutil.FixtureTime(), Roots: testev.Roots()})
			wantCheck(t, err, verify.CheckVCEKMissing)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
