package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// newMiniRedis starts an in-process miniredis for unit tests.
func newMiniRedis(t testing.TB) *miniredis.Miniredis {
	t.Helper()
	mr := miniredis.RunT(t)
	return mr
}

// redisConfig is testConfig with challenges in the Redis at url.
func redisConfig(url string) Config {
	cfg := testConfig()
	cfg.Redis = &RedisConfig{URL: url, Prefix: "test:"}
	return cfg
}

func newRedisServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := newServer(t, cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		network  string
		addr     string
		db       int
		password string
		tls      bool
		bad      string // substring of the error
	}{
		{url: "redis://127.0.0.1:6379/2", network: "tcp", addr: "127.0.0.1:6379", db: 2},
		{url: "redis://:pw@host:7000/0", network: "tcp", addr: "host:7000", password: "pw"},
		{url: "rediss://user:pw@host:6380/1", network: "tcp", addr: "host:6380", db: 1, password: "pw", tls: true},
		{url: "unix:///run/redis.sock?db=3", network: "unix", addr: "/run/redis.sock", db: 3},
		{url: "http://host:6379", bad: "scheme"},
		{url: "rediss://host:6379/0?skip_verify=true", bad: "skip_verify"},
		{url: "redis://:hunter2@host:6379/notadb", bad: "invalid Redis URL"},
		{url: "redis://:hunter2@host:6379/0?dial_timeout=x", bad: "invalid Redis URL"},
		{url: "redis://\x7f:hunter2@host", bad: "not a URL"},
	} {
		opts, err := ParseRedisURL(tc.url)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q: err = %v, want %q", tc.url, err, tc.bad)
			} else if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q: the error repeats the password: %v", tc.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.url, err)
			continue
		}
		if opts.Network != tc.network || opts.Addr != tc.addr || opts.DB != tc.db || opts.Password != tc.password || (opts.TLSConfig != nil) != tc.tls {
			t.Errorf("%q: options %s %s db %d password %q tls %v", tc.url, opts.Network, opts.Addr, opts.DB, opts.Password, opts.TLSConfig != nil)
		}
		// rediss:// pins TLS 1.2 at least, whatever the process's GODEBUG.
		if tc.tls && opts.TLSConfig.MinVersion != tls.VersionTLS12 {
			t.Errorf("%q: TLS MinVersion %#x, want TLS 1.2", tc.url, opts.TLSConfig.MinVersion)
		}
	}
	if got := RedactRedisURL("redis://u:hunter2@h:1/0"); strings.Contains(got, "hunter2") {
		t.Errorf("RedactRedisURL = %q", got)
	}
}

func TestRedisPasswordFromConfig(t *testing.T) {
	mr := newMiniRedis(t)
	mr.RequireAuth("pw-from-env")
	cfg := redisConfig("redis://" + mr.Addr())
	s := newRedisServer(t, cfg)
	if err := s.store.ready(context.Background()); err == nil {
		t.Fatal("ready without the password")
	}
	cfg.Redis.Password = "pw-from-env"
	s = newRedisServer(t, cfg)
	if err := s.store.ready(context.Background()); err != nil {
		t.Fatalf("ready with the password: %v", err)
	}
	cfg.Redis = &RedisConfig{URL: "redis://:pw-from-env@" + mr.Addr(), Password: "wrong"}
	s = newRedisServer(t, cfg) // the URL's password wins
	if err := s.store.ready(context.Background()); err != nil {
		t.Fatalf("ready with the URL's password: %v", err)
	}
}

