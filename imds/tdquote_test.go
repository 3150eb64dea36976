package imds

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// tdQuoteServer answers POSTs carrying "Metadata: true" and a JSON
// {"report": base64url} of a 1024-byte TDREPORT with status and body;
// anything else is 400.
func tdQuoteServer(t *testing.T, status int, body []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Report string `json:"report"`
		}
		err := json.NewDecoder(r.Body).Decode(&req)
		rep, derr := base64.RawURLEncoding.DecodeString(req.Report)
		if r.Method != http.MethodPost || r.Header.Get("Metadata") != "true" || err != nil || derr != nil || len(rep) != 1024 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTDQuote: the quote of a 200 answer, padded or not; a non-200
// status is an *HTTPError; a body that is not exactly {"quote": ...} is a
// *FormatError.
func TestTDQuote(t *testing.T) {
	quote := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 1000)
	quote = append(quote, 7) // length 3001: padded base64 ends in "=="
	padded, raw := base64.URLEncoding.EncodeToString(quote), base64.RawURLEncoding.EncodeToString(quote)
	if !strings.HasSuffix(padded, "==") || !strings.ContainsAny(raw, "-_") {
		t.Fatal("the quote does not exercise padding and the URL alphabet")
	}
	report := make([]byte, 1024)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     bool
		check  func(error) bool
	}{
		{"unpadded", 200, `{"quote":"` + raw + `"}`, true, nil},
		{"padded", 200, `{"quote":"` + padded + `"}`, true, nil},
		{"not found", 404, `{}`, false, func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"server error", 500, `oops`, false, func(err error) bool { h, ok := errors.AsType[*HTTPError](err); return ok && h.StatusCode == 500 }},
		{"duplicate key", 200, `{"quote":"` + raw + `","quote":"` + raw + `"}`, false, isFormat},
		{"trailing data", 200, `{"quote":"` + raw + `"} {}`, false, isFormat},
		{"unknown key", 200, `{"quote":"` + raw + `","x":1}`, false, isFormat},
		{"standard base64", 200, `{"quote":"` + base64.StdEncoding.EncodeToString(quote) + `"}`, false, isFormat},
		{"too much padding", 200, `{"quote":"` + padded + `=="}`, false, isFormat},
		{"escaped line breaks", 200, `{"quote":"` + raw[:76] + `\r\n` + raw[76:] + `"}`, false, isBadEncoding},
		{"escaped newline, padded", 200, `{"quote":"` + padded[:40] + `\n` + padded[40:] + `"}`, false, isBadEncoding},
		{"empty quote", 200, `{"quote":""}`, false, isFormat},
		{"oversized body", 200, `{"quote":"` + strings.Repeat("A", MaxTDQuoteResponse) + `"}`, false, isFormat},
		{"oversized quote", 200, `{"quote":"` + strings.Repeat("A", 4*(maxTDQuote/3+2)) + `"}`, false, isFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{TDQuoteURL: tdQuoteServer(t, tc.status, []byte(tc.body)).URL}
			got, err := c.TDQuote(context.Background(), report)
			switch {
			case tc.ok && (err != nil || !bytes.Equal(got, quote)):
				t.Fatalf("got %d bytes, %v", len(got), err)
			case !tc.ok && (err == nil || !tc.check(err)):
				t.Fatalf("got %v", err)
			}
		})
	}
}

func isFormat(err error) bool { _, ok := errors.AsType[*FormatError](err); return ok }

func isBadEncoding(err error) bool { return isFormat(err) && errors.Is(err, format.ErrBadEncoding) }

// FuzzParseTDQuoteResponse: never panics; an accepted body decodes to
// 1..64 KiB, and re-encoding the quote unpadded is accepted as the same.
func FuzzParseTDQuoteResponse(f *testing.F) {
	f.Add([]byte(`{"quote":"AAEC"}`))
	f.Add([]byte(`{"quote":"AAE="}`))
	f.Add([]byte(`{"quote":"AA","quote":"AA"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseTDQuoteResponse(b)
		if err != nil {
			if !errors.Is(err, format.ErrBadEncoding) && !errors.Is(err, format.ErrBadLength) && !isFormat(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(q) == 0 || len(q) > maxTDQuote {
			t.Fatalf("accepted a %d-byte quote", len(q))
		}
		again, err := ParseTDQuoteResponse([]byte(`{"quote":"` + base64.RawURLEncoding.EncodeToString(q) + `"}`))
		if err != nil || !bytes.Equal(again, q) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestTDQuoteSlowOrRedirected: IMDS that does not answer within the
// request's own timeout (no header, or a body that stops) is ErrTimeout,
// which is not the caller's context.DeadlineExceeded (a command line would
// blame its --timeout); a redirect is not followed, to anywhere.
func TestTDQuoteSlowOrRedirected(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	wait := func(r *http.Request) {
		// Read: net/http notices the client leaving only after the body.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Store(true)
		_, _ = w.Write([]byte(`{"quote":"AAEC"}`))
	}))
	t.Cleanup(target.Close)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request) { wait(r) }, func(err error) bool {
			return errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded)
		}},
		{"body stops", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"quote":"`))
			w.(http.Flusher).Flush()
			wait(r)
		}, func(err error) bool { return errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) }},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		}, func(err error) bool {
			h, ok := errors.AsType[*HTTPError](err)
			return ok && h.StatusCode == http.StatusTemporaryRedirect
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			hc := (&Client{}).httpClient()
			short := *hc
			short.Timeout = 200 * time.Millisecond
			c := &Client{TDQuoteURL: srv.URL, HTTPClient: &short}
			start := time.Now()
			_, err := c.TDQuote(context.Background(), make([]byte, 1024))
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("TDQuote took %v", took)
			}
			if !tc.check(err) {
				t.Fatalf("TDQuote: %v", err)
			}
			if followed.Load() {
				t.Fatal("the redirect was followed")
			}
		})
	}
}
