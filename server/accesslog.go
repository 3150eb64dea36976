package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Bounds of the client's text that log lines quote: a request line may be
// as long as the header limit (64 KiB with Serve, 1 MiB in a default
// http.Server), and its escaped bytes longer still.
const (
	maxLoggedMethod = 32  // the methods served are at most 7 bytes
	maxLoggedPath   = 256 // the API's paths are under 40 bytes
	maxLoggedVMID   = 128 // Azure's vmUniqueId is a 36-byte GUID
)

// setCheck records the failed check of a request for the access log; w
// is the writer its handler was given (the access log's recorder).
func setCheck(w http.ResponseWriter, check string) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.check = check
	}
}

// statusRecorder remembers the status and size of a response, and the
// failed check its handler names (setCheck).
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	check  string
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line per request: method, path, status, duration,
// remote address, response size and the failed check. It never logs
// bodies, query strings or headers, so neither evidence, keys nor the
// secret can reach the log; the method and path, which the client
// chose, are bounded and escaped (format.Printable).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		attrs := [...]slog.Attr{
			slog.String("method", format.Printable(r.Method, maxLoggedMethod)),
			slog.String("path", format.Printable(r.URL.Path, maxLoggedPath)),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
			slog.Int64("bytes", rec.bytes),
			slog.String("check", rec.check),
		}
		n := len(attrs)
		if rec.check == "" {
			n--
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs[:n]...)
	})
}
