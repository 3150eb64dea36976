package evidence_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
)

// Decode evidence in any known format, look inside it, and write it in the
// v1/v2 wire format with Encode (v0 is written as version 1).
func ExampleDecode() {
	b, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v0.json")
	if err != nil {
		panic(err)
	}
	e, err := evidence.Decode(b)
	if err != nil {
		panic(err)
	}
	fmt.Println("version:", e.Version)
	fmt.Println("quote:", len(e.Quote.Message), "byte message,", len(e.Quote.PCRs), "PCRs")
	fmt.Println("HCL report:", len(e.HCLReport), "bytes; VCEK carried:", e.VCEK != nil)

	r, err := hcl.Parse(e.HCLReport)
	if err != nil {
		panic(err)
	}
	fmt.Println("report type:", r.Type)

	out, err := e.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d -> %d bytes: %.60s...\n", len(b), len(out), out)
	// Output:
	// version: 0
	// quote: 122 byte message, 24 PCRs
	// HCL report: 2600 bytes; VCEK carried: true
	// report type: SNP
	// 36048 -> 7726 bytes: {"version":1,"tpm_quote":{"signature":"16be5bac2f0693a0cb73b...
}

// Errors name the failing field and wrap a sentinel error.
func ExampleFormatError() {
	_, err := evidence.Decode([]byte(`{"version":3}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, format.ErrUnsupportedVersion))

	_, err = evidence.Decode([]byte(`{"quote":{"signature":[1],"message":[300]}}`))
	var fe *evidence.FormatError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, "->", fe.Err)
	}
	// Output:
	// evidence: version: unsupported version (3)
	// true
	// quote.message -> not a byte: element 0 out of range 0..255
}

// Read a bincode quote.bin written by the Rust tooling.
func ExampleDecodeBincodeQuote() {
	b, err := os.ReadFile("../testdata/azure-cvm-tooling/az-cvm-vtpm-0.5.0/quote.bin")
	if err != nil {
		panic(err)
	}
	q, err := evidence.DecodeBincodeQuote(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(q.Signature), len(q.Message), len(q.PCRs))
	// Output:
	// 256 122 24
}
