//go:build cgo

package guest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil/cvmtest"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/maa/fakemaa"
	"github.com/snp-vtpm/snp-vtpm/maa/guest"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// inputs gathers the emulated CVM's isolation evidence and log.
func inputs(t *testing.T, cvm *emulator.CVM, nonce []byte) *guest.Inputs {
	t.Helper()
	blob, err := vtpm.ReadHCLReport(context.Background(), cvm.TPM())
	if err != nil {
		t.Fatal(err)
	}
	return &guest.Inputs{HCLReport: blob, VCEKChainPEM: append(fakeamd.VCEKPEM(), fakeamd.ChainPEM()...),
		EventLog: cvm.EventLog(), Nonce: nonce, OSType: "Linux", OSDistro: "EMULATED", OSBuild: "test"}
}

func newService(t *testing.T) (*fakemaa.Service, string) {
	t.Helper()
	svc, err := fakemaa.New(fakemaa.Config{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Close() })
	return svc, run.URL
}

// TestAttestEmulated is the whole protocol against the fake MAA: the
// token verifies only with TrustEmulated, carries our nonce and binds to
// the CVM's report; after a PCR extend the same answer cannot be
// decrypted.
func TestAttestEmulated(t *testing.T) {
	ctx := context.Background()
	cvm := cvmtest.Start(t, nil)
	_, url := newService(t)
	nonce := []byte("maa-attest-nonce")
	token, err := guest.Attest(ctx, cvm.TPM(), nil, url, inputs(t, cvm, nonce))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := maa.EmulatedKeys()
	if err != nil {
		t.Fatal(err)
	}
	cfg := maa.Config{Keys: keys, Issuer: maa.EmulatedIssuer, Nonce: nonce, TrustEmulated: true}
	c, err := maa.Verify(ctx, token, cfg)
	if err != nil {
		t.Fatalf("the fake MAA's token does not verify with TrustEmulated: %v", err)
	}
	m := fakeamd.DefaultMeasurement()
	if c.VMID != cvm.VMUniqueID() || !bytes.Equal(c.IsolationTEE.LaunchMeasurement, m[:]) {
		t.Errorf("claims: vmid %q measurement %x", c.VMID, c.IsolationTEE.LaunchMeasurement)
	}
	cfg.TrustEmulated = false
	if _, err := maa.Verify(ctx, token, cfg); !errors.Is(err, maa.ErrEmulated) || !errors.Is(err, maa.ErrRejected) {
		t.Fatalf("without TrustEmulated: %v, want ErrEmulated", err)
	}

	req, err := guest.Prepare(ctx, cvm.TPM(), inputs(t, cvm, nonce))
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	resp, err := req.Post(ctx, nil, url)
	if err != nil {
		t.Fatal(err)
	}
	extend(t, cvm, 7)
	if _, err := req.Decrypt(ctx, resp); !errors.Is(err, vtpm.ErrPolicyPCR) {
		t.Fatalf("decrypting after a PCR 7 extend: %v, want ErrPolicyPCR", err)
	}
}

func extend(t *testing.T, cvm *emulator.CVM, pcr int) {
	t.Helper()
	d := make([]byte, 32)
	_, _ = rand.Read(d)
	testutil.ExtendPCR(t, cvm.TPM(), pcr, d)
}

