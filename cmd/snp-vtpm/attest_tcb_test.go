package main

import (
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestPrintAttestedWithoutTCB: an SEV-SNP answer without reported_tcb
// (which the server leaves out for TDX only; a server of another build
// could leave it out anywhere) is printed as "none given", not a panic;
// with one, its TCB is printed.
func TestPrintAttestedWithoutTCB(t *testing.T) {
	var b strings.Builder
	printAttested(&b, &server.Result{Claims: server.Claims{Platform: "sev-snp", Product: "Milan"}}, true)
	if !strings.Contains(b.String(), "reported tcb none given") {
		t.Errorf("got %q", b.String())
	}
	b.Reset()
	printAttested(&b, &server.Result{Claims: server.Claims{Platform: "sev-snp", Product: "Milan", ReportedTCB: &snp.TCBParts{Bootloader: 3, SNP: 8, Microcode: 115}}}, true)
	if strings.Contains(b.String(), "none given") || !strings.Contains(b.String(), "115") {
		t.Errorf("got %q", b.String())
	}
}
