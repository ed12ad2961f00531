package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/workers"
)

// httpError is an error with a status code and a sentence for the client.
type httpError struct {
	code       int
	msg        string
	retryAfter int // seconds; 0: no Retry-After header
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// unsupportedMedia is a 415: the kind is workers', so that a body refused
// here and one a worker refuses take the same way to the client.
func unsupportedMedia(format string, args ...any) error {
	return workers.UnsupportedMedia(format, args...)
}

// statusClientClosed is logged and counted when the client went away before
// the answer (nginx's convention); the client never sees it.
const statusClientClosed = 499

const internalError = "Internal error: see the server log for the request ID."

// tooLarge is the 413 sentence for the upload limit.
func tooLarge(limit int64) string {
	return fmt.Sprintf("The request exceeds the upload limit of %d bytes: send a smaller document, or its hash with client-side hashing.", limit)
}

// status maps an error to a status code and the sentence the client sees.
// The second result reports whether the error was expected (a kind the
// layers below return on purpose); unexpected errors are logged in full.
func (s *Server) status(err error) (code int, msg string, expected bool) {
	var (
		mbe *http.MaxBytesError
		he  *httpError
		ref Refusal
		ee  *echo.HTTPError
	)
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, tooLarge(mbe.Limit), true
	case errors.As(err, &he):
		return he.code, he.msg, true
	case errors.As(err, &ref):
		return ref.HTTPStatus(), ref.Error(), true
	case errors.As(err, &ee):
		switch ee.Code {
		case http.StatusNotFound:
			return ee.Code, "No such endpoint: see the README for Signet's HTTP interface.", true
		case http.StatusMethodNotAllowed:
			return ee.Code, "This endpoint does not accept that method: signing endpoints take POST, health and metrics take GET.", true
		case http.StatusRequestEntityTooLarge:
			return ee.Code, tooLarge(s.max), true
		}
		if ee.Code >= 400 && ee.Code < 500 {
			if m, ok := ee.Message.(string); ok && m != "" {
				return ee.Code, m, true
			}
			return ee.Code, http.StatusText(ee.Code) + ".", true
		}
	case errors.Is(err, workers.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error(), true
	case errors.Is(err, workers.ErrIllegalRequest):
		return http.StatusBadRequest, err.Error(), true
	case errors.Is(err, workers.ErrUnsupportedMedia):
		return http.StatusUnsupportedMediaType, err.Error(), true
	case errors.Is(err, workers.ErrNotFound):
		return http.StatusNotFound, err.Error(), true
	case errors.Is(err, workers.ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error(), true
	case errors.Is(err, workers.ErrMisconfigured):
		return http.StatusInternalServerError, err.Error(), true
	case errors.Is(err, context.Canceled):
		return statusClientClosed, "The client closed the request before it was answered.", true
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The request took too long: try again later.", true
	}
	return http.StatusInternalServerError, internalError, false
}

// jsonErrors reports whether errors on this request are rendered as
// {"error": "..."}: the REST API and mounted JSON APIs do; SignServer's
// servlets and the health check answer text/plain, as SignServer does.
func jsonErrors(c echo.Context) bool {
	p := c.Request().URL.Path
	switch {
	case strings.HasPrefix(p, "/signserver/rest/"):
		return true
	case strings.HasPrefix(p, "/signserver/"), p == pathMetrics:
		return false
	}
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "json") ||
		strings.Contains(c.Request().Header.Get(echo.HeaderContentType), "json")
}

// errorHandler renders an error as a status code and one sentence. It is
// echo's HTTPErrorHandler, so echo's own {"message": ...} never reaches a
// client.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	info := infoOf(c)
	if info != nil && info.body != nil {
		// Whatever the layers below made of a failed read of the body, the
		// cause is the client's.
		switch {
		case info.body.tooBig:
			err = &http.MaxBytesError{Limit: s.max}
		case info.body.stalled:
			c.Response().Header().Set(echo.HeaderConnection, "close")
			err = &httpError{code: http.StatusRequestTimeout, msg: fmt.Sprintf("The request body stalled for more than %s (or took longer than %s in all): send it without pauses.", s.limits.BodyTimeout, s.limits.ReadTimeout)}
		case info.body.broken != nil:
			err = badRequest("The request body ended before its end (%v): send it again.", info.body.broken)
		}
	}
	code, msg, expected := s.status(err)
	if code == http.StatusMethodNotAllowed {
		// The router's list of the path's methods (OPTIONS, which the
		// router answers on every path, and HEAD, which goes with GET,
		// aside): one sentence for every surface, signing, health and the
		// vendor key APIs alike.
		methods := slices.DeleteFunc(strings.Split(c.Response().Header().Get(echo.HeaderAllow), ", "), func(m string) bool {
			return m == http.MethodOptions || m == http.MethodHead || m == ""
		})
		if len(methods) > 0 {
			msg = fmt.Sprintf("This endpoint does not accept %s: use %s.", clienttext.Quote(c.Request().Method), strings.Join(methods, " or "))
		}
	}
	if info != nil {
		info.msg = msg
		if !expected {
			info.cause = err
		}
	}
	if code == statusClientClosed {
		c.Response().WriteHeader(code)
		return
	}
	h := c.Response().Header()
	h.Del(echo.HeaderContentDisposition)
	h.Del(echo.HeaderContentLength)
	var he *httpError
	switch {
	case errors.As(err, &he) && he.retryAfter > 0:
		h.Set(echo.HeaderRetryAfter, strconv.Itoa(he.retryAfter))
	case errors.Is(err, workers.ErrBusy):
		h.Set(echo.HeaderRetryAfter, strconv.Itoa(s.retryAfterSeconds()))
	}
	var ref Refusal
	if errors.As(err, &ref) {
		if ch := ref.AuthChallenge(); ch != "" {
			h.Set(echo.HeaderWWWAuthenticate, ch)
		}
		if d := ref.RetryIn(); d > 0 {
			h.Set(echo.HeaderRetryAfter, strconv.Itoa(int((d+time.Second-1)/time.Second)))
		}
	}
	if jsonErrors(c) {
		c.JSON(code, map[string]string{"error": msg})
		return
	}
	c.Blob(code, "text/plain; charset=utf-8", []byte(msg+"\n"))
}
