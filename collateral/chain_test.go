package collateral

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

func TestGetVCEKFromKDS(t *testing.T) {
	pki, kds := newMilanKDS(t)
	c := kds.newClient("")
	chip := chipID(1)
	der, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
	if err != nil {
		t.Fatalf("GetVCEK: %v", err)
	}
	if _, err := MatchVCEK(der, ProductMilan, chip, composeTCB(ProductMilan, milanTCB())); err != nil {
		t.Fatal(err)
	}
	want := "/vcek/v1/Milan/" + hexKey(chip) + "?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115"
	if got := kds.seen(); len(got) != 1 || got[0] != want {
		t.Fatalf("requests = %q, want [%q]", got, want)
	}
	// Second call: memory.
	der2, err := c.GetVCEK(context.Background(), milanReq(chip, pki.validator()))
	if err != nil || !bytes.Equal(der, der2) {
		t.Fatalf("second GetVCEK: %v", err)
	}
	der2[0] ^= 0xff // the caller owns its copy
	if der3, _ := c.GetVCEK(context.Background(), milanReq(chip, nil)); !bytes.Equal(der3, der) {
		t.Fatal("cache corrupted by a caller's write")
	}
	kds.wantRequests(t, 1, "KDS requests", "1")
	st := c.Stats()
	if st.Fetches != 1 || st.CacheHits != 2 || st.Retries != 0 || st.Errors != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestGetVCEKRetries(t *testing.T) {
	tests := []struct {
		name         string
		fail         int // failing responses before success
		respond      func(w http.ResponseWriter)
		maxRetries   int
		wantRequests int64
		wantErr      error // nil = success
		wantStatus   int
		minElapsed   time.Duration
		wantLog      string
	}{
		{
			name: "429 storm with Retry-After then success", fail: 2,
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantRequests: 3, minElapsed: 1900 * time.Millisecond, wantLog: "KDS rate limited, retry in 1 s",
		},
		{
			name: "503 then success", fail: 1,
			respond:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
			wantRequests: 2, wantLog: "KDS request failed, retry in",
		},
		{
			name: "408 then success", fail: 1,
			respond:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusRequestTimeout) },
			wantRequests: 2,
		},
		{
			name: "500 forever gives up", fail: 100, maxRetries: 2,
			respond:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) },
			wantRequests: 3, wantStatus: 500,
		},
		{
			name: "404 fails at once", fail: 100,
			respond:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) },
			wantRequests: 1, wantErr: ErrNotFound, wantStatus: 404,
		},
		{
			name: "400 fails at once", fail: 100,
			respond:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) },
			wantRequests: 1, wantStatus: 400,
		},
		{
			name: "403 fails at once", fail: 100,
			respond:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) },
			wantRequests: 1, wantStatus: 403,
		},
		{
			name: "truncated body then success", fail: 1,
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Length", "2000")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte("0\x82\x05"))
			},
			wantRequests: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pki, kds := newMilanKDS(t)
			kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
				if n <= int64(tc.fail) {
					tc.respond(w)
					return true
				}
				return false
			})
			logs := &testutil.LogBuffer{}
			c := kds.newClient("")
			c.KDS.MaxRetries = tc.maxRetries
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			start := time.Now()
			der, err := c.GetVCEK(ctxTimeout(t, 8*time.Second), milanReq(chipID(1), pki.validator()))
			elapsed := time.Since(start)
			t.Log(logs.String())
			if got := kds.requests.Load(); got != tc.wantRequests {
				t.Errorf("requests = %d, want %d", got, tc.wantRequests)
			}
			if tc.wantErr == nil && tc.wantStatus == 0 {
				if err != nil || len(der) == 0 {
					t.Fatalf("GetVCEK: %v", err)
				}
				if st := c.Stats(); st.Retries != tc.wantRequests-1 || st.Fetches != tc.wantRequests {
					t.Errorf("stats = %+v", st)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
				var herr *HTTPError
				if !errors.As(err, &herr) || herr.StatusCode != tc.wantStatus || !strings.HasPrefix(herr.URL, kds.srv.URL+"/vcek/v1/Milan/") {
					t.Errorf("err = %v, want *HTTPError with status %d and the URL", err, tc.wantStatus)
				}
				if !strings.Contains(err.Error(), kds.srv.URL) {
					t.Errorf("error %q does not name the URL", err)
				}
				if st := c.Stats(); st.Errors != 1 {
					t.Errorf("stats = %+v", st)
				}
			}
			if elapsed < tc.minElapsed {
				t.Errorf("elapsed %v, want >= %v (Retry-After honoured)", elapsed, tc.minElapsed)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("logs lack %q", tc.wantLog)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineFailsNow(t *testing.T) {
	_, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	c := kds.newClient("")
	start := time.Now()
	_, err := c.GetVCEK(ctxTimeout(t, 3*time.Second), milanReq(chipID(1), nil))
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("took %v: slept pointlessly", elapsed)
	}
	if !errors.Is(err, ErrRateLimited) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("err = %v, want rate-limited + deadline", err)
	}
	kds.wantRequests(t, 1, "requests", "1")
}

