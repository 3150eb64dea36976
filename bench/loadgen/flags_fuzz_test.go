package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseLevels: -c never panics; what it accepts is positive levels,
// one per comma-separated entry, that read back from their joined form.
func FuzzParseLevels(f *testing.F) {
	for _, s := range []string{"1,8,64", " 2 ", "0", "-1", "1,,2", "", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		levels, err := parseLevels(s)
		if err != nil {
			if levels != nil || !strings.HasPrefix(err.Error(), "-c: ") {
				t.Fatalf("%v with error %v", levels, err)
			}
			return
		}
		if len(levels) != strings.Count(s, ",")+1 {
			t.Fatalf("%q: %d levels", s, len(levels))
		}
		parts := make([]string, len(levels))
		for i, c := range levels {
			if c < 1 {
				t.Fatalf("%q: level %d", s, c)
			}
			parts[i] = strconv.Itoa(c)
		}
		if again, err := parseLevels(strings.Join(parts, ",")); err != nil || !slices.Equal(again, levels) {
			t.Fatalf("%v written back: %v, %v", levels, again, err)
		}
	})
}

// FuzzParseServers: -servers never panics; what it accepts is at least
// two servers under distinct, non-empty-binary labels, "self" standing for
// the built binary.
func FuzzParseServers(f *testing.F) {
	for _, s := range []string{"old=/tmp/x/snp-vtpm, /usr/bin/snp, null,new=self", "a=self", "x,x", "a=,b=c", "=,=x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := parseServers(s, "/built")
		if err != nil {
			if cs != nil || !strings.HasPrefix(err.Error(), "-servers: ") {
				t.Fatalf("%v with error %v", cs, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if c.bin == "" || c.bin == "self" || seen[c.name] {
				t.Fatalf("%q: server %+v", s, c)
			}
			seen[c.name] = true
		}
		if len(cs) < 2 || len(cs) != strings.Count(s, ",")+1 {
			t.Fatalf("%q: %d servers", s, len(cs))
		}
	})
}
