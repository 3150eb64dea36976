package verify

import (
	"errors"
	"reflect"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// policyMembers are the top-level member names of a policy document, from
// Policy's JSON tags.
var policyMembers = func() []string {
	t := reflect.TypeFor[Policy]()
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

// suggestMember returns the policy member a rejected top-level name was
// probably meant to be ("measurement" for "measurements", "min-tcb" for
// "min_tcb"), or "" when err is not an unknown top-level member or no
// member is close: at most two single-letter edits apart, '-' read as '_'.
func suggestMember(err error) string {
	serr, ok := errors.AsType[*strictjson.Error](err)
	if !ok || !errors.Is(serr.Kind, strictjson.ErrUnknownMember) {
		return ""
	}
	name, ok := strings.CutPrefix(serr.Pointer, "/")
	if !ok || name == "" || strings.Contains(name, "/") || len(name) > 64 {
		return ""
	}
	name = strings.ReplaceAll(name, "-", "_")
	best, bestDist := "", 3
	for _, m := range policyMembers {
		if d := editDistance(name, m); d < bestDist {
			best, bestDist = m, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
