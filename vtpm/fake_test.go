package vtpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// fakeTPM is a scripted TPM: each command code maps to a handler that gets
// the raw command and returns the raw response. Unknown commands fail with
// TPM_RC_COMMAND_CODE. It lets tests feed malformed responses that a real
// TPM (or the simulator) would never produce.
type fakeTPM struct {
	handlers map[tpm2.TPMCC]func(cmd []byte) []byte
	seen     []tpm2.TPMCC
	cmds     [][]byte
}

func (f *fakeTPM) Send(cmd []byte) ([]byte, error) {
	if len(cmd) < 10 {
		return nil, errors.New("short command")
	}
	cc := tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10]))
	f.seen = append(f.seen, cc)
	f.cmds = append(f.cmds, bytes.Clone(cmd))
	if h, ok := f.handlers[cc]; ok {
		return h(cmd), nil
	}
	return rcResponse(uint32(tpm2.TPMRCCommandCode)), nil
}

func (f *fakeTPM) count(cc tpm2.TPMCC) int {
	n := 0
	for _, c := range f.seen {
		if c == cc {
			n++
		}
	}
	return n
}

func rcResponse(rc uint32) []byte {
	b := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[6:], rc)
	return b
}

// pcrValue is the fake value of PCR i.
func pcrValue(i int) []byte {
	s := sha256.Sum256([]byte{byte(i)})
	return s[:]
}

// pcrReadSelect parses the SHA-256 selection of a PCR_Read command.
func pcrReadSelect(cmd []byte) []byte {
	// header(10) count(4) hash(2) size(1) select(size)
	if len(cmd) < 17 {
		return nil
	}
	n := int(cmd[16])
	if len(cmd) < 17+n {
		return nil
	}
	return bytes.Clone(cmd[17 : 17+n])
}

// pcrReader answers PCR_Read with at most max PCRs, like hardware TPMs.
func pcrReader(t *testing.T, max int, mutate func(sel []byte, digests [][]byte) ([]byte, [][]byte)) func([]byte) []byte {
	return func(cmd []byte) []byte {
		want := pcrReadSelect(cmd)
		out := make([]byte, len(want))
		var digests []tpm2.TPM2BDigest
		var raw [][]byte
		for i := 0; i < len(want)*8 && len(raw) < max; i++ {
			if want[i/8]&(1<<(i%8)) != 0 {
				out[i/8] |= 1 << (i % 8)
				raw = append(raw, pcrValue(i))
			}
		}
		if mutate != nil {
			out, raw = mutate(out, raw)
		}
		for _, d := range raw {
			digests = append(digests, tpm2.TPM2BDigest{Buffer: d})
		}
		return testutil.TPMResponse(testutil.TPMParams(t, tpm2.PCRRead{}, &tpm2.PCRReadResponse{
			PCRSelectionOut: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: out}}},
			PCRValues:       tpm2.TPMLDigest{Digests: digests},
		}), false)
	}
}

func TestReadPCRsFake(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		mutate  func([]byte, [][]byte) ([]byte, [][]byte)
		wantErr bool
		calls   int
	}{
		{"8 per call", 8, nil, false, 3},
		{"5 per call", 5, nil, false, 5},
		{"all at once", 24, nil, false, 1},
		{"none returned", 8, func(s []byte, d [][]byte) ([]byte, [][]byte) { return make([]byte, len(s)), nil }, true, 1},
		{"unrequested PCR", 8, func(s []byte, d [][]byte) ([]byte, [][]byte) {
			s = append(s, 1) // PCR 24
			return s, append(d, pcrValue(24))
		}, true, 1},
		{"short digest", 8, func(s []byte, d [][]byte) ([]byte, [][]byte) { d[0] = d[0][:20]; return s, d }, true, 1},
		{"count mismatch", 8, func(s []byte, d [][]byte) ([]byte, [][]byte) { return s, d[:len(d)-1] }, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
				tpm2.TPMCCPCRRead: pcrReader(t, tc.max, tc.mutate),
			}}
			pcrs, err := ReadPCRs(context.Background(), f)
			if got := f.count(tpm2.TPMCCPCRRead); got != tc.calls {
				t.Errorf("%d PCR_Read calls, want %d", got, tc.calls)
			}
			if tc.wantErr {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("error %v, want ErrMalformedResponse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range pcrs {
				if !bytes.Equal(p, pcrValue(i)) {
					t.Errorf("PCR %d = %x", i, p)
				}
			}
		})
	}
}

