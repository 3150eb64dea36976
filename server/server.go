package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/graceful"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Defaults of Config.
const (
	DefaultChallengeTTL        = 60 * time.Second
	DefaultMaxChallenges       = 100_000
	DefaultMaxClientChallenges = 64
	DefaultMaxBodyBytes        = 2 << 20 // evidence is at most 1 MiB, base64 adds a third
	DefaultMaxInFlightBytes    = 256 << 20
	DefaultAttestTimeout       = 30 * time.Second
	DefaultReadHeaderTimeout   = 5 * time.Second
	DefaultReadTimeout         = 30 * time.Second
	DefaultWriteTimeout        = 60 * time.Second
	DefaultIdleTimeout         = 120 * time.Second
	DefaultShutdownTimeout     = 10 * time.Second
)

// MaxChallengeTTL bounds Config.ChallengeTTL. Outstanding challenges are
// bounded in number, so whoever fills the store (many addresses, each at
// its per-client bound) locks every client out until the oldest expire:
// the TTL is the longest such a lockout lasts once the flood stops, and an
// attester needs seconds, not hours, to answer a challenge.
const MaxChallengeTTL = time.Hour

// maxChallengeBody bounds the (ignored) body of a challenge request.
const maxChallengeBody = 4 << 10

// Config configures a Server. Zero durations and sizes take the defaults.
type Config struct {
	// Secret is released, sealed, to every attester whose evidence verifies
	// and whose request names no resource. It is copied by New and never
	// logged. A Config needs Secret, Resources or both.
	Secret []byte
	// Resources are secrets per resource (LoadSecretsDir): a request naming
	// one gets it when its evidence also passes the resource's extra
	// policy (403 naming the check otherwise); an unknown name is 404,
	// answered only once the evidence passed the server's policy, so that
	// a client that has not attested cannot tell which names exist.
	Resources map[string]Resource
	// Signer, when set, signs an attestation-result token (package result)
	// for every success, and /.well-known/jwks.json and
	// /.well-known/openid-configuration publish its key.
	Signer *result.Signer
	// PublishKeys are other token-signing public keys that the JWKS
	// publishes beside the Signer's (which it lists once, also when it is
	// among them), so that a fleet rotating its signing key publishes the
	// old and the new key on every replica while tokens of both are valid.
	// The server never signs with them. It needs Signer, and the JWKS
	// holds at most result.MaxKeys keys.
	PublishKeys []*ecdsa.PublicKey
	// Verifier verifies the evidence of every request: roots (emulated
	// ones only when the operator asks), policy, certificate sources and
	// the caches all requests share, whose counters /metrics exports
	// (snp_vtpm_verify_cache_*). Nil means verify.New(verify.Config{}):
	// AMD's pinned roots, the default policy and no network.
	Verifier *verify.Verifier
	// ChallengeTTL is how long a challenge stays usable.
	ChallengeTTL time.Duration
	// MaxChallenges bounds the outstanding challenges of all clients
	// together; beyond it the challenge endpoint answers 503 with
	// Retry-After.
	MaxChallenges int
	// MaxClientChallenges bounds the outstanding challenges of one client;
	// beyond it the challenge endpoint answers 429 with Retry-After. A
	// client is the remote IP address (an IPv6 address by its /64 prefix,
	// which one host usually holds whole). Behind a reverse proxy every
	// request comes from the proxy's address, so all clients share one
	// quota, unless TrustForwardedFor is set.
	MaxClientChallenges int
	// TrustForwardedFor identifies a client by the last address of the
	// X-Forwarded-For header (the one the nearest proxy appended; with or
	// without a port) instead of the connection's address. Set it only
	// when every request passes through a proxy that appends that header:
	// otherwise any client can claim any address and so escape its
	// per-client bound.
	TrustForwardedFor bool
	// MaxBodyBytes bounds an attestation request's body (413 beyond).
	MaxBodyBytes int64
	// MaxInFlightBytes bounds the attestation request bytes received and
	// held at once, all requests together (a body is held until its
	// verification ends): a request whose body would go beyond it is
	// answered 503 with Retry-After, so many clients sending large bodies
	// at once cannot exhaust the server's memory. It counts bytes as they
	// arrive, not declared lengths, so a client that only announces a
	// large body holds nothing.
	MaxInFlightBytes int64
	// AttestTimeout bounds the verification of one request, certificate
	// fetches included.
	AttestTimeout time.Duration
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// http.Server's timeouts.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the graceful shutdown once Serve's context is
	// done: requests still running after it are cut off.
	ShutdownTimeout time.Duration
	// Logger receives the access log (one line per request) and server
	// events; nil discards them.
	Logger *slog.Logger
	// Now is the clock of challenge expiry; nil means time.Now. With
	// Redis, Redis's own clock expires challenges and scores the limits,
	// so that replicas whose clocks disagree share them; Now then only
	// dates the answer's expiry.
	Now func() time.Time
	// Collectors are extra Prometheus collectors exported on /metrics (for
	// example certificate-fetch counters).
	Collectors []prometheus.Collector
	// MetricsElsewhere takes /metrics off Handler (404 there): serve
	// MetricsHandler on a listener of its own, one that only the
	// monitoring network reaches (serve --metrics-listen).
	MetricsElsewhere bool
	// MAA says how the MAA tokens that vouch for an untrusted paravisor
	// are checked (the JWKS's client and upstream budget), when the
	// Verifier's policy or a resource's names maa_paravisor_instance.
	MAA MAAConfig
	// Redis, when set, keeps the outstanding challenges in Redis, shared by
	// every replica; nil keeps them in process memory. With Redis, an
	// unreachable Redis turns /v1/challenge and /v1/attest into 503 with
	// Retry-After (nothing is released) and /readyz into 503.
	Redis *RedisConfig
}

