//go:build cgo

package vtpm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil/cvmtest"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// These tests run the vtpm package against the emulated Azure CVM (TPM
// simulator). They need cgo and never skip when it is available.

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startWithAK starts an emulated CVM and returns it with a test context
// and its AK (vtpm.AKPublic).
func startWithAK(t *testing.T) (*emulator.CVM, context.Context, *rsa.PublicKey) {
	t.Helper()
	cvm := cvmtest.Start(t, nil)
	ctx := testCtx(t)
	ak, err := vtpm.AKPublic(ctx, cvm.TPM())
	if err != nil {
		t.Fatalf("AKPublic: %v", err)
	}
	return cvm, ctx, ak
}

// checkReport parses an HCL report, checks the runtime-data binding and the
// SNP signature by the fake VCEK, and returns it parsed.
func checkReport(t *testing.T, blob []byte) *hcl.Report {
	t.Helper()
	if len(blob) != emulator.HCLReportSize {
		t.Fatalf("HCL report is %d bytes, want %d", len(blob), emulator.HCLReportSize)
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		t.Fatalf("hcl.Parse: %v", err)
	}
	if m, err := r.Marshal(); err != nil || !bytes.Equal(m, blob) {
		t.Fatalf("Marshal(Parse(blob)) differs from the blob: %v", err)
	}
	sum := sha256.Sum256(r.RuntimeDataRaw)
	if err := r.CheckBinding(); err != nil {
		t.Errorf("runtime data binding: %v", err)
	}
	if rd := r.ReportData(); !bytes.Equal(rd[:32], sum[:]) || !bytes.Equal(rd[32:], make([]byte, 32)) {
		t.Errorf("report_data = %x, want SHA-256(runtime data) = %x then zeros", rd, sum)
	}
	if err := verify.SnpReportSignature(r.SNPReport, fakeamd.VCEK()); err != nil {
		t.Errorf("SNP report signature: %v", err)
	}
	rep, err := snp.ParseReport(r.SNPReport)
	if err != nil {
		t.Fatalf("SNP report: %v", err)
	}
	if chip := fakeamd.ChipID(); rep.ChipID != chip {
		t.Errorf("chip id %x", rep.ChipID)
	}
	return r
}

func TestReadHCLReportAndAK(t *testing.T) {
	cvm, ctx, ak := startWithAK(t)
	blob, err := vtpm.ReadHCLReport(ctx, cvm.TPM())
	if err != nil {
		t.Fatalf("ReadHCLReport: %v", err)
	}
	r := checkReport(t, blob)
	if r.RuntimeData == nil {
		t.Fatal("no runtime data")
	}
	rdAK, err := r.RuntimeData.AK()
	if err != nil {
		t.Fatalf("runtime data AK: %v", err)
	}
	if !ak.Equal(rdAK) {
		t.Error("AKPublic differs from the runtime data's HCLAkPub")
	}
	if ak.N.BitLen() != 2048 || ak.E != 65537 {
		t.Errorf("AK is %d bits, e=%d", ak.N.BitLen(), ak.E)
	}
	if got := hex.EncodeToString(r.RuntimeData.UserData); got != strings.Repeat("0", 128) {
		t.Errorf("boot user-data %s, want zeros", got)
	}
	if r.RuntimeData.VMConfig == nil || r.RuntimeData.VMConfig.VMUniqueID != cvm.VMUniqueID() {
		t.Errorf("vm-configuration %+v", r.RuntimeData.VMConfig)
	}
}

// checkQuote verifies q like a verifier would (package quote: signature,
// extraData, PCR digest) and checks that it selects SHA-256 PCRs 0-23.
func checkQuote(t *testing.T, q *quote.Quote, ak *rsa.PublicKey, wantExtra []byte) *quote.Attest {
	t.Helper()
	if len(q.PCRs) != 24 {
		t.Fatalf("%d PCRs", len(q.PCRs))
	}
	a, err := quote.Parse(q.Message)
	if err != nil {
		t.Fatalf("TPMS_ATTEST: %v", err)
	}
	if err := quote.VerifySignature(ak, q.Message, q.Signature); err != nil {
		t.Fatalf("quote signature: %v", err)
	}
	if !bytes.Equal(a.ExtraData, wantExtra) {
		t.Errorf("extraData %x, want %x", a.ExtraData, wantExtra)
	}
	selected, err := a.CheckPCRs(q.PCRs)
	if err != nil {
		t.Errorf("PCR values: %v", err)
	}
	if len(a.Selection) != 1 || a.Selection[0].Hash != quote.AlgSHA256 || a.Selection[0].Size != 3 || len(selected) != 24 {
		t.Errorf("quote selection %+v", a.Selection)
	}
	return a
}

