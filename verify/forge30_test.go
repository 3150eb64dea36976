package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestForge30TDXEvidenceWithVCEK: TDX evidence names its hardware report's
// signer by its TD quote; a "vcek" member (an SEV-SNP member) beside it is
// evidence of the other platform's shape.
func TestForge30TDXEvidenceWithVCEK(t *testing.T) {
	snpVCEK := decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")).VCEK
	for name, vcek := range map[string][]byte{
		"a real SEV-SNP VCEK": snpVCEK,
		"garbage":             bytes.Repeat([]byte("attacker bytes "), 1000),
	} {
		t.Run(name, func(t *testing.T) {
			// Encode refuses to write it: the member is added to the text.
			real := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
			i := bytes.LastIndexByte(real, '}')
			data := append(append(bytes.Clone(real[:i]), `,"vcek":"`+base64.URLEncoding.EncodeToString(vcek)+`"`...), real[i:]...)
			v := newVerifier(t, tdxOpts())
			nonce := quotedNonce(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json"))
			_, err := v.Evidence(context.Background(), data, nonce)
			wantCheck(t, err, verify.CheckEvidenceFormat)
			if s := v.Stats().Evidence; s.Entries != 0 {
				t.Fatalf("the decoder remembers %d fields (%d bytes) of rejected evidence", s.Entries, s.Bytes)
			}
		})
	}
}

// TestForge30CrossRequest: one Verifier (one serve) first verifies genuine
// input, then crafted input reusing parts of it; the cache hits must not
// skip the check that the second input fails.
func TestForge30CrossRequest(t *testing.T) {
	ctx := context.Background()
	t.Run("VMPL 1 report verified bare, then wrapped as evidence", func(t *testing.T) {
		// A guest OS below the paravisor asks for a report whose
		// REPORT_DATA binds runtime data of its own (its own AK): the
		// report is genuine and carries the paravisor's ID key digest.
		ev := (&testev.Builder{Version: 1, VMPL: 1}).MustBuild()
		v := newVerifier(t, verify.Config{Roots: testev.Roots(), Policy: verify.Policy{VMPL: 1}})
		if _, err := v.Report(ctx, ev.Report, ev.VCEKDER); err != nil {
			t.Fatal(err)
		}
		_, err := v.Evidence(ctx, ev.JSON, ev.Nonce)
		wantCheck(t, err, verify.CheckVMPL)
		// The HCL report through Report: the paravisor's level too.
		_, err = v.Report(ctx, ev.Evidence.HCLReport, ev.VCEKDER)
		wantCheck(t, err, verify.CheckVMPL)
		if s := v.Stats(); s.Reports.Hits < 2 || s.VCEKs.Hits < 2 {
			t.Fatalf("the signature was not a cache hit: %+v", s)
		}
	})
	t.Run("v1 verified, then relabelled v2", func(t *testing.T) {
		data := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
		nonce := quotedNonce(t, data)
		v := newVerifier(t, fixedOpts())
		mustVerify(t, v, data, nonce)
		ev := decode(t, data)
		ev.Version = 2
		_, err := v.Evidence(ctx, encode(t, ev), nonce)
		wantCheck(t, err, verify.CheckUserData)
		if s := v.Stats(); s.HCLReports.Hits == 0 {
			t.Fatalf("the HCL report was not a cache hit: %+v", s)
		}
	})
	t.Run("TDX HCL report verified, then given as SEV-SNP evidence", func(t *testing.T) {
		tdxData := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
		v := newVerifier(t, tdxOpts())
		mustVerify(t, v, tdxData, quotedNonce(t, tdxData))
		snpEv := decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json"))
		ev := decode(t, tdxData)
		ev.TDQuote, ev.VCEK = nil, snpEv.VCEK
		_, err := v.Evidence(ctx, encode(t, ev), quotedNonce(t, tdxData))
		wantCheck(t, err, verify.CheckReportType)
	})
	t.Run("SEV-SNP HCL report verified, then given with a TD quote", func(t *testing.T) {
		snpData := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
		v := newVerifier(t, verify.Config{Now: testutil.FixtureTime()})
		mustVerify(t, v, snpData, quotedNonce(t, snpData))
		ev := decode(t, snpData)
		ev.VCEK, ev.TDQuote = nil, decode(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json")).TDQuote
		_, err := v.Evidence(ctx, encode(t, ev), quotedNonce(t, snpData))
		wantCheck(t, err, verify.CheckReportType)
	})
	t.Run("VLEK verified archived (--at), then at a time past its year", func(t *testing.T) {
		nb := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		b := vlekBuilder(snp.Milan, func(b *testev.Builder) {
			b.Version = 1
			b.VCEK.NotBefore, b.VCEK.NotAfter = nb, nb.AddDate(1, 0, 0)
		})
		ev := b.MustBuild()
		v := newVerifier(t, verify.Config{Roots: testev.Roots(), Now: nb.AddDate(0, 6, 0)})
		mustVerify(t, v, ev.JSON, ev.Nonce)
		verify.SetNowForTest(v, nb.AddDate(1, 0, 1))
		_, err := v.Evidence(ctx, ev.JSON, ev.Nonce)
		wantCheck(t, err, verify.CheckCertValidity)
		if s := v.Stats(); s.VCEKs.Hits == 0 {
			t.Fatalf("the VLEK chain was not a cache hit: %+v", s)
		}
	})
}

// TestDecodedTDXEvidenceWithVCEK: Decoded, given an Evidence the caller
// built with a TD quote and a VCEK, refuses it as Decode refuses the
// document (evidence-format, the same *format.Error naming vcek); it
// verified before, the VCEK read by nothing. Without the VCEK the same
// evidence verifies.
func TestDecodedTDXEvidenceWithVCEK(t *testing.T) {
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	nonce := quotedNonce(t, data)
	ev := decode(t, data)
	v := newVerifier(t, tdxOpts())
	if _, err := v.Decoded(context.Background(), ev, nonce); err != nil {
		t.Fatalf("the TDX evidence without a VCEK: %v", err)
	}
	ev.VCEK = decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")).VCEK
	_, err := v.Decoded(context.Background(), ev, nonce)
	wantCheck(t, err, verify.CheckEvidenceFormat)
	fe, ok := errors.AsType[*format.Error](err)
	if !ok || fe.Field != "vcek" || !errors.Is(err, format.ErrUnexpectedField) {
		t.Fatalf("err = %v, want the *format.Error of vcek (unexpected field)", err)
	}
	// The document with both members: Decode's error, the same one.
	i := bytes.LastIndexByte(data, '}')
	doc := append(append(bytes.Clone(data[:i]), `,"vcek":"`+base64.URLEncoding.EncodeToString(ev.VCEK)+`"`...), data[i:]...)
	if _, derr := v.Evidence(context.Background(), doc, nonce); derr == nil || derr.Error() != err.Error() {
		t.Fatalf("Decoded: %v\nEvidence: %v", err, derr)
	}
}
