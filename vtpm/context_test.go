package vtpm

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// hangingTPM answers like its fakeTPM but never answers the command code
// hang (0: every command) until the test ends.
type hangingTPM struct {
	fake    *fakeTPM
	hang    tpm2.TPMCC
	release chan struct{}
	reached atomic.Bool // the hanging command was sent
}

func (h *hangingTPM) Send(cmd []byte) ([]byte, error) {
	if len(cmd) >= 10 {
		if cc := tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])); h.hang == 0 || cc == h.hang {
			h.reached.Store(true)
			<-h.release
			return nil, errors.New("released at the end of the test")
		}
	}
	return h.fake.Send(cmd)
}

// within runs call and fails the test unless it returns within limit.
func within(t *testing.T, limit time.Duration, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("still waiting for the TPM %v after the context ended", limit)
		return nil
	}
}

// TestCommandsEndWithContext: a TPM that never answers one command (the
// first, or one deep in a sequence: the NV_Write that makes the paravisor
// regenerate the report, the quote, a chunk of the report) holds no
// function past its context: each returns at once with an error matching
// ErrNoAnswer (ErrRefreshTimeout while polling for the refreshed report)
// and context.DeadlineExceeded.
func TestCommandsEndWithContext(t *testing.T) {
	report := make([]byte, 2600)
	owner := tpm2.TPMANV{OwnerRead: true, OwnerWrite: true}
	answering := func(t *testing.T) *fakeTPM {
		return &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
			tpm2.TPMCCNVReadPublic: func(cmd []byte) []byte {
				idx := binary.BigEndian.Uint32(cmd[10:14])
				size := uint16(len(report))
				if idx == NVIndexUserData {
					size = UserDataSize
				}
				return nvPublicHandler(t, idx, size, owner)(cmd)
			},
			tpm2.TPMCCNVRead:        nvReader(t, report, 0),
			tpm2.TPMCCGetCapability: bufferMax(t, 1024),
			tpm2.TPMCCReadPublic:    readPublicHandler(t, rsaTemplate(2048, append([]byte{0xC3}, make([]byte, 255)...), true)),
			tpm2.TPMCCPCRRead:       pcrReader(t, 8, nil),
			tpm2.TPMCCNVWrite:       func([]byte) []byte { return testutil.TPMResponse(nil, true) },
		}}
	}
	calls := map[string]func(context.Context, transport.TPM) error{
		"ReadHCLReport": func(ctx context.Context, tpm transport.TPM) error { _, err := ReadHCLReport(ctx, tpm); return err },
		"AKCertificate": func(ctx context.Context, tpm transport.TPM) error { _, err := AKCertificate(ctx, tpm); return err },
		"NVBufferMax":   func(ctx context.Context, tpm transport.TPM) error { _, err := NVBufferMax(ctx, tpm); return err },
		"RefreshReport": func(ctx context.Context, tpm transport.TPM) error {
			_, err := RefreshReport(ctx, tpm, []byte("nonce"))
			return err
		},
		"Quote": func(ctx context.Context, tpm transport.TPM) error {
			_, err := Quote(ctx, tpm, []byte("nonce"))
			return err
		},
		"QuotePCRs": func(ctx context.Context, tpm transport.TPM) error {
			_, err := QuotePCRs(ctx, tpm, []byte("n"), []int{0, 7})
			return err
		},
		"ReadPCRs": func(ctx context.Context, tpm transport.TPM) error { _, err := ReadPCRs(ctx, tpm); return err },
		"AKPublic": func(ctx context.Context, tpm transport.TPM) error { _, err := AKPublic(ctx, tpm); return err },
		"AKPublicArea": func(ctx context.Context, tpm transport.TPM) error {
			_, err := AKPublicArea(ctx, tpm)
			return err
		},
		"NewEphemeralKey": func(ctx context.Context, tpm transport.TPM) error {
			_, err := NewEphemeralKey(ctx, tpm, []int{0, 1})
			return err
		},
	}
	tests := []struct {
		call, what string
		hang       tpm2.TPMCC // 0: every command
		want       error      // nil: ErrNoAnswer
	}{
		{"ReadHCLReport", "first", 0, nil},
		{"ReadHCLReport", "NV_Read", tpm2.TPMCCNVRead, nil},
		{"AKCertificate", "NV_Read", tpm2.TPMCCNVRead, nil},
		{"NVBufferMax", "first", 0, nil},
		{"RefreshReport", "first", 0, nil},
		{"RefreshReport", "NV_Write", tpm2.TPMCCNVWrite, nil},
		{"RefreshReport", "NV_Read", tpm2.TPMCCNVRead, ErrRefreshTimeout}, // polling the report
		{"Quote", "Quote", tpm2.TPMCCQuote, nil},
		{"QuotePCRs", "Quote", tpm2.TPMCCQuote, nil},
		{"ReadPCRs", "first", 0, nil},
		{"AKPublic", "first", 0, nil},
		{"AKPublicArea", "first", 0, nil},
		{"NewEphemeralKey", "CreatePrimary", tpm2.TPMCCCreatePrimary, nil},
	}
	for _, tc := range tests {
		t.Run(tc.call+"/"+tc.what, func(t *testing.T) {
			// The deadline must pass while the hanging command waits: on a
			// loaded machine the commands before it can outlast a short
			// one, so it grows until the hanging command was reached.
			var h *hangingTPM
			var err error
			for d := 50 * time.Millisecond; d <= 5*time.Second; d *= 4 {
				release := make(chan struct{})
				t.Cleanup(func() { close(release) })
				h = &hangingTPM{fake: answering(t), hang: tc.hang, release: release}
				ctx, cancel := context.WithTimeout(context.Background(), d)
				err = within(t, d+3*time.Second, func() error { return calls[tc.call](ctx, h) })
				cancel()
				if h.reached.Load() {
					break
				}
			}
			want := tc.want
			if want == nil {
				want = ErrNoAnswer
			}
			if !errors.Is(err, want) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want %v and context.DeadlineExceeded", err, want)
			}
			if tc.hang != 0 && h.fake.count(tc.hang) != 0 {
				t.Fatalf("the hanging %v reached the answering TPM", tc.hang)
			}
		})
	}
}

