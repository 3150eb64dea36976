package verify

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// PolicyError is a policy member that ParsePolicy and New refuse. The
// JSON errors of ParsePolicy (syntax, duplicate, unknown or mistyped
// members) are *strictjson.Error values instead, which name the member
// the same way.
type PolicyError struct {
	// Pointer is the member's JSON pointer (RFC 6901) in the policy
	// document, such as "/measurements/1", "/pcrs/7" or "/min_tcb/fmc";
	// "" for the document as a whole.
	Pointer string
	// Err says what is wrong and what is expected; it matches
	// ErrPolicyNull, ErrPolicyEmptyList or ErrPolicyPlatformMember where
	// one of those is the reason.
	Err error
}

// Error returns "policy: FIELD: WHY", FIELD being the member as a dotted
// path ("measurements[1]", `pcrs["7"]`, "min_tcb.fmc").
func (e *PolicyError) Error() string {
	if e.Pointer == "" {
		return "policy: " + e.Err.Error()
	}
	return "policy: " + policyField(e.Pointer) + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *PolicyError) Unwrap() error { return e.Err }

// Reasons of a *PolicyError (errors.Is) for the members that would
// otherwise have been read as less than their writer meant.
var (
	// ErrPolicyNull: a member's value (or a value inside it) is null,
	// which would read as the member left out: no requirement.
	ErrPolicyNull = errors.New("null is not a value of a policy member: leave the member out to leave it unset")
	// ErrPolicyEmptyList: an allow-list member is an empty list, which
	// would read as no requirement (anything allowed, or the defaults),
	// not as nothing allowed.
	ErrPolicyEmptyList = errors.New("an empty list would allow anything (or the defaults), not nothing: list the allowed values, or leave the member out for no requirement")
	// ErrPolicyPlatformMember: a member judges only one platform's
	// evidence, and the policy's platforms member does not list that
	// platform, so the member would judge nothing while the policy
	// accepts the other platform's evidence without it.
	ErrPolicyPlatformMember = errors.New("the member judges only evidence of a platform that the policy's platforms member does not list")
)

// policyErr returns a *PolicyError at pointer ptr.
func policyErr(ptr string, format string, args ...any) error {
	return &PolicyError{Pointer: ptr, Err: fmt.Errorf(format, args...)}
}

// policyField turns a policy member's JSON pointer into the dotted path
// the messages use: "/measurements/1" is "measurements[1]", and a PCR
// index is quoted as the JSON key it is: "/pcrs/7" is `pcrs["7"]`.
func policyField(ptr string) string {
	if k, ok := strings.CutPrefix(ptr, "/pcrs/"); ok && !strings.Contains(k, "/") {
		return fmt.Sprintf("pcrs[%q]", k)
	}
	return strictjson.PointerField(ptr)
}

