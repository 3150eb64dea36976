package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/graceful"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// The null server answers /v1/challenge and /v1/attest the way snp-vtpm
// serve does on the wire (same paths, same JSON shapes, an answer of the
// same size) and does nothing else: no decoding, no challenge store, no
// verification, no sealing, no log. Measured with the same client, its
// attestations per second per core are the HTTP floor of this machine,
// the ceiling no handler can pass.

// nullEnv, set to "1" in the environment, makes loadgen serve the null
// server instead of generating load: startNull re-executes loadgen with it,
// so that the null server's CPU time is its own process's, as serve's is.
const nullEnv = "SNPVTPM_LOADGEN_NULL"

// nullName is the -servers entry naming the null server.
const nullName = "null"

// nullHandler is the null server's handler. Its attestation answer is
// built once: a ciphertext of the size serve's is (encapsulated key, the
// loadgen secret, the AEAD tag) and claims like those of testev evidence.
func nullHandler() (http.Handler, error) {
	ct := make([]byte, 32+len(loadgenSecret)+16)
	if _, err := rand.Read(ct); err != nil {
		return nil, err
	}
	attest, err := json.Marshal(server.AttestResponse{Ciphertext: ct, Suite: server.Suite, Claims: server.Claims{
		Platform: "sev-snp", Product: "Milan", ChipID: make([]byte, 64), Measurement: make([]byte, 48),
		IDKeyDigest: make([]byte, 48), Paravisor: "azure-hcl", VMUniqueID: "7E57E7E5-0000-4000-8000-000000000000",
		EvidenceVersion: 1,
	}})
	if err != nil {
		return nil, err
	}
	attest = append(attest, '\n')
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+server.PathChallenge, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
		var c [server.ChallengeSize]byte
		_, _ = rand.Read(c[:])
		b, _ := json.Marshal(server.ChallengeResponse{Challenge: c[:], Suite: server.Suite,
			Expires: time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)})
		writeNull(w, append(b, '\n'))
	})
	mux.HandleFunc("POST "+server.PathAttest, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, server.DefaultMaxBodyBytes)); err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		writeNull(w, attest)
	})
	return mux, nil
}

// writeJSON writes a 200 JSON answer with the headers serve sets.
func writeNull(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	_, _ = w.Write(b)
}

// serveNull runs the null server on a free loopback port until SIGTERM or
// SIGINT: it prints "listening on URL" on out first, as serve does.
func serveNull(out io.Writer) error {
	h, err := nullHandler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: server.DefaultReadHeaderTimeout, ReadTimeout: server.DefaultReadTimeout,
		WriteTimeout: server.DefaultWriteTimeout, IdleTimeout: server.DefaultIdleTimeout, MaxHeaderBytes: 64 << 10}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	return graceful.Serve(ctx, hs, ln, 5*time.Second, nil)
}

// startNull starts the null server: this executable again, with nullEnv.
func startNull() (*serverProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), nullEnv+"=1")
	return launch(cmd, "")
}