func TestRetryAfterBeyondMaxFailsNow(t *testing.T) {
	_, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	c := kds.newClient("")
	start := time.Now()
	_, err := c.GetVCEK(context.Background(), milanReq(chipID(1), nil)) // no deadline at all
	if time.Since(start) > time.Second {
		t.Errorf("slept on a one-hour Retry-After")
	}
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != 503 || herr.RetryAfter < 59*time.Minute {
		t.Errorf("err = %v", err)
	}
}

func TestSlowResponsePastDeadline(t *testing.T) {
	_, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return true
	})
	c := kds.newClient("")
	start := time.Now()
	_, err := c.GetVCEK(ctxTimeout(t, 300*time.Millisecond), milanReq(chipID(1), nil))
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("returned after %v, want promptly after the deadline", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

func TestPerRequestTimeoutRetries(t *testing.T) {
	pki, kds := newMilanKDS(t)
	der := pki.vcek(t, ProductMilan, chipID(1), milanTCB(), vcekOpts{})
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		if n == 1 {
			<-r.Context().Done() // hang until the client gives up on this attempt
			return true
		}
		_, _ = w.Write(der)
		return true
	})
	c := kds.newClient("")
	c.KDS.RequestTimeout = 300 * time.Millisecond
	start := time.Now()
	if _, err := c.GetVCEK(ctxTimeout(t, 8*time.Second), milanReq(chipID(1), nil)); err != nil {
		t.Fatalf("GetVCEK: %v", err)
	}
	// Exactly 2 on an idle machine; a loaded one may time out a second attempt too.
	if n := kds.requests.Load(); n < 2 {
		t.Errorf("requests = %d, want >= 2", n)
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("elapsed %v: the first attempt did not wait for its timeout", elapsed)
	}
}

func TestBadBodiesRejectedNotCached(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	good := pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})
	tests := []struct {
		name string
		body []byte
	}{
		{"garbage", []byte("<html>KDS is having a bad day</html>")},
		{"empty", nil},
		{"truncated DER", good[:len(good)-40]},
		{"PEM of garbage", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
		{"oversized", bytes.Repeat([]byte{0x30}, kds.MaxVCEKSize+10)},
		{"VCEK for another chip", pki.vcek(t, ProductMilan, chipID(2), milanTCB(), vcekOpts{})},
		{"VCEK for another TCB", pki.vcek(t, ProductMilan, chip, TCB{Bootloader: 3, SNP: 9, Microcode: 115}, vcekOpts{})},
		{"VCEK for another product", pki.vcek(t, ProductGenoa, chip, milanTCB(), vcekOpts{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			kds.answer(tc.body)
			dir := t.TempDir()
			c := kds.newClient(dir)
			clock := newTestClock()
			c.Now = clock.Now
			_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, nil))
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("err = %v, want ErrInvalidCertificate", err)
			}
			kds.wantRequests(t, 1, "requests", "1 (bad bodies are not retried)")
			if files := cacheFiles(t, dir); len(files) != 0 {
				t.Errorf("cache files written: %v", files)
			}
			// Remembered as a failure, not as a certificate: within the
			// back-off the same error without a request, after it a new request.
			_, err = c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, nil))
			if !errors.Is(err, ErrInvalidCertificate) || !errors.Is(err, ErrRecentFailure) {
				t.Errorf("second call: err = %v, want ErrInvalidCertificate and ErrRecentFailure", err)
			}
			kds.wantRequests(t, 1, "requests after second call", "1")
			clock.Advance(DefaultNegativeTTL)
			_, err = c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, nil))
			if !errors.Is(err, ErrInvalidCertificate) || errors.Is(err, ErrRecentFailure) {
				t.Errorf("after the back-off: err = %v, want a new ErrInvalidCertificate", err)
			}
			kds.wantRequests(t, 2, "requests after the back-off", "2")
		})
	}
}

