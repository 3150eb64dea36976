package evidence

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestEventLogMember: "event_log" round-trips through Encode and Decode in
// v1/v2 evidence, is absent from evidence without it, and is rejected when
// empty, oversized, not base64url, or in v0 evidence.
func TestEventLogMember(t *testing.T) {
	log := testutil.ReadFile(t, "eventlogs/gce-ubuntu-2404-amd-sevsnp.bin")
	e := decodeFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v2.json")
	if e.EventLog != nil {
		t.Fatal("real evidence without event_log decoded one")
	}
	e.EventLog = log
	b, got := roundTrip(t, e)
	if !bytes.Equal(got.EventLog, log) || !equalEvidence(got, e) {
		t.Fatal("event_log did not round-trip")
	}
	enc := base64.URLEncoding.EncodeToString(log)
	if !bytes.Contains(b, []byte(`"event_log":"`+enc+`"`)) {
		t.Error("event_log is not padded base64url")
	}

	cases := map[string][]byte{
		"empty":      bytes.Replace(b, []byte(enc), nil, 1),
		"not base64": bytes.Replace(b, []byte(enc), []byte("!!!!"), 1),
		"v0":         []byte(strings.Replace(string(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json")), `{`, `{"event_log":"AAAA",`, 1)),
	}
	for name, doc := range cases {
		if _, err := Decode(doc); !errors.Is(err, format.ErrMalformed) {
			t.Errorf("%s: %v, want a format error", name, err)
		}
	}
	e.EventLog = make([]byte, MaxEventLogSize+1)
	if _, err := e.Encode(); err == nil {
		t.Error("oversized event_log encoded")
	}
	e.EventLog = []byte{}
	if _, err := e.Encode(); err == nil {
		t.Error("empty event_log encoded")
	}
}
