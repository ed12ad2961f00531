package ui

import (
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
)

// catchAll is the pattern of the route that answers every path under
// BasePath that no other route takes: the 404 page.
const catchAll = BasePath + "/*"

// methods answers a request that only the catch-all took although a page
// serves its path, with another method: 405 naming the methods the page
// takes, 204 for OPTIONS, each with Allow. It runs before the session
// check, which took such a request for a form: "Your session has ended"
// (403) to anyone, and, to a logged-in user, a refused CSRF token written
// to the audit log.
func (u *UI) methods(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() != catchAll {
			return next(c)
		}
		r := c.Request()
		allow := allowed(c.Echo().Routes(), echo.GetPath(r))
		if allow == nil {
			return next(c)
		}
		c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
		if r.Method == http.MethodOptions {
			return c.NoContent(http.StatusNoContent)
		}
		use := slices.DeleteFunc(allow, func(m string) bool { return m == http.MethodHead })
		msg := "The page " + clienttext.Quote(r.URL.Path) + " does not take " + clienttext.Quote(r.Method) + ": use " + strings.Join(use, " or ") + "."
		return u.render(c, http.StatusMethodNotAllowed, "notallowed", "Method not allowed", msg)
	}
}

// allowed returns the methods of the UI's routes whose pattern matches
// path (the admin API's aside: it answers its own), GET, HEAD and POST
// first, or nil when none does.
func allowed(routes []*echo.Route, path string) []string {
	var out []string
	for _, rt := range routes {
		if rt.Path == catchAll || !strings.HasPrefix(rt.Path, BasePath) || strings.HasPrefix(rt.Path, BasePath+"/api/") ||
			rt.Method == echo.RouteNotFound || slices.Contains(out, rt.Method) || !matches(rt.Path, path) {
			continue
		}
		out = append(out, rt.Method)
	}
	order := []string{http.MethodGet, http.MethodHead, http.MethodPost}
	slices.SortFunc(out, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return out
}

// matches reports whether path matches the route pattern: ":name" is one
// segment, a last "*" the rest.
func matches(pattern, path string) bool {
	ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if p == "*" && i == len(ps)-1 {
			return true
		}
		if i >= len(ss) || (!strings.HasPrefix(p, ":") && p != ss[i]) || (strings.HasPrefix(p, ":") && ss[i] == "") {
			return false
		}
	}
	return len(ps) == len(ss)
}

// static serves the files of fsys under BasePath/static/, and the 404
// page for a name that is no file there: net/http's file server answered
// "404 page not found", listed the folder, and answered "500 Internal
// Server Error" to a name that is not valid UTF-8.
func (u *UI) static(fsys fs.FS) echo.HandlerFunc {
	files := http.StripPrefix(BasePath+"/static/", http.FileServer(http.FS(fsys)))
	return func(c echo.Context) error {
		name := strings.TrimPrefix(c.Request().URL.Path, BasePath+"/static/")
		if fi, err := fs.Stat(fsys, name); err != nil || fi.IsDir() {
			return u.notFound(c)
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