func TestRedisAttestAndReplay(t *testing.T) {
	mr := newMiniRedis(t)
	s := newRedisServer(t, redisConfig("redis://"+mr.Addr()))
	ts := startHTTP(t, s)
	res, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t))
	if err != nil || !bytes.Equal(res.Secret, testSecret) {
		t.Fatalf("Attest = %v, %v", res, err)
	}
	ch, pub, ev := challenged(t, ts.URL, synthetic(t))
	body := mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub})
	if st, _, _ := postRaw(t, ts.URL+PathAttest, body); st != 200 {
		t.Fatalf("first use: %d", st)
	}
	if st, er, _ := postRaw(t, ts.URL+PathAttest, body); st != 401 || er.Check != CheckChallenge {
		t.Fatalf("replay: %d %+v", st, er)
	}
	// Keys are namespaced, and nothing stored holds the secret.
	for _, k := range mr.Keys() {
		if !strings.HasPrefix(k, "test:") {
			t.Errorf("key %q outside the prefix", k)
		}
		if v, err := mr.Get(k); err == nil && bytes.Contains([]byte(v), testSecret) {
			t.Errorf("key %q holds the secret", k)
		}
	}
	if n, _ := s.store.outstanding(context.Background()); n != 0 {
		t.Errorf("%d outstanding after use", n)
	}
}

func TestRedisLimitsAcrossReplicas(t *testing.T) {
	mr := newMiniRedis(t)
	clock := newFakeClock()
	cfg := redisConfig("redis://" + mr.Addr())
	cfg.Now = clock.Now
	cfg.MaxClientChallenges = 3
	cfg.MaxChallenges = 5
	a, b := newRedisServer(t, cfg), newRedisServer(t, cfg)
	ctx := context.Background()
	var keys []challengeKey
	for i, st := range []*Server{a, b, a} { // client 1 takes its 3 across both replicas
		k, _, _, err := st.store.issue(ctx, "192.0.2.1")
		if err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
		keys = append(keys, k)
	}
	if _, _, retry, err := b.store.issue(ctx, "192.0.2.1"); !errors.Is(err, errClientChallenges) || retry < time.Second {
		t.Fatalf("4th of client 1 at the other replica: %v, retry %v", err, retry)
	}
	for i := range 2 {
		if _, _, _, err := b.store.issue(ctx, "192.0.2.2"); err != nil {
			t.Fatalf("client 2, %d: %v", i, err)
		}
	}
	if _, _, retry, err := a.store.issue(ctx, "192.0.2.3"); !errors.Is(err, errTooManyChallenges) || retry < time.Second {
		t.Fatalf("6th in total: %v, retry %v", err, retry)
	}
	// Spending one at b frees a slot of client 1, at a.
	if err := b.store.consume(ctx, keys[0][:]); err != nil {
		t.Fatal(err)
	}
	if err := a.store.consume(ctx, keys[0][:]); !errors.Is(err, errUnknownChallenge) {
		t.Fatalf("spent twice: %v", err)
	}
	if _, _, _, err := a.store.issue(ctx, "192.0.2.1"); err != nil {
		t.Fatalf("after a spend: %v", err)
	}
	// Expiry frees everything: Redis drops the keys, the scripts trim the sets.
	clock.Advance(cfg.ChallengeTTL + time.Second)
	mr.FastForward(DefaultChallengeTTL + time.Second)
	if err := a.store.consume(ctx, keys[1][:]); !errors.Is(err, errUnknownChallenge) {
		t.Fatalf("expired challenge: %v", err)
	}
	if n, err := a.store.outstanding(ctx); err != nil || n != 0 {
		t.Fatalf("outstanding after expiry = %d, %v", n, err)
	}
	for i := range 3 {
		if _, _, _, err := b.store.issue(ctx, "192.0.2.1"); err != nil {
			t.Fatalf("after expiry, %d: %v", i, err)
		}
	}
	mr.FastForward(DefaultChallengeTTL + time.Second)
	clock.Advance(cfg.ChallengeTTL + time.Second)
	if keys := mr.Keys(); len(keys) != 0 {
		t.Errorf("keys left after every challenge expired: %q", keys)
	}
}

// sumMetric adds up the metric family name of s's registry: the value of
// every metric, skipping the metrics skip selects.
func sumMetric(t testing.TB, s *Server, name string, value func(*dto.Metric) float64, skip func(*dto.Metric) bool) float64 {
	t.Helper()
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if skip == nil || !skip(m) {
				n += value(m)
			}
		}
	}
	return n
}

