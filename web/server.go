// Package web is Signet's HTTP layer on echo: SignServer's process servlet,
// worker servlet and REST v1, the health check and Prometheus metrics. It
// parses, limits and responds; workers do the rest.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signet-project/signet/workers"
)

// DefaultMaxUploadSize is the upload limit when Options leaves it zero.
const DefaultMaxUploadSize = 100 << 20

// Options configure a Server.
type Options struct {
	Registry      *workers.Registry
	MaxUploadSize int64
	Logger        *slog.Logger
}

// Server serves Signet's HTTP interface.
type Server struct {
	e       *echo.Echo
	reg     *workers.Registry
	max     int64
	log     *slog.Logger
	metrics *metrics
}

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	items    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_requests_total", Help: "Requests by worker, endpoint and status code."}, []string{"worker", "endpoint", "status"}),
		items:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_items_signed_total", Help: "Signatures made, by worker."}, []string{"worker"}),
		latency:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_request_duration_seconds", Help: "Request latency by worker.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"worker"}),
	}
	m.registry.MustRegister(m.requests, m.items, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// New returns a Server with its routes.
func New(opts Options) *Server {
	s := &Server{reg: opts.Registry, max: opts.MaxUploadSize, log: opts.Logger, metrics: newMetrics()}
	if s.max <= 0 {
		s.max = DefaultMaxUploadSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.recoverer)
	e.POST("/signserver/process", s.processServlet)
	e.POST("/signserver/worker/:name", s.workerServlet)
	e.POST("/signserver/rest/v1/workers/:id/process", s.rest)
	e.GET("/signserver/healthcheck/signserverhealth", s.health)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))
	s.e = e
	return s
}

// Echo returns the echo instance, to mount further routes (vendor APIs, admin).
func (s *Server) Echo() *echo.Echo { return s.e }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// Serve serves on l until ctx is done, then stops accepting and lets
// requests in flight finish for up to 30 seconds.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.e, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// httpError is an error with a status code and a sentence for the client.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// status maps an error to a status code and the sentence the client sees.
func (s *Server) status(err error) (int, string) {
	var mbe *http.MaxBytesError
	var he *httpError
	var ee *echo.HTTPError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("The request exceeds the upload limit of %d bytes: send a smaller document or its hash.", mbe.Limit)
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.As(err, &ee):
		switch ee.Code {
		case http.StatusNotFound:
			return ee.Code, "No such endpoint: see the README for Signet's HTTP interface."
		case http.StatusMethodNotAllowed:
			return ee.Code, "This endpoint does not accept that method: signing endpoints take POST."
		case http.StatusRequestEntityTooLarge:
			return ee.Code, fmt.Sprintf("The request exceeds the upload limit of %d bytes.", s.max)
		}
		return ee.Code, http.StatusText(ee.Code)
	case errors.Is(err, workers.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, workers.ErrIllegalRequest):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, workers.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, workers.ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, workers.ErrMisconfigured):
		return http.StatusInternalServerError, err.Error()
	}
	s.log.Error("unexpected error", "error", err)
	return http.StatusInternalServerError, "Internal error: see the server log."
}

func isREST(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/signserver/rest/") }

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := s.status(err)
	if isREST(c) {
		c.JSON(code, map[string]string{"error": msg})
		return
	}
	c.String(code, msg+"\n")
}

// recoverer turns a panic into a 500 with a generic sentence.
func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic serving request", "path", c.Path(), "panic", fmt.Sprint(r))
				err = &httpError{http.StatusInternalServerError, "Internal error: see the server log."}
			}
		}()
		return next(c)
	}
}

