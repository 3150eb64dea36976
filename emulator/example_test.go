//go:build cgo

package emulator_test

import (
	"context"
	"fmt"
	"log"

	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// Start an emulated Azure CVM and use it through package vtpm exactly like
// the real /dev/tpmrm0.
func ExampleStart() {
	ctx := context.Background()
	cvm, err := emulator.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cvm.Close()

	report, err := vtpm.RefreshReport(ctx, cvm.TPM(), []byte("my nonce"))
	if err != nil {
		log.Fatal(err)
	}
	q, err := vtpm.Quote(ctx, cvm.TPM(), []byte("challenge"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(report), len(q.PCRs), len(q.Signature))
	// Output: 2048 24 256
}