// checkNoNull refuses a null anywhere in the policy document data (which
// the strict decoder already read): a null member or element decodes to
// its zero value, the same as a member left out, so a generated policy
// that serialised nothing (a nil list, a missing minimum) would require
// nothing there. The error names the first null's pointer. It also
// refuses a pcrs key that is not a PCR index in its one decimal form
// ("-0", "+7", "07" would decode as the index they spell).
func checkNoNull(data []byte) error {
	var found error
	err := strictjson.Decode(data, strictjson.Options{}, func(dec *jsontext.Decoder) error {
		for depth := 0; ; {
			tok, err := dec.ReadToken()
			if err != nil {
				return err
			}
			switch tok.Kind() {
			case 'n':
				found = &PolicyError{Pointer: string(dec.StackPointer()), Err: ErrPolicyNull}
				return found
			case '"':
				if found = checkPCRKey(dec, depth, tok.String()); found != nil {
					return found
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			if depth == 0 {
				return nil
			}
		}
	})
	if found != nil {
		return found
	}
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return nil
}

// checkPCRKey refuses s, a string just read at depth, when it is a member
// name of the top-level pcrs object that is not a decimal PCR index
// without sign or leading zero.
func checkPCRKey(dec *jsontext.Decoder, depth int, s string) error {
	ptr := string(dec.StackPointer())
	if depth != 2 || !strings.HasPrefix(ptr, "/pcrs/") {
		return nil
	}
	if _, n := dec.StackIndex(dec.StackDepth()); n%2 == 0 {
		return nil // a value, not a member name
	}
	if n, err := strconv.Atoi(s); err != nil || strconv.Itoa(n) != s {
		return policyErr(ptr, "%q is not a PCR index written as a decimal number (0..23, no sign or leading zero)", format.Truncate(s, 16))
	}
	return nil
}

// checkNoEmptyLists refuses an allow-list member given as an empty list:
// each of them, left out or empty, means no requirement (any value, or
// the defaults: DefaultParavisors, DefaultTDXTCBStatuses, the platforms
// of the members set), the opposite of what an empty allow-list reads
// as. A member left out (nil) is fine.
func (p *Policy) checkNoEmptyLists() error {
	for _, l := range []struct {
		name  string
		empty bool
	}{
		{"platforms", p.Platforms != nil && len(p.Platforms) == 0},
		{"measurements", p.Measurements != nil && len(p.Measurements) == 0},
		{"products", p.Products != nil && len(p.Products) == 0},
		{"id_key_digests", p.IDKeyDigests != nil && len(p.IDKeyDigests) == 0},
		{"author_key_digests", p.AuthorKeyDigests != nil && len(p.AuthorKeyDigests) == 0},
		{"tdx_mr_tds", p.TDXMRTDs != nil && len(p.TDXMRTDs) == 0},
		{"tdx_tcb_statuses", p.TDXTCBStatuses != nil && len(p.TDXTCBStatuses) == 0},
	} {
		if l.empty {
			return &PolicyError{Pointer: "/" + l.name, Err: ErrPolicyEmptyList}
		}
	}
	return nil
}

// platformMembers returns the members p sets that judge SEV-SNP evidence
// only and those that judge TDX evidence only: the members from which
// acceptedPlatforms infers the platforms of a policy that names none.
func (p *Policy) platformMembers() (snpOnly, tdxOnly []string) {
	for _, m := range []struct {
		name string
		set  bool
	}{
		{"min_tcb", p.MinTCB != nil},
		{"min_launch_tcb", p.MinLaunchTCB != nil},
		{"measurements", len(p.Measurements) > 0},
		{"products", len(p.Products) > 0},
		{"id_key_digests", len(p.IDKeyDigests) > 0},
		{"author_key_digests", len(p.AuthorKeyDigests) > 0},
		{"deny_smt", p.DenySMT},
	} {
		if m.set {
			snpOnly = append(snpOnly, m.name)
		}
	}
	if len(p.TDXMRTDs) > 0 {
		tdxOnly = append(tdxOnly, "tdx_mr_tds")
	}
	if len(p.TDXTCBStatuses) > 0 {
		tdxOnly = append(tdxOnly, "tdx_tcb_statuses")
	}
	return snpOnly, tdxOnly
}

// checkPlatformMembers refuses, when the policy names its platforms, a
// member of a platform it does not name: {"platforms":["tdx"],
// "measurements":[...]} would accept TDX evidence, which has no launch
// measurement to compare, as if the measurements were not there.
func (p *Policy) checkPlatformMembers() error {
	if len(p.Platforms) == 0 {
		return nil
	}
	snpOnly, tdxOnly := p.platformMembers()
	for _, g := range []struct {
		platform string
		members  []string
	}{{PlatformSNP, snpOnly}, {PlatformTDX, tdxOnly}} {
		if len(g.members) > 0 && !slices.Contains(p.Platforms, g.platform) {
			return &PolicyError{Pointer: "/" + g.members[0], Err: fmt.Errorf("%w: it is a %s member, and platforms lists only %s; add %q to platforms or remove the member",
				ErrPolicyPlatformMember, g.platform, strings.Join(p.Platforms, " and "), g.platform)}
		}
	}
	return nil
}