// TestFakeMAARejects tampers with one part of a good request at a time;
// the fake MAA must name the failed check.
func TestFakeMAARejects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other := otherVMReport(t)
	cvm := cvmtest.Start(t, nil)
	svc, _ := newService(t)
	nonce := []byte("tamper")
	fresh := func() *guest.Request {
		r, err := guest.Prepare(ctx, cvm.TPM(), inputs(t, cvm, nonce))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	good := fresh()
	_, err := svc.Attest(ctx, good.Info)
	_ = good.Close()
	if err != nil {
		t.Fatalf("the untampered request: %v", err)
	}
	if cert, err := x509.ParseCertificate(good.Info.TpmInfo.AikCert); err != nil || !strings.Contains(cert.Issuer.CommonName, "EMULATED") {
		t.Fatalf("the request's AikCert (the emulator's, NV 0x01C101D0): %v", err)
	}
	for _, tc := range []struct {
		name, check, reason string
		tamper              func(a *maa.AttestationInfo)
	}{
		{"quote of other PCRs", "pcr-quote", "PCRs 0-7", func(a *maa.AttestationInfo) {
			q, err := vtpm.QuotePCRs(ctx, cvm.TPM(), nonce, []int{0, 1, 2, 3, 4, 5, 6, 8})
			if err != nil {
				t.Fatal(err)
			}
			a.TpmInfo.PcrQuote, a.TpmInfo.PcrSignature = q.Message, q.Signature
		}},
		{"quote over another nonce", "pcr-quote", "nonce", func(a *maa.AttestationInfo) {
			a.ClientPayload["nonce"] = maa.NonceClaim([]byte("other"))
		}},
		{"ephemeral key not certified", "ephemeral-key", "another key", func(a *maa.AttestationInfo) {
			k := otherKey(t, cvm)
			a.TpmInfo.EncKeyPub = k.Public
		}},
		{"ephemeral key bound to other PCRs", "ephemeral-key", "authPolicy", func(a *maa.AttestationInfo) {
			k := otherKey(t, cvm)
			a.TpmInfo.EncKeyPub, a.TpmInfo.EncKeyCertifyInfo, a.TpmInfo.EncKeyCertifyInfoSignature = k.Public, k.CertifyInfo, k.CertifySignature
		}},
		{"certification signature", "ephemeral-key", "not signed by the AK", func(a *maa.AttestationInfo) {
			a.TpmInfo.EncKeyCertifyInfoSignature = bytes.Clone(a.TpmInfo.EncKeyCertifyInfoSignature)
			a.TpmInfo.EncKeyCertifyInfoSignature[9] ^= 1
		}},
		{"report of another VM", "aik", "another VM", func(a *maa.AttestationInfo) {
			a.IsolationInfo.Evidence = other
		}},
		{"PCR value", "pcr-quote", "quoted digest", func(a *maa.AttestationInfo) {
			a.TpmInfo.PCRs[3].Digest = make([]byte, 32)
		}},
		{"TCG log", "tcg-log", "", func(a *maa.AttestationInfo) { a.TcgLogs = nil }},
		{"AK certificate of another key", "aik", "another key", func(a *maa.AttestationInfo) {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			if a.TpmInfo.AikCert, err = emulator.AKCertificate(&k.PublicKey, cvm.VMUniqueID()); err != nil {
				t.Fatal(err)
			}
		}},
		{"AK certificate not DER", "aik", "not a DER X.509", func(a *maa.AttestationInfo) { a.TpmInfo.AikCert = []byte("junk") }},
		{"SEV-SNP evidence typed Tdx", "isolation-evidence", "TD quote", func(a *maa.AttestationInfo) { a.IsolationInfo.Type = maa.IsolationTDX }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fresh()
			defer r.Close()
			tc.tamper(r.Info)
			_, err := svc.Attest(ctx, r.Info)
			var rej *fakemaa.Rejection
			if !errors.As(err, &rej) || rej.Check != tc.check || !strings.Contains(rej.Reason, tc.reason) {
				t.Fatalf("got %v, want a %q rejection saying %q", err, tc.check, tc.reason)
			}
		})
	}
}

