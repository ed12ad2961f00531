// Package web is Signet's HTTP layer on echo: SignServer's process servlet,
// worker servlet and REST v1 interface, the health check and Prometheus
// metrics. It parses, limits and responds; workers do the rest, and the web
// layer never knows about CMS or tokens.
//
// Every request gets a request ID (a sane incoming X-Request-ID, or a new
// one), returned in the X-Request-ID response header and given to the
// worker; every request is logged in one line and counted in the metrics.
// Request bodies are limited to Options.MaxUploadSize on every route,
// including routes mounted later through Echo, and every request is bounded
// by Options.Limits: connections, requests in flight and per worker (503
// with Retry-After), stalled bodies (408), and the memory one request may
// hold (413).
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/workers"
)

// DefaultMaxUploadSize is the upload limit when Options leaves it zero: 100
// MiB, SignServer's default HTTP_MAX_UPLOAD_SIZE.
const DefaultMaxUploadSize = 100 << 20

// DefaultShutdownTimeout bounds how long Serve waits for requests in flight
// when its context is done.
const DefaultShutdownTimeout = 30 * time.Second

// Options configure a Server.
type Options struct {
	// Registry holds the live workers. Each request takes the current set
	// once and uses it to the end.
	Registry *workers.Registry
	// MaxUploadSize is the largest request body in bytes; larger requests
	// get 413. Zero means DefaultMaxUploadSize.
	MaxUploadSize int64
	// Logger receives one line per request. Nil means slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown of Serve. Zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// TempDir holds multipart uploads larger than memoryThreshold while a
	// request is read. Empty means os.TempDir().
	TempDir string
	// Limits bound time, connections, concurrency and memory; zero fields
	// take DefaultLimits.
	Limits Limits
	// Node reports the node's own state for the health check: problems
	// that are not a worker's (the cluster's database unreachable) and the
	// configuration version it runs. Nil: no such problems, no version.
	Node func() NodeStatus
	// Collectors are further Prometheus metrics served on /metrics, such
	// as the cluster state's database round trips.
	Collectors []prometheus.Collector
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For header names the client, and whose
	// X-Forwarded-Proto or Forwarded proto= says whether the client's
	// request was https (echo's Scheme). A request from any other peer is
	// attributed to the peer itself, whatever headers it sends: any client
	// can write them. Nil: no proxy is trusted.
	TrustedProxies []*net.IPNet
	// Authorizer enforces each worker's AUTHTYPE before it sees a
	// request (web/auth.WorkerAuthorizer). Nil: every worker is served as
	// NOAUTH (tests, embedding).
	Authorizer Authorizer
	// OnRefusal is told of every refused client (for the audit log); err
	// is the Authorizer's.
	OnRefusal func(c echo.Context, surface string, err error)
}

// Authorizer decides whether the client of a request may use a worker, by
// the worker's config.Access (its AUTHTYPE). It returns who the client is,
// or an error that is a Refusal.
type Authorizer interface {
	Authorize(r *http.Request, client, worker string, acc config.Access) (who string, err error)
}

// Refusal is an Authorizer's error: the status (401, 403, 429), the
// WWW-Authenticate challenge of a 401 and the Retry-After of a 429.
type Refusal interface {
	error
	HTTPStatus() int
	AuthChallenge() string
	RetryIn() time.Duration
}

// NodeStatus is the state of the node as a whole.
type NodeStatus struct {
	// Problems make the node degraded: the health check fails, so that a
	// load balancer drains it.
	Problems []string
	// ConfigVersion is the cluster configuration version in force, 0
	// outside a cluster; every answer carries it in the header
	// X-Signet-Config-Version.
	ConfigVersion int64
}

// Server serves Signet's HTTP interface.
type Server struct {
	e         *echo.Echo
	reg       *workers.Registry
	max       int64
	log       *slog.Logger
	shutdown  time.Duration
	tempDir   string
	metrics   *metrics
	certs     certText // base64 of signer certificates, for REST responses
	limits    Limits
	inFlight  atomic.Int64 // requests admitted, health and metrics and those standing aside not counted
	aside     asidePool    // requests waiting on their body, out of inFlight and their worker's queue (places)
	queues    workerQueues
	node      func() NodeStatus
	authz     Authorizer
	onRefusal func(c echo.Context, surface string, err error)
	// placesChanged, when not nil, is told after every change of a
	// request's places (the counts behind signet_requests_in_flight,
	// signet_requests_awaiting_body and the worker queues): the event
	// tests wait on where they would otherwise poll /metrics. Set by
	// tests only (export_test.go), before Serve; it must not block.
	placesChanged func()
	// proxies is the proxy rule in force (server trustedProxies), swapped
	// whole by SetTrustedProxies at a reload.
	proxies atomic.Pointer[proxies]
}

// Route paths of the built-in endpoints; the names label metrics and logs.
const (
	pathProcess = "/signserver/process"
	pathWorker  = "/signserver/worker/:name"
	pathREST    = "/signserver/rest/v1/workers/:idOrName/process"
	pathHealth  = "/signserver/healthcheck/signserverhealth"
	pathMetrics = "/metrics"
)

