package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web/admin"
)

// signLogPageSize is the records per signing-log page.
const signLogPageSize = 50

type signLogData struct {
	Query   map[string]string
	Page    admin.SignLogPage
	Error   string
	NextURL string
}

// signLogPage searches the signing log (one record per signing request,
// whichever surface asked) through the admin API.
func (u *UI) signLogPage(c echo.Context) error {
	d := signLogData{Query: map[string]string{}}
	q := url.Values{}
	for _, f := range []string{admin.ParamHash, admin.ParamKey, admin.ParamSurface, admin.ParamUser, admin.ParamClient, admin.ParamRequestID, admin.ParamResult} {
		if v := c.QueryParam(f); v != "" {
			d.Query[f] = v
			q.Set(f, v)
		}
	}
	// The form's datetime-local fields are UTC without a zone; the API
	// takes RFC 3339.
	for _, f := range []string{"since", "until"} {
		v := c.QueryParam(f)
		if v == "" {
			continue
		}
		d.Query[f] = v
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, v); err == nil {
				v = t.UTC().Format(time.RFC3339)
				break
			}
		}
		q.Set(f, v)
	}
	q.Set("limit", strconv.Itoa(signLogPageSize))
	if a := c.QueryParam("after"); a != "" {
		q.Set("after", a)
	}
	if err := u.call(c, http.MethodGet, "/signlog?"+q.Encode(), nil, &d.Page); err != nil {
		d.Error = err.Error()
	}
	if len(d.Page.Records) == signLogPageSize {
		next := url.Values{}
		for k, v := range d.Query {
			next.Set(k, v)
		}
		next.Set("after", strconv.FormatInt(d.Page.Next, 10))
		d.NextURL = BasePath + "/signlog?" + next.Encode()
	}
	return u.render(c, http.StatusOK, "signlog", "Signing log", d)
}
