package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestShutdownCutOffReleasesNothing holds that a request still verifying
// when the graceful shutdown's deadline cuts its connection releases
// nothing: its verification may still complete (here the certificate
// source answers, valid, after the cut), but no secret is sealed, no
// "secret released" audit line claims a release nobody received, and the
// attestation counts as an error, not a success.
func TestShutdownCutOffReleasesNothing(t *testing.T) {
	built := (&testev.Builder{OmitVCEK: true, Nonce: []byte("placeholder")}).MustBuild()
	entered, unblock, handled := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once sync.Once
	var logBuf testutil.LogBuffer
	cfg := testConfig()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Verifier = testVerifier(verify.Config{
		Roots: testev.Roots(),
		VCEKGetter: verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
			once.Do(func() { close(entered) })
			<-unblock // a source that ignores the cancellation
			return built.VCEKDER, r.Validate(built.VCEKDER)
		}),
	})
	s := newServer(t, cfg)
	ln, done, cancel := serveLoopback(t, s)
	defer cancel()
	go func() {
		defer close(handled)
		_, _ = (&Client{URL: "http://" + ln.Addr().String()}).Attest(context.Background(), func(ctx context.Context, nonce []byte) ([]byte, error) {
			return (&testev.Builder{OmitVCEK: true, Nonce: nonce}).MustBuild().JSON, nil
		})
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached verification")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Serve returned nil with a request cut off")
	}
	close(unblock) // verification completes after the cut
	<-handled
	// The handler goroutine outlives Serve; wait for its access-log line.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(logBuf.Bytes()), `"path":"/v1/attest"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	logs := string(logBuf.Bytes())
	if !strings.Contains(logs, `"path":"/v1/attest"`) {
		t.Fatalf("the attestation never finished:\n%s", logs)
	}
	if strings.Contains(logs, "secret released") {
		t.Errorf("a request cut off by the shutdown logged a release:\n%s", logs)
	}
	m := scrape(t, s.Handler())
	if strings.Contains(m, `snp_vtpm_attestations_total{reason="none",result="success"}`) {
		t.Errorf("a request cut off by the shutdown counted as a success")
	}
}
