package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// testSecret is the secret of test servers; tests search logs for it.
var testSecret = []byte("s3cr3t: the database password 7c1f9a")

// newFakeClock is a settable clock for challenge expiry.
func newFakeClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// testVerifier returns verify.New(cfg); the configurations of these tests
// are valid, so an error is a bug in the test.
func testVerifier(cfg verify.Config) *verify.Verifier {
	v, err := verify.New(cfg)
	if err != nil {
		panic(err)
	}
	return v
}

// testConfig trusts the synthetic (testev) chains only.
func testConfig() Config {
	return Config{
		Secret:   testSecret,
		Verifier: testVerifier(verify.Config{Roots: testev.Roots()}),
	}
}

func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	return testutil.Must(New(cfg))(t)
}

// startHTTP serves s's handler on a loopback httptest server.
func startHTTP(t testing.TB, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// synthetic returns a GatherFunc building synthetic evidence (testev,
// version 2) over the nonce it is given.
func synthetic(t testing.TB) GatherFunc {
	return func(ctx context.Context, nonce []byte) ([]byte, error) {
		ev, err := (&testev.Builder{Nonce: nonce}).Build()
		if err != nil {
			return nil, err
		}
		return ev.JSON, nil
	}
}

func evidenceFor(t testing.TB, nonce []byte) []byte {
	t.Helper()
	b, err := synthetic(t)(context.Background(), nonce)
	if err != nil {
		t.Fatalf("building evidence: %v", err)
	}
	return b
}

// getChallenge asks ts for a challenge.
func getChallenge(t testing.TB, url string) []byte {
	t.Helper()
	c := &Client{URL: url}
	ch, err := c.challenge(context.Background())
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	return ch
}

// postJSON posts body to url and returns the status and decoded error body.
func postRaw(t testing.TB, url string, body []byte) (int, ErrorResponse, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var er ErrorResponse
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(data, &er); err != nil {
			t.Fatalf("error answer %d is not JSON: %q", resp.StatusCode, data)
		}
		if er.Error == "" {
			t.Errorf("error answer %d without an error message: %s", resp.StatusCode, data)
		}
	}
	return resp.StatusCode, er, data
}

// mustJSON is testutil.MarshalJSON.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	return testutil.MarshalJSON(t, v)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serveLoopback runs s.Serve on a fresh loopback listener until cancel;
// done receives what Serve returned.
func serveLoopback(t testing.TB, s *Server) (ln net.Listener, done <-chan error, cancel context.CancelFunc) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	return ln, served, cancel
}

// challenged gets a challenge from the server at url and, for it and a
// fresh key, evidence from gather.
func challenged(t testing.TB, url string, gather func(context.Context, []byte) ([]byte, error)) (ch, pub, ev []byte) {
	t.Helper()
	_, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ch = getChallenge(t, url)
	if ev, err = gather(context.Background(), Nonce(ch, pub)); err != nil {
		t.Fatal(err)
	}
	return ch, pub, ev
}

// replayConcurrently posts body n times at once and counts 200s and 401s.
func replayConcurrently(t testing.TB, url string, body []byte, n int) (wins, denials int) {
	t.Helper()
	var ok, denied atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			resp, err := http.Post(url+PathAttest, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 401:
				denied.Add(1)
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	close(start)
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	return int(ok.Load()), int(denied.Load())
}