var endpointNames = map[string]string{
	pathProcess: "process",
	pathWorker:  "worker",
	pathREST:    "rest",
	pathHealth:  "health",
	pathMetrics: "metrics",
}

// New returns a Server with its routes.
func New(opts Options) *Server {
	s := &Server{
		reg:       opts.Registry,
		max:       opts.MaxUploadSize,
		log:       opts.Logger,
		shutdown:  opts.ShutdownTimeout,
		tempDir:   opts.TempDir,
		metrics:   newMetrics(),
		limits:    opts.Limits.withDefaults(),
		node:      opts.Node,
		authz:     opts.Authorizer,
		onRefusal: opts.OnRefusal,
	}
	// Twice maxRequestMemory, which config bounds at 4 EiB: 2 × 4 EiB
	// overflowed to a negative budget, and no request stood aside.
	s.aside.most, s.aside.budget = int64(s.limits.MaxConnections), 2*min(s.limits.MaxRequestMemory, math.MaxInt64/2)
	s.metrics.registry.MustRegister(opts.Collectors...)
	s.metrics.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signet_requests_in_flight",
			Help: "Requests the server works on, counted against maxInFlight (health, metrics and requests awaiting their body aside).",
		}, func() float64 { return float64(s.inFlight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signet_requests_awaiting_body",
			Help: "Requests waiting on their client's body, which hold no place in maxInFlight or a worker's maxWorkerQueue meanwhile.",
		}, func() float64 { return float64(s.aside.n.Load()) }),
	)
	if s.reg == nil {
		s.reg = workers.NewRegistry(workers.NewSet(nil, nil))
	}
	if s.max <= 0 {
		s.max = DefaultMaxUploadSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.shutdown <= 0 {
		s.shutdown = DefaultShutdownTimeout
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// The client's address and scheme, from the headers of a trusted
	// proxy only. echo's own default trusts any loopback or private peer.
	s.SetTrustedProxies(opts.TrustedProxies)
	e.IPExtractor = func(r *http.Request) string { return s.proxies.Load().clientIP(r) }
	e.SchemeExtractor = func(r *http.Request) string { return s.proxies.Load().scheme(r) }
	e.Use(s.observe, s.admit, s.recoverer)
	if s.node != nil {
		e.Use(s.configVersion)
	}
	// SignServer's GenericProcessServlet serves GET like POST; so does
	// /signserver/worker/*, which is the same servlet with the worker name
	// taken from the path.
	e.GET(pathProcess, s.processServlet)
	e.POST(pathProcess, s.processServlet)
	e.GET(pathWorker, s.workerServlet)
	e.POST(pathWorker, s.workerServlet)
	e.POST(pathREST, s.rest)
	// The reads answer HEAD as GET (net/http drops the body), as
	// net/http's own router does: load balancers check health with HEAD.
	// Not the servlets, whose GET signs.
	read := []string{http.MethodGet, http.MethodHead}
	e.Match(read, pathHealth, s.health)
	e.Match(read, pathMetrics, echo.WrapHandler(s.metrics.handler()))
	s.e = e
	return s
}

// SetTrustedProxies puts nets in force as server trustedProxies (see
// Options.TrustedProxies), for the requests that start after it: a reload
// calls it, so that a proxy removed from the configuration is no longer
// believed once the reload says so, not only after a restart.
func (s *Server) SetTrustedProxies(nets []*net.IPNet) {
	p := newProxies(nets)
	s.proxies.Store(&p)
}

// Echo returns the echo instance, to mount further routes (vendor APIs,
// admin). Routes mounted on it share the request ID, logging, metrics,
// upload limit, panic recovery and error rendering of the built-in ones.
func (s *Server) Echo() *echo.Echo { return s.e }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// Serve serves on l until ctx is done, then stops accepting connections and
// lets the requests in flight finish, for up to the shutdown timeout, after
// which it closes the remaining connections. It returns nil after a graceful
// stop, or the error that stopped it.
func (s *Server) Serve(ctx context.Context, l net.Listener) error { return s.ServeTLS(ctx, l, nil) }

// ServeTLS is Serve over TLS with cfg (nil: plain HTTP). The connection
// limit counts TCP connections, under the TLS layer, so that handlers see
// the TLS state (client certificates) of their request.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener, cfg *tls.Config) error {
	ln := newLimitListener(l, s.limits.MaxConnections)
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	hs := &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		// The body's read deadlines (BodyTimeout, ReadTimeout) are set by
		// limitedBody as it is read.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// An operator reading the log sees the stop and how long it took: the
	// requests in flight are finished first, up to the shutdown timeout.
	start := time.Now()
	s.log.Info("stopping: no new requests; finishing those in flight", "timeout", s.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		s.log.Warn("shutdown timeout reached; closing the remaining connections", "timeout", s.shutdown)
		hs.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	s.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return err
}
