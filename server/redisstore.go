package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/respguard"
)

// Defaults of RedisConfig.
const (
	DefaultRedisPrefix  = "snp-vtpm:"
	DefaultRedisTimeout = time.Second
)

// maxRedisPrefix bounds RedisConfig.Prefix.
const maxRedisPrefix = 128

// RedisConfig puts the outstanding challenges in Redis, shared by every
// replica of the server: a challenge issued by one is spent at another,
// exactly once, and the per-client and total limits hold for the fleet.
// Redis is trusted with availability and uniqueness, not with secrets:
// it holds challenges (public), their clients' addresses and expiries.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port/db, rediss://… (TLS, the
	// server's certificate verified; skip_verify is refused) or
	// unix:///path/to/socket[?db=N]. Timeout and retry query parameters
	// are overridden (Timeout; no command retries). Standalone Redis (or a primary):
	// the scripts touch keys they compute, which Redis Cluster forbids.
	URL string
	// Password is used when URL carries none (the CLI reads it from
	// REDIS_PASSWORD). It is never logged.
	Password string
	// Prefix namespaces every key; empty means DefaultRedisPrefix.
	Prefix string
	// Timeout bounds one Redis command and the dial; 0 means
	// DefaultRedisTimeout. A command that times out is a 503.
	Timeout time.Duration
}

// ParseRedisURL parses a Redis URL into go-redis options. Its errors never
// repeat the URL, which may carry a password. The options' Dialer bounds
// every reply (internal/respguard: strings of at most 4 MiB, aggregates of
// at most 65536 elements, lines of at most 64 KiB); a reply beyond them
// fails its command and go-redis drops the connection.
func ParseRedisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL (want redis://host:port/db, rediss://host:port/db or unix:///path)")
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("scheme %q is not redis, rediss or unix", format.Truncate(u.Scheme, 16))
	}
	if u.Query().Has("skip_verify") {
		// Redis decides which challenges are spent: a Redis impostor could
		// replay them. rediss:// verifies the server's certificate.
		return nil, errors.New("skip_verify is not accepted: rediss:// always verifies the server's certificate")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		msg := err.Error()
		if u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				msg = strings.ReplaceAll(msg, p, "xxxxx")
			}
		}
		// Quoted before it is cut: %q of 200 bytes that are not UTF-8
		// would be 800 bytes long.
		return nil, fmt.Errorf("invalid Redis URL: %s", format.Truncate(strconv.QuoteToASCII(msg), 300))
	}
	if u.Scheme == "rediss" && opts.TLSConfig != nil {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
	}
	// Every reply is read through respguard: a compromised Redis cannot
	// make go-redis allocate a 2 GiB string or a 2^31-element array. The
	// inner dialer is go-redis's own (TCP, Unix socket, TLS for rediss://);
	// it reads opts' DialTimeout and TLSConfig when it dials, so what the
	// caller sets on opts before redis.NewClient still applies.
	opts.Dialer = respguard.Dialer(redis.NewDialer(opts))
	return opts, nil
}