func TestWrongChipRejected(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	kds := newFakeKDS(t, pki)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		_, _ = w.Write(pki.vcek(t, ProductMilan, chipID(9), milanTCB(), vcekOpts{}))
		return true
	})
	dir := t.TempDir()
	c := kds.newClient(dir)
	validated := 0
	_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, func([]byte) error { validated++; return nil }))
	var mm *MismatchError
	if !errors.As(err, &mm) || mm.Field != "hwID" {
		t.Fatalf("err = %v, want hwID mismatch", err)
	}
	if validated != 0 {
		t.Errorf("validator called on a VCEK of the wrong chip")
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("cached: %v", files)
	}
	if n := c.Mem.Len(); n != 0 {
		t.Errorf("memory cache has %d entries", n)
	}
}

func TestValidatorRejects(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	other := newForeignPKI(t, "Milan") // KDS serves VCEKs from a hierarchy the verifier does not trust
	kds := newFakeKDS(t, other)
	dir := t.TempDir()
	c := kds.newClient(dir)
	_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(1), pki.validator()))
	if err == nil || !strings.Contains(err.Error(), "validator") {
		t.Fatalf("err = %v, want validator rejection", err)
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("cached: %v", files)
	}
	// A validator that accepts: cached, and a later stricter caller still gets its own check.
	if _, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(1), other.validator())); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(1), pki.validator()))
	if err == nil {
		t.Fatal("memory-cached VCEK returned without the caller's validation")
	}
}

func TestConcurrentRequestsShareOneFetch(t *testing.T) {
	pki, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		time.Sleep(200 * time.Millisecond) // keep the fetch in flight while the others arrive
		return false
	})
	c := kds.newClient(t.TempDir())
	c.Logger = nil
	chip := chipID(1)
	var wg sync.WaitGroup
	var failures atomic.Int64
	results := make([][]byte, 100)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			der, err := c.GetVCEK(ctx, milanReq(chip, pki.validator()))
			if err != nil {
				failures.Add(1)
				t.Error(err)
			}
			results[i] = der
		}()
	}
	wg.Wait()
	if n := kds.requests.Load(); n != 1 {
		t.Fatalf("KDS requests = %d, want exactly 1", n)
	}
	for i := range results {
		if !bytes.Equal(results[i], results[0]) {
			t.Fatalf("result %d differs", i)
		}
	}
}

func TestLeaderCancelledWaiterTakesOver(t *testing.T) {
	_, kds := newMilanKDS(t)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		if n == 1 {
			<-r.Context().Done()
			return true
		}
		return false
	})
	c := kds.newClient("")
	chip := chipID(1)
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.GetVCEK(leaderCtx, milanReq(chip, nil))
		leaderErr <- err
	}()
	for kds.requests.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	waiterErr := make(chan error, 1)
	go func() {
		_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, nil))
		waiterErr <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader err = %v, want Canceled", err)
	}
	if err := <-waiterErr; err != nil {
		t.Errorf("waiter err = %v, want success after taking over", err)
	}
}

func TestDiskCacheServesSecondClient(t *testing.T) {
	pki, kds := newMilanKDS(t)
	dir := t.TempDir()
	chip := chipID(1)
	first, err := kds.newClient(dir).GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
	if err != nil {
		t.Fatal(err)
	}
	if files := cacheFiles(t, dir); len(files) != 1 {
		t.Fatalf("cache files = %v, want 1", files)
	}
	kds.requests.Store(0)
	for _, offline := range []bool{false, true} {
		c := kds.newClient(dir)
		c.Offline = offline
		der, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
		if err != nil || !bytes.Equal(der, first) {
			t.Fatalf("offline=%v: %v", offline, err)
		}
		if st := c.Stats(); st.DiskHits != 1 || st.Fetches != 0 {
			t.Errorf("offline=%v stats = %+v", offline, st)
		}
	}
	kds.wantRequests(t, 0, "KDS requests", "0")
}

