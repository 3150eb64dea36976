package hardening_test

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

func parseQuote(t testing.TB, ev *evidence.Evidence) *quote.Attest {
	t.Helper()
	a, err := quote.Parse(ev.Quote.Message)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
