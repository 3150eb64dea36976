package respguard

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// small limits keep the refusal cases short.
var small = Limits{MaxBulk: 16, MaxElements: 4, MaxLine: 32, MaxDepth: 3, MaxOpen: 10}

// validStreams are well-formed RESP2 and RESP3 streams under small.
var validStreams = []string{
	"+OK\r\n",
	"-ERR wrong type\r\n",
	":-42\r\n",
	"$5\r\nhello\r\n",
	"$0\r\n\r\n",
	"$-1\r\n",
	"*-1\r\n",
	"*0\r\n",
	"$16\r\n0123456789abcdef\r\n", // exactly MaxBulk
	"$4\r\na\r\nb\r\n",            // CRLF inside a payload
	"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n$3\r\nfoo\r\n",                              // nested arrays
	"*1\r\n*1\r\n*1\r\n:1\r\n",                                                 // MaxDepth deep
	"*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n",                                           // MaxElements
	"_\r\n,3.14\r\n#t\r\n(12345678901234567890\r\n",                            // RESP3 simple types
	"=8\r\ntxt:abcd\r\n!5\r\nERR x\r\n",                                        // verbatim, blob error
	"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n",                                     // map
	"~2\r\n+a\r\n+b\r\n>2\r\n+message\r\n$1\r\nx\r\n",                          // set, push
	"|1\r\n+ttl\r\n:3\r\n*2\r\n:1\r\n:2\r\n",                                   // attribute before an array
	"*1\r\n|1\r\n+k\r\n+v\r\n:7\r\n+next\r\n",                                  // attribute inside an array
	"|0\r\n:1\r\n%0\r\n~0\r\n",                                                 // empty aggregates
	"*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n*4\r\n:1\r\n:1\r\n:1\r\n:1\r\n", // open slots freed as aggregates close
}

