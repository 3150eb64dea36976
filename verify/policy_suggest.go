package verify

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// suggestMember returns the member a rejected name of a policy document
// was probably meant to be ("measurements" for "measurement", "min_tcb"
// for "min-tcb", "microcode" for min_tcb's "microcod"), or "" when err is
// not an unknown member or no member of the object holding it is close: at
// most two single-letter edits apart, '-' read as '_'. The object is found
// by following the error's JSON pointer through Policy's JSON tags, so
// nested objects (min_tcb) get suggestions too.
func suggestMember(err error) string {
	serr, ok := errors.AsType[*strictjson.Error](err)
	if !ok || !errors.Is(serr.Kind, strictjson.ErrUnknownMember) {
		return ""
	}
	path, ok := strings.CutPrefix(serr.Pointer, "/")
	if !ok || len(path) > 256 {
		return ""
	}
	segs := strings.Split(path, "/")
	name := unescapePointer(segs[len(segs)-1])
	if name == "" || len(name) > 64 {
		return ""
	}
	name = strings.ReplaceAll(name, "-", "_")
	best, bestDist := "", 3
	for _, m := range membersAt(reflect.TypeFor[Policy](), segs[:len(segs)-1]) {
		if d := editDistance(name, m); d < bestDist {
			best, bestDist = m, d
		}
	}
	return best
}

// membersAt returns the JSON member names of the object that the JSON
// pointer segments path lead to from a value of type t, or nil when they
// lead to no struct decoded by its fields (a type with its own
// UnmarshalJSON names its members itself).
func membersAt(t reflect.Type, path []string) []string {
	for _, seg := range path {
		t = derefType(t)
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldOfMember(t, unescapePointer(seg))
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	t = derefType(t)
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if name := memberName(f); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// fieldOfMember returns the field of struct type t whose JSON member name
// is name.
func fieldOfMember(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if memberName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// memberName is the JSON member name of an exported field with a json
// tag naming it, else "".
func memberName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// derefType is t without its pointer levels.
func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// unescapePointer decodes a JSON pointer segment (RFC 6901: ~1 is '/',
// ~0 is '~').
func unescapePointer(seg string) string {
	return strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
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
