package verify_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Tests added by the mutation testing of the checks after the report
// (mutation30).

// TestUserDataFullWidthNonce: without a nonce to check (AllowNoNonce), a
// quote's extraData may fill all 64 bytes of user-data: v2 evidence whose
// user-data is exactly that extraData verifies (not fresh); one byte of it
// changed is CheckUserData.
func TestUserDataFullWidthNonce(t *testing.T) {
	ctx := context.Background()
	extra := bytes.Repeat([]byte{0x5a}, 64)
	for _, tc := range []struct {
		name string
		user []byte
		ok   bool
	}{
		{"equal", extra, true},
		{"last byte differs", append(bytes.Clone(extra[:63]), 0x5b), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := (&testev.Builder{ExtraData: extra, UserData: tc.user}).MustBuild()
			claims, err := verify.Evidence(ctx, ev.JSON, nil, verify.Config{Roots: ev.Roots(), AllowNoNonce: true})
			if !tc.ok {
				wantCheck(t, err, verify.CheckUserData)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims.FreshReport || claims.NonceChecked || !bytes.Equal(claims.Nonce, extra) {
				t.Errorf("fresh %v, nonce checked %v, nonce %x", claims.FreshReport, claims.NonceChecked, []byte(claims.Nonce))
			}
		})
	}
}

// TestCmdlineMatcherForms: kernel_cmdline "/RE/" is a regular expression
// from two characters on ("//" matches only the empty command line), and
// any other string, "/" included, is matched exactly.
func TestCmdlineMatcherForms(t *testing.T) {
	for _, tc := range []struct {
		want, line string
		match      bool
	}{
		{"//", "", true},
		{"//", "//", false},
		{"/", "/", true},
		{"/", "", false},
		{"/ro/", "ro", true},
		{"/ro/", "/ro/", false},
		{"/ro", "/ro", true},
		{"ro/", "ro/", true},
		{"ro", "ro quiet", false},
	} {
		m, err := verify.CmdlineMatcherForTest(tc.want)
		if err != nil {
			t.Fatalf("%q: %v", tc.want, err)
		}
		if got := m(tc.line); got != tc.match {
			t.Errorf("kernel_cmdline %q on %q: match %v, want %v", tc.want, tc.line, got, tc.match)
		}
	}
}

// TestNoEventLogNoClaim: evidence that carries no event log has no
// event_log claim (nil, not an empty replay or an error), whatever
// policy that asks nothing of the log.
func TestNoEventLogNoClaim(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	if ev.Evidence.EventLog != nil {
		t.Fatal("the synthetic evidence carries a log")
	}
	claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	if claims.EventLog != nil {
		t.Errorf("EventLog = %+v, want nil", claims.EventLog)
	}
}

// TestEventLogWithoutPCRValues: a log carried by evidence without PCR
// values is not replayed against nothing: the claim says why (Error), with
// no PCR verdicts and no state, even where the log's own PCRs would have
// replayed.
func TestEventLogWithoutPCRValues(t *testing.T) {
	rhel := testutil.ReadFile(t, "eventlogs/gce-rhel8-uefi.bin")
	ev := (&testev.Builder{PCRs: gcePCRs(t, "gce-rhel8-uefi.bin"), OmitPCRValues: true}).MustBuild()
	claims, err := verify.Evidence(context.Background(), withLog(rhel)(t, ev), ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	el := claims.EventLog
	if el == nil || !strings.Contains(el.Error, "no PCR values") || el.PCRs != nil || el.State.SecureBoot != nil || el.State.KernelCmdline != nil {
		t.Fatalf("EventLog = %+v, want the error of no PCR values and nothing replayed", el)
	}
}
