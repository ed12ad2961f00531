package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web/admin"
)

// auditPageSize is the records per audit page.
const auditPageSize = 50

// auditFilters are the search fields of the audit page, passed to the
// admin API as they are.
var auditFilters = []string{"from", "to", "action", "actor", "worker", "remote"}

type auditData struct {
	Query   map[string]string
	Page    admin.AuditPage
	Verify  *admin.VerifyResult
	Error   string
	NextURL string
	Actions []choice
	Workers []string
}

type choice struct{ Value, Label string }

// actions are the record kinds the search offers; a name ending in "."
// matches every event of its group.
func actions() []choice {
	var out []choice
	for _, a := range []string{"ui.login", "ui.refused", "worker.try", "token.activate", "token.deactivate", "key.", "key.generate", "key.test",
		"key.csr", "key.chain", "key.remove", "config.", "config.reload", "config.set", "config.remove", "config.add", "admin.refused", "audit.verify", "server.start", "server.stop"} {
		label := a
		if strings.HasSuffix(a, ".") {
			label = a + "* (all)"
		}
		out = append(out, choice{a, label})
	}
	return out
}

func (u *UI) auditPage(c echo.Context) error {
	d := auditData{Query: map[string]string{}, Actions: actions()}
	q := url.Values{}
	for _, f := range auditFilters {
		if v := c.QueryParam(f); v != "" {
			d.Query[f] = v
			q.Set(f, v)
		}
	}
	var ws []admin.WorkerStatus
	if err := u.call(c, http.MethodGet, "/workers", nil, &ws); err != nil {
		return err
	}
	for _, w := range ws {
		d.Workers = append(d.Workers, w.Name)
	}
	q.Set("limit", strconv.Itoa(auditPageSize))
	if a := c.QueryParam("after"); a != "" {
		q.Set("after", a)
	}
	if err := u.call(c, http.MethodGet, "/audit?"+q.Encode(), nil, &d.Page); err != nil {
		d.Error = err.Error()
	}
	if d.Page.More {
		q.Set("after", strconv.FormatInt(d.Page.Next, 10))
		q.Del("limit")
		d.NextURL = BasePath + "/audit?" + q.Encode()
	}
	var v admin.VerifyResult
	if err := u.call(c, http.MethodGet, "/audit/verify", nil, &v); err == nil {
		d.Verify = &v
	}
	return u.render(c, http.StatusOK, "audit", "Audit log", d)
}

func (u *UI) verify(c echo.Context) error {
	var v admin.VerifyResult
	err := u.call(c, http.MethodPost, "/audit/verify", nil, &v)
	msg := "The audit log's hash chain is intact."
	if err == nil && !v.Intact {
		msg = "The audit log's hash chain is broken: " + v.Problem
	}
	return u.done(c, "/audit", msg, err)
}