// Server is the remote-attestation verifier and relying party: it issues
// challenges, verifies evidence bound to them and releases its secret
// sealed to the attester's key. It is safe for concurrent use.
type Server struct {
	cfg            Config
	secret         []byte
	verifier       *verify.Verifier
	log            *slog.Logger
	challenges     *challengeStore // the in-memory store; nil with Redis
	store          store           // where challenges live: challenges or Redis
	metrics        *metrics
	handler        http.Handler
	metricsHandler http.Handler // /metrics alone (MetricsHandler)
	resources      map[string]*resource
	signer         *result.Signer
	jwks           []byte       // the JWKS document served, newline included; read-only
	maa            *maaPolicy   // the vouching of the Verifier's policy; nil: it names no MAA instance
	maaTime        time.Time    // the MAA tokens' verification time: the Verifier's Now (zero: now)
	bodies         sync.Pool    // *[]byte: attestation request body buffers (getBody, putBody)
	inFlight       atomic.Int64 // attestation request bytes held now (Config.MaxInFlightBytes)
	// bodyHook (tests only), when set, is given every body buffer (its
	// whole capacity) before it is pooled again.
	bodyHook func(buf []byte)
}

// setDefaults gives zero durations and sizes their defaults and refuses
// bounds that contradict each other.
func (cfg *Config) setDefaults() error {
	if cfg.ChallengeTTL > MaxChallengeTTL {
		return fmt.Errorf("server: challenge TTL %s is longer than %s (a full challenge store would refuse everyone that long)", cfg.ChallengeTTL, MaxChallengeTTL)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ChallengeTTL, DefaultChallengeTTL)
	def(&cfg.AttestTimeout, DefaultAttestTimeout)
	def(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.MaxChallenges == 0 {
		cfg.MaxChallenges = DefaultMaxChallenges
	}
	if cfg.MaxClientChallenges == 0 {
		cfg.MaxClientChallenges = DefaultMaxClientChallenges
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxInFlightBytes == 0 {
		cfg.MaxInFlightBytes = max(DefaultMaxInFlightBytes, cfg.MaxBodyBytes)
	}
	if cfg.MaxInFlightBytes < cfg.MaxBodyBytes {
		return fmt.Errorf("server: MaxInFlightBytes %d is less than MaxBodyBytes %d", cfg.MaxInFlightBytes, cfg.MaxBodyBytes)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if len(cfg.Secret) == 0 && len(cfg.Resources) == 0 {
		return nil, errors.New("server: no secret and no resources")
	}
	if cfg.ChallengeTTL < 0 || cfg.MaxChallenges < 0 || cfg.MaxClientChallenges < 0 || cfg.MaxBodyBytes < 0 || cfg.MaxInFlightBytes < 0 || cfg.AttestTimeout < 0 ||
		cfg.ReadHeaderTimeout < 0 || cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 || cfg.IdleTimeout < 0 || cfg.ShutdownTimeout < 0 {
		return nil, errors.New("server: negative limit in Config")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		secret:   bytes.Clone(cfg.Secret),
		verifier: cfg.Verifier,
		log:      cfg.Logger,
		signer:   cfg.Signer,
	}
	s.cfg.Secret, s.cfg.Resources = nil, nil
	if s.verifier == nil {
		v, err := verify.New(verify.Config{})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.verifier = v
	}
	if err := s.openRelease(cfg.Resources); err != nil {
		return nil, err
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.openMAA(); err != nil {
		return nil, err
	}
	extra := append([]prometheus.Collector{newVerifierCollector(s.verifier)}, cfg.Collectors...)
	storeMetrics, err := s.openStore()
	if err != nil {
		return nil, err
	}
	extra = append(extra, storeMetrics...)
	m, err := newMetrics(s.outstandingGauge, extra)
	if err != nil {
		_ = s.store.close()
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	s.metrics = m

	mux := http.NewServeMux()
	mux.Handle(PathChallenge, allow(s.handleChallenge, http.MethodPost))
	mux.Handle(PathAttest, allow(s.handleAttest, http.MethodPost))
	mux.Handle(PathHealth, allow(s.handleHealth, http.MethodGet, http.MethodHead))
	mux.Handle(PathReady, allow(s.handleReady, http.MethodGet, http.MethodHead))
	s.handleWellKnown(mux)
	s.metricsHandler = metricsMux(m)
	if !cfg.MetricsElsewhere {
		mux.Handle(PathMetrics, s.metricsHandler)
	}
	mux.HandleFunc("/", notFound)
	s.handler = s.accessLog(mux)
	return s, nil
}

// metricsMux serves the registry of m on PathMetrics, and 404 elsewhere.
func metricsMux(m *metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathMetrics, allow(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}).ServeHTTP, http.MethodGet, http.MethodHead))
	mux.HandleFunc("/", notFound)
	return mux
}

// notFound answers 404 no-such-endpoint.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, "", "no such endpoint")
}

// openStore opens the challenge store of s.cfg: Redis when configured,
// else memory. It returns the store's metrics.
func (s *Server) openStore() ([]prometheus.Collector, error) {
	cfg := s.cfg
	if cfg.Redis == nil {
		s.challenges = newChallengeStore(cfg.ChallengeTTL, cfg.MaxChallenges, cfg.MaxClientChallenges, cfg.Now)
		s.store = memStore{s.challenges}
		return nil, nil
	}
	if cfg.ChallengeTTL < time.Millisecond {
		// Redis keeps a challenge for whole milliseconds (PX): a shorter
		// TTL would make every challenge request fail.
		return nil, fmt.Errorf("server: Redis: challenge TTL %s is under Redis's 1ms resolution", cfg.ChallengeTTL)
	}
	rm := newRedisMetrics()
	rs, err := newRedisStore(cfg.Redis, cfg.ChallengeTTL, cfg.MaxChallenges, cfg.MaxClientChallenges, cfg.Now, rm)
	if err != nil {
		return nil, fmt.Errorf("server: Redis: %w", err)
	}
	s.store = rs
	return rm.collectors(), nil
}

// Close releases the challenge store's connections (Redis); the in-memory
// store has none. Call it once the server is no longer used.
func (s *Server) Close() error { return s.store.close() }

// Ready reports whether the server can serve attestations: nil when its
// challenge store answers (always in memory; a PING with Redis). /readyz
// answers 503 when it is not nil.
func (s *Server) Ready(ctx context.Context) error { return s.store.ready(ctx) }

// outstandingGauge is the challenges_outstanding gauge: NaN when the store
// cannot count.
func (s *Server) outstandingGauge() float64 {
	n, err := s.store.outstanding(context.Background())
	if err != nil {
		return math.NaN()
	}
	return float64(n)
}

// Handler returns the server's HTTP handler: the API, /healthz, /readyz and
// /metrics (unless Config.MetricsElsewhere), with access logging. Without
// Serve, expired challenges are evicted lazily.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler returns a handler of /metrics alone (404 elsewhere), not
// logged, for a listener of its own (Config.MetricsElsewhere).
func (s *Server) MetricsHandler() http.Handler { return s.metricsHandler }

// Serve serves HTTP on ln until ctx is done, then shuts down gracefully:
// it stops accepting connections and waits up to Config.ShutdownTimeout
// for running requests. It returns nil after a graceful shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, nil)
}

