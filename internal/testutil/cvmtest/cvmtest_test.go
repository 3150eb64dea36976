//go:build cgo

package cvmtest

import (
	"context"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// TestStart: the CVM that Start returns answers TPM commands.
func TestStart(t *testing.T) {
	c := Start(t, nil)
	blob, err := vtpm.ReadHCLReport(context.Background(), c.TPM())
	if err != nil || len(blob) == 0 {
		t.Fatalf("ReadHCLReport on the started CVM: %d bytes, %v", len(blob), err)
	}
}
