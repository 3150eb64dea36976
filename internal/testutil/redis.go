package testutil

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Redis is a real redis-server that a test started as its child, listening
// on a Unix socket only (no TCP port, no persistence). It is killed when
// the test ends.
type Redis struct {
	// Socket is the Unix socket's path.
	Socket string
	// URL is unix://Socket, the form --redis takes.
	URL string

	t   testing.TB
	bin string
	dir string
	cmd *exec.Cmd
}

// RequireRedisServer returns the path of redis-server. When it is not on
// PATH the test is skipped, unless the environment says Redis is required:
// SNPVTPM_REQUIRE_REDIS=1 (.ci/run sets it) or CI set, where it fails.
func RequireRedisServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if os.Getenv("SNPVTPM_REQUIRE_REDIS") == "1" || os.Getenv("CI") != "" {
		t.Fatalf("redis-server is not on PATH but real-Redis tests are required (SNPVTPM_REQUIRE_REDIS=1 or CI set): %v", err)
	}
	t.Skip("redis-server not on PATH (install it, e.g. apt-get install redis-server; CI requires it)")
	return ""
}

// StartRedis starts redis-server on a Unix socket in a fresh temporary
// directory and waits until it answers PING.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := RequireRedisServer(t)
	// Unix socket paths are short (108 bytes): not t.TempDir, whose path
	// holds the test's name.
	dir, err := os.MkdirTemp("", "redis")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &Redis{t: t, bin: bin, dir: dir, Socket: filepath.Join(dir, "redis.sock")}
	r.URL = "unix://" + r.Socket
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start (re)starts the server on the same socket, empty, and waits until
// it answers PING (at most 10 s).
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("redis-server already running")
	}
	cmd := exec.Command(r.bin, "--port", "0", "--unixsocket", r.Socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for !pingRedis(r.Socket) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.Stop()
			r.t.Fatalf("redis-server did not answer PING within 10 s; its log:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: an outage, not a shutdown) and waits for
// it to exit. Stopping a stopped server does nothing.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
	_ = os.Remove(r.Socket)
}

// pingRedis reports whether a Redis server answers PING on socket.
func pingRedis(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
