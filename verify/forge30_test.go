package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestForge30TDXEvidenceWithVCEK: TDX evidence names its hardware report's
// signer by its TD quote; a "vcek" member (an SEV-SNP member) beside it is
// evidence of the other platform's shape.
func TestForge30TDXEvidenceWithVCEK(t *testing.T) {
	snpVCEK := decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")).VCEK
	for name, vcek := range map[string][]byte{
		"a real SEV-SNP VCEK": snpVCEK,
		"garbage":             bytes.Repeat([]byte("attacker bytes "), 1000),
	} {
		t.Run(name, func(t *testing.T) {
			// Encode refuses to write it: the member is added to the text.
			real := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
			i := bytes.LastIndexByte(real, '}')
			data := append(append(bytes.Clone(real[:i]), `,"vcek":"`+base64.URLEncoding.EncodeToString(vcek)+`"`...), real[i:]...)
			v := newVerifier(t, tdxOpts())
			nonce := quotedNonce(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json"))
			_, err := v.Evidence(context.Background(), data, nonce)
			t.Logf("err=%v stats=%+v", err, v.Stats().Evidence)
			wantCheck(t, err, verify.CheckEvidenceFormat)
		})
	}
}
