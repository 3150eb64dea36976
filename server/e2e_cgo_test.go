//go:build cgo

package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil/cvmtest"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// emulatedOptions trusts AMD's pinned roots and the emulated CVM's fake
// chain, as "serve --trust-emulated" does.
func emulatedOptions(t testing.TB) *verify.Verifier {
	t.Helper()
	c, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	return testVerifier(verify.Config{Roots: snp.DefaultRoots().Add(c)})
}

// cvm is a running emulated CVM with an attester on it. Its gather
// serialises evidence gathering: the vTPM has a single user-data index, so
// two fresh reports cannot be requested at the same time.
type cvm struct {
	*emulator.CVM
	att  *attester.Attester
	http *http.Client
	mu   sync.Mutex
	busy atomic.Int64 // nanoseconds spent gathering, lock held
}

func startCVM(t testing.TB) *cvm {
	t.Helper()
	c := cvmtest.Start(t, nil)
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &cvm{
		CVM:  c,
		http: hc,
		att: &attester.Attester{TPM: c.TPM(), Verifier: emulatedOptions(t), Certs: &collateral.Chain{
			Sources: []collateral.Source{&collateral.IMDS{Client: &imds.Client{URL: c.IMDSURL(), HTTPClient: hc}}},
		}},
	}
}

// gather returns a GatherFunc taking evidence on the CVM.
func (c *cvm) gather(fresh bool) GatherFunc {
	return func(ctx context.Context, nonce []byte) ([]byte, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		t0 := time.Now()
		defer func() { c.busy.Add(int64(time.Since(t0))) }()
		res, err := c.att.Evidence(ctx, nonce, fresh)
		if err != nil {
			return nil, err
		}
		return res.Evidence.Encode()
	}
}

func emulatedConfig(t testing.TB) Config {
	return Config{Secret: testSecret, Verifier: emulatedOptions(t), Logger: discardLogger()}
}

func TestE2EEmulated(t *testing.T) {
	c := startCVM(t)
	ctx := context.Background()

	t.Run("secret released", func(t *testing.T) {
		s := newServer(t, emulatedConfig(t))
		ts := startHTTP(t, s)
		for _, fresh := range []bool{true, false} {
			res, err := (&Client{URL: ts.URL}).Attest(ctx, c.gather(fresh))
			if err != nil {
				t.Fatalf("fresh=%v: %v", fresh, err)
			}
			if !bytes.Equal(res.Secret, testSecret) {
				t.Fatalf("secret %q", res.Secret)
			}
			wantVersion := 1
			if fresh {
				wantVersion = 2
			}
			cl := res.Claims
			chip := fakeamd.ChipID()
			if !cl.Emulated || cl.EvidenceVersion != wantVersion || cl.FreshReport != fresh ||
				!bytes.Equal(cl.ChipID, chip[:]) || cl.VMUniqueID != emulator.DefaultVMUniqueID || cl.Paravisor != verify.ParavisorEmulated {
				t.Errorf("fresh=%v: claims %+v", fresh, cl)
			}
		}
	})

	t.Run("replayed challenge", func(t *testing.T) {
		ts := startHTTP(t, newServer(t, emulatedConfig(t)))
		ch, pub, ev := challenged(t, ts.URL, c.gather(true))
		if status, er := attestOnce(t, ts.URL, ch, pub, ev); status != 200 {
			t.Fatalf("first: %d %+v", status, er)
		}
		if status, er := attestOnce(t, ts.URL, ch, pub, ev); status != 401 || er.Check != CheckChallenge {
			t.Fatalf("replay: %d %+v, want 401 challenge", status, er)
		}
	})

	t.Run("expired challenge", func(t *testing.T) {
		clock := newFakeClock()
		cfg := emulatedConfig(t)
		cfg.Now = clock.Now
		ts := startHTTP(t, newServer(t, cfg))
		_, err := (&Client{URL: ts.URL}).Attest(ctx, func(ctx context.Context, nonce []byte) ([]byte, error) {
			clock.Advance(DefaultChallengeTTL + time.Second) // a slow attester
			return c.gather(true)(ctx, nonce)
		})
		apiErr, ok := errors.AsType[*APIError](err)
		if !ok || apiErr.StatusCode != 401 || apiErr.Check != CheckChallenge || errors.Is(err, ErrRejected) {
			t.Fatalf("err = %v, want 401 challenge", err)
		}
	})

	t.Run("evidence bound to another key", func(t *testing.T) {
		ts := startHTTP(t, newServer(t, emulatedConfig(t)))
		_, pub, _ := GenerateKey()
		_, mitmPub, _ := GenerateKey()
		ch := getChallenge(t, ts.URL)
		ev, err := c.gather(true)(ctx, Nonce(ch, pub))
		if err != nil {
			t.Fatal(err)
		}
		status, er := attestOnce(t, ts.URL, ch, mitmPub, ev)
		if status != 403 || er.Check != string(verify.CheckNonce) {
			t.Fatalf("%d %+v, want 403 quote-nonce", status, er)
		}
	})

	t.Run("emulated chain not trusted", func(t *testing.T) {
		cfg := emulatedConfig(t)
		cfg.Verifier = testVerifier(verify.Config{}) // AMD's pinned roots, no network
		ts := startHTTP(t, newServer(t, cfg))
		res, err := (&Client{URL: ts.URL}).Attest(ctx, c.gather(true))
		apiErr, ok := errors.AsType[*APIError](err)
		if res != nil || !ok || !errors.Is(err, ErrRejected) || apiErr.Check != string(verify.CheckVCEKChain) {
			t.Fatalf("res %v err %v, want a vcek-chain rejection", res, err)
		}
	})

	t.Run("concurrent replays", func(t *testing.T) {
		ts := startHTTP(t, newServer(t, emulatedConfig(t)))
		ch, pub, ev := challenged(t, ts.URL, c.gather(true))
		wins, denials := replayConcurrently(t, ts.URL, mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev}), 50)
		if wins != 1 || denials != 49 {
			t.Fatalf("%d successes, %d denials; want 1 and 49", wins, denials)
		}
	})
}

