package hardening_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// fixture is real evidence that verifies, with the nonce it verifies with.
type fixture struct {
	name  string
	raw   []byte // the JSON document ("" for the assembled hcl fixture: its Encode)
	ev    *evidence.Evidence
	nonce []byte
}

// readFile reads a fixture of trustee's az-snp-vtpm folder.
func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	return testutil.ReadFile(t, testutil.SNPDir+rel)
}

// quotedNonce returns the quote's extraData (the nonce the attester was given).
func quotedNonce(t testing.TB, ev *evidence.Evidence) []byte {
	return slices.Clone(parseQuote(t, ev).ExtraData)
}

// fixtures returns every real SNP evidence fixture: the four CoCo evidence
// documents and evidence assembled from hcl-report.bin, vcek.pem and
// tpm-quote-v1.json (a fifth chip).
func fixtures(t testing.TB) []*fixture {
	t.Helper()
	var out []*fixture
	for _, f := range []struct{ name, file string }{
		{"v0", "evidence-v0.json"},
		{"v1", "evidence-v1.json"},
		{"v2", "evidence-v2.json"},
		{"genoa", "evidence-genoa.json"},
	} {
		raw := readFile(t, f.file)
		ev, err := evidence.Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		nonce := []byte("challenge")
		if f.name == "v2" || f.name == "genoa" {
			nonce = quotedNonce(t, ev)
		}
		out = append(out, &fixture{name: f.name, raw: raw, ev: ev, nonce: nonce})
	}
	q, err := evidence.DecodeQuoteJSON(readFile(t, "tpm-quote-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev := &evidence.Evidence{
		Version:   1,
		Quote:     *q,
		HCLReport: readFile(t, "hcl-report.bin"),
		VCEK:      testutil.PEMBlocks(t, readFile(t, "vcek.pem"), "CERTIFICATE")[0],
	}
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, &fixture{name: "hcl", raw: raw, ev: ev, nonce: []byte("challenge")})
	return out
}

func fixtureByName(t testing.TB, name string) *fixture {
	t.Helper()
	for _, f := range fixtures(t) {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return nil
}

// verifierOf returns verify.New(cfg); the configurations of these tests
// are valid, so an error is a bug in the test.
func verifierOf(cfg verify.Config) *verify.Verifier {
	v, err := verify.New(cfg)
	if err != nil {
		panic(err)
	}
	return v
}

// uncached returns a Verifier that verifies from scratch on every call.
func uncached() *verify.Verifier {
	return verifierOf(verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Disable: true}})
}

// cached returns a new Verifier with caches of the default sizes.
func cached() *verify.Verifier {
	return verifierOf(verify.Config{Now: testutil.FixtureTime()})
}

// cloneEvidence deep-copies ev so that a mutation never reaches the original.
func cloneEvidence(ev *evidence.Evidence) *evidence.Evidence {
	c := &evidence.Evidence{
		Version:   ev.Version,
		HCLReport: slices.Clone(ev.HCLReport),
		VCEK:      slices.Clone(ev.VCEK),
		TDQuote:   slices.Clone(ev.TDQuote),
		EventLog:  slices.Clone(ev.EventLog),
	}
	c.Quote.Message = slices.Clone(ev.Quote.Message)
	c.Quote.Signature = slices.Clone(ev.Quote.Signature)
	if ev.Quote.PCRs != nil {
		c.Quote.PCRs = make([][]byte, len(ev.Quote.PCRs))
		for i, p := range ev.Quote.PCRs {
			c.Quote.PCRs[i] = slices.Clone(p)
		}
	}
	return c
}

// TestCacheClaimsDoNotAlias checks that the claims returned from a caching
// Verifier are the caller's own: changing them must not change what a later
// verification of the same evidence reports or what its policy checks see.
func TestCacheClaimsDoNotAlias(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			want := runDecoded(t, fx.ev, fx.nonce, uncached())
			if want.claims == nil {
				t.Fatalf("genuine evidence: %v", want)
			}
			opts := cached()
			c1, err := opts.Decoded(context.Background(), fx.ev, fx.nonce)
			if err != nil {
				t.Fatal(err)
			}
			// A careless caller scribbles over every byte it was given.
			for _, b := range [][]byte{c1.ChipID, c1.Measurement, c1.ReportData, c1.HostData, c1.FamilyID,
				c1.ImageID, c1.IDKeyDigest, c1.AuthorKeyDigest, c1.UserData, c1.AKPublic} {
				for i := range b {
					b[i] ^= 0xA5
				}
			}
			if c1.VMConfig != nil {
				c1.VMConfig.VMUniqueID = "00000000-0000-0000-0000-000000000000"
				c1.VMConfig.SecureBoot = !c1.VMConfig.SecureBoot
			}
			got := runDecoded(t, fx.ev, fx.nonce, opts)
			if got.claims == nil {
				t.Fatalf("second verification with the same cache: %v", got)
			}
			if got.json != want.json {
				t.Errorf("claims changed through the cache:\n got %s\nwant %s", got.json, want.json)
			}
		})
	}
}

func isCheck(err error, c verify.Check) bool {
	var ve *verify.Error
	return errors.As(err, &ve) && ve.Check == c
}