// ServeTLS is Serve over TLS (1.2 or later) with the certificate chain and
// private key in the PEM files certFile and keyFile.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("server: loading TLS certificate %s: %w", certFile, err)
	}
	return s.serve(ctx, ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
}

func (s *Server) serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	// Requests must outlive ctx during the graceful shutdown, so their
	// contexts keep its values but not its cancellation.
	base := context.WithoutCancel(ctx)
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
		TLSConfig:         tlsConfig,
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme,
		"challenge_ttl", s.cfg.ChallengeTTL, "max_challenges", s.cfg.MaxChallenges,
		"max_client_challenges", s.cfg.MaxClientChallenges, "trust_forwarded_for", s.cfg.TrustForwardedFor)

	janitorCtx, stopJanitor := context.WithCancel(ctx)
	janitorDone := make(chan struct{})
	go func() {
		defer close(janitorDone)
		s.janitor(janitorCtx)
	}()
	defer func() {
		stopJanitor()
		<-janitorDone
	}()

	if err := graceful.Serve(ctx, hs, ln, s.cfg.ShutdownTimeout, s.log); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// janitor evicts expired challenges until ctx is done, so that memory and
// the outstanding gauge follow expiry even when no request comes.
func (s *Server) janitor(ctx context.Context) {
	every := min(max(s.cfg.ChallengeTTL/4, 100*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := s.store.evict(); n > 0 {
				s.log.Debug("evicted expired challenges", "count", n)
			}
		}
	}
}