// A TPM that keeps returning the same PCRs without progress must not make
// ReadPCRs loop forever (the selection it returns is then not asked for).
func TestReadPCRsNoProgress(t *testing.T) {
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
		tpm2.TPMCCPCRRead: pcrReader(t, 8, func(s []byte, d [][]byte) ([]byte, [][]byte) {
			return []byte{0xFF, 0, 0}, [][]byte{pcrValue(0), pcrValue(1), pcrValue(2), pcrValue(3), pcrValue(4), pcrValue(5), pcrValue(6), pcrValue(7)}
		}),
	}}
	if _, err := ReadPCRs(context.Background(), f); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("error %v, want ErrMalformedResponse", err)
	}
	if n := f.count(tpm2.TPMCCPCRRead); n != 2 {
		t.Errorf("%d PCR_Read calls, want 2", n)
	}
}

func nvPublicHandler(t *testing.T, index uint32, size uint16, attrs tpm2.TPMANV) func([]byte) []byte {
	return func([]byte) []byte {
		return testutil.TPMResponse(testutil.TPMParams(t, tpm2.NVReadPublic{}, &tpm2.NVReadPublicResponse{
			NVPublic: tpm2.New2B(tpm2.TPMSNVPublic{NVIndex: tpm2.TPMHandle(index), NameAlg: tpm2.TPMAlgSHA256, Attributes: attrs, DataSize: size}),
			NVName:   tpm2.TPM2BName{Buffer: []byte{0, 0x0B, 1, 2, 3}},
		}), false)
	}
}

// nvReader serves NV_Read from content, optionally returning fewer bytes.
func nvReader(t *testing.T, content []byte, short int) func([]byte) []byte {
	return func(cmd []byte) []byte {
		// header(10) authHandle(4) nvIndex(4) authSize(4) auth(...) size(2) offset(2)
		if len(cmd) < 4 {
			return rcResponse(uint32(tpm2.TPMRCSize))
		}
		size := int(binary.BigEndian.Uint16(cmd[len(cmd)-4:]))
		off := int(binary.BigEndian.Uint16(cmd[len(cmd)-2:]))
		if off+size > len(content) {
			return rcResponse(uint32(tpm2.TPMRCNVRange))
		}
		data := content[off : off+size-short]
		return testutil.TPMResponse(testutil.TPMParams(t, tpm2.NVRead{}, &tpm2.NVReadResponse{Data: tpm2.TPM2BMaxNVBuffer{Buffer: data}}), true)
	}
}

func bufferMax(t *testing.T, v uint32) func([]byte) []byte {
	return func([]byte) []byte {
		return testutil.TPMResponse(testutil.TPMParams(t, tpm2.GetCapability{}, &tpm2.GetCapabilityResponse{
			CapabilityData: tpm2.TPMSCapabilityData{
				Capability: tpm2.TPMCapTPMProperties,
				Data: tpm2.NewTPMUCapabilities(tpm2.TPMCapTPMProperties, &tpm2.TPMLTaggedTPMProperty{
					TPMProperty: []tpm2.TPMSTaggedProperty{{Property: tpm2.TPMPTNVBufferMax, Value: v}},
				}),
			},
		}), false)
	}
}