// redisCommands returns the Redis round trips the server has made for
// challenges and attestations: PING is /readyz, ZCOUNT the outstanding
// gauge (gathered here).
func redisCommands(t testing.TB, s *Server) uint64 {
	t.Helper()
	return uint64(sumMetric(t, s, "snp_vtpm_redis_command_duration_seconds",
		func(m *dto.Metric) float64 { return float64(m.GetHistogram().GetSampleCount()) },
		func(m *dto.Metric) bool { return isLabel(m, "command", "ping") || isLabel(m, "command", "zcount") }))
}

// redisErrors returns snp_vtpm_redis_errors_total, all commands.
func redisErrors(t testing.TB, s *Server) float64 {
	t.Helper()
	return sumMetric(t, s, "snp_vtpm_redis_errors_total", func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }, nil)
}

func isLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestRedisRoundTripsPerAttestation(t *testing.T) {
	mr := newMiniRedis(t)
	s := newRedisServer(t, redisConfig("redis://"+mr.Addr()))
	ts := startHTTP(t, s)
	c := &Client{URL: ts.URL}
	if _, err := c.Attest(context.Background(), synthetic(t)); err != nil { // loads the scripts
		t.Fatal(err)
	}
	const n = 5
	before := redisCommands(t, s)
	for range n {
		if _, err := c.Attest(context.Background(), synthetic(t)); err != nil {
			t.Fatal(err)
		}
	}
	got := redisCommands(t, s) - before
	t.Logf("%d Redis round trips for %d challenge+attest pairs", got, n)
	if got != 2*n {
		t.Fatalf("%d Redis round trips for %d pairs, want %d", got, n, 2*n)
	}
}

func TestRedisDownIsClosed(t *testing.T) {
	mr := newMiniRedis(t)
	s := newRedisServer(t, redisConfig("redis://"+mr.Addr()))
	ts := startHTTP(t, s)
	ch, pub, ev := challenged(t, ts.URL, synthetic(t))
	mr.Close()
	assertRedisDown(t, ts.URL, mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub}))
	if n := redisErrors(t, s); n == 0 {
		t.Error("snp_vtpm_redis_errors_total did not count the failures")
	}
}

// assertRedisDown checks what a server whose Redis is down answers: 503
// with Retry-After for a challenge and for attestBody (valid but for Redis),
// nothing released; /readyz 503, /healthz 200.
func assertRedisDown(t testing.TB, url string, attestBody []byte) {
	t.Helper()
	for _, tc := range []struct {
		path string
		body []byte
	}{{PathChallenge, nil}, {PathAttest, attestBody}} {
		resp, err := http.Post(url+tc.path, "application/json", bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with Redis down: %d, Retry-After %q: %s", tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), buf.Bytes())
		}
		if strings.Contains(buf.String(), "ciphertext") || bytes.Contains(buf.Bytes(), testSecret) {
			t.Errorf("%s with Redis down released something: %s", tc.path, buf.Bytes())
		}
	}
	for path, want := range map[string]int{PathReady: 503, PathHealth: 200} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s with Redis down: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestReadyzInMemory(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	resp, err := http.Get(ts.URL + PathReady)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz = %d", resp.StatusCode)
	}
}

func TestRedisConfigRejected(t *testing.T) {
	for _, rc := range []*RedisConfig{
		{URL: "memcached://x"},
		{URL: "redis://h:1/0", Prefix: strings.Repeat("p", maxRedisPrefix+1)},
	} {
		cfg := testConfig()
		cfg.Redis = rc
		if _, err := New(cfg); err == nil {
			t.Errorf("New accepted %+v", rc)
		}
	}
}

