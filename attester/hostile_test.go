//go:build cgo

package attester_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// hostileTPM is the emulated CVM's vTPM with what a hostile TPM or
// resource manager could change: the HCL report index served from report
// (when set), the quote's qualifying data or signature altered, the
// attestation key's public area replaced.
type hostileTPM struct {
	inner       transport.TPM
	report      []byte
	otherNonce  bool
	otherPCRs   bool // the quote's selection without PCR 23
	flipQuote   bool
	otherAKArea []byte // a ReadPublic response's parameters
}

func commandCode(cmd []byte) tpm2.TPMCC {
	if len(cmd) < 10 {
		return 0
	}
	return tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10]))
}

func (h *hostileTPM) Send(cmd []byte) ([]byte, error) {
	cc := commandCode(cmd)
	switch {
	case h.report != nil && cc == tpm2.TPMCCNVReadPublic && binary.BigEndian.Uint32(cmd[10:14]) == vtpm.NVIndexHCLReport:
		return h.nvPublic(), nil
	case h.report != nil && cc == tpm2.TPMCCNVRead && binary.BigEndian.Uint32(cmd[14:18]) == vtpm.NVIndexHCLReport:
		size := int(binary.BigEndian.Uint16(cmd[len(cmd)-4:]))
		off := int(binary.BigEndian.Uint16(cmd[len(cmd)-2:]))
		if off+size > len(h.report) {
			return nil, errors.New("NV_Read outside the index")
		}
		data := h.report[off : off+size]
		return testutil.TPMResponse(append(binary.BigEndian.AppendUint16(nil, uint16(len(data))), data...), true), nil
	case h.otherNonce && cc == tpm2.TPMCCQuote:
		// header(10) signHandle(4) authSize(4) auth, then qualifyingData.
		cmd = bytes.Clone(cmd)
		at := 18 + int(binary.BigEndian.Uint32(cmd[14:18])) + 2
		cmd[at] ^= 0x01
	case h.otherPCRs && cc == tpm2.TPMCCQuote:
		cmd = bytes.Clone(cmd)
		cmd[len(cmd)-1] &^= 0x80 // the 3-byte bitmap ends the command
	case h.otherAKArea != nil && cc == tpm2.TPMCCReadPublic && binary.BigEndian.Uint32(cmd[10:14]) == vtpm.AKHandle:
		return testutil.TPMResponse(h.otherAKArea, false), nil
	}
	rsp, err := h.inner.Send(cmd)
	if err == nil && h.flipQuote && cc == tpm2.TPMCCQuote && len(rsp) > 20 && binary.BigEndian.Uint32(rsp[6:10]) == 0 {
		rsp = bytes.Clone(rsp)
		rsp[14+binary.BigEndian.Uint32(rsp[10:14])-1] ^= 0x01 // the signature's last byte
	}
	return rsp, err
}

// nvPublic is NV_ReadPublic of the HCL report index holding h.report.
func (h *hostileTPM) nvPublic() []byte {
	pub := tpm2.TPMSNVPublic{
		NVIndex:    tpm2.TPMHandle(vtpm.NVIndexHCLReport),
		NameAlg:    tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{OwnerRead: true, AuthRead: true, NoDA: true, Written: true, NT: tpm2.TPMNTOrdinary},
		DataSize:   uint16(len(h.report)),
	}
	b := tpm2.Marshal(tpm2.New2B(pub))
	return testutil.TPMResponse(append(b, 0, 3, 0, 0x0b, 1), false) // NVPublic, then a name
}

// realReportAttester is an attester whose verifier accepts the real Azure
// HCL report of testdata (its VCEK, at the fixture time).
func realReportAttester(t *testing.T) *attester.Attester {
	vcek := testutil.Certificates(t, "trustee-az-vtpm/az-snp-vtpm/vcek.pem")[0].Raw
	v := emulatedVerifier(t, verify.Config{Now: testutil.FixtureTime(), VCEKGetter: verify.VCEKGetterFunc(
		func(_ context.Context, r verify.VCEKRequest) ([]byte, error) { return vcek, r.Validate(vcek) })})
	return &attester.Attester{Verifier: v}
}

