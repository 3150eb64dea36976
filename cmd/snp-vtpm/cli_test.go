package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The command-line binary the process tests run: built once per test
// binary, on first use, into a directory TestMain removes.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "snp-vtpm-cli")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cliBinary returns the path of the built snp-vtpm binary.
func cliBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binError = err
			return
		}
		bin := filepath.Join(binDir, "snp-vtpm")
		out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			binError = errors.New(err.Error() + "\n" + string(out))
			return
		}
		binPath = bin
	})
	if binError != nil {
		t.Fatalf("building the snp-vtpm binary: %v", binError)
	}
	return binPath
}

// runBin runs the built binary with stdin (nil: none) and returns its exit
// code, stdout and stderr.
func runBin(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cliBinary(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLIIn(t, nil, args...)
}

// runCLIIn is runCLI with stdin.
func runCLIIn(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, bytes.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// verifyCLI runs "verify" in-process with stdin, offline and with a
// private cache directory.
func verifyCLI(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	return runCLIIn(t, stdin, append([]string{"verify", "--offline", "--cache-dir", t.TempDir()}, args...)...)
}

func wantExit(t *testing.T, got, want int, stdout, stderr string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, stdout, stderr)
	}
}

// cliJSON runs the CLI in-process, wants exit code want and decodes its
// stdout, JSON, into v. It returns stdout.
func cliJSON(t *testing.T, want int, v any, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	wantExit(t, code, want, out, errOut)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: stdout is not the JSON expected: %v\n%s", args, err, out)
	}
	return out
}

// wantContains reports each of wants that s (named what) lacks.
func wantContains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}
