package verify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestParsePolicySuggestsMember: an unknown member within two edits of a
// member of its object (a singular, a hyphen, a typo), at the top level or
// nested (min_tcb), is still refused, and the error names the member
// meant; a name far from every member of its object (a top-level name
// inside min_tcb too) gets no suggestion. "measurement" was refused as
// "unknown object member" without saying that "measurements" exists, and
// nested objects got no suggestion at all (newcomer30b).
func TestParsePolicySuggestsMember(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
	}{
		{`{"measurement": []}`, `(did you mean "measurements"?)`},
		{`{"min-tcb": {"snp": 8}}`, `(did you mean "min_tcb"?)`},
		{`{"min-launch-tcb": {"snp": 8}}`, `(did you mean "min_launch_tcb"?)`},
		{`{"min_lanch_tcb": {"snp": 8}}`, `(did you mean "min_launch_tcb"?)`},
		{`{"min_launch_tcb": {"microcod": 115}}`, `(did you mean "microcode"?)`},
		{`{"product": ["Milan"]}`, `(did you mean "products"?)`},
		{`{"id_key_digest": []}`, `(did you mean "id_key_digests"?)`},
		{`{"alow_debug": true}`, `(did you mean "allow_debug"?)`},
		{`{"frobnicate": 1}`, ""},
		{`{"min_tcb": {"snpp": 8}}`, `(did you mean "snp"?)`},
		{`{"min_tcb": {"microcod": 115}}`, `(did you mean "microcode"?)`},
		{`{"min_tcb": {"boot-loader": 3}}`, `(did you mean "bootloader"?)`},
		{`{"min_tcb": {"Microcode": 115}}`, `(did you mean "microcode"?)`},
		{`{"min_tcb": {"fmcc": 1}}`, `(did you mean "fmc"?)`},
		{`{"min_tcb": {"frobnicate": 1}}`, ""},
		{`{"min_tcb": {"measurement": 1}}`, ""},
	} {
		_, err := verify.ParsePolicy([]byte(tc.doc))
		if !errors.Is(err, strictjson.ErrUnknownMember) {
			t.Errorf("%s: err = %v, want an unknown member", tc.doc, err)
			continue
		}
		if got := strings.Contains(err.Error(), "did you mean"); got != (tc.want != "") || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %q, want suggestion %q", tc.doc, err, tc.want)
		}
	}
}
