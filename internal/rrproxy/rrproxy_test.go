package rrproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/server"
)

func TestRoundRobin(t *testing.T) {
	var urls []string
	for i := range 3 {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, string(rune('a'+i))+" "+r.Header.Get("X-Forwarded-For"))
		}))
		defer b.Close()
		urls = append(urls, b.URL)
	}
	p, err := New(urls)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()
	var got []string
	for range 6 {
		req, _ := http.NewRequest(http.MethodGet, front.URL+"/x", nil)
		req.Header.Set("X-Forwarded-For", "192.0.2.1") // a client's claim: dropped (the proxy is the edge)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got = append(got, res.Header.Get(BackendHeader)+":"+string(body))
	}
	want := "0:a 127.0.0.1|1:b 127.0.0.1|2:c 127.0.0.1|0:a 127.0.0.1|1:b 127.0.0.1|2:c 127.0.0.1"
	if strings.Join(got, "|") != want {
		t.Errorf("got %v\nwant %s", got, want)
	}
	if s := p.Served(); s[0] != 2 || s[1] != 2 || s[2] != 2 {
		t.Errorf("Served = %v", s)
	}
}

func TestNewRejects(t *testing.T) {
	for _, b := range [][]string{nil, {""}, {"ftp://x"}, {"http://"}, {"http://ok:1", "::"}} {
		if _, err := New(b); err == nil {
			t.Errorf("New(%q) accepted", b)
		}
	}
}

// TestServerLimits holds the front server to its limits: every timeout set
// (net/http's zero means none: a client sending its body a byte at a time,
// or idling, kept its connection forever), the write timeout longer than a
// replica's, and a header over MaxHeaderBytes refused with 431 before it
// reaches a backend (net/http's default accepts 1 MiB).
func TestServerLimits(t *testing.T) {
	var hits atomic.Int32
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer b.Close()
	p, err := New([]string{b.URL})
	if err != nil {
		t.Fatal(err)
	}
	hs := Server(p)
	for _, tc := range []struct {
		name     string
		got, min time.Duration
	}{
		{"ReadHeaderTimeout", hs.ReadHeaderTimeout, time.Second},
		{"ReadTimeout", hs.ReadTimeout, time.Second},
		{"WriteTimeout", hs.WriteTimeout, server.DefaultWriteTimeout + time.Second},
		{"IdleTimeout", hs.IdleTimeout, time.Second},
	} {
		if tc.got < tc.min || tc.got > 5*time.Minute {
			t.Errorf("%s = %v, want %v to 5m", tc.name, tc.got, tc.min)
		}
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want 1 to 64 KiB", hs.MaxHeaderBytes)
	}
	front := httptest.NewUnstartedServer(nil)
	front.Config = hs
	front.Start()
	defer front.Close()
	for _, tc := range []struct {
		name   string
		header int
		status int
	}{
		{"small header", 1 << 10, http.StatusOK},
		{"200 KiB header", 200 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		before := hits.Load()
		req, _ := http.NewRequest(http.MethodGet, front.URL+"/healthz", nil)
		req.Header.Set("X-Big", strings.Repeat("a", tc.header))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		res.Body.Close()
		forwarded := hits.Load() - before
		if res.StatusCode != tc.status || (tc.status == http.StatusOK) != (forwarded == 1) {
			t.Errorf("%s: status %d, %d forwarded; want %d", tc.name, res.StatusCode, forwarded, tc.status)
		}
	}
}
