package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/internal/graceful"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// maxSecretFile bounds the secret file read by serve.
const maxSecretFile = 1 << 20

// serveFlags are the flags of the serve command.
type serveFlags struct {
	trust               trustFlags
	listen              string
	release             releaseFlags
	tlsCert             string
	tlsKey              string
	challengeTTL        time.Duration
	maxChallenges       int
	maxClientChallenges int
	trustForwardedFor   bool
	upstreamRate        float64
	upstreamBurst       int
	upstreamRetries     int
	maxInFlight         int64
	maxBody             int64
	logJSON             bool
	shutdownGrace       time.Duration
	redisURL            string
	redisPrefix         string
	metricsListen       string
	maaJWKS             string
}

// Defaults of the upstream (KDS) budget of serve.
const (
	defaultUpstreamRate  = 1.0 // requests per second
	defaultUpstreamBurst = 10
)

func newServeCmd(g *globals) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR (--secret-file FILE | --secrets-dir DIR) [--signing-key FILE] [--policy FILE] [--trust-emulated] [--tls-cert F --tls-key F] [--redis URL]",
		Short: "Run the remote-attestation verifier: release a secret to CVMs whose evidence verifies",
		Long: `Run an HTTP(S) verifier and relying party (see docs/remote-attestation.md).

POST /v1/challenge issues a single-use random challenge (valid --challenge-ttl).
POST /v1/attest takes {"challenge", "evidence", "public_key"}, spends the challenge,
verifies the evidence against nonce = SHA-384(challenge || public key) with the
trust flags below (AMD's pinned roots; the emulated chain only with --trust-emulated;
--policy for minimum TCB, measurements and PCRs) and answers with the content of
--secret-file sealed with HPKE (` + server.Suite + `)
to the public key. "snp-vtpm attest" is the matching client.

Also served: /healthz and Prometheus metrics on /metrics. The log is serve's output, on
stderr without -v (other commands are quiet there but for warnings): INFO lines at start,
one access-log line per request, one per secret released and one per rejection with
its full reason (a 403 names the check, but not the policy's reference values)
(--log-json: JSON lines); -v adds DEBUG diagnostics. Neither the secret nor keys nor
evidence are logged.
SIGINT/SIGTERM stop accepting connections, let in-flight requests complete for
--shutdown-grace and exit 0 (1 if requests were still running when it expired).

Limits, so that the server is neither a memory sink nor an amplifier toward AMD KDS:
a client (its IP address; an IPv6 address by /64) holds at most
--max-client-challenges outstanding challenges (429 beyond), all clients together
--max-challenges (503 beyond); expired challenges are reclaimed. Behind a reverse
proxy every client has the proxy's address and so they share one quota, unless
--trust-forwarded-for (only when every request passes through a proxy that appends
X-Forwarded-For; otherwise clients can pick their address). Certificate fetches
from KDS are bounded by a token bucket (--upstream-rate per second, --upstream-burst);
a request that would exceed it is answered 503 with Retry-After at once, never
queued and never released a secret. Each certificate is fetched at most once per
request (--upstream-retries 0), concurrent requests for the same certificate share
one fetch, and a failed fetch is remembered (30 s for an unknown chip, 5 s for a
network failure) so that repeating it costs nothing upstream.

With --redis URL (redis://[:password@]host:port/db, rediss://… for TLS, or
unix:///path/to/socket?db=N; the password from the URL, else from REDIS_PASSWORD)
the outstanding challenges live in Redis, so any number of replicas behind a load
balancer share them: a challenge issued by one replica is spent at another, exactly
once, and --max-challenges and --max-client-challenges hold for the whole fleet.
Keys start with --redis-prefix; Redis holds challenges, client addresses and expiries,
never the secret, and the fleet's certificate cache: a VCEK, cert chain or CRL one
replica fetched and validated serves every replica (validated again when read; kept
until its own expiry, at most a day), and concurrent misses of the replicas wait for
one fetch (a short lock), so the fleet asks KDS once per chip and TCB. When Redis
cannot be reached, certificates come from KDS as without it, /v1/challenge and
/v1/attest answer 503 with Retry-After (nothing is released) and /readyz answers 503
while /healthz stays 200; the connection comes back by itself. Without --redis the challenges live
in this process (one replica).

A policy naming maa_paravisor_instance (and maa_paravisor_audience) also accepts a
paravisor whose ID key (TDX: MRTD) is not trusted when the request's "maa_token" (attest
--maa-token) is a valid AzureGuest token of that instance for the evidence's report: the
instance's JWKS is fetched from INSTANCE/certs when first needed (under the same upstream
budget; a failure is 503 with Retry-After, never a verdict; --maa-jwks FILE pins it instead,
which --offline needs), cached for an hour, and the
answer, the signed result and the "secret released" line name the instance
(paravisor_voucher). A token is ignored when the paravisor is trusted or no policy names
an instance; a bad one is 403 paravisor-identity, naming the token's failed maa-* check.

` + serveReleaseHelp + `The bound address is printed on standard output ("listening on URL") once the server
listens, after the TLS files loaded, so --listen 127.0.0.1:0 picks a free port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, g, &f)
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// register adds serve's flags to fs.
func (f *serveFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8443", "address to listen on (host:port; port 0 picks a free one)")
	f.release.register(fs)
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain: serve HTTPS (with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.DurationVar(&f.challengeTTL, "challenge-ttl", server.DefaultChallengeTTL, "how long a challenge stays usable (at most 1h)")
	fs.IntVar(&f.maxChallenges, "max-challenges", server.DefaultMaxChallenges, "outstanding challenges at most, all clients together (503 beyond)")
	fs.IntVar(&f.maxClientChallenges, "max-client-challenges", server.DefaultMaxClientChallenges, "outstanding challenges at most per client IP address or IPv6 /64 (429 beyond)")
	fs.BoolVar(&f.trustForwardedFor, "trust-forwarded-for", false, "identify clients by the last X-Forwarded-For address (only behind a proxy that appends it)")
	fs.Float64Var(&f.upstreamRate, "upstream-rate", defaultUpstreamRate, "certificate requests per second to KDS at most, sustained (503 with Retry-After beyond)")
	fs.IntVar(&f.upstreamBurst, "upstream-burst", defaultUpstreamBurst, "certificate requests to KDS at most in a burst")
	fs.IntVar(&f.upstreamRetries, "upstream-retries", 0, "retries of a failed KDS request within one attestation (network errors, 408, 429, 5xx only)")
	fs.Int64Var(&f.maxBody, "max-body", server.DefaultMaxBodyBytes, "largest attestation request body in bytes (413 beyond)")
	fs.Int64Var(&f.maxInFlight, "max-in-flight-bytes", server.DefaultMaxInFlightBytes, "attestation request bytes received and held at once, all clients together (503 beyond)")
	fs.StringVar(&f.redisURL, "redis", "", "keep challenges in Redis, shared by replicas: redis://host:port/db, rediss://… (TLS), unix:///path (password: in the URL or REDIS_PASSWORD)")
	fs.StringVar(&f.redisPrefix, "redis-prefix", server.DefaultRedisPrefix, "prefix of every Redis key (one namespace per fleet)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "serve /metrics on this address only (plain HTTP, e.g. 127.0.0.1:9464), not on --listen")
	fs.StringVar(&f.maaJWKS, "maa-jwks", "", "the JWKS (file) of the policy's maa_paravisor_instance, pinned: its /certs is never fetched (needed with --offline)")
	fs.BoolVar(&f.logJSON, "log-json", false, "write the log (stderr: startup, access and release lines at INFO; -v adds DEBUG) as JSON lines instead of text")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", server.DefaultShutdownTimeout, "on SIGINT/SIGTERM, how long in-flight requests may take to complete")
	f.trust.register(fs)
	offlineMAAKeys(fs, "the policy's maa_paravisor_instance", "--maa-jwks")
	// serve refuses --imds (validate): IMDS serves only this machine's
	// VCEK. Kept so that the refusal says why; hidden so that --help does
	// not offer it.
	_ = fs.MarkHidden("imds")
}

// validate refuses flag values serve cannot run with (usage errors).
func (f *serveFlags) validate() error {
	if f.shutdownGrace <= 0 {
		return errors.New("--shutdown-grace must be positive")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if f.challengeTTL <= 0 || f.maxChallenges <= 0 || f.maxClientChallenges <= 0 || f.maxBody <= 0 || f.maxInFlight <= 0 {
		return errors.New("--challenge-ttl, --max-challenges, --max-client-challenges, --max-body and --max-in-flight-bytes must be positive")
	}
	if f.maxInFlight < f.maxBody {
		return fmt.Errorf("--max-in-flight-bytes %d is less than --max-body %d: a body of --max-body could never be received", f.maxInFlight, f.maxBody)
	}
	if f.challengeTTL > server.MaxChallengeTTL {
		return fmt.Errorf("--challenge-ttl %s is longer than %s: once the outstanding challenges reach --max-challenges, everyone is refused until the oldest expire", f.challengeTTL, server.MaxChallengeTTL)
	}
	if !(f.upstreamRate > 0) || f.upstreamBurst < 1 || f.upstreamRetries < 0 {
		return errors.New("--upstream-rate must be positive, --upstream-burst at least 1, --upstream-retries not negative")
	}
	if f.trust.useIMDS {
		// IMDS serves this machine's own VCEK, never an attester's: asking it
		// first would only add a request per unknown certificate.
		return errors.New("--imds is for verifying on the CVM itself; serve verifies other machines (their VCEK comes from the evidence or KDS)")
	}
	return nil
}

func runServe(cmd *cobra.Command, g *globals, f *serveFlags) error {
	ctx := cmd.Context()
	if err := f.validate(); err != nil {
		return err
	}
	rc, err := redisConfig(f)
	if err != nil {
		return err
	}

	log := serveLogger(g, f.logJSON)
	g.log = log // the trust options (KDS client) log there too
	rel, err := f.release.load(log, f.listen)
	if err != nil {
		return err
	}

	// One long-lived Verifier: its caches serve every request.
	v, kc, err := f.trust.verifier(ctx, g, "", &upstreamLimits{rate: f.upstreamRate, burst: f.upstreamBurst, retries: f.upstreamRetries})
	if err != nil {
		return err
	}
	in, _ := v.Config().TDXCollateralGetter.(*collateral.Intel)
	collectors, closeCache, err := serveCollectors(kc, in, rc)
	if err != nil {
		return err
	}
	defer closeCache()
	mc, err := f.maaConfig(g, v, kc)
	if err != nil {
		return err
	}
	if f.trust.trustEmulated {
		log.Warn("trusting the EMULATED CVMs' fake AMD and Intel chains (--trust-emulated): anyone can sign evidence under them (public keys); for testing only, it proves nothing about hardware", "trust_emulated", true)
	}
	srv, err := server.New(server.Config{
		Secret:              rel.secret,
		Resources:           rel.resources,
		Signer:              rel.signer,
		PublishKeys:         rel.publish,
		Verifier:            v,
		ChallengeTTL:        f.challengeTTL,
		MaxChallenges:       f.maxChallenges,
		MaxClientChallenges: f.maxClientChallenges,
		TrustForwardedFor:   f.trustForwardedFor,
		MaxBodyBytes:        f.maxBody,
		MaxInFlightBytes:    f.maxInFlight,
		ShutdownTimeout:     f.shutdownGrace,
		Logger:              log,
		Collectors:          collectors,
		Redis:               rc,
		MetricsElsewhere:    f.metricsListen != "",
		MAA:                 mc,
	})
	clear(rel.secret)
	if err != nil {
		return err
	}
	defer srv.Close()
	if rc != nil {
		log.Info("challenges in Redis", "redis", server.RedactRedisURL(rc.URL), "prefix", rc.Prefix)
		if err := srv.Ready(ctx); err != nil {
			log.Warn("Redis not reachable yet: challenge and attest answer 503 and /readyz 503 until it is", "err", err)
		}
	}

	tuneServeGC(g, os.Getenv)
	return listenAndServe(ctx, g, f, srv, rel.signer)
}

// maaConfig is serve's paravisor voucher configuration: the JWKS fetches
// under the KDS budget (--upstream-rate), none with --offline, the
// emulated MAA's key with --trust-emulated, and --maa-jwks pinned for the
// policy's maa_paravisor_instance.
func (f *serveFlags) maaConfig(g *globals, v *verify.Verifier, kc *collateral.Chain) (server.MAAConfig, error) {
	mc := server.MAAConfig{Limiter: kc.Limiter, TrustEmulated: f.trust.trustEmulated, Offline: f.trust.offline}
	if f.maaJWKS == "" {
		return mc, nil
	}
	pol := v.Config().Policy
	instance := pol.MAAIssuer()
	if instance == "" {
		return mc, errors.New("--maa-jwks: the policy names no maa_paravisor_instance, so no token is consulted (add it to --policy)")
	}
	ks, err := readMAAJWKS(g, "--maa-jwks", f.maaJWKS)
	if err != nil {
		return mc, err
	}
	mc.Keys = map[string]*maa.KeySet{instance: ks}
	return mc, nil
}

// serveGCPercent is the GC target of a serve process whose operator did
// not set GOGC. A verifier's live heap is small and steady (its caches,
// bounded) while every request allocates tens of kilobytes that die with
// it: at Go's default of 100 the collector ran every few hundred
// attestations and cost 5–7 % of serve's CPU (BENCHMARKS.md). At 400 it
// runs a quarter as often; the heap may grow to five times the live data
// instead of twice (GOMEMLIMIT still caps it when set).
const serveGCPercent = 400

// tuneServeGC raises the GC target to serveGCPercent unless the
// environment sets GOGC (the operator's choice wins) or g cannot set it
// (commands run in-process by tests). It is process-wide, so only serve,
// which owns its process, calls it.
func tuneServeGC(g *globals, getenv func(string) string) {
	if g.setGCPercent == nil || getenv("GOGC") != "" {
		return
	}
	was := g.setGCPercent(serveGCPercent)
	g.log.Debug("GC target raised (GOGC unset)", "gogc", serveGCPercent, "was", was)
}

// serveLogger is serve's log on stderr: text, or JSON with logJSON; debug
// with -v.
func serveLogger(g *globals, logJSON bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if g.verbose {
		opts.Level = slog.LevelDebug
	}
	if logJSON {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// listenAndServe loads the TLS key pair (before listening: bad files fail
// without "listening on"), listens, prints the address and serves until
// ctx is done, then drains in-flight requests for --shutdown-grace.
func listenAndServe(ctx context.Context, g *globals, f *serveFlags, srv *server.Server, signer *result.Signer) error {
	scheme := "http"
	if f.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey); err != nil {
			return fmt.Errorf("--tls-cert %s and --tls-key %s: not a PEM TLS certificate chain and its private key (%w)", f.tlsCert, f.tlsKey, err)
		}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w. Next: give --listen an address of this machine that is free, host:port (port 0 picks a free port)", f.listen, err)
	}
	if signer != nil {
		if f.release.issuer == "" { // before serving: nothing reads it yet
			signer.Issuer = scheme + "://" + ln.Addr().String()
		}
		g.log.Info("signing attestation results", "issuer", signer.Issuer, "kid", signer.KeyID(), "jwks", strings.TrimRight(signer.Issuer, "/")+server.PathJWKS)
		if unreachableIssuer(signer.Issuer) {
			g.log.Warn("the tokens' issuer is the unspecified address this server listens on, which no relying party can reach: give --issuer the URL relying parties use (result verify checks iss against it)", "issuer", signer.Issuer)
		}
		if f.redisURL != "" && f.release.issuer == "" {
			g.log.Warn("replicas sharing --redis must share --issuer (and --signing-key): by default each names its own listening URL, and a relying party refuses the tokens of every replica but one (result-issuer)", "issuer", signer.Issuer)
		}
	}
	if f.metricsListen != "" {
		stop, err := serveMetrics(ctx, g, f, srv)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	fmt.Fprintf(g.stdout, "listening on %s://%s\n", scheme, ln.Addr())
	if f.tlsCert != "" {
		err = srv.ServeTLS(ctx, ln, f.tlsCert, f.tlsKey)
	} else {
		err = srv.Serve(ctx, ln)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintln(g.stderr, "stopped: in-flight requests completed")
	}
	return nil
}

// serveMetrics serves srv's /metrics alone on --metrics-listen (plain
// HTTP, for the monitoring network) until ctx is done; stop waits for it.
func serveMetrics(ctx context.Context, g *globals, f *serveFlags, srv *server.Server) (stop func(), err error) {
	ln, err := net.Listen("tcp", f.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: cannot listen on %s: %w", f.metricsListen, err)
	}
	hs := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	g.log.Info("serving /metrics", "addr", ln.Addr().String())
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := graceful.Serve(mctx, hs, ln, f.shutdownGrace, nil); err != nil {
			g.log.Error("metrics listener", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// unreachableIssuer reports whether issuer, a URL, names an unspecified
// host (0.0.0.0, ::, or none): what the issuer defaults to when serve
// listens on every interface without --issuer.
func unreachableIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}

// redisConfig returns the Redis configuration of --redis, nil without it.
// The URL is checked here, so a bad one is a usage error that does not
// repeat the password.
func redisConfig(f *serveFlags) (*server.RedisConfig, error) {
	if f.redisURL == "" {
		return nil, nil
	}
	if _, err := server.ParseRedisURL(f.redisURL); err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	if f.redisPrefix == "" {
		return nil, errors.New("--redis-prefix must not be empty")
	}
	return &server.RedisConfig{URL: f.redisURL, Password: os.Getenv("REDIS_PASSWORD"), Prefix: f.redisPrefix}, nil
}

// quietRedis drops go-redis's own log lines (dial failures, printed to
// stderr in its format): serve logs every Redis failure it acts on, with
// the error, in its own format (--log-json). go-redis's logger is
// process-wide, so only main sets it, once.
func quietRedis() { redis.SetLogger(discardRedisLog{}) }

// discardRedisLog is a go-redis logger that writes nothing.
type discardRedisLog struct{}

// Printf implements go-redis's internal.Logging.
func (discardRedisLog) Printf(context.Context, string, ...any) {}

// readSecret reads the secret file: non-empty, at most maxSecretFile bytes.
func readSecret(name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("--secret-file is required")
	}
	secret, err := readFile("--secret-file", name)
	if err != nil {
		return nil, err
	}
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("--secret-file %s is empty", name)
	case len(secret) > maxSecretFile:
		return nil, fmt.Errorf("--secret-file %s is larger than %d bytes", name, maxSecretFile)
	}
	return secret, nil
}

// statCounter is one counter of a source's Stats snapshot.
type statCounter[S any] struct {
	name, help string
	value      func(S) int64
}

// statCollectors exports counters read from stats() as metrics of the
// given subsystem.
func statCollectors[S any](subsystem string, stats func() S, counters []statCounter[S]) []prometheus.Collector {
	cs := make([]prometheus.Collector, len(counters))
	for i, c := range counters {
		cs[i] = prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "snp_vtpm", Subsystem: subsystem, Name: c.name, Help: c.help},
			func() float64 { return float64(c.value(stats())) })
	}
	return cs
}

// kdsCollectors exports the certificate client's counters as metrics.
func kdsCollectors(kc *collateral.Chain) []prometheus.Collector {
	if kc == nil {
		return nil
	}
	return statCollectors("kds", kc.Stats, []statCounter[collateral.Stats]{
		{"fetches_total", "HTTP requests sent to AMD KDS or IMDS for certificates, retries included.", func(s collateral.Stats) int64 { return s.Fetches }},
		{"cache_hits_total", "Certificates served from the memory cache.", func(s collateral.Stats) int64 { return s.CacheHits }},
		{"disk_hits_total", "Certificates served from the disk cache.", func(s collateral.Stats) int64 { return s.DiskHits }},
		{"retries_total", "Certificate fetches retried.", func(s collateral.Stats) int64 { return s.Retries }},
		{"errors_total", "Certificate fetches that failed.", func(s collateral.Stats) int64 { return s.Errors }},
		{"negative_hits_total", "Certificate requests answered by a remembered recent failure, without a fetch.", func(s collateral.Stats) int64 { return s.NegativeHits }},
		{"limited_total", "Certificate fetches not sent because the upstream budget (--upstream-rate, --upstream-burst) was spent.", func(s collateral.Stats) int64 { return s.Limited }},
		{"fleet_hits_total", "Certificates served from the fleet's cache in Redis (--redis).", func(s collateral.Stats) int64 { return s.FleetHits }},
		{"lock_waits_total", "Waits for another replica's fetch of the same certificate (--redis).", func(s collateral.Stats) int64 { return s.LockWaits }},
		{"lock_errors_total", "Fetches made without the fleet's lock because Redis could not be asked (--redis).", func(s collateral.Stats) int64 { return s.LockErrors }},
	})
}