// RedactRedisURL returns raw with its password replaced by "xxxxx", for logs.
func RedactRedisURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// issueScript issues a challenge atomically, limits included (one round
// trip). KEYS: challenge, all (sorted set of every outstanding challenge by
// expiry), client (the client's sorted set). ARGV: ttl (ms), max,
// per-client max, member (hex challenge), client. Returns {1, expiry, now},
// {-1, oldest, now} (all full), {-2, oldest, now} (client full) or
// {-3, 0, now} (exists). Times are Redis's clock (TIME, in ms), the one
// that expires the challenge keys (PX): every replica scores and trims the
// sets by it, so replicas whose clocks disagree cannot trim each other's
// live challenges (a replica ahead) or keep expired ones (a replica
// behind). The sorted sets expire with their newest challenge, so an idle
// client leaves nothing behind. replicate_commands lets Redis before 5
// write after TIME; later ones replicate effects anyway.
var issueScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = now + tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  local o = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {-1, tonumber(o[2] or now), now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  local o = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {-2, tonumber(o[2] or now), now}
end
if not redis.call('SET', KEYS[1], ARGV[5], 'NX', 'PX', ARGV[1]) then
  return {-3, 0, now}
end
redis.call('ZADD', KEYS[2], exp, ARGV[4])
redis.call('ZADD', KEYS[3], exp, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return {1, exp, now}
`)

// consumeScript spends a challenge atomically (one round trip): it reads
// and deletes the challenge key and removes it from the sorted sets of the
// limits. KEYS: challenge, all. ARGV: member, client key prefix. Returns
// 1 when the challenge existed (Redis expired it at its TTL), else 0.
var consumeScript = redis.NewScript(`
local client = redis.call('GET', KEYS[1])
if not client then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', ARGV[2] .. client, ARGV[1])
return 1
`)

// redisStore keeps challenges in Redis. Every operation is one Lua script
// (EVALSHA; EVAL once after Redis lost its script cache), so a
// challenge+attest pair costs two round trips.
type redisStore struct {
	rdb       *redis.Client
	prefix    string
	ttl       time.Duration
	max       int
	perClient int
	now       func() time.Time
	timeout   time.Duration
	// redisAhead is how far Redis's clock was ahead of the replica's
	// (ms) at the last issue: outstanding counts by Redis's clock.
	redisAhead atomic.Int64
}

func newRedisStore(rc *RedisConfig, ttl time.Duration, max, perClient int, now func() time.Time, m *redisMetrics) (*redisStore, error) {
	opts, err := ParseRedisURL(rc.URL)
	if err != nil {
		return nil, err
	}
	if opts.Password == "" {
		opts.Password = rc.Password
	}
	if len(rc.Prefix) > maxRedisPrefix {
		return nil, fmt.Errorf("key prefix longer than %d bytes", maxRedisPrefix)
	}
	prefix := rc.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	timeout := rc.Timeout
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout, timeout
	opts.ContextTimeoutEnabled = true
	// No retries: a script whose reply was lost may have run, and a
	// retried issue would then collide with itself. The client sees 503.
	opts.MaxRetries = -1
	opts.DialerRetries = 1 // a refused dial is an outage: answer 503 at once
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(opts)
	rdb.AddHook(m)
	return &redisStore{rdb: rdb, prefix: prefix, ttl: ttl, max: max, perClient: perClient, now: now, timeout: timeout}, nil
}

func (s *redisStore) challengeKey(k challengeKey) string {
	return s.prefix + "c:" + hex.EncodeToString(k[:])
}
func (s *redisStore) allKey() string       { return s.prefix + "all" }
func (s *redisStore) clientPrefix() string { return s.prefix + "cl:" }

// unavailable wraps a Redis failure as errStoreUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %v", errStoreUnavailable, op, err)
}

// issue runs issueScript. The expiry it returns is the replica's clock
// plus the TTL, and a refusal's retry is the time until the oldest
// challenge concerned expires by Redis's clock, at most the TTL.
func (s *redisStore) issue(ctx context.Context, client string) (k challengeKey, expires time.Time, retry time.Duration, err error) {
	if _, err := rand.Read(k[:]); err != nil {
		return k, time.Time{}, 0, fmt.Errorf("reading random challenge: %w", err)
	}
	now := s.now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := issueScript.Run(ctx, s.rdb,
		[]string{s.challengeKey(k), s.allKey(), s.clientPrefix() + client},
		s.ttl.Milliseconds(), s.max, s.perClient, hex.EncodeToString(k[:]), client).Int64Slice()
	if err != nil {
		return k, time.Time{}, 0, unavailable("issue", err)
	}
	if len(res) != 3 {
		return k, time.Time{}, 0, unavailable("issue", fmt.Errorf("unexpected reply of %d values", len(res)))
	}
	s.redisAhead.Store(res[2] - now.UnixMilli())
	// A planted or corrupt score may lie anywhere: the wait is bounded
	// by the TTL that bounds every challenge's life.
	wait := min(max(time.Duration(res[1]-res[2])*time.Millisecond, time.Second), max(s.ttl, time.Second))
	switch res[0] {
	case 1:
		return k, now.Add(s.ttl), 0, nil
	case -1:
		return k, time.Time{}, wait, errTooManyChallenges
	case -2:
		return k, time.Time{}, wait, errClientChallenges
	case -3: // 2^-256: a broken random source
		return k, time.Time{}, 0, errors.New("random challenge collision")
	}
	return k, time.Time{}, 0, unavailable("issue", fmt.Errorf("unexpected reply %d", res[0]))
}

func (s *redisStore) consume(ctx context.Context, c []byte) error {
	if len(c) != ChallengeSize {
		return errUnknownChallenge
	}
	k := challengeKey(c)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := consumeScript.Run(ctx, s.rdb, []string{s.challengeKey(k), s.allKey()},
		hex.EncodeToString(k[:]), s.clientPrefix()).Int64()
	if err != nil {
		return unavailable("consume", err)
	}
	if n != 1 {
		return errUnknownChallenge
	}
	return nil
}

func (s *redisStore) outstanding(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := s.rdb.ZCount(ctx, s.allKey(), fmt.Sprintf("(%d", s.now().UnixMilli()+s.redisAhead.Load()), "+inf").Result()
	if err != nil {
		return 0, unavailable("count", err)
	}
	return int(n), nil
}

// evict does nothing: Redis expires the challenges, and the scripts trim
// the sorted sets.
func (s *redisStore) evict() int { return 0 }

func (s *redisStore) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func (s *redisStore) close() error { return s.rdb.Close() }

// redisMetrics counts the Redis commands (round trips), their latency and
// their errors; it is a go-redis hook and a Prometheus collector.
type redisMetrics struct {
	latency *prometheus.HistogramVec
	errs    *prometheus.CounterVec
	dials   *prometheus.CounterVec
}

func newRedisMetrics() *redisMetrics {
	return &redisMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: "redis", Name: "command_duration_seconds",
			Help:    "Redis round trips of the challenge store by command (evalsha, eval, ping, zcount, …), errors included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"command"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "redis", Name: "errors_total",
			Help: "Redis commands of the challenge store that failed (network, timeout, server error), by command.",
		}, []string{"command"}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "redis", Name: "dials_total",
			Help: "Connections opened to Redis, by result (ok, error).",
		}, []string{"result"}),
	}
}

// collectors returns the metrics to register.
func (m *redisMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.latency, m.errs, m.dials}
}

// DialHook implements redis.Hook.
func (m *redisMetrics) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			m.dials.WithLabelValues("error").Inc()
		} else {
			m.dials.WithLabelValues("ok").Inc()
		}
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (m *redisMetrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		name := commandLabel(cmd.Name())
		m.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if err != nil && !errors.Is(err, redis.Nil) {
			m.errs.WithLabelValues(name).Inc()
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook (the store sends no pipelines).
func (m *redisMetrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		m.latency.WithLabelValues("pipeline").Observe(time.Since(start).Seconds())
		if err != nil && !errors.Is(err, redis.Nil) {
			m.errs.WithLabelValues("pipeline").Inc()
		}
		return err
	}
}

// commandLabel bounds the command label to the commands the store sends.
func commandLabel(name string) string {
	switch name = strings.ToLower(name); name {
	case "evalsha", "eval", "ping", "zcount", "script", "hello", "auth", "select":
		return name
	}
	return "other"
}
