//go:build !cgo

package main

import (
	"strings"
	"testing"
)

func TestEmulateNeedsCgo(t *testing.T) {
	code, out, errOut := runCLI(t, "--emulate", "-p")
	wantExit(t, code, exitUsage, out, errOut)
	if !strings.Contains(errOut, "built without cgo") || !strings.Contains(errOut, "CGO_ENABLED=1") ||
		!strings.Contains(errOut, "apt-get install gcc libssl-dev") {
		t.Fatalf("stderr does not explain how to get --emulate:\n%s", errOut)
	}
}