func requestID(c echo.Context) string {
	if id := c.Request().Header.Get("X-Request-ID"); id != "" && len(id) <= 64 && !strings.ContainsAny(id, "\r\n") {
		return id
	}
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// process runs one request through a worker, with logs and metrics, and
// returns the response or an error for the error handler.
func (s *Server) process(c echo.Context, endpoint, idOrName string, data io.Reader, size int64, meta map[string]string) (*workers.Response, string, error) {
	start := time.Now()
	id := requestID(c)
	c.Response().Header().Set("X-Request-ID", id)
	set := s.reg.Current() // one Set for the whole request
	w, err := set.Lookup(idOrName)
	name := idOrName
	var resp *workers.Response
	if err == nil {
		name = w.Name()
		resp, err = w.Process(c.Request().Context(), &workers.Request{Data: data, Size: size, Metadata: meta, ID: id})
	}
	code := http.StatusOK
	if err != nil {
		code, _ = s.status(err)
	}
	items := 0
	if resp != nil {
		items = resp.Items
	}
	label := name
	if code == http.StatusNotFound {
		label = "" // unknown names must not grow the metric set
	}
	s.metrics.requests.WithLabelValues(label, endpoint, strconv.Itoa(code)).Inc()
	if err == nil {
		s.metrics.items.WithLabelValues(name).Add(float64(items))
		s.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
	s.log.Info("request", "id", id, "endpoint", endpoint, "worker", name, "items", items, "status", code, "duration", time.Since(start))
	return resp, id, err
}

// metadataFromForm collects REQUEST_METADATA.<KEY> fields and the
// REQUEST_METADATA field of KEY=VALUE lines.
func metadataFromForm(values map[string][]string) map[string]string {
	meta := map[string]string{}
	for k, vs := range values {
		if len(vs) == 0 {
			continue
		}
		if key, ok := strings.CutPrefix(k, "REQUEST_METADATA."); ok && key != "" {
			meta[strings.ToUpper(key)] = vs[0]
		}
		if k == "REQUEST_METADATA" {
			for _, line := range strings.Split(vs[0], "\n") {
				if key, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && key != "" {
					meta[strings.ToUpper(strings.TrimSpace(key))] = v
				}
			}
		}
	}
	return meta
}

// workerServlet: POST /signserver/worker/{name}, raw body streamed to the worker.
func (s *Server) workerServlet(c echo.Context) error {
	r := c.Request()
	body := http.MaxBytesReader(c.Response(), r.Body, s.max)
	if r.ContentLength > s.max {
		return &http.MaxBytesError{Limit: s.max}
	}
	resp, _, err := s.process(c, "worker", c.Param("name"), body, r.ContentLength, metadataFromForm(r.URL.Query()))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, resp.ContentType, resp.Data)
}

// processServlet: POST /signserver/process, form or multipart.
func (s *Server) processServlet(c echo.Context) error {
	r := c.Request()
	if r.ContentLength > s.max {
		return &http.MaxBytesError{Limit: s.max}
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, s.max)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var fields map[string][]string
	var data io.Reader
	var size int64 = -1
	switch ct {
	case "multipart/form-data":
		// Parts above 32 MiB spill to temporary files, never to memory.
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return formError(err)
		}
		defer r.MultipartForm.RemoveAll()
		fields = r.MultipartForm.Value
		for _, fhs := range r.MultipartForm.File {
			if len(fhs) > 0 {
				f, err := fhs[0].Open()
				if err != nil {
					return badRequest("The uploaded file could not be read: send it again.")
				}
				defer f.Close()
				data, size = f, fhs[0].Size
				break
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return formError(err)
		}
		fields = r.PostForm
	default:
		return badRequest("The process servlet takes application/x-www-form-urlencoded or multipart/form-data, not %q.", ct)
	}
	get := func(k string) string {
		if v := fields[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if pt := get("processType"); pt != "" && pt != "signDocument" {
		return badRequest("processType %q is not supported: use signDocument.", pt)
	}
	worker := get("workerName")
	if worker == "" {
		worker = get("workerId")
	}
	if worker == "" {
		return badRequest("Name the worker with the workerName or workerId field.")
	}
	if data == nil {
		d, ok := fields["data"]
		if !ok || len(d) == 0 {
			return badRequest("Send the document in the data field or as a file.")
		}
		raw := []byte(d[0])
		switch strings.ToLower(get("encoding")) {
		case "":
		case "base64":
			dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(d[0]))
			if err != nil {
				return badRequest("The data field is not valid base64 (encoding=base64): send standard base64.")
			}
			raw = dec
		default:
			return badRequest("encoding %q is not supported: use base64 or leave it out.", get("encoding"))
		}
		data, size = bytes.NewReader(raw), int64(len(raw))
	}
	resp, _, err := s.process(c, "process", worker, data, size, metadataFromForm(fields))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, resp.ContentType, resp.Data)
}

func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badRequest("The form could not be read (%v): send a valid form.", err)
}

