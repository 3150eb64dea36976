package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// serving is a "snp-vtpm serve" running in-process.
type serving struct {
	url    string
	stderr *testutil.LogBuffer
	stop   func() int // cancels serve and returns its exit code
}

// startServe runs "serve --listen 127.0.0.1:0 args..." in a goroutine and
// waits for the address it prints.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &testutil.LogBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), nil, pw, stderr)
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	var url string
	select {
	case line, ok := <-lines:
		if !ok {
			cancel()
			t.Fatalf("serve exited with %d before listening:\n%s", <-code, stderr)
		}
		var found bool
		url, found = strings.CutPrefix(line, "listening on ")
		if !found {
			cancel()
			t.Fatalf("serve printed %q", line)
		}
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	var once sync.Once
	exit := -1
	s := &serving{url: url, stderr: stderr, stop: func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not stop")
			}
		})
		return exit
	}}
	t.Cleanup(func() { s.stop() })
	return s
}

// startBin starts the built binary with args (and env, when not nil) and
// waits for the "listening on URL" line it prints first. It returns the
// running command, the URL and the command's stderr.
func startBin(ctx context.Context, t *testing.T, env []string, args ...string) (*exec.Cmd, string, *testutil.LogBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, cliBinary(t), args...)
	cmd.Env = env
	stderr := &testutil.LogBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v\n%s", err, stderr)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "listening on ")), stderr
}

// writeTemp writes data to a new temporary file and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// resultKeyJWKS returns a new result signing key and the JWKS document
// that publishes its public key.
func resultKeyJWKS(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := result.MarshalJWKS(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, doc
}

// syntheticGather builds synthetic evidence (internal/testev) for a nonce.
func syntheticGather(ctx context.Context, nonce []byte) ([]byte, error) {
	ev, err := (&testev.Builder{Nonce: nonce}).Build()
	if err != nil {
		return nil, err
	}
	return ev.JSON, nil
}

const cliSecret = "cli-secret: correct horse battery staple"

func TestServeSyntheticEvidence(t *testing.T) {
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	// The private test chain replaces AMD's Milan roots.
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--offline", "--challenge-ttl", "30s")

	res, err := (&server.Client{URL: s.url}).Attest(context.Background(), syntheticGather)
	if err != nil {
		t.Fatalf("Attest: %v\n%s", err, s.stderr)
	}
	if string(res.Secret) != cliSecret || res.Claims.Product != "Milan" || res.Claims.Emulated {
		t.Fatalf("secret %q claims %+v", res.Secret, res.Claims)
	}
	// A rejection, counted by check.
	_, err = (&server.Client{URL: s.url}).Attest(context.Background(), func(ctx context.Context, nonce []byte) ([]byte, error) {
		return syntheticGather(ctx, []byte("another nonce"))
	})
	if err == nil || !strings.Contains(err.Error(), "quote-nonce") {
		t.Fatalf("want a quote-nonce rejection, got %v", err)
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`snp_vtpm_attestations_total{reason="quote-nonce",result="rejected"} 1`,
		`snp_vtpm_attestations_total{reason="none",result="success"} 1`,
		`snp_vtpm_kds_fetches_total 0`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited with %d:\n%s", code, s.stderr)
	}
	log := s.stderr.String()
	if strings.Contains(log, cliSecret) || strings.Contains(log, cliSecret[:10]) {
		t.Fatalf("the log contains the secret:\n%s", log)
	}
	for _, want := range []string{"path=/v1/attest status=200", "status=403", "check=quote-nonce", "msg=stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	certPEM, keyPEM := testutil.NewLoopbackCert(t).PEM(t)
	return writeTemp(t, "cert.pem", certPEM), writeTemp(t, "key.pem", keyPEM)
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)),
		"--roots", writeTemp(t, "roots.pem", testev.ChainPEM()), "--offline",
		"--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url %q", s.url)
	}
	// Without the CA the client refuses the server.
	if _, err := (&server.Client{URL: s.url}).Attest(context.Background(), syntheticGather); err == nil {
		t.Fatal("an untrusted TLS certificate was accepted")
	}
	hc, err := attestHTTPClient(certFile)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&server.Client{URL: s.url, HTTPClient: hc}).Attest(context.Background(), syntheticGather)
	if err != nil || string(res.Secret) != cliSecret {
		t.Fatalf("over TLS: %v", err)
	}
	// Plain HTTP to the TLS port fails.
	if resp, err := http.Get("http" + strings.TrimPrefix(s.url, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS port")
		}
	}
	if _, err := attestHTTPClient(writeTemp(t, "empty.pem", []byte("nothing"))); err == nil {
		t.Error("a --ca-cert without certificates was accepted")
	}
	hc.CloseIdleConnections()
}

