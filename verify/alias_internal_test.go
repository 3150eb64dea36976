package verify

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// scribbler overwrites every byte reachable from a value: byte slices and
// byte arrays, through pointers, interfaces, maps, slices and struct fields
// (exported or not). It does not descend into shared, process-wide state
// that a cache entry merely points to: the trusted roots (snp.Roots,
// snp.Chain) and the crypto packages' key and curve objects, whose bytes
// are never copied into claims.
type scribbler struct {
	seen  map[unsafe.Pointer]bool
	bytes int
}

func skipType(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[snp.Roots]() || t == reflect.TypeFor[snp.Chain]() {
		return true
	}
	p := t.PkgPath()
	return p == "math/big" || (strings.HasPrefix(p, "crypto/") && p != "crypto/x509" && p != "crypto/x509/pkix")
}

func (s *scribbler) walk(v reflect.Value) {
	if !v.IsValid() || skipType(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		p := v.UnsafePointer()
		if s.seen[p] {
			return
		}
		s.seen[p] = true
		s.walk(reflect.NewAt(v.Type().Elem(), p).Elem())
	case reflect.Interface:
		s.walk(v.Elem())
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		arr := reflect.NewAt(reflect.ArrayOf(v.Len(), v.Type().Elem()), v.UnsafePointer()).Elem()
		s.walk(arr)
	case reflect.Array:
		if !v.CanAddr() {
			return // a copy: nothing aliases it
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := unsafe.Slice((*byte)(unsafe.Pointer(v.UnsafeAddr())), v.Len())
			for i := range b {
				b[i] ^= 0xA5
			}
			s.bytes += len(b)
			return
		}
		for i := range v.Len() {
			s.walk(v.Index(i))
		}
	case reflect.Struct:
		if !v.CanAddr() {
			// A struct held by value in a map or interface: a copy that
			// still shares its slices and pointers.
			c := reflect.New(v.Type()).Elem()
			c.Set(v)
			v = c
		}
		for i := range v.NumField() {
			f := v.Field(i)
			s.walk(reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem())
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			s.walk(it.Key())
			s.walk(it.Value())
		}
	}
}

func scribble(t *testing.T, vs ...any) int {
	t.Helper()
	s := &scribbler{seen: map[unsafe.Pointer]bool{}}
	for _, v := range vs {
		s.walk(reflect.ValueOf(v))
	}
	return s.bytes
}

func aliasFixture(t *testing.T, name string) []byte {
	t.Helper()
	return testutil.ReadFile(t, testutil.SNPDir+name)
}

// TestClaimsOwnTheirBytes verifies real evidence and reports (twice each, so
// that the second result comes from the options' caches), then overwrites
// every byte of the inputs and of the caches, and checks that no claim
// changed: nothing in Claims aliases the caller's buffers or a cache entry.
func TestClaimsOwnTheirBytes(t *testing.T) {
	ctx := context.Background()
	opts := mustNew(t, Config{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
	type run struct {
		name   string
		claims *Claims
		before string
	}
	var runs []run
	var inputs []any
	keep := func(name string, c *Claims, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		js, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{name, c, string(js)})
	}

	for _, f := range []string{"evidence-v1.json", "evidence-v2.json", "evidence-genoa.json"} {
		for range 2 {
			data := aliasFixture(t, f)
			ev, err := evidence.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			a, err := quote.Parse(ev.Quote.Message)
			if err != nil {
				t.Fatal(err)
			}
			nonce := []byte("challenge")
			if f != "evidence-v1.json" {
				nonce = append([]byte(nil), a.ExtraData...)
			}
			c, err := opts.Evidence(ctx, data, nonce)
			keep(f+" Evidence", c, err)
			c, err = opts.Decoded(ctx, ev, nonce)
			keep(f+" Decoded", c, err)
			inputs = append(inputs, data, ev, nonce)
		}
	}
	vcekPEM := aliasFixture(t, "vcek.pem")
	for range 2 {
		blob := aliasFixture(t, "hcl-report.bin")
		vcek := pemDER(t, vcekPEM)
		c, err := opts.Report(ctx, blob, vcek)
		keep("hcl Report", c, err)
		bare := append([]byte(nil), blob[32:32+snp.ReportSize]...)
		c, err = opts.Report(ctx, bare, vcek)
		keep("bare Report", c, err)
		inputs = append(inputs, blob, vcek, bare)
	}

	n := scribble(t, inputs...)
	m := scribble(t, opts.cache)
	if n == 0 || m == 0 {
		t.Fatalf("overwrote %d input and %d cache bytes", n, m)
	}
	t.Logf("overwrote %d input bytes and %d cache bytes", n, m)
	for _, r := range runs {
		js, err := json.Marshal(r.claims)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) != r.before {
			t.Errorf("%s: claims changed when the input and caches were overwritten:\nbefore %s\nafter  %s", r.name, r.before, js)
		}
	}
}

func pemDER(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM certificate")
	}
	return blk.Bytes
}