// handleHealth is liveness: the process serves HTTP, whatever Redis does.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady is readiness: the challenge store answers (always, in
// memory; a PING with Redis). A load balancer stops sending traffic on 503.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := s.Ready(r.Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "challenge store unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	// The body carries nothing; read a bounded amount so that the
	// connection can be reused.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxChallengeBody))
	k, expires, retry, err := s.store.issue(r.Context(), s.clientKey(r))
	switch {
	case errors.Is(err, errStoreUnavailable):
		s.log.Error("issuing challenge", "err", err)
		setRetryAfter(w, time.Second)
		writeError(w, r, http.StatusServiceUnavailable, "", "challenge store unavailable; try again")
		return
	case errors.Is(err, errTooManyChallenges):
		// The server is full: not this client's fault.
		s.metrics.challengesFull.WithLabelValues("total").Inc()
		setRetryAfter(w, retry)
		writeError(w, r, http.StatusServiceUnavailable, CheckChallenge, err.Error())
		return
	case errors.Is(err, errClientChallenges):
		s.metrics.challengesFull.WithLabelValues("client").Inc()
		setRetryAfter(w, retry)
		writeError(w, r, http.StatusTooManyRequests, CheckChallenge, err.Error())
		return
	case err != nil:
		s.log.Error("issuing challenge", "err", err)
		writeError(w, r, http.StatusInternalServerError, "", "cannot issue a challenge")
		return
	}
	s.metrics.challengesIssued.Inc()
	writeJSON(w, http.StatusOK, ChallengeResponse{
		Challenge: k[:],
		Expires:   expires.UTC().Format(time.RFC3339Nano),
		Suite:     Suite,
	})
}

// attestOutcome is what the attest handler decided, for metrics and logs.
type attestOutcome struct {
	status int
	result string
	reason string
	msg    string
}