func TestReadNVFake(t *testing.T) {
	content := make([]byte, 2600)
	for i := range content {
		content[i] = byte(i * 7)
	}
	owner := tpm2.TPMANV{OwnerRead: true, OwnerWrite: true}
	tests := []struct {
		name      string
		index     uint32 // returned by NV_ReadPublic
		size      uint16
		attrs     tpm2.TPMANV
		bufMax    func([]byte) []byte // nil: GetCapability unsupported
		short     int
		wantReads int
		wantErr   error
	}{
		{"512-byte chunks", NVIndexHCLReport, 2600, owner, bufferMax(t, 512), 0, 6, nil},
		{"fallback 1024", NVIndexHCLReport, 2600, owner, nil, 0, 3, nil},
		{"zero buffer max falls back", NVIndexHCLReport, 2600, owner, bufferMax(t, 0), 0, 3, nil},
		{"auth read only", NVIndexHCLReport, 2048, tpm2.TPMANV{AuthRead: true}, nil, 0, 2, nil},
		{"short read", NVIndexHCLReport, 2600, owner, nil, 1, 1, ErrMalformedResponse},
		{"other index", 0x01400005, 2600, owner, nil, 0, 0, ErrMalformedResponse},
		{"unreadable", NVIndexHCLReport, 2600, tpm2.TPMANV{PPRead: true}, nil, 0, 0, ErrAuth},
		{"empty index", NVIndexHCLReport, 0, owner, nil, 0, 0, ErrNVSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
				tpm2.TPMCCNVReadPublic: nvPublicHandler(t, tc.index, tc.size, tc.attrs),
				tpm2.TPMCCNVRead:       nvReader(t, content[:tc.size], tc.short),
			}}
			if tc.bufMax != nil {
				f.handlers[tpm2.TPMCCGetCapability] = tc.bufMax
			}
			got, err := ReadHCLReport(context.Background(), f)
			if n := f.count(tpm2.TPMCCNVRead); n != tc.wantReads {
				t.Errorf("%d NV_Read calls, want %d", n, tc.wantReads)
			}
			if testutil.WantError(t, err, tc.wantErr) {
				return
			}
			if !bytes.Equal(got, content[:tc.size]) {
				t.Error("content differs")
			}
			// The read used owner auth when allowed, else the index itself.
			for i, cc := range f.seen {
				if cc != tpm2.TPMCCNVRead {
					continue
				}
				auth := binary.BigEndian.Uint32(f.cmds[i][10:14])
				want := uint32(tpm2.TPMRHOwner)
				if !tc.attrs.OwnerRead {
					want = NVIndexHCLReport
				}
				if auth != want {
					t.Errorf("NV_Read authHandle %#x, want %#x", auth, want)
				}
			}
		})
	}
}

func TestReadNVMissingFake(t *testing.T) {
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
		tpm2.TPMCCNVReadPublic: func([]byte) []byte { return rcResponse(uint32(tpm2.TPMRCHandle) | 0x100) },
	}}
	_, err := ReadHCLReport(context.Background(), f)
	if !errors.Is(err, ErrIndexMissing) {
		t.Fatalf("error %v, want ErrIndexMissing", err)
	}
	if want := fmt.Sprintf("%#08x", NVIndexHCLReport); !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func TestAKCertificateMissingFake(t *testing.T) {
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
		tpm2.TPMCCNVReadPublic: func([]byte) []byte { return rcResponse(uint32(tpm2.TPMRCHandle) | 0x100) },
	}}
	der, err := AKCertificate(context.Background(), f)
	if !errors.Is(err, ErrNoAKCert) || !errors.Is(err, ErrIndexMissing) || der != nil {
		t.Fatalf("AKCertificate = %d bytes, %v; want ErrNoAKCert and ErrIndexMissing", len(der), err)
	}
	if !strings.Contains(err.Error(), "0x01c101d0") {
		t.Errorf("error %q does not name the index", err)
	}
}

