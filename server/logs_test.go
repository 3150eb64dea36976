package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// maxLogLine bounds every log line the tests below provoke: a few hundred
// bytes of fields, and at most maxErrorMessage of a rejection's reason.
const maxLogLine = maxErrorMessage + 1024

// checkLogLines fails t unless logs holds want lines of msg, each bounded
// and free of what a client could use to forge or hide log text: raw
// control characters (but the newline ending each line), Unicode format
// characters (bidi overrides) and invalid UTF-8.
func checkLogLines(t *testing.T, logs []byte, msg string, want int) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(logs, []byte("\n")), []byte("\n"))
	n := 0
	for _, l := range lines {
		if len(l) > maxLogLine {
			t.Errorf("log line of %d bytes, more than %d: %.200q...", len(l), maxLogLine, l)
		}
		if !utf8.Valid(l) {
			t.Errorf("log line with invalid UTF-8: %.200q", l)
		}
		if i := bytes.IndexFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\u202e' || r == '\u2066' }); i >= 0 {
			t.Errorf("log line with a raw control or format character at %d: %.200q", i, l)
		}
		if bytes.Contains(l, []byte(`msg=`+msg)) || bytes.Contains(l, []byte(`msg="`+msg+`"`)) || bytes.Contains(l, []byte(`"msg":"`+msg+`"`)) {
			n++
		}
	}
	if n != want || len(lines) != want {
		t.Errorf("%d lines, %d of them %q, want %d of %q only:\n%.2000s", len(lines), n, msg, want, msg, logs)
	}
}

// TestAccessLogHostileRequestLine: the access log quotes the method and
// path a client chose, bounded and escaped whatever the handler (text or
// JSON): a newline cannot start a forged line, a bidi override or an
// escape sequence cannot reach a terminal raw, and a request line as long
// as the header limit allows (raw bytes of invalid UTF-8, which escaping
// makes four times longer) is not written whole. X-Forwarded-For, which
// only names the client for the challenge bound, is never logged.
func TestAccessLogHostileRequestLine(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, header string
	}{
		{name: "newline in the path", method: "GET", target: "/x%0Amsg=%22secret%20released%22%20resource=db%0A"},
		{name: "escape sequence", method: "GET", target: "/%1B[31mred%1B[0m%07"},
		{name: "bidi override", method: "GET", target: "/%E2%80%AEevil%E2%81%A6"},
		{name: "raw invalid UTF-8, 60 KB", method: "GET", target: "/" + strings.Repeat("\xff", 60<<10)},
		{name: "percent-encoded invalid UTF-8", method: "POST", target: PathAttest + "/" + strings.Repeat("%FF", 20<<10)},
		{name: "long method", method: strings.Repeat("M", 30<<10), target: PathAttest},
		{name: "X-Forwarded-For", method: "GET", target: "/healthz", header: "X-Forwarded-For: 10.0.0.1\", msg=forged-xff \"x\r\n"},
	} {
		for _, handler := range []string{"text", "json"} {
			t.Run(tc.name+"/"+handler, func(t *testing.T) {
				var logBuf testutil.LogBuffer
				cfg := testConfig()
				cfg.TrustForwardedFor = true
				if handler == "json" {
					cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
				} else {
					cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
				}
				ts := startHTTP(t, newServer(t, cfg))
				status := rawRequest(t, ts.Listener.Addr().String(), tc.method+" "+tc.target+" HTTP/1.1\r\nHost: x\r\n"+tc.header+"Connection: close\r\n\r\n")
				if !strings.HasPrefix(status, "HTTP/1.1 4") && !strings.HasPrefix(status, "HTTP/1.1 2") {
					t.Fatalf("answer %q", status)
				}
				logs := logBuf.Bytes()
				checkLogLines(t, logs, "request", 1)
				if bytes.Contains(logs, []byte("forged-xff")) {
					t.Errorf("the log quotes X-Forwarded-For: %s", logs)
				}
			})
		}
	}
}

// rawRequest writes req on a new connection to addr and returns the
// answer's status line.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	status, _, _ := strings.Cut(string(answer), "\r\n")
	return status
}

// TestLogLinesQuoteEvidenceEscaped: the strings of the evidence that the
// audit line (vm_unique_id, from the runtime data: anyone's with the
// emulated chain) and the rejection line (the reason) quote are bounded
// and escaped with either handler.
func TestLogLinesQuoteEvidenceEscaped(t *testing.T) {
	hostile := "vm\n" + `msg="secret released" resource=db` + "\u202e\x1b[31m" + strings.Repeat("\u2066x", 4<<10)
	for _, handler := range []string{"text", "json"} {
		var audit, rejection testutil.LogBuffer
		logger := func(w io.Writer) *slog.Logger {
			if handler == "json" {
				return slog.New(slog.NewJSONHandler(w, nil))
			}
			return slog.New(slog.NewTextHandler(w, nil))
		}
		s := &Server{log: logger(&audit)}
		s.audit(context.Background(), "db", &verify.Claims{VMConfig: &hcl.VMConfiguration{VMUniqueID: hostile}}, "jti-1")
		t.Run("audit/"+handler, func(t *testing.T) { checkLogLines(t, audit.Bytes(), "secret released", 1) })
		s = &Server{log: logger(&rejection)}
		verr := &verify.Error{Check: verify.CheckVMIdentity, Err: errors.New(hostile)}
		r := httptest.NewRequest("POST", PathAttest, nil)
		s.logRejection(context.Background(), r, "", verr)
		t.Run("rejection/"+handler, func(t *testing.T) { checkLogLines(t, rejection.Bytes(), "evidence rejected", 1) })
	}
	// What is printable stays as it was: an Azure VM id is logged whole.
	if got := format.Printable("7E57E7E5-0000-4000-8000-000000000001", maxLoggedVMID); got != "7E57E7E5-0000-4000-8000-000000000001" {
		t.Errorf("format.Printable changed a printable id: %q", got)
	}
	if got := format.Printable("caf\u00e9", 64); got != "caf\u00e9" {
		t.Errorf("format.Printable changed printable text: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = format.Printable(PathAttest, maxLoggedPath) }); n != 0 {
		t.Errorf("format.Printable of a plain path: %v allocations, want 0", n)
	}
}