func (s *Server) handleAttest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	out, resp := s.attest(r.Context(), w, r)
	s.metrics.attestations.WithLabelValues(out.result, out.reason).Inc()
	s.metrics.latency.WithLabelValues(out.result).Observe(time.Since(start).Seconds())
	if out.status != http.StatusOK {
		check := out.reason
		if out.result == resultError {
			check = ""
		}
		writeError(w, r, out.status, check, out.msg)
		return
	}
	setCheck(w, "")
	b, err := appendAttestResponse(make([]byte, 0, 1024), resp)
	if err != nil { // only our own types are written
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSONBody(w, http.StatusOK, append(b, '\n'))
}

func (s *Server) attest(ctx context.Context, w http.ResponseWriter, r *http.Request) (attestOutcome, *AttestResponse) {
	invalid := func(format string, args ...any) attestOutcome {
		return attestOutcome{http.StatusBadRequest, resultInvalid, CheckRequest, fmt.Sprintf(format, args...)}
	}
	// The body buffer goes back to the pool once the attestation is done
	// with: the answer and the outcome hold nothing of it.
	body := s.getBody()
	defer s.putBody(body)
	held := &heldReader{r: http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), s: s}
	defer held.release()
	req, err := readAttestRequestInto(body, held, s.cfg.MaxBodyBytes, r.ContentLength)
	if err != nil {
		if errors.Is(err, errBusy) {
			s.log.Warn("attestation request refused: too many request bytes held", "max_in_flight_bytes", s.cfg.MaxInFlightBytes, "remote", r.RemoteAddr)
			setRetryAfter(w, time.Second)
			return attestOutcome{http.StatusServiceUnavailable, resultError, "busy", "the verifier is busy; try again"}, nil
		}
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return attestOutcome{http.StatusRequestEntityTooLarge, resultInvalid, "body-too-large",
				fmt.Sprintf("request body larger than %d bytes", s.cfg.MaxBodyBytes)}, nil
		}
		return invalid("malformed request: %v", err), nil
	}
	if len(req.Challenge) != ChallengeSize {
		return invalid("challenge must be %d bytes, got %d", ChallengeSize, len(req.Challenge)), nil
	}
	nonce := Nonce(req.Challenge, req.PublicKey)
	sealer, err := newSealer(req.PublicKey, nonce)
	if err != nil {
		return invalid("public_key is not a %s public key (%d bytes)", Suite, len(req.PublicKey)), nil
	}
	ev, err := evidenceBytes(req.Evidence)
	if err != nil {
		return invalid("%v", err), nil
	}
	// Which resource is asked for is answered only once the evidence
	// passed the server's policy (pickResource, below): before that, only
	// what the request's shape says, whatever resources exist.
	if out, ok := s.resourceRequired(req.Resource); ok {
		return out, nil
	}
	if req.Resource != "" && !ValidResourceName(req.Resource) {
		return unknownOutcome, nil
	}

	// The challenge is spent from here on, whatever the verdict.
	if err := s.store.consume(ctx, req.Challenge); err != nil {
		if errors.Is(err, errStoreUnavailable) {
			// Nothing verified, nothing released: the challenge may or may
			// not be spent, so the attester starts over.
			s.log.Error("spending challenge", "err", err)
			setRetryAfter(w, time.Second)
			return attestOutcome{http.StatusServiceUnavailable, resultError, "store-unavailable", "challenge store unavailable; try again with a new challenge"}, nil
		}
		return attestOutcome{http.StatusUnauthorized, resultDenied, CheckChallenge, err.Error()}, nil
	}
	vctx, cancel := context.WithTimeout(ctx, s.cfg.AttestTimeout)
	defer cancel()
	claims, err := s.withToken(s.verifier, s.maa, req.MAAToken).Evidence(vctx, ev, nonce)
	if err != nil {
		if verr, ok := errors.AsType[*verify.Error](err); ok {
			return s.rejected(ctx, r, "", verr), nil
		}
		s.log.Warn("verification did not complete", "err", err, "remote", r.RemoteAddr)
		// Not a verdict on the evidence: a certificate source failed, or the
		// upstream budget is spent (see kds.Client.Limiter). Say when to come
		// back if the error knows.
		setRetryAfterFor(w, err)
		return attestOutcome{http.StatusServiceUnavailable, resultError, "unavailable", "verification did not complete; try again with a new challenge"}, nil
	}
	res := s.pickResource(req.Resource)
	if res == nil {
		s.unknownResourceAsked(ctx, r, req.Resource, claims)
		return unknownOutcome, nil
	}
	return s.release(vctx, w, r, req, res, claims, ev, nonce, sealer)
}