// TestAKCertificate reads the emulator's AK certificate: DER X.509 of the
// AK, issued by the fake vTPM CA, the same bytes as emulator.AKCertificate
// computes in this process (stable across processes).
func TestAKCertificate(t *testing.T) {
	cvm := cvmtest.Start(t, nil)
	ctx := testCtx(t)
	der, err := vtpm.AKCertificate(ctx, cvm.TPM())
	if err != nil {
		t.Fatalf("AKCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("the AK certificate: %v", err)
	}
	ak, err := vtpm.AKPublic(ctx, cvm.TPM())
	if err != nil {
		t.Fatal(err)
	}
	if !ak.Equal(cert.PublicKey) {
		t.Error("the AK certificate certifies another key than the AK")
	}
	caDER, err := emulator.EmulatedAKCACertificate()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("not signed by the emulated vTPM CA: %v", err)
	}
	if !strings.Contains(cert.Issuer.CommonName, "EMULATED") || !strings.HasPrefix(cert.Subject.CommonName, cvm.VMUniqueID()+".TrustedVM.") {
		t.Errorf("issuer %q, subject %q", cert.Issuer.CommonName, cert.Subject.CommonName)
	}
	again, err := emulator.AKCertificate(ak, cvm.VMUniqueID())
	if err != nil || !bytes.Equal(again, der) {
		t.Errorf("AKCertificate is not stable: %v", err)
	}
}

func TestQuote(t *testing.T) {
	cvm, ctx, ak := startWithAK(t)
	long := bytes.Repeat([]byte("n"), 100)
	longSum := sha256.Sum256(long)
	tests := []struct {
		name      string
		nonce     []byte
		wantExtra []byte
	}{
		{"challenge", []byte("challenge"), []byte("challenge")},
		{"48 bytes", bytes.Repeat([]byte{0x98}, 48), bytes.Repeat([]byte{0x98}, 48)},
		{"100 bytes hashed", long, longSum[:]},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := vtpm.Quote(ctx, cvm.TPM(), tc.nonce)
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			checkQuote(t, q, ak, tc.wantExtra)
			// Tampering is detected.
			bad := bytes.Clone(q.Message)
			bad[len(bad)-1] ^= 1
			d := sha256.Sum256(bad)
			if rsa.VerifyPKCS1v15(ak, crypto.SHA256, d[:], q.Signature) == nil {
				t.Error("tampered quote verifies")
			}
		})
	}
}

func TestReadPCRs(t *testing.T) {
	cvm := cvmtest.Start(t, nil)
	pcrs, err := vtpm.ReadPCRs(testCtx(t), cvm.TPM())
	if err != nil {
		t.Fatal(err)
	}
	if len(pcrs) != 24 {
		t.Fatalf("%d PCRs", len(pcrs))
	}
	zero := make([]byte, 32)
	// The emulated firmware measures PCRs 0-7, GRUB 8 and 9 (its boot log).
	for i := 0; i < 10; i++ {
		if bytes.Equal(pcrs[i], zero) {
			t.Errorf("PCR %d not measured", i)
		}
	}
	if !bytes.Equal(pcrs[10], zero) {
		t.Errorf("PCR 10 = %x, want zero", pcrs[10])
	}
	for i := 17; i <= 22; i++ {
		if !bytes.Equal(pcrs[i], bytes.Repeat([]byte{0xFF}, 32)) {
			t.Errorf("PCR %d = %x, want all 0xFF as on Azure", i, pcrs[i])
		}
	}
	// PCR 6 as on Azure: extend SHA-256("UUID: " + vmUniqueId), then the separator.
	extend := func(pcr []byte, d [32]byte) []byte {
		s := sha256.Sum256(append(bytes.Clone(pcr), d[:]...))
		return s[:]
	}
	want := extend(extend(zero, sha256.Sum256([]byte("UUID: "+cvm.VMUniqueID()))), sha256.Sum256([]byte{0, 0, 0, 0}))
	if !bytes.Equal(pcrs[6], want) {
		t.Errorf("PCR 6 = %x, want %x", pcrs[6], want)
	}
}