func TestServeUsageErrors(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	empty := writeTemp(t, "empty", nil)
	certFile, keyFile := selfSigned(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no secret file", []string{"serve", "--listen", "127.0.0.1:0"}, "secret-file"},
		{"missing secret file", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret + ".nope"}, "no such file"},
		{"empty secret", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", empty}, "empty"},
		{"cert without key", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--tls-cert", certFile}, "--tls-key"},
		{"key is not a cert", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--tls-cert", keyFile, "--tls-key", keyFile}, "TLS certificate"},
		{"bad address", []string{"serve", "--listen", "127.0.0.1:99999", "--secret-file", secret}, "99999"},
		{"bad ttl", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--challenge-ttl", "0s"}, "positive"},
		{"ttl over an hour", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--challenge-ttl", "61m"}, "--challenge-ttl 1h1m0s is longer than 1h0m0s"},
		{"zero client challenges", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--max-client-challenges", "0"}, "positive"},
		{"zero in-flight bytes", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--max-in-flight-bytes", "0"}, "positive"},
		{"in-flight bytes below the body bound", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--max-in-flight-bytes", "1000", "--max-body", "2000"}, "--max-in-flight-bytes 1000 is less than --max-body 2000"},
		{"zero upstream rate", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--upstream-rate", "0"}, "--upstream-rate"},
		{"zero upstream burst", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--upstream-burst", "0"}, "--upstream-burst"},
		{"negative retries", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--upstream-retries", "-1"}, "--upstream-retries"},
		{"imds", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--imds"}, "--imds"},
		{"publish keys without a signing key", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--publish-keys", secret}, "--publish-keys needs --signing-key"},
		{"publish keys not a JWKS", []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--signing-key", filepath.Join(t.TempDir(), "k.pem"), "--dev", "--publish-keys", secret}, "--publish-keys " + secret + ": JWKS"},
		{"attest without server", []string{"attest"}, "server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitUsage, out, errOut)
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestWriteSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(p, []byte("old, longer content"), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := openAttestOutput("-o", p, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if st.Mode().Perm() != 0o600 || string(data) != "new" {
		t.Fatalf("mode %v content %q", st.Mode().Perm(), data)
	}
}

// TestServeDrainsOnSIGTERM runs the built binary: a request in flight when
// SIGTERM arrives still gets its answer, and serve then exits 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, url, stderr := startBin(ctx, t, nil, "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--offline", "--shutdown-grace", "20s")

	pr, pw := io.Pipe()
	answered := make(chan int, 1)
	go func() {
		res, err := http.Post(url+"/v1/attest", "application/json", pr)
		if err != nil {
			answered <- -1
			return
		}
		res.Body.Close()
		answered <- res.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"challenge":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the request is in flight
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // serve is draining
	if _, err := pw.Write([]byte(`"AAAA","evidence":"","public_key":""}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if status := <-answered; status < 400 || status >= 500 {
		t.Errorf("the in-flight request got %d, want a 4xx answer", status)
	}
	err := cmd.Wait()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok || err != nil {
		t.Fatalf("serve exited with %v (%v), want 0\nstderr:\n%s", ee, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

// TestServeBadTLSBeforeListening: bad TLS files exit 1 before serve says
// it listens.
func TestServeBadTLSBeforeListening(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	certFile, keyFile := selfSigned(t)
	for _, files := range [][2]string{{keyFile, keyFile}, {certFile, certFile}, {certFile, secret + ".nope"}} {
		code, out, errOut := runBin(t, nil, "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--tls-cert", files[0], "--tls-key", files[1])
		wantExit(t, code, exitUsage, out, errOut)
		if out != "" || !strings.Contains(errOut, "--tls-cert") {
			t.Errorf("%v: stdout %q, stderr:\n%s", files, out, errOut)
		}
	}
}

// TestTuneServeGC: serve raises the GC target only when GOGC is unset and
// only in a process it owns (a setter given by main).
func TestTuneServeGC(t *testing.T) {
	for _, c := range []struct {
		name  string
		gogc  string
		owned bool
		want  []int
	}{
		{"unset", "", true, []int{serveGCPercent}},
		{"operator's GOGC", "100", true, nil},
		{"GOGC=off", "off", true, nil},
		{"in-process", "", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls []int
			g := &globals{log: slog.New(slog.DiscardHandler)}
			if c.owned {
				g.setGCPercent = func(p int) int { calls = append(calls, p); return 100 }
			}
			tuneServeGC(g, func(k string) string {
				if k == "GOGC" {
					return c.gogc
				}
				return ""
			})
			if !slices.Equal(calls, c.want) {
				t.Errorf("SetGCPercent calls %v, want %v", calls, c.want)
			}
		})
	}
}

// TestServeRaisesGCTarget runs the built binary: serve raises the GC
// target when GOGC is unset (its -v log says so) and leaves an operator's
// GOGC alone.
func TestServeRaisesGCTarget(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	for _, c := range []struct {
		gogc string
		want bool
	}{{"", true}, {"150", false}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		env := append(slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "GOGC=") }), "GOGC="+c.gogc)
		cmd, _, stderr := startBin(ctx, t, env, "-v", "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--offline")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		cancel()
		if err != nil {
			t.Fatalf("GOGC=%q: serve exited with %v\n%s", c.gogc, err, stderr.String())
		}
		got := strings.Contains(stderr.String(), "gogc=400 was=100")
		if got != c.want {
			t.Errorf("GOGC=%q: GC target raised %v, want %v\n%s", c.gogc, got, c.want, stderr.String())
		}
	}
}

// TestServePublishKeys: serve --publish-keys FILE publishes the JWKS
// file's keys beside --signing-key's (a fleet rotating its key), so a
// token of the other key verifies against this replica's JWKS.
func TestServePublishKeys(t *testing.T) {
	other, doc := resultKeyJWKS(t)
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--signing-key", filepath.Join(t.TempDir(), "k.pem"), "--dev",
		"--publish-keys", writeTemp(t, "old.jwks", doc))
	defer s.stop()
	_, body := testutil.Get(t, s.url+server.PathJWKS)
	ks, err := result.ParseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := result.PublicJWK(&other.PublicKey)
	if k, err := ks.Key(context.Background(), j.Kid); err != nil || !k.Equal(&other.PublicKey) || len(ks.PublicKeys()) != 2 {
		t.Fatalf("JWKS %s: the published key %s missing (%v) or not two keys", body, j.Kid, err)
	}
}

// TestServeMetricsListen: with --metrics-listen, /metrics answers there
// (and counts the attestations served on --listen) and 404 on --listen;
// both listeners stop with serve.
func TestServeMetricsListen(t *testing.T) {
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--metrics-listen", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="serving /metrics" addr=(\S+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		s.stop()
		t.Fatalf("no metrics address in the log:\n%s", s.stderr)
	}
	get := func(url string) (int, string) { code, body := testutil.Get(t, url); return code, string(body) }
	if code, _ := get(s.url + server.PathMetrics); code != http.StatusNotFound {
		t.Errorf("/metrics on --listen: %d, want 404", code)
	}
	_, _ = get(s.url + "/nope")
	code, body := get("http://" + m[1] + server.PathMetrics)
	if code != http.StatusOK || !strings.Contains(body, "snp_vtpm_") {
		t.Errorf("/metrics on --metrics-listen: %d\n%.300s", code, body)
	}
	if code, _ := get("http://" + m[1] + server.PathChallenge); code != http.StatusNotFound {
		t.Errorf("the API on --metrics-listen: %d, want 404", code)
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited with %d:\n%s", code, s.stderr)
	}
	if _, err := http.Get("http://" + m[1] + server.PathMetrics); err == nil {
		t.Error("the metrics listener still answers after serve stopped")
	}
}