// TestLoadEmulated runs 200 complete attestations at once against a server
// on loopback: every one gets a challenge, gathers fresh evidence for it on
// the emulated CVM (serialised: one vTPM), and submits it; verification and
// HTTP run concurrently. It checks that all succeed, that no goroutine
// leaks and reports throughput and memory.
func TestLoadEmulated(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	const n = 200
	c := startCVM(t)
	// Warm up the CVM, the IMDS connection and the verifier's cache so
	// that the baseline includes the long-lived goroutines.
	if _, err := c.gather(true)(context.Background(), make([]byte, 48)); err != nil {
		t.Fatal(err)
	}
	c.http.CloseIdleConnections()
	runtime.GC()
	goroutinesBefore := runtime.NumGoroutine()
	var msBefore runtime.MemStats
	runtime.ReadMemStats(&msBefore)

	cfg := emulatedConfig(t)
	cfg.MaxClientChallenges = n // every attester is on the loopback address
	s := newServer(t, cfg)
	ln, served, cancel := serveLoopback(t, s)
	url := "http://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 30 * time.Second}
	client := &Client{URL: url, HTTPClient: hc}

	gather := c.gather(true)
	c.busy.Store(0)
	var failures atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			res, err := client.Attest(context.Background(), gather)
			if err != nil {
				failures.Add(1)
				t.Errorf("attestation %d: %v", i, err)
				return
			}
			if !bytes.Equal(res.Secret, testSecret) {
				failures.Add(1)
				t.Errorf("attestation %d: wrong secret", i)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	gatherTime := time.Duration(c.busy.Load())
	t.Logf("phase: attestations done at %v", time.Since(start))
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d attestations failed", f, n)
	}

	// Concurrent replays of one challenge under the same server.
	ch, pub, ev := challenged(t, url, gather)
	if wins, denials := replayConcurrently(t, url, mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev}), 50); wins != 1 || denials != 49 {
		t.Fatalf("replays: %d successes, %d denials; want 1 and 49", wins, denials)
	}

	metrics := scrape(t, s.Handler())
	if !strings.Contains(metrics, `snp_vtpm_attestations_total{reason="none",result="success"} 201`) {
		t.Errorf("metrics do not count 201 successes")
	}
	t.Logf("phase: replays done at %v", time.Since(start))
	var msAfter runtime.MemStats
	runtime.ReadMemStats(&msAfter)

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Logf("phase: server stopped at %v", time.Since(start))
	hc.CloseIdleConnections()
	c.http.CloseIdleConnections()
	goroutinesAfter := 0
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		goroutinesAfter = runtime.NumGoroutine()
		if goroutinesAfter <= goroutinesBefore || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if goroutinesAfter > goroutinesBefore {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", goroutinesBefore, goroutinesAfter, buf[:runtime.Stack(buf, true)])
	}
	runtime.GC()
	var msSettled runtime.MemStats
	runtime.ReadMemStats(&msSettled)

	t.Logf("%d concurrent fresh attestations in %v: %.0f attestations/s; evidence gathering (serialised on the vTPM) %v in total, %v each",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(),
		gatherTime.Round(time.Millisecond), (gatherTime / n).Round(time.Microsecond))
	t.Logf("memory: TotalAlloc +%.1f MiB (%.0f KiB per attestation, client + server + emulator), HeapInuse %.1f -> %.1f MiB at the end of the run -> %.1f MiB after shutdown and GC",
		mib(msAfter.TotalAlloc-msBefore.TotalAlloc), float64(msAfter.TotalAlloc-msBefore.TotalAlloc)/1024/(n+1),
		mib(msBefore.HeapInuse), mib(msAfter.HeapInuse), mib(msSettled.HeapInuse))
	t.Logf("goroutines: %d before, %d after (settled at %v)", goroutinesBefore, goroutinesAfter, time.Since(start))
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "snp_vtpm_attestation_duration_seconds_sum") || strings.HasPrefix(line, "snp_vtpm_attestation_duration_seconds_count") {
			t.Logf("server: %s", line)
		}
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