func userDataOf(t *testing.T, blob []byte) []byte {
	t.Helper()
	r := checkReport(t, blob)
	if r.RuntimeData == nil {
		t.Fatal("no runtime data")
	}
	return r.RuntimeData.UserData
}

func TestRefreshReport(t *testing.T) {
	cvm := cvmtest.Start(t, nil)
	ctx := testCtx(t)
	before, err := vtpm.ReadHCLReport(ctx, cvm.TPM())
	if err != nil {
		t.Fatal(err)
	}
	full := bytes.Repeat([]byte{0xA5}, 64)
	half := bytes.Repeat([]byte{0x3C}, 32)
	tests := []struct {
		name string
		data []byte
	}{
		{"64 bytes (defines the index)", full},
		{"32 bytes", half},
		{"64 bytes again", append(bytes.Repeat([]byte{1}, 63), 2)},
		{"1 byte", []byte{0xFF}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blob, err := vtpm.RefreshReport(ctx, cvm.TPM(), tc.data)
			if err != nil {
				t.Fatalf("RefreshReport: %v", err)
			}
			want := make([]byte, 64)
			copy(want, tc.data)
			if got := userDataOf(t, blob); !bytes.Equal(got, want) {
				t.Errorf("user-data %x, want %x", got, want)
			}
			if bytes.Equal(blob[hcl.OffsetHardware:hcl.OffsetHardware+snp.SignedSize], before[hcl.OffsetHardware:hcl.OffsetHardware+snp.SignedSize]) {
				t.Error("SNP report did not change")
			}
			// The published report is what ReadHCLReport now returns.
			again, err := vtpm.ReadHCLReport(ctx, cvm.TPM())
			if err != nil || !bytes.Equal(again, blob) {
				t.Errorf("ReadHCLReport after refresh differs (err %v)", err)
			}
		})
	}
}

// An index left behind that cannot take the user data (another size, as
// earlier tools defined it; an extend index of SHA-512, which has 64 bytes
// but refuses NV_Write; a write-locked one; one written only under a
// policy) is redefined as a 64-byte ordinary index; before, all but the
// first made every refresh fail.
func TestRefreshReportRedefinesIndex(t *testing.T) {
	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	tests := []struct {
		name  string
		pub   tpm2.TPMSNVPublic
		after func(t *testing.T, tpm transport.TPM, nv tpm2.NamedHandle)
	}{
		{"32 bytes", tpm2.TPMSNVPublic{NameAlg: tpm2.TPMAlgSHA256, DataSize: 32,
			Attributes: tpm2.TPMANV{OwnerRead: true, OwnerWrite: true, NoDA: true}}, nil},
		{"extend index of SHA-512", tpm2.TPMSNVPublic{NameAlg: tpm2.TPMAlgSHA512, DataSize: 64,
			Attributes: tpm2.TPMANV{OwnerRead: true, OwnerWrite: true, NoDA: true, NT: tpm2.TPMNTExtend}}, nil},
		{"write-locked", tpm2.TPMSNVPublic{NameAlg: tpm2.TPMAlgSHA256, DataSize: 64,
			Attributes: tpm2.TPMANV{OwnerRead: true, OwnerWrite: true, NoDA: true, WriteDefine: true}},
			func(t *testing.T, tpm transport.TPM, nv tpm2.NamedHandle) {
				if _, err := (tpm2.NVWriteLock{AuthHandle: owner, NVIndex: nv}).Execute(tpm); err != nil {
					t.Fatalf("NV_WriteLock: %v", err)
				}
			}},
		{"policy writes only", tpm2.TPMSNVPublic{NameAlg: tpm2.TPMAlgSHA256, DataSize: 64,
			Attributes: tpm2.TPMANV{OwnerRead: true, PolicyWrite: true, NoDA: true},
			AuthPolicy: tpm2.TPM2BDigest{Buffer: bytes.Repeat([]byte{1}, 32)}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cvm := cvmtest.Start(t, nil)
			ctx := testCtx(t)
			tpm := cvm.TPM()
			tc.pub.NVIndex = vtpm.NVIndexUserData
			if _, err := (tpm2.NVDefineSpace{AuthHandle: owner, PublicInfo: tpm2.New2B(tc.pub)}).Execute(tpm); err != nil {
				t.Fatalf("defining the index: %v", err)
			}
			if tc.after != nil {
				rsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(vtpm.NVIndexUserData)}.Execute(tpm)
				if err != nil {
					t.Fatal(err)
				}
				tc.after(t, tpm, tpm2.NamedHandle{Handle: tpm2.TPMHandle(vtpm.NVIndexUserData), Name: rsp.NVName})
			}
			for _, data := range [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 64)} {
				blob, err := vtpm.RefreshReport(ctx, tpm, data)
				if err != nil {
					t.Fatalf("RefreshReport(%d bytes): %v", len(data), err)
				}
				want := make([]byte, 64)
				copy(want, data)
				if got := userDataOf(t, blob); !bytes.Equal(got, want) {
					t.Errorf("user-data %x, want %x", got, want)
				}
				pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(vtpm.NVIndexUserData)}.Execute(tpm)
				if err != nil {
					t.Fatal(err)
				}
				p, err := pub.NVPublic.Contents()
				if err != nil || p.DataSize != 64 || p.Attributes.NT != tpm2.TPMNTOrdinary || !p.Attributes.OwnerWrite || p.Attributes.WriteLocked {
					t.Fatalf("user-data index %+v (err %v), want 64 bytes, ordinary, owner-written", p, err)
				}
			}
		})
	}
}

