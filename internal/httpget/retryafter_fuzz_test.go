package httpget

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseRetryAfter: ParseRetryAfter never panics or returns a negative
// delay; delay-seconds and HTTP dates written back by their builders
// (strconv, http.TimeFormat) give the delay they say, and anything else
// that is neither gives 0.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "0", "120", " 7 ", "-5", "9223372036854775807", "99999999999999999999",
		"Sun, 01 Jun 2025 12:01:00 GMT", "Sunday, 01-Jun-25 12:01:00 GMT", "Sun Jun  1 12:01:00 2025", "soon", "1.5"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, secs int64) {
		if d := ParseRetryAfter(v, now); d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v", v, d)
		}
		n, nerr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		_, terr := http.ParseTime(strings.TrimSpace(v))
		if nerr != nil && terr != nil && ParseRetryAfter(v, now) != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v for neither seconds nor a date", v, ParseRetryAfter(v, now))
		}
		if nerr == nil && n > 0 && n < 1<<32 && ParseRetryAfter(v, now) != time.Duration(n)*time.Second {
			t.Fatalf("ParseRetryAfter(%q) = %v", v, ParseRetryAfter(v, now))
		}
		if secs = secs % (1 << 32); secs > 0 {
			if got := ParseRetryAfter(strconv.FormatInt(secs, 10), now); got != time.Duration(secs)*time.Second {
				t.Fatalf("%d seconds: %v", secs, got)
			}
			date := now.Add(time.Duration(secs) * time.Second).Format(http.TimeFormat)
			if got := ParseRetryAfter(date, now); got != time.Duration(secs)*time.Second {
				t.Fatalf("%s: %v, want %ds", date, got, secs)
			}
		}
	})
}
