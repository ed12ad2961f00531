package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"
)

// Caller is a user who has authenticated by other means (the admin web UI's
// session) and calls the admin API in process.
type Caller struct {
	User      string
	Remote    string // client address, for the audit log
	RequestID string // the outer request's ID, for the audit log
}

type callerKey struct{}

// APIError is an admin API answer other than 2xx, as Call returns it.
type APIError struct {
	Status  int
	Message string
	// Problems are the configuration problems of a refused change, each
	// "file:line: what to fix".
	Problems []string
}

func (e *APIError) Error() string { return e.Message }

// Do serves one admin API request in process as who: method and path (under
// BasePath, with its query) go through the same routes, handlers, audit
// records and error sentences as over HTTP; only the HTTP basic check is
// left out, because the caller has authenticated the user. It returns the
// status code, the content type and the body of the answer.
func (h *Handler) Do(ctx context.Context, who Caller, method, path, contentType string, body []byte) (int, string, []byte) {
	h.inprocOnce.Do(func() {
		e := echo.New()
		// The caller's address is who.Remote, never a header: echo's
		// default would believe an X-Forwarded-For a future caller copied.
		e.IPExtractor = echo.ExtractIPDirect()
		g := e.Group(BasePath, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				who, _ := c.Request().Context().Value(callerKey{}).(Caller)
				c.Set(userKey, who.User)
				if who.RequestID != "" {
					c.Response().Header().Set(echo.HeaderXRequestID, who.RequestID)
				}
				return next(c)
			}
		})
		h.addRoutes(g)
		g.Any("/*", h.notFound)
		h.inproc = e
	})
	req := httptest.NewRequestWithContext(context.WithValue(ctx, callerKey{}, who), method, BasePath+path, bytes.NewReader(body))
	// host:port, as a server sets it: echo's RealIP takes the host from
	// it, and an address alone would be recorded as "".
	req.RemoteAddr = who.Remote
	if _, _, err := net.SplitHostPort(who.Remote); err != nil && who.Remote != "" {
		req.RemoteAddr = net.JoinHostPort(who.Remote, "0")
	}
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	rec := httptest.NewRecorder()
	h.inproc.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get(echo.HeaderContentType), rec.Body.Bytes()
}

// Call is Do with JSON: in, when not nil, is the JSON body; a 2xx answer is
// decoded into out (when not nil); any other answer is an *APIError.
func (h *Handler) Call(ctx context.Context, who Caller, method, path string, in, out any) error {
	var body []byte
	ct := ""
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode the admin request: %w", err)
		}
		ct = echo.MIMEApplicationJSON
	}
	code, _, answer := h.Do(ctx, who, method, path, ct, body)
	if code < 200 || code > 299 {
		var e apiError
		if err := json.Unmarshal(answer, &e); err != nil || e.Error == "" {
			e.Error = strings.TrimSpace(http.StatusText(code))
		}
		return &APIError{Status: code, Message: e.Error, Problems: e.Problems}
	}
	if out != nil && len(answer) > 0 {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("decode the admin answer: %w", err)
		}
	}
	return nil
}