// dropUserDataWrites pretends NV_Write to the user-data index succeeded
// without sending it, so the paravisor never refreshes the report.
type dropUserDataWrites struct{ tpm transport.TPM }

func (d dropUserDataWrites) Send(cmd []byte) ([]byte, error) {
	if len(cmd) >= 18 && binary.BigEndian.Uint32(cmd[6:10]) == uint32(tpm2.TPMCCNVWrite) &&
		binary.BigEndian.Uint32(cmd[14:18]) == vtpm.NVIndexUserData {
		// TPM_ST_SESSIONS, size 19, RC success, parameterSize 0, one
		// password session response (nonce 0, attributes 1, hmac 0).
		return []byte{0x80, 0x02, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, nil
	}
	return d.tpm.Send(cmd)
}

func TestRefreshReportTimeout(t *testing.T) {
	cvm := cvmtest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := vtpm.RefreshReport(ctx, dropUserDataWrites{cvm.TPM()}, []byte("never published"))
	if !errors.Is(err, vtpm.ErrRefreshTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want ErrRefreshTimeout and DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("RefreshReport took %v past a 400ms deadline", el)
	}
}

func TestFailurePaths(t *testing.T) {
	cvm := cvmtest.Start(t, nil)
	ctx := testCtx(t)
	tpm := cvm.TPM()
	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

	if _, err := vtpm.RefreshReport(ctx, tpm, make([]byte, 65)); !errors.Is(err, vtpm.ErrUserDataSize) {
		t.Errorf("65 bytes of user data: %v", err)
	}
	if _, err := vtpm.ReadNV(ctx, tpm, 0x01C101D1); !errors.Is(err, vtpm.ErrIndexMissing) || !strings.Contains(err.Error(), "0x01c101d1") {
		t.Errorf("missing NV index: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := vtpm.ReadHCLReport(canceled, tpm); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ReadHCLReport: %v", err)
	}
	if _, err := vtpm.Quote(canceled, tpm, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Quote: %v", err)
	}

	// Remove the HCL report (platform index) and the AK.
	pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(vtpm.NVIndexHCLReport)}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (tpm2.NVUndefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHPlatform, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: vtpm.NVIndexHCLReport, Name: pub.NVName},
	}).Execute(tpm); err != nil {
		t.Fatalf("undefining the HCL report: %v", err)
	}
	_, err = vtpm.ReadHCLReport(ctx, tpm)
	if !errors.Is(err, vtpm.ErrIndexMissing) || !strings.Contains(err.Error(), "0x01400001") {
		t.Errorf("missing HCL report: %v", err)
	}
	var terr *vtpm.TPMError
	if !errors.As(err, &terr) || terr.Handle != vtpm.NVIndexHCLReport || !errors.Is(err, tpm2.TPMRCHandle) {
		t.Errorf("missing HCL report error is not a TPMError wrapping TPM_RC_HANDLE: %#v", err)
	}

	akPub, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(vtpm.AKHandle)}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	evictControlAK(t, tpm, tpm2.NamedHandle{Handle: vtpm.AKHandle, Name: akPub.Name}, "evicting the AK")
	if _, err := vtpm.AKPublic(ctx, tpm); !errors.Is(err, vtpm.ErrHandleMissing) || !strings.Contains(err.Error(), "0x81000003") {
		t.Errorf("missing AK: %v", err)
	}
	if _, err := vtpm.Quote(ctx, tpm, []byte("challenge")); !errors.Is(err, vtpm.ErrHandleMissing) {
		t.Errorf("quote without AK: %v", err)
	}

	// A key of the wrong type at the AK handle (the SRK, an RSA decryption key).
	srk, err := tpm2.CreatePrimary{PrimaryHandle: owner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	evictControlAK(t, tpm, tpm2.NamedHandle{Handle: srk.ObjectHandle, Name: srk.Name}, "persisting the SRK at the AK handle")
	_, err = vtpm.AKPublic(ctx, tpm)
	var kerr *vtpm.KeyError
	if !errors.Is(err, vtpm.ErrUnexpectedKey) || !errors.As(err, &kerr) {
		t.Errorf("ECC key at the AK handle: %v", err)
	}
}