// TestHostileTPM: what a broken or hostile vTPM serves is checked before
// it is handed out, and a failure names the check a verifier would fail
// (a rejection, matching ErrInconsistent), the same whether the report was
// read as published or refreshed, and whether a report or evidence was
// asked for. A genuine report of another VM (another attestation key) is
// not passed off as this vTPM's: VerifiedReport verified it before.
func TestHostileTPM(t *testing.T) {
	ctx := testCtx(t)
	own, err := vtpm.ReadHCLReport(ctx, cvm.TPM())
	if err != nil {
		t.Fatal(err)
	}
	sizeLies := bytes.Clone(own)
	binary.LittleEndian.PutUint32(sizeLies[hcl.OffsetVarDataSize:], uint32(len(own)))
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherAK := testutil.TPMParams(t, tpm2.ReadPublic{}, &tpm2.ReadPublicResponse{
		OutPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgRSA,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{SignEncrypt: true, Restricted: true, FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true},
			Parameters:       tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{KeyBits: 2048}),
			Unique:           tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: otherKey.N.Bytes()}),
		}),
		Name:          tpm2.TPM2BName{Buffer: []byte{0, 0x0b, 1}},
		QualifiedName: tpm2.TPM2BName{Buffer: []byte{0, 0x0b, 1}},
	})
	realReport := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/hcl-report.bin")
	withRuntimeData := func(edit func([]byte) []byte) []byte {
		r, err := hcl.Parse(own)
		if err != nil {
			t.Fatal(err)
		}
		r.RuntimeDataRaw = edit(bytes.Clone(r.RuntimeDataRaw))
		r.Size = 0
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	duplicateKey := withRuntimeData(func(js []byte) []byte {
		return append(js[:len(js)-1], []byte(`,"user-data":"00"}`)...)
	})
	huge := withRuntimeData(func(js []byte) []byte { // the largest an NV index holds
		pad := bytes.Repeat([]byte(" "), 0xFFFF-hcl.RuntimeDataOffset-len(js))
		return append(append(js[:len(js)-1], pad...), '}')
	})
	tests := []struct {
		name     string
		tpm      hostileTPM
		attester func(*testing.T) *attester.Attester
		evidence verify.Check // the rejection of Evidence
		report   verify.Check // the rejection of VerifiedReport ("": none)
		// verified: the rejection comes from the verification of what was
		// gathered, not from the attester's checks (not ErrInconsistent).
		verified bool
	}{
		{"not an HCL report", hostileTPM{report: bytes.Repeat([]byte("HCLA"), 512)}, newAttester, verify.CheckHCLFormat, verify.CheckHCLFormat, false},
		{"header sizes lie", hostileTPM{report: sizeLies}, newAttester, verify.CheckHCLFormat, verify.CheckHCLFormat, false},
		{"another VM's genuine report", hostileTPM{report: realReport}, realReportAttester, verify.CheckAttestationKey, verify.CheckAttestationKey, false},
		{"quote over another nonce", hostileTPM{otherNonce: true}, newAttester, verify.CheckNonce, "", false},
		{"quote signature", hostileTPM{flipQuote: true}, newAttester, verify.CheckQuoteSignature, "", false},
		{"attestation key replaced", hostileTPM{otherAKArea: otherAK}, newAttester, verify.CheckQuoteSignature, verify.CheckAttestationKey, false},
		{"runtime data with a duplicate key", hostileTPM{report: duplicateKey}, newAttester, verify.CheckHCLFormat, verify.CheckHCLFormat, false},
		{"64 KiB of runtime data", hostileTPM{report: huge}, newAttester, verify.CheckRuntimeData, verify.CheckRuntimeData, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.tpm
			h.inner = cvm.TPM()
			a := tc.attester(t)
			a.TPM = &h
			_, err := a.Evidence(ctx, []byte("hostile"), false)
			wantRejected(t, "Evidence", err, tc.evidence, !tc.verified)
			res, err := a.VerifiedReport(ctx, nil)
			if tc.report == "" {
				if err != nil {
					t.Fatalf("VerifiedReport: %v", err)
				}
			} else {
				wantRejected(t, "VerifiedReport", err, tc.report, !tc.verified)
				if res != nil {
					t.Fatal("VerifiedReport: a result with an error")
				}
			}
			if h.report != nil && !bytes.Equal(h.report, own) && tc.report != verify.CheckHCLFormat {
				// The served report never carries the refreshed user data.
				short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				_, err = a.Evidence(short, []byte("hostile"), true)
				if !errors.Is(err, vtpm.ErrRefreshTimeout) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Evidence(fresh): %v, want ErrRefreshTimeout", err)
				}
				return
			}
			_, err = a.Evidence(ctx, []byte("hostile"), true)
			wantRejected(t, "Evidence(fresh)", err, tc.evidence, !tc.verified)
			_, err = a.VerifiedReport(ctx, []byte("hostile"))
			if tc.report == "" {
				if err != nil {
					t.Fatalf("VerifiedReport(user data): %v", err)
				}
				return
			}
			wantRejected(t, "VerifiedReport(user data)", err, tc.report, !tc.verified)
		})
	}
}