func TestOfflineEmptyCache(t *testing.T) {
	pki, kds := newMilanKDS(t)
	c, imdsHits := kds.newClientIMDS(func(http.ResponseWriter, *http.Request) {})
	c.Offline = true
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := c.GetVCEK(ctx, milanReq(chipID(1), nil)); !errors.Is(err, ErrOffline) {
		t.Errorf("GetVCEK err = %v, want ErrOffline", err)
	}
	if _, err := c.CRL(ctx, ProductMilan); !errors.Is(err, ErrOffline) {
		t.Errorf("CRL err = %v, want ErrOffline", err)
	}
	if _, err := c.CertChain(ctx, ProductMilan); !errors.Is(err, ErrOffline) {
		t.Errorf("CertChain err = %v, want ErrOffline", err)
	}
	if err := c.CheckRevoked(ctx, ProductMilan, snp.SigningKeyVCEK, pki.ask); !errors.Is(err, ErrOffline) {
		t.Errorf("CheckRevoked err = %v, want ErrOffline", err)
	}
	if n := kds.requests.Load() + imdsHits.Load(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
	if st := c.Stats(); st.Fetches != 0 || st.Errors != 4 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCorruptCacheFileReplaced(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	tests := []struct {
		name    string
		content []byte
	}{
		{"garbage", []byte("garbage")},
		{"empty", nil},
		{"foreign VCEK (other chip)", pki.vcek(t, ProductMilan, chipID(5), milanTCB(), vcekOpts{})},
		{"VCEK from another hierarchy", newForeignPKI(t, "Milan").vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})},
		{"huge", bytes.Repeat([]byte{1}, kds.MaxVCEKSize+1)},
		// Key confusion: a valid VCEK of this chip, under the pinned
		// chain, stored under the file of another TCB or product line.
		{"this chip's VCEK at another TCB", pki.vcek(t, ProductMilan, chip, TCB{Bootloader: 3, SNP: 9, Microcode: 115}, vcekOpts{})},
		{"this chip's Genoa VCEK", pki.vcek(t, ProductGenoa, chip, milanTCB(), vcekOpts{})},
		{"truncated (a crashed writer)", pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})[:300]},
		{"PEM of the right VCEK", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			dir := t.TempDir()
			c := kds.newClient(dir)
			path := c.vcekPath(t, ProductMilan, chip, composeTCB(ProductMilan, milanTCB()))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			der, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
			if err != nil {
				t.Fatal(err)
			}
			kds.wantRequests(t, 1, "requests", "1")
			onDisk, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(onDisk, der) {
				t.Errorf("cache file not replaced: %v", err)
			}
			if files := cacheFiles(t, dir); len(files) != 1 {
				t.Errorf("cache files = %v (temp files left?)", files)
			}
		})
	}
}