// evictControlAK runs TPM2_EvictControl with owner auth on obj at the AK's
// persistent handle: it evicts the AK, or persists another key there.
func evictControlAK(t *testing.T, tpm transport.TPM, obj tpm2.NamedHandle, what string) {
	t.Helper()
	if _, err := (tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     obj,
		PersistentHandle: vtpm.AKHandle,
	}).Execute(tpm); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestClosedCVM(t *testing.T) {
	cvm, err := emulator.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tpm := cvm.TPM()
	if err := cvm.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := vtpm.ReadHCLReport(context.Background(), tpm); !errors.Is(err, emulator.ErrClosed) {
		t.Errorf("ReadHCLReport on a closed CVM: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	cvm, ctx, ak := startWithAK(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nonce := []byte{byte(i), 'n'}
			q, err := vtpm.Quote(ctx, cvm.TPM(), nonce)
			if err != nil {
				errs <- err
				return
			}
			d := sha256.Sum256(q.Message)
			if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, d[:], q.Signature); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// pcrChanger extends PCR 16 before the first `times` PCR_Read commands,
// simulating a measurement landing between the quote and the PCR read.
type pcrChanger struct {
	tpm    transport.TPM
	times  int
	quotes int
}

func (p *pcrChanger) Send(cmd []byte) ([]byte, error) {
	if len(cmd) >= 10 {
		switch tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])) {
		case tpm2.TPMCCQuote:
			p.quotes++
		case tpm2.TPMCCPCRRead:
			if p.times > 0 {
				p.times--
				_, err := tpm2.PCRExtend{
					PCRHandle: tpm2.AuthHandle{Handle: 16, Auth: tpm2.PasswordAuth(nil)},
					Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: make([]byte, 32)}}},
				}.Execute(p.tpm)
				if err != nil {
					return nil, err
				}
			}
		}
	}
	return p.tpm.Send(cmd)
}

func TestQuotePCRsChanging(t *testing.T) {
	cvm, ctx, ak := startWithAK(t)
	once := &pcrChanger{tpm: cvm.TPM(), times: 1}
	q, err := vtpm.Quote(ctx, once, []byte("challenge"))
	if err != nil {
		t.Fatalf("Quote with one PCR change: %v", err)
	}
	if once.quotes != 2 {
		t.Errorf("%d quotes, want 2 (one retry)", once.quotes)
	}
	checkQuote(t, q, ak, []byte("challenge"))

	always := &pcrChanger{tpm: cvm.TPM(), times: 1000}
	if _, err := vtpm.Quote(ctx, always, []byte("challenge")); !errors.Is(err, vtpm.ErrPCRsChanged) {
		t.Fatalf("Quote with PCRs always changing: %v, want ErrPCRsChanged", err)
	}
	if always.quotes != 3 {
		t.Errorf("%d quotes, want 3", always.quotes)
	}
}