// restRequest is SignServer's REST process request.
type restRequest struct {
	Data     *string           `json:"data"`
	Encoding string            `json:"encoding"`
	MetaData map[string]string `json:"metaData"`
}

// restResponse is SignServer's REST process response.
type restResponse struct {
	Data              string            `json:"data"`
	RequestID         string            `json:"requestId"`
	ArchiveID         string            `json:"archiveId,omitempty"`
	SignerCertificate string            `json:"signerCertificate,omitempty"`
	MetaData          map[string]string `json:"metaData"`
}

// rest: POST /signserver/rest/v1/workers/{idOrName}/process.
func (s *Server) rest(c echo.Context) error {
	r := c.Request()
	if r.ContentLength > s.max {
		return &http.MaxBytesError{Limit: s.max}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return badRequest("The REST API takes application/json, not %q.", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, s.max))
	dec.DisallowUnknownFields()
	var req restRequest
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.As(err, &te):
			return badRequest("Field %q has the wrong type: data and encoding are strings, metaData maps names to strings.", te.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequest("The request has an unknown field (%s): use data, encoding and metaData.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return badRequest("The request body is not valid JSON: send {\"data\": ..., \"encoding\": \"NONE\"|\"BASE64\", \"metaData\": {...}}.")
	}
	if req.Data == nil {
		return badRequest("The request has no data field: send the document in data.")
	}
	raw := []byte(*req.Data)
	switch strings.ToUpper(req.Encoding) {
	case "", "NONE":
	case "BASE64":
		dec, err := base64.StdEncoding.DecodeString(*req.Data)
		if err != nil {
			return badRequest("Field data is not valid base64 (encoding BASE64): send standard base64.")
		}
		raw = dec
	default:
		return badRequest("encoding %q is not supported: use NONE or BASE64.", req.Encoding)
	}
	meta := make(map[string]string, len(req.MetaData))
	for k, v := range req.MetaData {
		meta[strings.ToUpper(k)] = v
	}
	resp, id, err := s.process(c, "rest", c.Param("id"), bytes.NewReader(raw), int64(len(raw)), meta)
	if err != nil {
		return err
	}
	out := restResponse{Data: base64.StdEncoding.EncodeToString(resp.Data), RequestID: id, MetaData: resp.Metadata}
	if out.MetaData == nil {
		out.MetaData = map[string]string{}
	}
	if resp.SignerCertificate != nil {
		out.SignerCertificate = base64.StdEncoding.EncodeToString(resp.SignerCertificate.Raw)
	}
	return c.JSON(http.StatusOK, out)
}

// health: ALLOK, or one line per problem with 500, as SignServer's health check.
func (s *Server) health(c echo.Context) error {
	var lines []string
	for _, w := range s.reg.Current().Workers() {
		st := w.Status(c.Request().Context())
		if st.Active {
			continue
		}
		for _, e := range st.Errors {
			lines = append(lines, fmt.Sprintf("Worker %s (%d): %s", w.Name(), w.ID(), e))
		}
	}
	if len(lines) == 0 {
		return c.String(http.StatusOK, "ALLOK")
	}
	return c.String(http.StatusInternalServerError, strings.Join(lines, "\n")+"\n")
}