// FuzzParseRedisURL: any input is parsed or rejected without panicking,
// the error stays bounded and never repeats an alphanumeric password of
// the URL (checkPasswordNotRepeated), and an accepted URL names a network.
func FuzzParseRedisURL(f *testing.F) {
	for _, s := range []string{"redis://h:1/0", "rediss://u:pw@h:2/3", "unix:///s?db=1", "redis://:secretpw@h:1/x",
		"redis://:secretpw@h/0?dial_timeout=zz", "http://x", "redis://[::1]:6379", "unix://", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		opts, err := ParseRedisURL(raw)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if p, ok := u.User.Password(); ok && len(p) >= 4 && isAlnum(p) && !strings.Contains("xxxxx", p) && strings.Contains(err.Error(), p) {
					checkPasswordNotRepeated(t, raw, p, err)
				}
			}
			return
		}
		if opts.Network != "tcp" && opts.Network != "unix" {
			t.Fatalf("network %q", opts.Network)
		}
	})
}

// checkPasswordNotRepeated fails if ParseRedisURL's error err, which holds
// the text of the URL's password p, repeats the password. The text alone
// proves nothing: the error may quote another part of the URL that holds
// it (the scheme of "etpw://:etpw@" was the first fuzz failure), or its own
// words. So the password is replaced by another of its length that shares
// no character with it at any position: the error must then hold p's text
// as often as before.
func checkPasswordNotRepeated(t *testing.T, raw, p string, err error) {
	t.Helper()
	other := []byte(p)
	for i, c := range other {
		switch {
		case c == 'z' || c == 'Z':
			other[i] = c - 25
		case c == '9':
			other[i] = '0'
		default:
			other[i] = c + 1
		}
	}
	raw2, ok := withPassword(raw, string(other))
	if !ok {
		t.Fatalf("the error repeats the password %q: %v", p, err)
	}
	_, err2 := ParseRedisURL(raw2)
	if err2 == nil || strings.Count(err2.Error(), p) < strings.Count(err.Error(), p) {
		t.Fatalf("the error repeats the password %q: %v; with password %q: %v", p, err, other, err2)
	}
}

// withPassword returns raw with the password of its userinfo replaced by
// p, found as url.Parse finds it: the authority follows "//" (after the
// scheme, if any) up to the first '/', '?' or '#', the userinfo is the
// authority up to its last '@', the password follows the userinfo's first
// ':'. It reports false unless url.Parse reads p back as the password.
func withPassword(raw, p string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	start := 0
	if u.Scheme != "" {
		start = len(u.Scheme) + 1
	}
	if !strings.HasPrefix(raw[start:], "//") {
		return "", false
	}
	start += 2
	end := len(raw)
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndex(raw[start:end], "@")
	if at < 0 {
		return "", false
	}
	colon := strings.Index(raw[start:start+at], ":")
	if colon < 0 {
		return "", false
	}
	out := raw[:start+colon+1] + p + raw[start+at:]
	u, err = url.Parse(out)
	if err != nil || u.User == nil {
		return "", false
	}
	if got, ok := u.User.Password(); !ok || got != p {
		return "", false
	}
	return out, true
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// These tests run against a real redis-server (testutil.StartRedis): they
// skip only when it is not installed outside CI.

// fleet is two replicas sharing one real Redis.
type fleet struct {
	redis *testutil.Redis
	s     [2]*Server
	url   [2]string // of each replica's loopback HTTP server
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{redis: testutil.StartRedis(t)}
	for i := range f.s {
		f.s[i] = newRedisServer(t, redisConfig(f.redis.URL))
		f.url[i] = startHTTP(t, f.s[i]).URL
	}
	return f
}

func TestRealRedisChallengeSpentAtOtherReplica(t *testing.T) {
	f := newFleet(t)
	ch, pub, ev := challenged(t, f.url[0], synthetic(t))
	body := mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub})
	if st, er, _ := postRaw(t, f.url[1]+PathAttest, body); st != 200 {
		t.Fatalf("challenge of A at B: %d %+v", st, er)
	}
	for i, url := range f.url {
		if st, er, _ := postRaw(t, url+PathAttest, body); st != 401 || er.Check != CheckChallenge {
			t.Errorf("replay at replica %d: %d %+v", i, st, er)
		}
	}
	// The client library across replicas, both ways.
	for i := range 2 {
		req, priv, err := (&Client{URL: f.url[i]}).Request(context.Background(), synthetic(t))
		if err != nil {
			t.Fatal(err)
		}
		var resp AttestResponse
		if err := (&Client{URL: f.url[1-i]}).Post(context.Background(), PathAttest, mustJSON(t, req), &resp); err != nil {
			t.Fatalf("challenge of %d at %d: %v", i, 1-i, err)
		}
		if got, err := OpenSecret(priv, Nonce(req.Challenge, req.PublicKey), resp.Ciphertext); err != nil || !bytes.Equal(got, testSecret) {
			t.Fatalf("secret = %q, %v", got, err)
		}
	}
}

