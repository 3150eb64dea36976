package eventlog_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/tpm2"
	"google.golang.org/protobuf/proto"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// gceAttestation is a real go-tpm-tools attestation (GCE, COS 85): AK,
// quotes of three banks with nonce 0x9009, and the boot event log.
const gceAttestation = "eventlogs/gce-cos-85-attestation-nonce9009.pb"

// gceNonce is the nonce of gceAttestation's quotes.
var gceNonce = []byte{0x90, 0x09}

// sha256Quote returns a's (last) quote of the SHA-256 bank, nil when it
// has none.
func sha256Quote(a *attest.Attestation) *tpmpb.Quote {
	var q *tpmpb.Quote
	for _, c := range a.GetQuotes() {
		if c.GetPcrs().GetHash() == tpmpb.HashAlgo_SHA256 {
			q = c
		}
	}
	return q
}

// readAttestation reads the go-tpm-tools attestation rel (under testdata)
// and the PCR values that its SHA-256 quote carries (nil: none).
func readAttestation(t *testing.T, rel string) (*attest.Attestation, map[uint32][]byte) {
	t.Helper()
	a := new(attest.Attestation)
	if err := proto.Unmarshal(testutil.ReadFile(t, rel), a); err != nil {
		t.Fatal(err)
	}
	return a, sha256Quote(a).GetPcrs().GetPcrs()
}

// quotedSHA256 returns the SHA-256 PCR values that the attestation's
// SHA-256 quote binds, after checking the quote's signature by the AK, its
// nonce and its PCR digest with the quote package.
func quotedSHA256(t *testing.T, a *attest.Attestation, pcrs map[uint32][]byte, nonce []byte) (map[int][]byte, error) {
	t.Helper()
	q := sha256Quote(a)
	if q == nil {
		t.Fatal("no SHA-256 quote")
	}
	checkQuoteSignature(t, a.GetAkPub(), q.GetQuote(), q.GetRawSig())
	at, err := quote.Parse(q.GetQuote())
	if err != nil {
		t.Fatal(err)
	}
	if err := at.CheckNonce(nonce); err != nil {
		t.Fatal(err)
	}
	values := make([][]byte, quote.MaxPCRIndex+1)
	for i, v := range pcrs {
		values[i] = v
	}
	return at.QuotedPCRs(values)
}

// tpmPublicKey is the public key of the TPMT_PUBLIC akPub.
func tpmPublicKey(t *testing.T, akPub []byte) crypto.PublicKey {
	t.Helper()
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](akPub)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// checkQuoteSignature verifies the TPMT_SIGNATURE sig of msg by the AK
// (TPMT_PUBLIC), RSA or ECC, over SHA-256.
func checkQuoteSignature(t *testing.T, akPub, msg, sig []byte) {
	t.Helper()
	s, err := tpm2.Unmarshal[tpm2.TPMTSignature](sig)
	if err != nil {
		t.Fatal(err)
	}
	switch key := tpmPublicKey(t, akPub).(type) {
	case *rsa.PublicKey:
		rs, err := s.Signature.RSASSA()
		if err != nil {
			t.Fatal(err)
		}
		if err := quote.VerifySignature(key, msg, rs.Sig.Buffer); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PublicKey:
		es, err := s.Signature.ECDSA()
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(msg)
		r, sv := new(big.Int).SetBytes(es.SignatureR.Buffer), new(big.Int).SetBytes(es.SignatureS.Buffer)
		if !ecdsa.Verify(key, digest[:], r, sv) {
			t.Fatal("ECDSA quote signature does not verify")
		}
	default:
		t.Fatalf("AK type %T", key)
	}
}

// TestReplayGoTPMToolsAttestation: the real attestation's event log
// replays against the PCRs its signed SHA-256 quote binds, end to end; a
// changed quoted PCR value breaks the quote's digest, and a log replayed
// against a changed value is a mismatch there.
func TestReplayGoTPMToolsAttestation(t *testing.T) {
	a, pcrs := readAttestation(t, gceAttestation)
	quoted, err := quotedSHA256(t, a, pcrs, gceNonce)
	if err != nil {
		t.Fatal(err)
	}
	if len(quoted) != 24 {
		t.Fatalf("%d PCRs quoted, want 24", len(quoted))
	}
	res, err := eventlog.Replay(a.GetEventLog(), quoted)
	if err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, p := range res.PCRs {
		switch p.Status {
		case eventlog.Replayed:
			replayed++
		case eventlog.Mismatch:
			t.Errorf("PCR %d: mismatch", p.Index)
		}
	}
	if replayed < 8 || res.Status(0) != eventlog.Replayed || res.Status(4) != eventlog.Replayed {
		t.Errorf("%d PCRs replayed; PCR0 %v, PCR4 %v", replayed, res.Status(0), res.Status(4))
	}

	// A changed PCR value no longer matches the signed digest...
	changed := make(map[uint32][]byte, len(pcrs))
	for i, v := range pcrs {
		changed[i] = v
	}
	changed[4] = make([]byte, 32)
	if _, err := quotedSHA256(t, a, changed, gceNonce); err == nil {
		t.Error("a changed PCR 4 passed the quote's PCR digest")
	}
	// ...and the log does not replay to it.
	quoted[4] = make([]byte, 32)
	res, err = eventlog.Replay(a.GetEventLog(), quoted)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status(4) != eventlog.Mismatch || res.Status(0) != eventlog.Replayed {
		t.Errorf("changed PCR 4: %v, PCR 0: %v", res.Status(4), res.Status(0))
	}
}