func readPublicHandler(t *testing.T, pub tpm2.TPMTPublic) func([]byte) []byte {
	return func([]byte) []byte {
		return testutil.TPMResponse(testutil.TPMParams(t, tpm2.ReadPublic{}, &tpm2.ReadPublicResponse{
			OutPublic:     tpm2.New2B(pub),
			Name:          tpm2.TPM2BName{Buffer: []byte{0, 0x0B, 9}},
			QualifiedName: tpm2.TPM2BName{Buffer: []byte{0, 0x0B, 9}},
		}), false)
	}
}

func rsaTemplate(bits uint16, modulus []byte, sign bool) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgRSA,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{SignEncrypt: sign, Restricted: true},
		Parameters:       tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{KeyBits: tpm2.TPMKeyBits(bits)}),
		Unique:           tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: modulus}),
	}
}

func TestAKPublicFake(t *testing.T) {
	full := bytes.Repeat([]byte{0xC3}, 256)
	tests := []struct {
		name    string
		pub     tpm2.TPMTPublic
		wantErr error
	}{
		{"rsa 2048", rsaTemplate(2048, full, true), nil},
		{"rsa 1024", rsaTemplate(1024, full[:128], true), ErrUnexpectedKey},
		{"not signing", rsaTemplate(2048, full, false), ErrUnexpectedKey},
		{"modulus length lies", rsaTemplate(2048, full[:100], true), ErrMalformedResponse},
		{"ecc", tpm2.ECCSRKTemplate, ErrUnexpectedKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{tpm2.TPMCCReadPublic: readPublicHandler(t, tc.pub)}}
			key, err := AKPublic(context.Background(), f)
			if tc.wantErr == nil {
				if err != nil || key.N.BitLen() != 2048 || key.E != 65537 {
					t.Fatalf("AKPublic = %v, %v", key, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRefreshReportBadReportFake(t *testing.T) {
	report := []byte("HCLA not really a report")
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
		tpm2.TPMCCNVReadPublic: func(cmd []byte) []byte {
			idx := binary.BigEndian.Uint32(cmd[10:14])
			size := uint16(UserDataSize)
			if idx == NVIndexHCLReport {
				size = uint16(len(report))
			}
			return nvPublicHandler(t, idx, size, tpm2.TPMANV{OwnerRead: true, OwnerWrite: true})(cmd)
		},
		tpm2.TPMCCNVWrite: func([]byte) []byte { return testutil.TPMResponse(nil, true) },
		tpm2.TPMCCNVRead:  nvReader(t, report, 0),
	}}
	_, err := RefreshReport(context.Background(), f, []byte("nonce"))
	if !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("error %v, want ErrMalformedResponse", err)
	}
	if f.count(tpm2.TPMCCNVDefineSpace) != 0 || f.count(tpm2.TPMCCNVUndefineSpace) != 0 {
		t.Error("an existing 64-byte index was redefined")
	}
	if f.count(tpm2.TPMCCNVWrite) != 1 {
		t.Errorf("%d NV_Write calls, want 1", f.count(tpm2.TPMCCNVWrite))
	}
	// The written data is the nonce zero-padded to 64 bytes.
	for i, cc := range f.seen {
		if cc == tpm2.TPMCCNVWrite {
			want := make([]byte, 64)
			copy(want, "nonce")
			if !bytes.Contains(f.cmds[i], append([]byte{0, 64}, want...)) {
				t.Error("NV_Write does not carry the padded user data")
			}
		}
	}
}

// echoTPM answers every command with params under a success header of the
// command's kind (with or without sessions), or with the response code rc
// when it is not zero: a TPM that returns what it likes.
type echoTPM struct {
	rc     uint32
	params []byte
	sent   int
}

func (e *echoTPM) Send(cmd []byte) ([]byte, error) {
	e.sent++
	if e.sent > 200 {
		return rcResponse(uint32(tpm2.TPMRCFailure)), nil
	}
	if e.rc != 0 {
		return rcResponse(e.rc), nil
	}
	if len(cmd) >= 2 && cmd[1] == 0x02 {
		return testutil.TPMResponse(e.params, true), nil
	}
	return testutil.TPMResponse(e.params, false), nil
}

// typedTPMError reports whether err is one of the errors this package
// documents for what the TPM answers.
func typedTPMError(err error) bool {
	_, tpmErr := errors.AsType[*TPMError](err)
	return tpmErr || errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrUnexpectedKey) ||
		errors.Is(err, ErrRefreshTimeout) || errors.Is(err, ErrPCRsChanged) || errors.Is(err, ErrNoAnswer)
}

// FuzzHostileTPM: whatever a TPM answers, no function panics or returns an
// error of another kind than the package's, and what succeeds is sound.
func FuzzHostileTPM(f *testing.F) {
	f.Add(uint32(0), []byte{})
	f.Add(uint32(0), []byte{0, 0, 0, 1, 0, 0})
	f.Add(uint32(tpm2.TPMRCHandle)|0x100, []byte{})
	f.Fuzz(func(t *testing.T, rc uint32, params []byte) {
		// The echo TPM answers at once (and gives up after 200 commands):
		// the deadline only bounds a function that would loop, and is long
		// enough not to end on a loaded machine (200 ms did, under CI).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		check := func(what string, err error) {
			if err != nil && !typedTPMError(err) && ctx.Err() == nil {
				t.Fatalf("%s: untyped error %v", what, err)
			}
		}
		blob, err := ReadHCLReport(ctx, &echoTPM{rc: rc, params: params})
		check("ReadHCLReport", err)
		if err == nil && len(blob) == 0 {
			t.Fatal("ReadHCLReport: an empty report")
		}
		key, err := AKPublic(ctx, &echoTPM{rc: rc, params: params})
		check("AKPublic", err)
		if err == nil && key.N.BitLen() != 2048 {
			t.Fatalf("AKPublic: a %d-bit key", key.N.BitLen())
		}
		pcrs, err := ReadPCRs(ctx, &echoTPM{rc: rc, params: params})
		check("ReadPCRs", err)
		if err == nil && len(pcrs) != PCRCount {
			t.Fatalf("ReadPCRs: %d PCRs", len(pcrs))
		}
		_, err = Quote(ctx, &echoTPM{rc: rc, params: params}, []byte("nonce"))
		check("Quote", err)
		_, err = RefreshReport(ctx, &echoTPM{rc: rc, params: params}, []byte("nonce"))
		check("RefreshReport", err)
		_, err = NewEphemeralKey(ctx, &echoTPM{rc: rc, params: params}, []int{0})
		check("NewEphemeralKey", err)
	})
}