// replayAtBoth posts body n times at once, alternately at each URL, and
// counts the answers by status.
func replayAtBoth(t *testing.T, urls [2]string, body []byte, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := http.Post(urls[i%2]+PathAttest, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			got[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return got
}

func TestRealRedisConcurrentReplayAtBothReplicasOneWins(t *testing.T) {
	f := newFleet(t)
	urls := [2]string{f.url[0], f.url[1]}
	const challenges, replays = 8, 24
	for c := range challenges {
		ch, pub, ev := challenged(t, urls[c%2], synthetic(t))
		got := replayAtBoth(t, urls, mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub}), replays)
		if got[200] != 1 || got[401] != replays-1 {
			t.Fatalf("challenge %d replayed %d times at both replicas: %v, want one 200 and %d 401", c, replays, got, replays-1)
		}
	}
	for i, s := range f.s {
		if n, err := s.store.outstanding(context.Background()); err != nil || n != 0 {
			t.Errorf("replica %d: %d outstanding, %v", i, n, err)
		}
	}
}

func TestRealRedisLimitsAcrossReplicas(t *testing.T) {
	r := testutil.StartRedis(t)
	cfg := redisConfig(r.URL)
	cfg.MaxClientChallenges = 4
	a, b := newRedisServer(t, cfg), newRedisServer(t, cfg)
	ta, tb := startHTTP(t, a), startHTTP(t, b)
	for i := range 4 {
		getChallenge(t, []string{ta.URL, tb.URL}[i%2])
	}
	for _, url := range []string{ta.URL, tb.URL} {
		resp, err := http.Post(url+PathChallenge, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("5th challenge of one client: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}

// loadStats counts the outcomes of attestLoop.
type loadStats struct {
	ok, unavailable, denied, other atomic.Int64
	okAfterKill                    atomic.Int64
}

func TestRealRedisOutageFailsClosedAndRecovers(t *testing.T) {
	f := newFleet(t)
	// Challenges issued before the outage: one spent, one not.
	spentCh, spentPub, spentEv := challenged(t, f.url[0], synthetic(t))
	spent := mustJSON(t, AttestRequest{Challenge: spentCh, Evidence: spentEv, PublicKey: spentPub})
	if st, _, _ := postRaw(t, f.url[1]+PathAttest, spent); st != 200 {
		t.Fatalf("before the outage: %d", st)
	}
	pendCh, pendPub, pendEv := challenged(t, f.url[1], synthetic(t))
	pending := mustJSON(t, AttestRequest{Challenge: pendCh, Evidence: pendEv, PublicKey: pendPub})

	// Load on both replicas while Redis dies.
	var st loadStats
	var killed atomic.Bool
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { attestLoop(ctx, t, f.url[w%2], &st, &killed) })
	}
	// Wait for successes, then for failures, rather than a fixed time: on
	// a loaded machine (CI, -race) 300 ms held no complete attestation.
	waitFor := func(n *atomic.Int64) {
		for deadline := time.Now().Add(20 * time.Second); n.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(&st.ok)
	okBefore := st.ok.Load()
	f.redis.Stop()
	killed.Store(true) // from here on, every attestation that starts must fail
	waitFor(&st.unavailable)
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("load: %d ok before the kill, %d ok after, %d 503, %d 401, %d other", okBefore, st.okAfterKill.Load(), st.unavailable.Load(), st.denied.Load(), st.other.Load())
	if okBefore == 0 || st.unavailable.Load() == 0 {
		t.Fatalf("the load did not span the outage: %d ok before, %d 503", okBefore, st.unavailable.Load())
	}
	if st.other.Load() != 0 {
		t.Errorf("%d answers neither 200, 401 nor 503", st.other.Load())
	}
	for _, url := range f.url {
		assertRedisDown(t, url, pending)
	}

	// Redis returns (empty: no persistence) on the same socket: service
	// resumes by itself, and no challenge from before is usable.
	f.redis.Start()
	for i, url := range f.url {
		waitReady(t, url)
		if _, err := (&Client{URL: url}).Attest(context.Background(), synthetic(t)); err != nil {
			t.Errorf("replica %d after Redis returned: %v", i, err)
		}
		for name, body := range map[string][]byte{"spent": spent, "pending": pending} {
			if code, er, _ := postRaw(t, url+PathAttest, body); code != 401 {
				t.Errorf("replica %d: challenge %s before the outage, used after: %d %+v", i, name, code, er)
			}
		}
	}
}

// attestLoop runs challenge+attest pairs against url until ctx is done,
// counting outcomes; a success that started after killed was set is
// counted apart (it must not happen).
func attestLoop(ctx context.Context, t *testing.T, url string, st *loadStats, killed *atomic.Bool) {
	c := &Client{URL: url}
	for ctx.Err() == nil {
		afterKill := killed.Load()
		_, err := c.Attest(ctx, synthetic(t))
		switch {
		case err == nil && afterKill:
			st.okAfterKill.Add(1)
		case err == nil:
			st.ok.Add(1)
		case ctx.Err() != nil:
		default:
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok {
				st.other.Add(1)
				continue
			}
			switch apiErr.StatusCode {
			case http.StatusServiceUnavailable:
				st.unavailable.Add(1)
				time.Sleep(5 * time.Millisecond)
			case http.StatusUnauthorized:
				st.denied.Add(1)
			default:
				st.other.Add(1)
			}
		}
	}
	if n := st.okAfterKill.Load(); n != 0 {
		t.Errorf("%d attestations that started after Redis was killed got the secret", n)
	}
}

// waitReady polls /readyz until 200, at most 10 s.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + PathReady)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not 200 within 10 s of Redis returning", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkChallengePair measures one issue and one spend of a challenge
// in each store: memory, and a real Redis on a Unix socket (two round
// trips). The rest of an attestation (verification, sealing, HTTP) is the
// same for both: see BenchmarkAttestHTTP.
func BenchmarkChallengePair(b *testing.B) {
	bench := func(b *testing.B, st store) {
		ctx := context.Background()
		for b.Loop() {
			k, _, _, err := st.issue(ctx, "192.0.2.1")
			if err != nil {
				b.Fatal(err)
			}
			if err := st.consume(ctx, k[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) {
		bench(b, memStore{newChallengeStore(time.Minute, DefaultMaxChallenges, DefaultMaxClientChallenges, time.Now)})
	})
	b.Run("redis-unix", func(b *testing.B) {
		r := testutil.StartRedis(b)
		st, err := newRedisStore(&RedisConfig{URL: r.URL}, time.Minute, DefaultMaxChallenges, DefaultMaxClientChallenges, time.Now, newRedisMetrics())
		if err != nil {
			b.Fatal(err)
		}
		defer st.close()
		bench(b, st)
	})
}

// TestRedisChallengeTTLResolution: a challenge TTL under Redis's 1 ms
// resolution is refused when the server starts, not by a 503 on every
// challenge request.
func TestRedisChallengeTTLResolution(t *testing.T) {
	for _, ttl := range []time.Duration{time.Nanosecond, 999 * time.Microsecond} {
		cfg := redisConfig("redis://127.0.0.1:1")
		cfg.ChallengeTTL = ttl
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "1ms resolution") {
			t.Errorf("TTL %s: New = %v, want the resolution error", ttl, err)
		}
	}
}