// TestBindAnswered: commands answered before the context ends are the
// TPM's answers, and a context that cannot end costs no goroutine.
func TestBindAnswered(t *testing.T) {
	f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{tpm2.TPMCCGetCapability: bufferMax(t, 512)}}
	if b := bind(context.Background(), f); b != transport.TPM(f) {
		t.Fatalf("bind(Background) = %T, want the transport itself", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := bind(ctx, f)
	if again := bind(ctx, b); again != b {
		t.Fatal("binding a bound transport to its own context wraps it again")
	}
	n, err := NVBufferMax(ctx, b)
	if err != nil || n != 512 {
		t.Fatalf("NVBufferMax = %d, %v; want 512", n, err)
	}
	cancel()
	if _, err := b.Send(rcResponse(0)); !errors.Is(err, ErrNoAnswer) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send after the context ended: %v, want ErrNoAnswer and context.Canceled", err)
	}
}

// TestRefreshReportOwnTimeout: when the caller's context has no deadline,
// RefreshReport gives up after its own bound with an error matching
// ErrRefreshTimeout but not context.DeadlineExceeded (the CLI with
// --timeout 0 said "gave up after 0s (--timeout)"); under the caller's
// deadline the error matches that deadline.
func TestRefreshReportOwnTimeout(t *testing.T) {
	stale := hclBlob(t, `{"keys":[],"user-data":"`+strings.Repeat("ee", UserDataSize)+`"}`)
	tests := []struct {
		name     string
		hang     tpm2.TPMCC // 0: none
		deadline bool
		want     error
	}{
		{"never refreshed, no deadline", 0, false, ErrRefreshTimeout},
		{"NV_Write unanswered, no deadline", tpm2.TPMCCNVWrite, false, ErrRefreshTimeout},
		{"never refreshed, caller deadline", 0, true, ErrRefreshTimeout},
		{"NV_Write unanswered, caller deadline", tpm2.TPMCCNVWrite, true, ErrNoAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
				tpm2.TPMCCNVReadPublic: func(cmd []byte) []byte {
					idx := binary.BigEndian.Uint32(cmd[10:14])
					size := uint16(len(stale))
					if idx == NVIndexUserData {
						size = UserDataSize
					}
					return nvPublicHandler(t, idx, size, tpm2.TPMANV{OwnerRead: true, OwnerWrite: true})(cmd)
				},
				tpm2.TPMCCNVRead:  nvReader(t, stale, 0),
				tpm2.TPMCCNVWrite: func([]byte) []byte { return testutil.TPMResponse(nil, true) },
			}}
			h := &hangingTPM{fake: f, hang: tc.hang, release: make(chan struct{})}
			if tc.hang == 0 {
				h.hang = 0xFFFF // no command has it
			}
			t.Cleanup(func() { close(h.release) })
			ctx := context.Background()
			if tc.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
			}
			err := within(t, 3*time.Second, func() error { _, err := refreshReport(ctx, h, []byte("nonce"), 200*time.Millisecond); return err })
			if !errors.Is(err, tc.want) || errors.Is(err, context.DeadlineExceeded) != tc.deadline {
				t.Fatalf("error %v, want %v, context.DeadlineExceeded %v", err, tc.want, tc.deadline)
			}
			if !tc.deadline && !strings.Contains(err.Error(), "the context set no deadline") {
				t.Errorf("error %q does not say that its own bound passed", err)
			}
		})
	}
}