func TestIMDSSource(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	good := pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})
	otherTCB := pki.vcek(t, ProductMilan, chip, TCB{Bootloader: 4, SNP: 9, Microcode: 200}, vcekOpts{})
	pemOf := func(ders ...[]byte) []byte {
		var b []byte
		for _, d := range ders {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return b
	}
	// thimOf is a THIM document; tcbm and certificateChain are never
	// trusted: only the VCEK, validated for the request, is used.
	thimOf := func(vcek []byte, tcbm string, chain []byte) []byte {
		return fmt.Appendf(nil, `{"vcekCert":%q,"tcbm":%q,"certificateChain":%q,"cacheControl":"86400"}`, vcek, tcbm, chain)
	}
	thim := func(der []byte) []byte { return thimOf(pemOf(der), "7308000000000003", nil) }
	foreign := newForeignPKI(t, "Milan")
	tests := []struct {
		name     string
		status   int
		body     []byte
		wantKDS  int64
		wantIMDS int64 // IMDSHits
	}{
		{"IMDS has it", 200, thim(good), 0, 1},
		{"IMDS VCEK for another TCB", 200, thim(otherTCB), 1, 0},
		{"IMDS down", 500, nil, 1, 0},
		{"IMDS garbage", 200, []byte("{"), 1, 0},
		{"IMDS tcbm disagrees with its VCEK", 200, thimOf(pemOf(good), "7309000000000004", nil), 0, 1},
		{"IMDS chain in the wrong order, extra certificates", 200, thimOf(pemOf(good), "7308000000000003", pemOf(pki.ark.Raw, foreign.ask.Raw, foreign.ark.Raw)), 0, 1},
		{"IMDS foreign VCEK with its own chain", 200, thimOf(pemOf(foreign.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})), "7308000000000003", foreign.chainPEM()), 1, 0},
		{"IMDS two VCEKs", 200, thimOf(pemOf(good, good), "7308000000000003", nil), 1, 0},
		{"IMDS duplicate vcekCert", 200, fmt.Appendf(nil, `{"vcekCert":%q,"vcekCert":%q}`, pemOf(otherTCB), pemOf(good)), 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			c, imdsReqs := kds.newClientIMDS(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Metadata") != "true" {
					w.WriteHeader(400)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			})
			der, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := MatchVCEK(der, ProductMilan, chip, composeTCB(ProductMilan, milanTCB())); err != nil {
				t.Fatal(err)
			}
			if imdsReqs.Load() != 1 || kds.requests.Load() != tc.wantKDS || c.Stats().IMDSHits != tc.wantIMDS {
				t.Errorf("IMDS requests %d, KDS requests %d (want %d), stats %+v", imdsReqs.Load(), kds.requests.Load(), tc.wantKDS, c.Stats())
			}
		})
	}
}

func TestTurinURLShape(t *testing.T) {
	pki := newTestPKI(t, "Turin")
	kds := newFakeKDS(t, pki)
	kds.setHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		// A real-looking Turin VCEK: raw 8-byte hwID, fmcSPL.
		_, _ = w.Write(pki.vcek(t, ProductTurin, chipID(1)[:8], TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5}, vcekOpts{rawHWID: true}))
		return true
	})
	c := kds.newClient(t.TempDir())
	tcb := composeTCB(ProductTurin, TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5})
	_, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), VCEKRequest{Product: "Turin", ChipID: turinChipID(1), ReportedTCB: tcb, Validate: pki.validator()})
	if err != nil {
		t.Fatal(err)
	}
	want := "/vcek/v1/Turin/" + hexKey(chipID(1)[:8]) + "?fmcSPL=01&blSPL=02&teeSPL=03&snpSPL=04&ucodeSPL=05"
	seen := kds.seen()
	if len(seen) != 1 {
		t.Fatalf("requests = %q", seen)
	}
	got := seen[0]
	if got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if len(strings.Split(strings.Split(got, "?")[0], "/")[4]) != 16 {
		t.Errorf("hwID in URL is not 8 bytes: %q", got)
	}
}