// errBusy: a request body would take the bytes held past
// Config.MaxInFlightBytes.
var errBusy = errors.New("server: too many request bytes held")

// heldReader counts what it reads into its server's inFlight bytes, and
// fails with errBusy once they pass Config.MaxInFlightBytes; release gives
// them back.
type heldReader struct {
	r io.Reader
	s *Server
	n int64
}

func (h *heldReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.n += int64(n)
		if h.s.inFlight.Add(int64(n)) > h.s.cfg.MaxInFlightBytes {
			return n, errBusy
		}
	}
	return n, err
}

func (h *heldReader) release() { h.s.inFlight.Add(-h.n) }

// setRetryAfterFor sets the Retry-After header of a verification that did
// not complete because of err: the delay err knows (a remembered KDS or
// Intel PCS failure, a spent upstream budget: collateral.WaitError), else
// one second.
func setRetryAfterFor(w http.ResponseWriter, err error) {
	var rd interface{ RetryDelay() time.Duration }
	if errors.As(err, &rd) {
		setRetryAfter(w, rd.RetryDelay())
		return
	}
	setRetryAfter(w, time.Second)
}

// setRetryAfter sets the Retry-After header to d in whole seconds, at least 1.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// clientKey identifies the client of r for the per-client challenge bound:
// its IP address (IPv6 by /64 prefix), from the connection, or from the last
// X-Forwarded-For entry when the configuration trusts it.
func (s *Server) clientKey(r *http.Request) string {
	if s.cfg.TrustForwardedFor {
		if vs := r.Header.Values("X-Forwarded-For"); len(vs) > 0 {
			last := vs[len(vs)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a, ok := forwardedAddr(strings.TrimSpace(last)); ok {
				return addrKey(a)
			}
		}
	}
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return addrKey(a)
	}
	return host // not an IP (a Unix socket, a test): as given
}

// forwardedAddr parses an X-Forwarded-For entry: an address, or an
// address with a port (IPv6 in brackets), as Azure Application Gateway
// writes it. Read as an address alone, such an entry failed and every
// client behind the gateway shared its quota.
func forwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

// addrKey is an IPv4 address, or the /64 prefix of an IPv6 address.
func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// allow restricts h to methods; others get a JSON 405 with an Allow header.
func allow(h http.HandlerFunc, methods ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		for _, m := range methods {
			w.Header().Add("Allow", m)
		}
		writeError(w, r, http.StatusMethodNotAllowed, "", fmt.Sprintf("method %s not allowed", r.Method))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are written
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSONBody(w, status, append(b, '\n'))
}

// writeJSONBody writes a JSON answer whose encoding is b.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	// Canonical header names, set without canonicalizing them again; the
	// three values share one array (one allocation), each slice capped so
	// that appending to one cannot reach the next.
	h := w.Header()
	v := [...]string{"application/json", "no-store", "nosniff"}
	vs := v[:]
	h["Content-Type"] = vs[0:1:1]
	h["Cache-Control"] = vs[1:2:2]
	h["X-Content-Type-Options"] = vs[2:3:3]
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// maxErrorMessage bounds the message of an error answer: every error
// quotes the input it names cut short, and this holds whatever an error
// deeper down quotes.
const maxErrorMessage = 2048

// writeError answers with status and an ErrorResponse; msg is cut to
// maxErrorMessage bytes.
func writeError(w http.ResponseWriter, r *http.Request, status int, check, msg string) {
	setCheck(w, check)
	writeJSON(w, status, ErrorResponse{Error: format.Truncate(msg, maxErrorMessage), Check: check})
}
