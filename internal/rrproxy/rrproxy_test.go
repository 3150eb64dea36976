package rrproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