func TestValidStreamsPassThroughAtEverySplit(t *testing.T) {
	for _, in := range validStreams {
		for split := 0; split <= len(in); split++ {
			s := newScanner(small)
			n1, err1 := s.scan([]byte(in[:split]))
			n2, err2 := s.scan([]byte(in[split:]))
			if err1 != nil || err2 != nil || n1+n2 != len(in) {
				t.Fatalf("%q split at %d: passed %d+%d, errors %v, %v", in, split, n1, n2, err1, err2)
			}
			if s.state != stType || len(s.stack) != 0 || s.open != 0 {
				t.Fatalf("%q: not at a value boundary after the stream: state %d, depth %d, open %d", in, s.state, len(s.stack), s.open)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		in    string
		check string
		at    int // bytes passed through before the refusal
	}{
		{"$17\r\n", CheckBulk, 2},
		{"+OK\r\n$2147483648\r\n", CheckBulk, 7},
		{"!99\r\n", CheckBulk, 2},
		{"=17\r\n", CheckBulk, 2},
		{"*5\r\n", CheckElements, 1},
		{"*2147483648\r\n", CheckElements, 2},
		{"%5\r\n", CheckElements, 1},
		{"~5\r\n", CheckElements, 1},
		{">5\r\n", CheckElements, 1},
		{"|5\r\n", CheckElements, 1},
		{"+" + strings.Repeat("a", 40) + "\r\n", CheckLine, 32},
		{"*1\r\n*1\r\n*1\r\n*1\r\n", CheckDepth, 15},
		{"*4\r\n*4\r\n*4\r\n", CheckOpen, 11}, // 12 open slots > 10
		{"%4\r\n*3\r\n", CheckOpen, 7},        // a map's entries are two slots
		{"?\r\n", CheckFraming, 0},
		{"$?\r\n", CheckFraming, 1}, // RESP3 streamed string
		{"*?\r\n", CheckFraming, 1},
		{"$-2\r\n", CheckFraming, 2},
		{"$-\r\n", CheckFraming, 3},
		{"$\r\n", CheckFraming, 2},
		{"$1x\r\n", CheckFraming, 2},
		{"$+1\r\n", CheckFraming, 1},
		{"+OK\n", CheckFraming, 3},
		{"+O\rK\r\n", CheckFraming, 3},
		{"$2\r\nabc\r\n", CheckFraming, 6},
		{"$2\r\nab\rx", CheckFraming, 7},
	} {
		s := newScanner(small)
		n, err := s.scan([]byte(tc.in))
		var e *Error
		if !errors.As(err, &e) || e.Check != tc.check || !errors.Is(err, ErrRefused) {
			t.Errorf("%q: error %v, want check %s", tc.in, err, tc.check)
			continue
		}
		if n != tc.at {
			t.Errorf("%q: passed %d bytes, want %d", tc.in, n, tc.at)
		}
		if strings.Contains(err.Error(), "hello") {
			t.Errorf("error quotes the reply: %v", err)
		}
	}
}

func TestDefaults(t *testing.T) {
	s := newScanner(Limits{})
	ok := "$4194304\r\n" + strings.Repeat("x", 4<<20) + "\r\n*65536\r\n" + strings.Repeat(":1\r\n", 65536)
	if n, err := s.scan([]byte(ok)); err != nil || n != len(ok) {
		t.Fatalf("4 MiB bulk and 65536 elements: %d, %v", n, err)
	}
	for in, check := range map[string]string{
		"$4194305\r\n": CheckBulk,
		"*65537\r\n":   CheckElements,
		"+" + strings.Repeat("a", 64<<10) + "\r\n":       CheckLine,
		strings.Repeat("*1\r\n", 65):                     CheckDepth,
		"*65536\r\n*65536\r\n*65536\r\n*65536\r\n*1\r\n": CheckOpen,
	} {
		_, err := newScanner(Limits{}).scan([]byte(in))
		var e *Error
		if !errors.As(err, &e) || e.Check != check {
			t.Errorf("%.20q: %v, want %s", in, err, check)
		}
	}
}

// TestConnPassesThroughByteForByte reads valid streams through a wrapped
// connection in small reads and compares them byte for byte.
func TestConnPassesThroughByteForByte(t *testing.T) {
	all := strings.Join(validStreams, "")
	got := readThrough(t, all, small)
	if !bytes.Equal(got, []byte(all)) {
		t.Fatalf("wrapped connection changed the stream")
	}
}

// TestConnRefusalIsSticky: the bytes before the violation are read, then
// every read returns the refusal.
func TestConnRefusalIsSticky(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		_, _ = b.Write([]byte("+OK\r\n$17\r\n0123456789abcdefg\r\n"))
		_ = b.Close()
	}()
	c := WrapLimits(a, small)
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(c, buf, 1)
	for err == nil {
		var k int
		k, err = c.Read(buf[n:])
		n += k
	}
	if string(buf[:n]) != "+OK\r\n$1" || !errors.Is(err, ErrRefused) {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if k, err2 := c.Read(buf); k != 0 || err2 != err {
		t.Fatalf("second read: %d, %v", k, err2)
	}
}

func readThrough(t *testing.T, stream string, l Limits) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		for i := 0; i < len(stream); i += 7 {
			_, _ = b.Write([]byte(stream[i:min(i+7, len(stream))]))
		}
		_ = b.Close()
	}()
	got, err := io.ReadAll(WrapLimits(a, l))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got
}

// FuzzScanner: the scanner never panics, its verdict and the bytes it
// passes do not depend on how the stream is cut into reads, and what it
// passes is a prefix of the stream.
func FuzzScanner(f *testing.F) {
	for _, s := range validStreams {
		f.Add([]byte(s), uint8(3))
	}
	f.Add([]byte("*1\r\n*1\r\n*1\r\n*1\r\n"), uint8(1))
	f.Add([]byte("$99999999999999999999\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		whole := newScanner(small)
		n, err := whole.scan(in)
		if (err == nil) != (n == len(in)) || n < 0 || n > len(in) {
			t.Fatalf("scan: %d of %d, %v", n, len(in), err)
		}
		step := int(cut%16) + 1
		chunked := newScanner(small)
		passed := 0
		var cerr error
		for i := 0; i < len(in) && cerr == nil; i += step {
			var k int
			k, cerr = chunked.scan(in[i:min(i+step, len(in))])
			passed += k
		}
		if passed != n || (cerr == nil) != (err == nil) {
			t.Fatalf("whole: %d, %v; in reads of %d: %d, %v", n, err, step, passed, cerr)
		}
		if err != nil && cerr.Error() != err.Error() {
			t.Fatalf("different refusals: %v; %v", err, cerr)
		}
	})
}