// quoteHandler answers TPM2_Quote with the TPMS_ATTEST a and a
// 256-byte RSASSA SHA-256 signature (not checked by vtpm).
func quoteHandler(t *testing.T, a quote.Attest) func([]byte) []byte {
	msg, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	p := be.AppendUint16(nil, uint16(len(msg)))
	p = append(p, msg...)
	p = be.AppendUint16(p, uint16(tpm2.TPMAlgRSASSA))
	p = be.AppendUint16(p, uint16(tpm2.TPMAlgSHA256))
	p = be.AppendUint16(p, 256)
	p = append(p, bytes.Repeat([]byte{1}, 256)...)
	return func([]byte) []byte { return testutil.TPMResponse(p, true) }
}

// TestQuoteResponseChecks: Quote accepts only a TPMS_ATTEST of exactly
// the SHA-256 PCRs asked for, in one 3-byte bank, with a 32-byte digest
// (ErrMalformedResponse, not a retry until ErrPCRsChanged); a PCR_Read
// that fails after the quote is that failure.
func TestQuoteResponseChecks(t *testing.T) {
	all, d := allPCRsDigest()
	good := func() quote.Attest {
		return quote.Attest{QualifiedSigner: []byte{0, 0x0B, 9}, ExtraData: []byte("nonce"), PCRDigest: d[:],
			Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: all, Size: 3}}}
	}
	for _, tc := range []struct {
		name    string
		edit    func(*quote.Attest)
		failPCR bool
		want    error // nil: accepted
	}{
		{"good", func(*quote.Attest) {}, false, nil},
		{"another empty bank", func(a *quote.Attest) {
			a.Selection = append(a.Selection, quote.PCRSelection{Hash: quote.AlgSHA1, Size: 3})
		}, false, ErrMalformedResponse},
		{"SHA-1 bank", func(a *quote.Attest) { a.Selection[0].Hash = quote.AlgSHA1 }, false, ErrMalformedResponse},
		{"4-byte bitmap", func(a *quote.Attest) { a.Selection[0].Size = 4 }, false, ErrMalformedResponse},
		{"31-byte digest", func(a *quote.Attest) { a.PCRDigest = a.PCRDigest[:31] }, false, ErrMalformedResponse},
		{"PCR_Read fails", func(*quote.Attest) {}, true, tpm2.TPMRCFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := good()
			tc.edit(&a)
			read := pcrReader(t, 8, nil)
			if tc.failPCR {
				read = func([]byte) []byte { return rcResponse(uint32(tpm2.TPMRCFailure)) }
			}
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
				tpm2.TPMCCReadPublic: readPublicHandler(t, rsaTemplate(2048, bytes.Repeat([]byte{0xC3}, 256), true)),
				tpm2.TPMCCQuote:      quoteHandler(t, a),
				tpm2.TPMCCPCRRead:    read,
			}}
			q, err := Quote(t.Context(), f, []byte("nonce"))
			if tc.want == nil {
				if err != nil || len(q.PCRs) != PCRCount {
					t.Fatalf("Quote = %v, %v", q, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || errors.Is(err, ErrPCRsChanged) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n := f.count(tpm2.TPMCCQuote); n != 1 {
				t.Errorf("%d quotes asked, want 1 (no retry)", n)
			}
		})
	}
}

