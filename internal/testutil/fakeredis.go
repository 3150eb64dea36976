package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// FakeRedis serves RESP on ln until the test ends: HELLO gets a RESP3 map
// (protocol 3), every other command the raw reply that reply computes from
// its arguments, written as is (so it may be anything a hostile Redis
// would send). ln is closed at cleanup.
func FakeRedis(t testing.TB, ln net.Listener, reply func(args []string) string) {
	t.Helper()
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFakeRedis(c, reply)
		}
	}()
}

func serveFakeRedis(c net.Conn, reply func(args []string) string) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readRESPCommand(r)
		if err != nil {
			return
		}
		out := "%1\r\n+proto\r\n:3\r\n"
		if !strings.EqualFold(args[0], "HELLO") {
			out = reply(args)
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
	}
}

// readRESPCommand reads one command (an array of bulk strings) as a
// client sends it.
func readRESPCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 4 || line[0] != '*' {
		return nil, fmt.Errorf("bad command %q: %v", line, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 || n > 64 {
		return nil, fmt.Errorf("bad count %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = r.ReadString('\n'); err != nil || len(line) < 3 {
			return nil, fmt.Errorf("bad argument header %q: %v", line, err)
		}
		l, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil || l < 0 || l > 1<<20 {
			return nil, fmt.Errorf("bad length %q", line)
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:l])
	}
	return args, nil
}
