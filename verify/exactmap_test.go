package verify

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
)

func TestExactMapExactKeys(t *testing.T) {
	m := &exactMap[int]{seed: maphash.MakeSeed(), maxEntries: 100, maxBytes: 1 << 20}
	key := []byte("the bytes a result was computed from")
	m.put(key, 1, 0)
	key[0] = 'X' // the map keeps its own copy
	if _, ok := m.get(key, nil); ok {
		t.Fatal("hit for changed bytes")
	}
	if v, ok := m.get([]byte("the bytes a result was computed from"), nil); !ok || v != 1 {
		t.Fatalf("get = %d, %v", v, ok)
	}
	// A key that lands on a used slot must never return the slot's value:
	// force a collision by writing an entry under another key's hash.
	other := []byte("other bytes")
	h := mapHash(m, other)
	m.mu.Lock()
	m.m[h] = exactEntry[int]{key: []byte("not other bytes"), val: 7}
	m.mu.Unlock()
	if _, ok := m.get(other, nil); ok {
		t.Fatal("hit for a key whose slot holds other bytes")
	}
}

func TestExactMapBounds(t *testing.T) {
	m := &exactMap[int]{seed: maphash.MakeSeed(), maxEntries: 10, maxBytes: 1000}
	for i := range 100 {
		m.put(fmt.Appendf(nil, "key %03d", i), i, 50)
		if len(m.m) > 10 || m.bytes > 1000 {
			t.Fatalf("after %d puts: %d entries, %d bytes", i+1, len(m.m), m.bytes)
		}
	}
	m = &exactMap[int]{seed: maphash.MakeSeed(), maxEntries: 1000, maxBytes: 1000}
	for i := range 100 {
		m.put(fmt.Appendf(nil, "key %03d", i), i, 300)
		if m.bytes > 1000 || len(m.m) > 3 {
			t.Fatalf("after %d puts: %d entries, %d bytes", i+1, len(m.m), m.bytes)
		}
	}
	m.put(bytes.Repeat([]byte{1}, 2000), 1, 0) // larger than the whole budget
	if _, ok := m.get(bytes.Repeat([]byte{1}, 2000), nil); ok {
		t.Fatal("an entry larger than maxBytes was stored")
	}
	// Replacing a key keeps the byte count right.
	m = &exactMap[int]{seed: maphash.MakeSeed(), maxEntries: 10, maxBytes: 1000}
	for range 50 {
		m.put([]byte("same"), 1, 100)
	}
	if m.bytes != 100 || len(m.m) != 1 {
		t.Fatalf("%d entries, %d bytes after replacing one key", len(m.m), m.bytes)
	}
}

func TestExactMapConcurrent(t *testing.T) {
	m := &exactMap[int]{seed: maphash.MakeSeed(), maxEntries: 16, maxBytes: 1 << 20}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Appendf(nil, "k%d", (i*7+g)%40)
				if v, ok := m.get(k, nil); ok && fmt.Sprintf("k%d", v) != string(k) {
					t.Errorf("get(%s) = %d", k, v)
					return
				}
				m.put(k, (i*7+g)%40, 0)
			}
		})
	}
	wg.Wait()
}

func mapHash(m *exactMap[int], key []byte) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[uint64]exactEntry[int]{}
	}
	return maphash.Bytes(m.seed, key)
}
