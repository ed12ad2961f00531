package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/workers"
)

// healthTimeout bounds the status checks of one health request, so that a
// hung HSM makes the node unhealthy rather than the load balancer wait.
const healthTimeout = 10 * time.Second

// HeaderConfigVersion is the header of every answer of a cluster node
// naming the configuration version it runs: the health check's, the admin
// API's status, the signatures'.
const HeaderConfigVersion = "X-Signet-Config-Version"

// configVersion sets HeaderConfigVersion on every answer of a cluster node.
func (s *Server) configVersion(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v := s.node().ConfigVersion; v > 0 {
			c.Response().Header().Set(HeaderConfigVersion, strconv.FormatInt(v, 10))
		}
		return next(c)
	}
}

// health serves GET /signserver/healthcheck/signserverhealth as SignServer's
// health check: 200 with ALLOK when every worker is active, otherwise 500
// with one line per problem, "Worker NAME (ID): problem", after the
// node's own problems, "Node: problem" (a degraded cluster node).
func (s *Server) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), healthTimeout)
	defer cancel()
	ws := s.setOf(c).Workers() // the Set the request holds (admit)
	statuses := make([]workers.Status, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		// As in SignServer, disabled workers are left out of the health check.
		if d, ok := w.(workers.Disableable); ok && d.Disabled() {
			statuses[i].Active = true
			continue
		}
		wg.Go(func() {
			// A panic here would not reach the recover middleware.
			defer func() {
				if v := recover(); v != nil {
					s.log.Error("worker status panicked", "worker", w.Name(), "panic", fmt.Sprint(v))
					statuses[i] = workers.Status{Errors: []string{"The status check failed: see the server log."}}
				}
			}()
			statuses[i] = w.Status(ctx)
		})
	}
	wg.Wait()
	var lines []string
	if s.node != nil {
		for _, p := range s.node().Problems {
			lines = append(lines, "Node: "+oneLine(p))
		}
	}
	for i, st := range statuses {
		if st.Active {
			continue
		}
		errs := st.Errors
		if len(errs) == 0 {
			errs = []string{"offline"}
		}
		for _, e := range errs {
			lines = append(lines, fmt.Sprintf("Worker %s (%d): %s", ws[i].Name(), ws[i].ID(), forAnyone(e)))
		}
	}
	if len(lines) == 0 {
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte("ALLOK"))
	}
	return c.Blob(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(strings.Join(lines, "\n")+"\n"))
}

// forAnyone is a worker's problem as the health check shows it, on one
// line: the check answers anyone, who need not learn where the server
// keeps its files or its HSMs. A configuration problem's "file:line: "
// goes; so do the paths and network addresses that the operating system's
// and the network's errors name (a keystore that cannot be read, a module
// that does not load, an HSM that does not answer), each written "…". The
// admin API's status and the server log keep them whole.
func forAnyone(s string) string {
	if m := placePrefix.FindStringIndex(s); m != nil {
		s = s[m[1]:]
	}
	return privateDetail.ReplaceAllString(oneLine(s), "${1}…${2}")
}

// placePrefix matches "path.yaml:12: " (config.Pos with a YAML file).
var placePrefix = regexp.MustCompile(`^\S+\.ya?ml:\d+: `)

// privateDetail matches, between a start or a separator and an end or a
// separator (both kept), an absolute file path, a URL, an IP address or a
// host:port; a time of day ("10:00:00", "T10:00") is none of them.
var privateDetail = regexp.MustCompile(`(^|[\s("'=\[])(?:/[^\s:"')]+|[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"')]+|\[[0-9a-fA-F:.]+\](?::\d+)?|\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?|[a-zA-Z0-9-]*[a-zA-Z][a-zA-Z0-9.-]*:\d{1,5})([\s)"',;\]]|:\s|$)`)

// oneLine keeps a problem on its line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