// TestPCRReadBanks: PCR_Read values count only as SHA-256 PCRs when the
// response's selection says SHA-256: the same 32-byte values labelled
// SHA-1 are refused, whereas an empty selection of another bank beside
// the SHA-256 one is nothing returned and is accepted.
func TestPCRReadBanks(t *testing.T) {
	respond := func(sels []tpm2.TPMSPCRSelection) func([]byte) []byte {
		return func(cmd []byte) []byte {
			var digests []tpm2.TPM2BDigest
			for i := range PCRCount {
				digests = append(digests, tpm2.TPM2BDigest{Buffer: pcrValue(i)})
			}
			return testutil.TPMResponse(testutil.TPMParams(t, tpm2.PCRRead{}, &tpm2.PCRReadResponse{
				PCRSelectionOut: tpm2.TPMLPCRSelection{PCRSelections: sels},
				PCRValues:       tpm2.TPMLDigest{Digests: digests},
			}), false)
		}
	}
	allSel := []byte{0xff, 0xff, 0xff}
	for _, tc := range []struct {
		name string
		sels []tpm2.TPMSPCRSelection
		ok   bool
	}{
		{"SHA-256", []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: allSel}}, true},
		{"SHA-256 and an empty SHA-1", []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA1, PCRSelect: []byte{0, 0, 0}}, {Hash: tpm2.TPMAlgSHA256, PCRSelect: allSel}}, true},
		{"labelled SHA-1", []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA1, PCRSelect: allSel}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{tpm2.TPMCCPCRRead: respond(tc.sels)}}
			pcrs, err := ReadPCRs(t.Context(), f)
			if !tc.ok {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("err = %v, want ErrMalformedResponse", err)
				}
				return
			}
			if err != nil || len(pcrs) != PCRCount || !bytes.Equal(pcrs[23], pcrValue(23)) {
				t.Fatalf("ReadPCRs = %d values, %v", len(pcrs), err)
			}
		})
	}
}