// wantRejected fails unless err is a rejection naming check that matches
// attester.ErrInconsistent exactly when inconsistent.
func wantRejected(t *testing.T, call string, err error, check verify.Check, inconsistent bool) {
	t.Helper()
	verr, ok := errors.AsType[*verify.Error](err)
	if !ok || verr.Check != check || !errors.Is(err, verify.ErrRejected) || errors.Is(err, attester.ErrInconsistent) != inconsistent {
		t.Fatalf("%s: error %v, want a rejection naming %s (ErrInconsistent: %v)", call, err, check, inconsistent)
	}
}

// TestHostileTPMQuoteSelection: a quote of other PCRs than asked for is a
// TPM that broke the protocol (vtpm.ErrMalformedResponse, CLI exit 1), not a
// rejection: a verifier accepts a quote of any selection, so no check of
// verify fails.
func TestHostileTPMQuoteSelection(t *testing.T) {
	a := newAttester(t)
	a.TPM = &hostileTPM{inner: cvm.TPM(), otherPCRs: true}
	_, err := a.Evidence(testCtx(t), []byte("hostile"), false)
	if !errors.Is(err, vtpm.ErrMalformedResponse) || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("error %v, want ErrMalformedResponse, not a rejection", err)
	}
	if !strings.Contains(err.Error(), "select exactly") {
		t.Fatalf("error %v does not name the selection", err)
	}
}

// secondAKReadFails is a TPM whose second ReadPublic of the attestation
// key fails (TPM_RC_FAILURE): vtpm.Quote reads the key once, and the
// attester again to check the quote.
type secondAKReadFails struct {
	inner transport.TPM
	reads int
}

func (s *secondAKReadFails) Send(cmd []byte) ([]byte, error) {
	if commandCode(cmd) == tpm2.TPMCCReadPublic && binary.BigEndian.Uint32(cmd[10:14]) == vtpm.AKHandle {
		if s.reads++; s.reads == 2 {
			rsp := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}
			binary.BigEndian.PutUint32(rsp[6:], uint32(tpm2.TPMRCFailure))
			return rsp, nil
		}
	}
	return s.inner.Send(cmd)
}

// TestQuoteAKReadFails (mutation testing, mutation30): when the TPM fails
// to give the attestation key the attester checks its quote with, Quote
// fails with that TPM error: no quote, and neither a rejection nor
// ErrInconsistent (the vTPM said nothing false).
func TestQuoteAKReadFails(t *testing.T) {
	a := newAttester(t)
	tpm := &secondAKReadFails{inner: cvm.TPM()}
	a.TPM = tpm
	q, err := a.Quote(testCtx(t), []byte("nonce"))
	if q != nil || !errors.Is(err, tpm2.TPMRCFailure) || errors.Is(err, attester.ErrInconsistent) || errors.Is(err, verify.ErrRejected) || tpm.reads != 2 {
		t.Fatalf("Quote = %v, %v (%d AK reads); want the TPM's failure", q, err, tpm.reads)
	}
}
