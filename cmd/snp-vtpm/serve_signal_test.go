//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeDrainsOnSIGTERM runs the built binary: a request in flight when
// SIGTERM arrives still gets its answer, and serve then exits 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary(t), "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--offline", "--shutdown-grace", "20s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

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
	err = cmd.Wait()
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