// TestQuoteSignatureSize: a Quote whose RSASSA signature is not exactly
// the AK's size (2048 bits: 256 bytes) is ErrMalformedResponse, not
// passed on for the verifier to find wrong.
func TestQuoteSignatureSize(t *testing.T) {
	all, d := allPCRsDigest()
	msg, err := (&quote.Attest{QualifiedSigner: []byte{0, 0x0B, 9}, ExtraData: []byte("nonce"), PCRDigest: d[:],
		Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: all, Size: 3}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{256, 255, 257, 0} {
		be := binary.BigEndian
		p := be.AppendUint16(nil, uint16(len(msg)))
		p = append(p, msg...)
		p = be.AppendUint16(p, uint16(tpm2.TPMAlgRSASSA))
		p = be.AppendUint16(p, uint16(tpm2.TPMAlgSHA256))
		p = be.AppendUint16(p, uint16(n))
		p = append(p, bytes.Repeat([]byte{1}, n)...)
		f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
			tpm2.TPMCCReadPublic: readPublicHandler(t, rsaTemplate(2048, bytes.Repeat([]byte{0xC3}, 256), true)),
			tpm2.TPMCCQuote:      func([]byte) []byte { return testutil.TPMResponse(p, true) },
			tpm2.TPMCCPCRRead:    pcrReader(t, 8, nil),
		}}
		q, err := Quote(t.Context(), f, []byte("nonce"))
		if n == 256 {
			if err != nil || len(q.Signature) != 256 {
				t.Fatalf("256-byte signature: %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("%d-byte signature: err = %v, want ErrMalformedResponse", n, err)
		}
	}
}

// TestAKEmptyName: a ReadPublic of the AK that returns an empty name (the
// quote's signer is named by it) is ErrMalformedResponse.
func TestAKEmptyName(t *testing.T) {
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{tpm2.TPMCCReadPublic: func([]byte) []byte {
		return testutil.TPMResponse(testutil.TPMParams(t, tpm2.ReadPublic{}, &tpm2.ReadPublicResponse{
			OutPublic: tpm2.New2B(rsaTemplate(2048, bytes.Repeat([]byte{0xC3}, 256), true)),
		}), false)
	}}}
	if _, err := AKPublic(t.Context(), f); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("AKPublic with an empty name: %v, want ErrMalformedResponse", err)
	}
}

// TestReadNVCancelled: a context that ends between two NV_Read chunks
// ends the read with its error; no partial content is returned.
func TestReadNVCancelled(t *testing.T) {
	content := bytes.Repeat([]byte{7}, 2600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	read := nvReader(t, content, 0)
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
		tpm2.TPMCCNVReadPublic: nvPublicHandler(t, NVIndexHCLReport, 2600, tpm2.TPMANV{OwnerRead: true}),
		tpm2.TPMCCNVRead: func(cmd []byte) []byte {
			cancel() // after the first chunk is asked for
			return read(cmd)
		},
	}}
	got, err := ReadHCLReport(ctx, f)
	if !errors.Is(err, context.Canceled) || got != nil {
		t.Fatalf("ReadHCLReport = %d bytes, %v; want context.Canceled", len(got), err)
	}
	if n := f.count(tpm2.TPMCCNVRead); n != 1 {
		t.Errorf("%d NV_Read calls after the context ended, want 1", n)
	}
}

// allPCRsDigest returns PCRs 0 to PCRCount-1 and the SHA-256 digest of
// their values (pcrValue), as a quote over all of them carries it.
func allPCRsDigest() ([]int, [32]byte) {
	all := make([]int, PCRCount)
	var vals []byte
	for i := range all {
		all[i] = i
		vals = append(vals, pcrValue(i)...)
	}
	return all, sha256.Sum256(vals)
}