// otherKey returns an ephemeral key bound to PCRs 0-6 and 8 (certified by
// the AK), already flushed.
func otherKey(t *testing.T, cvm *emulator.CVM) *vtpm.EphemeralKey {
	t.Helper()
	k, err := vtpm.NewEphemeralKey(context.Background(), cvm.TPM(), []int{0, 1, 2, 3, 4, 5, 6, 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(cvm.TPM()); err != nil {
		t.Fatal(err)
	}
	return k
}

// otherVMReport returns the isolation evidence of another emulated VM.
func otherVMReport(t *testing.T) maa.IsolationEvidence {
	t.Helper()
	cvm, err := emulator.Start(context.Background(), &emulator.Options{Seed: 77, VMUniqueID: "11111111-2222-3333-4444-555555555555"})
	if err != nil {
		t.Fatal(err)
	}
	defer cvm.Close()
	r, err := guest.Prepare(context.Background(), cvm.TPM(), inputs(t, cvm, []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Info.IsolationInfo.Evidence
}

// tdxInputs gathers the emulated TDX CVM's HCL report, the TD quote of its
// TDREPORT (the fake IMDS) and the boot log.
func tdxInputs(t *testing.T, cvm *emulator.CVM, nonce []byte) *guest.Inputs {
	t.Helper()
	ctx := context.Background()
	blob, err := vtpm.ReadHCLReport(ctx, cvm.TPM())
	if err != nil {
		t.Fatal(err)
	}
	r, err := hcl.Parse(blob)
	if err != nil || r.Type != hcl.ReportTypeTDX {
		t.Fatalf("the TDX CVM's HCL report: %v", err)
	}
	q, err := (&imds.Client{TDQuoteURL: cvm.TDQuoteURL()}).TDQuote(ctx, r.TDReport)
	if err != nil {
		t.Fatal(err)
	}
	return &guest.Inputs{HCLReport: blob, TDQuote: q, EventLog: cvm.EventLog(), Nonce: nonce, OSType: "Linux", OSDistro: "EMULATED"}
}

// TestAttestEmulatedTDX: the emulated TDX CVM gets a tdxvm token from the
// fake MAA (the TD quote verified under the fake Intel chain) that binds
// to the CVM's verified TDX claims; a tampered TD quote, or a TD quote of
// another VM, is rejected; a tdxvm token never binds to SEV-SNP evidence.
func TestAttestEmulatedTDX(t *testing.T) {
	ctx := context.Background()
	cvm := cvmtest.Start(t, &emulator.Options{Platform: emulator.PlatformTDX})
	svc, url := newService(t)
	nonce := []byte("maa-tdx-nonce")
	in := tdxInputs(t, cvm, nonce)
	token, err := guest.Attest(ctx, cvm.TPM(), nil, url, in)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := maa.EmulatedKeys()
	if err != nil {
		t.Fatal(err)
	}
	c, err := maa.Verify(ctx, token, maa.Config{Keys: keys, Issuer: maa.EmulatedIssuer, Nonce: nonce, TrustEmulated: true})
	if err != nil {
		t.Fatalf("the fake MAA's tdxvm token: %v", err)
	}
	if c.Platform() != maa.TEETDX || c.IsolationTEE.TDAttributesDebug == nil || *c.IsolationTEE.TDAttributesDebug {
		t.Fatalf("platform %q, tdx claims %+v", c.Platform(), c.IsolationTEE.TDX)
	}
	v, err := verify.New(verify.Config{TrustEmulatedTDX: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := v.TDXReport(ctx, in.HCLReport, in.TDQuote)
	if err != nil {
		t.Fatal(err)
	}
	if err := maa.Bind(c, ev); err != nil {
		t.Fatalf("binding to our TDX claims: %v", err)
	}
	if !bytes.Equal(c.IsolationTEE.MRTD, ev.TDX.MRTD) || !bytes.Equal(c.IsolationTEE.TDX.ReportData, ev.ReportData) {
		t.Error("tdx_mrtd or tdx_report_data differ from the verified quote's")
	}

	tampered := func(change func(a *maa.AttestationInfo)) error {
		r, err := guest.Prepare(ctx, cvm.TPM(), tdxInputs(t, cvm, nonce))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		change(r.Info)
		_, err = svc.Attest(ctx, r.Info)
		return err
	}
	var rej *fakemaa.Rejection
	err = tampered(func(a *maa.AttestationInfo) {
		p := bytes.Clone(a.IsolationInfo.Evidence.Proof)
		p[200] ^= 1 // a quote body byte: the quote signature breaks
		a.IsolationInfo.Evidence.Proof = p
	})
	if !errors.As(err, &rej) || rej.Check != "isolation-evidence" {
		t.Errorf("tampered TD quote: %v", err)
	}
	err = tampered(func(a *maa.AttestationInfo) {
		a.IsolationInfo.Evidence.RunTimeData = append(bytes.Clone(a.IsolationInfo.Evidence.RunTimeData), ' ')
	})
	if !errors.As(err, &rej) || rej.Check != "isolation-evidence" || !strings.Contains(rej.Reason, "REPORTDATA") {
		t.Errorf("runtime data not bound by the quote: %v", err)
	}
}
