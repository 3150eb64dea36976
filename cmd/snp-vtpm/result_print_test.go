package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
)

// TestPrintResultPrintable: the strings of a verified result token reach
// the terminal escaped and cut (format.Printable): no escape sequence, no
// carriage return or line feed of the token's making, no 100 KB line.
func TestPrintResultPrintable(t *testing.T) {
	hostile := "\x1b[2J\rVERIFIED: forged\n\u202e" + strings.Repeat("A", 100_000)
	c := &result.Claims{Issuer: hostile, ID: hostile, Nonce: hostile, Submods: map[string]result.Appraisal{result.SubmodName: {
		Status: hostile, PolicyID: hostile,
		CVM: result.CVM{Platform: hostile, Product: hostile, Paravisor: hostile, VMUniqueID: hostile, Resource: hostile},
	}}}
	var b bytes.Buffer
	printResult(&b, c, true)
	checkPrintable(t, b.String())
}

// TestPrintMAAPrintable: likewise for a verified MAA token's strings.
func TestPrintMAAPrintable(t *testing.T) {
	hostile := "\x1b[2J\rVERIFIED: forged\n\u202e" + strings.Repeat("A", 100_000)
	c := &maa.Claims{AzureVM: maa.AzureVM{VMID: hostile, OSType: hostile, OSDistro: hostile},
		IsolationTEE: &maa.IsolationTEE{AttestationType: hostile, ComplianceStatus: hostile}}
	var b bytes.Buffer
	printMAA(&b, &maaResult{Issuer: hostile, Kid: hostile, Claims: c}, &maaFlags{jwks: "keys.json"})
	checkPrintable(t, b.String())
}

func checkPrintable(t *testing.T, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\r\u202e") || strings.Contains(out, "\nVERIFIED: forged") {
		t.Errorf("control characters reached the output:\n%.300q", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 1024 {
			t.Fatalf("a %d-byte line", len(line))
		}
	}
}