func TestMemoryCacheBounded(t *testing.T) {
	_, kds := newMilanKDS(t)
	c := kds.newClient("")
	c.MemoryCacheSize = 2
	for i := range 5 {
		if _, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chipID(byte(i)), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Mem.Len(); n != 2 {
		t.Errorf("memory cache holds %d, want 2", n)
	}
	// The most recent is still cached; the oldest was evicted.
	before := kds.requests.Load()
	_, _ = c.GetVCEK(context.Background(), milanReq(chipID(4), nil))
	if kds.requests.Load() != before {
		t.Errorf("most recent entry evicted")
	}
	_, _ = c.GetVCEK(context.Background(), milanReq(chipID(0), nil))
	if kds.requests.Load() != before+1 {
		t.Errorf("oldest entry not evicted")
	}
}

func TestGetVCEKBadRequest(t *testing.T) {
	_, kds := newMilanKDS(t)
	c := kds.newClient("")
	tests := []struct {
		name string
		req  VCEKRequest
		want error
	}{
		{"unknown product", VCEKRequest{Product: "Naples", ChipID: chipID(1)}, ErrUnsupportedProduct},
		{"empty product", VCEKRequest{ChipID: chipID(1)}, ErrUnsupportedProduct},
		{"nil chip", VCEKRequest{Product: "Milan"}, ErrInvalidRequest},
		{"short chip", VCEKRequest{Product: "Milan", ChipID: chipID(1)[:8]}, ErrInvalidRequest},
		{"zero (masked) chip", VCEKRequest{Product: "Milan", ChipID: make([]byte, ChipIDSize)}, ErrInvalidRequest},
		{"zero (masked) Turin chip", VCEKRequest{Product: "Turin", ChipID: make([]byte, ChipIDSize)}, ErrInvalidRequest},
		{"lower-case product", VCEKRequest{Product: "milan", ChipID: chipID(1)}, ErrUnsupportedProduct},
		{"forged product name", VCEKRequest{Product: "Milan-ZZZ-evil", ChipID: chipID(1)}, ErrUnsupportedProduct},
	}
	for _, tc := range tests {
		if _, err := c.GetVCEK(context.Background(), tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	kds.wantRequests(t, 0, "requests", "0")
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := kds.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "snp-vtpm" {
		t.Errorf("DefaultCacheDir = %q", dir)
	}
}

func TestPinnedRootsDefault(t *testing.T) {
	c := &Chain{}
	for _, p := range []string{ProductMilan, ProductGenoa, ProductTurin} {
		ark, err := c.ark(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if ark.Subject.CommonName != "ARK-"+p {
			t.Errorf("%s: ARK CN %q", p, ark.Subject.CommonName)
		}
	}
	c = &Chain{ARK: func(string) *x509.Certificate { return nil }}
	if _, err := c.ark(ProductMilan); !errors.Is(err, ErrUnsupportedProduct) {
		t.Errorf("err = %v", err)
	}
}

// cacheFiles lists the regular files under dir.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDiskCacheFileSizeBound: a cache file of more than its kind's
// maximum size is ErrCacheFile ("larger than"), not read, nor read as
// nothing; one of exactly the maximum is read whole; an empty one is
// ErrCacheFile ("empty"). A miss of Memory wraps ErrMiss.
func TestDiskCacheFileSizeBound(t *testing.T) {
	_, fake := newMilanKDS(t)
	c := fake.newClient(t.TempDir())
	chip := chipID(3)
	tcb := composeTCB(ProductMilan, milanTCB())
	path := c.vcekPath(t, ProductMilan, chip, tcb)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	k, _ := NewKey(ProductMilan, chip, tcb)
	for _, n := range []int{kds.MaxVCEKSize, kds.MaxVCEKSize + 1} {
		if err := os.WriteFile(path, bytes.Repeat([]byte{1}, n), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := c.Disk.Get(ctxTimeout(t, 5*time.Second), KindVCEK, &Query{Key: k})
		if n == kds.MaxVCEKSize {
			if err != nil || len(b) != n {
				t.Errorf("%d bytes: %d read, %v", n, len(b), err)
			}
			continue
		}
		if !errors.Is(err, ErrCacheFile) || !strings.Contains(err.Error(), "larger than") || b != nil {
			t.Errorf("%d bytes: %d read, %v, want ErrCacheFile: larger than", n, len(b), err)
		}
	}
	// An empty file (a write cut short) is ErrCacheFile too, not a
	// candidate of no bytes.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Disk.Get(ctxTimeout(t, 5*time.Second), KindVCEK, &Query{Key: k}); !errors.Is(err, ErrCacheFile) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %d read, %v, want ErrCacheFile: empty", len(b), err)
	}
	// Memory's misses wrap ErrMiss like every Source's: a VCEK it does
	// not hold, and a kind it never holds.
	for _, kind := range []Kind{KindVCEK, KindCertChain, KindCRL} {
		if b, err := (&Memory{}).Get(context.Background(), kind, &Query{Key: k}); !errors.Is(err, ErrMiss) || b != nil {
			t.Errorf("Memory.Get(%v) of nothing = %d bytes, %v; want ErrMiss", kind, len(b), err)
		}
	}
}
