// Package respguard bounds what a Redis server can make its client
// allocate. go-redis trusts the lengths in a reply's headers: a bulk
// string header claiming 2 GiB, or an array of 2^31 elements, is
// allocated before a single byte of it arrives, and a line has no length
// bound at all. A compromised or impostor Redis could so exhaust the
// verifier's memory with a few bytes.
//
// [Wrap] puts a scanner between the connection and go-redis (through
// redis.Options.Dialer, see [Dialer]). It follows the RESP2 and RESP3
// framing of everything read, passes the bytes through unchanged, and
// refuses, before go-redis sees the header:
//
//   - a bulk string, bulk error or verbatim string longer than
//     [Limits.MaxBulk] (default 4 MiB);
//   - an array, set, push, map or attribute declaring more than
//     [Limits.MaxElements] elements (default 65536; for a map or an
//     attribute: entries);
//   - aggregates nested more than [Limits.MaxDepth] deep (default 64),
//     or open at once with more than [Limits.MaxOpen] element slots
//     between them (default 4 × 65536: go-redis allocates the slots of
//     every open aggregate before their elements arrive);
//   - a line (type byte to CRLF) longer than [Limits.MaxLine] (default
//     64 KiB);
//   - anything that is not RESP framing: an unknown type byte, a length
//     that is not a decimal number or -1, a line or a string not ended
//     by CRLF, RESP3 streamed strings and aggregates (Redis does not
//     send them; go-redis cannot read them).
//
// A refusal is the connection's read error, an [*Error] (errors.Is
// [ErrRefused]); it is returned for every later read too, and go-redis
// drops a connection whose read failed. The bytes before the offending
// header are still passed through, so a complete reply ahead of it is
// read normally. The scanner keeps no data, only its position in the
// framing, so go-redis's health checks that peek at the socket see what
// is really there.
package respguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Default bounds, used when a [Limits] field is zero.
const (
	DefaultMaxBulk     = 4 << 20
	DefaultMaxElements = 65536
	DefaultMaxLine     = 64 << 10
	DefaultMaxDepth    = 64
	DefaultMaxOpen     = 4 * DefaultMaxElements
)

// Limits bounds a reply. A zero field means its default.
type Limits struct {
	// MaxBulk bounds the length of a bulk string, bulk error or verbatim
	// string ($, !, =).
	MaxBulk int64
	// MaxElements bounds the declared count of an aggregate (*, ~, >:
	// elements; %, |: entries).
	MaxElements int64
	// MaxLine bounds a line, from its type byte to its CRLF included.
	MaxLine int64
	// MaxDepth bounds the nesting of aggregates.
	MaxDepth int
	// MaxOpen bounds the element slots (two per map entry) declared by
	// the aggregates open at one time.
	MaxOpen int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxOpen <= 0 {
		l.MaxOpen = DefaultMaxOpen
	}
	return l
}

// ErrRefused is wrapped by every [*Error].
var ErrRefused = errors.New("redis reply refused")

// The checks an [*Error] names.
const (
	CheckBulk     = "bulk-length"
	CheckElements = "aggregate-length"
	CheckLine     = "line-length"
	CheckDepth    = "aggregate-depth"
	CheckOpen     = "open-elements"
	CheckFraming  = "framing"
)

// Error is a refused reply: the check that failed, and for the bounds the
// size read (Got, possibly only a lower bound: the scanner stops at the
// first digit past the limit) and the limit. It never quotes the reply.
type Error struct {
	Check  string
	Got    int64
	Limit  int64
	Reason string // for CheckFraming: what is wrong
}

// Error implements error.
func (e *Error) Error() string {
	if e.Check == CheckFraming {
		return fmt.Sprintf("%v: %s: %s", ErrRefused, e.Check, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %d exceeds %d", ErrRefused, e.Check, e.Got, e.Limit)
}

// Unwrap returns ErrRefused.
func (e *Error) Unwrap() error { return ErrRefused }

// Wrap returns c with every byte read checked as RESP framing under the
// default limits.
func Wrap(c net.Conn) net.Conn { return WrapLimits(c, Limits{}) }

// WrapLimits is [Wrap] with explicit limits.
func WrapLimits(c net.Conn, l Limits) net.Conn {
	g := &conn{Conn: c, s: newScanner(l)}
	if sc, ok := c.(syscall.Conn); ok {
		// A plain socket stays inspectable by go-redis's health check:
		// the scanner holds no bytes the socket does not show.
		return &sysConn{conn: g, sc: sc}
	}
	return g
}

// Dialer returns a go-redis dialer (redis.Options.Dialer) that dials with
// inner and wraps the connection with [Wrap].
func Dialer(inner func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := inner(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}

// conn checks what it reads. Like any net.Conn read side, it is used by
// one reader at a time.
type conn struct {
	net.Conn
	s   *scanner
	err error
}

// Read reads from the connection and passes through the bytes up to the
// first violation; from then on it returns the refusal.
func (c *conn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	k, serr := c.s.scan(p[:n])
	if serr != nil {
		c.err = serr
		return k, serr
	}
	return n, err
}

// NetConn returns the wrapped connection (go-redis looks through it to
// peek at the socket).
func (c *conn) NetConn() net.Conn { return c.Conn }

type sysConn struct {
	*conn
	sc syscall.Conn
}

// SyscallConn returns the wrapped socket's raw connection.
func (c *sysConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
