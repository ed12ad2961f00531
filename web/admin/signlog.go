package admin

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/state"
)

// SignRecord is one signing log record as GET /signlog reports it.
type SignRecord struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Surface   string    `json:"surface"`
	Key       string    `json:"key"`
	KeyID     string    `json:"keyId,omitempty"`
	User      string    `json:"user,omitempty"`
	Client    string    `json:"client,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
	DigestAlg string    `json:"digestAlgorithm"`
	Hashes    []string  `json:"hashes"`
	Result    string    `json:"result"`
}

// SignLogPage is the answer of GET /signlog.
type SignLogPage struct {
	Records []SignRecord `json:"records"`
	// Next is the after= value that continues the listing.
	Next int64 `json:"next"`
}

// The query parameters of GET /signlog, each a field of state.SignQuery;
// SignQueryValues and ParseSignQuery are their one reading and writing, for
// the server and for `signet admin audit list --signing`.
const (
	ParamHash      = "hash"
	ParamKey       = "key"
	ParamSurface   = "surface"
	ParamUser      = "user"
	ParamClient    = "client"
	ParamRequestID = "requestId"
	ParamResult    = "result"
	ParamSince     = "since"
	ParamUntil     = "until"
	ParamAfter     = "after"
	ParamLimit     = "limit"
	ParamFormat    = "format"
)

// MaxSignLogExport is the most records one JSON-lines export answers;
// a client pages on with after= for more.
const MaxSignLogExport = 100000

// signQueryStrings are the string fields of a query by parameter.
func signQueryStrings(q *state.SignQuery) map[string]*string {
	return map[string]*string{ParamHash: &q.Hash, ParamKey: &q.Key, ParamSurface: &q.Surface, ParamUser: &q.User,
		ParamClient: &q.Client, ParamRequestID: &q.RequestID, ParamResult: &q.Result}
}

// SignQueryValues returns the query parameters of GET /signlog that ask for
// q (its Limit when set).
func SignQueryValues(q state.SignQuery) url.Values {
	v := url.Values{}
	for name, f := range signQueryStrings(&q) {
		if *f != "" {
			v.Set(name, *f)
		}
	}
	for name, t := range map[string]time.Time{ParamSince: q.Since, ParamUntil: q.Until} {
		if !t.IsZero() {
			v.Set(name, t.UTC().Format(time.RFC3339Nano))
		}
	}
	if q.After > 0 {
		v.Set(ParamAfter, strconv.FormatInt(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set(ParamLimit, strconv.Itoa(q.Limit))
	}
	return v
}

// parsePage reads the paging parameters of a log listing (the audit log,
// the signing log): after, the last record number seen, and limit, how
// many records to answer, at most maxLimit.
func parsePage(v url.Values, maxLimit int) (after int64, limit int, err error) {
	limit = defaultAuditLimit
	if s := v.Get(ParamAfter); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return 0, 0, QueryError("Query parameter after must be a record number (0 or more).")
		}
	}
	if s := v.Get(ParamLimit); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxLimit {
			return 0, 0, QueryError("Query parameter limit must be a number from 1 to " + strconv.Itoa(maxLimit) + ".")
		}
	}
	return after, limit, nil
}

// ParseSignQuery reads the query parameters of GET /signlog; jsonl asks
// for an export, which may ask for up to MaxSignLogExport records. Its
// errors are one sentence for the client.
func ParseSignQuery(v url.Values) (q state.SignQuery, jsonl bool, err error) {
	strs := signQueryStrings(&q)
	if err := checkQuery(v, append(slices.Sorted(maps.Keys(strs)), ParamSince, ParamUntil, ParamAfter, ParamLimit, ParamFormat)...); err != nil {
		return q, false, err
	}
	for name, f := range strs {
		*f = v.Get(name)
	}
	switch v.Get(ParamFormat) {
	case "", "json":
	case "jsonl":
		jsonl = true
	default:
		return q, false, QueryError("Query parameter format is json or jsonl.")
	}
	maxLimit := maxAuditLimit
	if jsonl {
		maxLimit = MaxSignLogExport
	}
	if q.After, q.Limit, err = parsePage(v, maxLimit); err != nil {
		return q, false, err
	}
	for name, dst := range map[string]*time.Time{ParamSince: &q.Since, ParamUntil: &q.Until} {
		if s := v.Get(name); s != "" {
			if *dst, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return q, false, QueryError("Query parameter " + name + " must be a time in RFC 3339 form, such as 2026-01-31T12:00:00Z.")
			}
		}
	}
	if err := q.Check(); err != nil {
		return q, false, QueryError("The search is not valid: " + err.Error() + ".")
	}
	return q, jsonl, nil
}

// checkQuery refuses a query parameter that is none of known, or one given
// more than once: a misspelt or mis-cased filter (requestid) was ignored,
// and a search answered as if it had matched (the whole log); a repeated
// one searched by its first value.
func checkQuery(v url.Values, known ...string) error {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		switch {
		case !slices.Contains(known, name):
			last := len(known) - 1
			return QueryError(fmt.Sprintf("Query parameter %s is unknown: use %s or %s.", clienttext.Quote(name), strings.Join(known[:last], ", "), known[last]))
		case len(v[name]) > 1:
			return QueryError("Query parameter " + name + " is given more than once: give it once.")
		}
	}
	return nil
}

// QueryError is a query parameter the server refuses: one sentence for
// the client.
type QueryError string

func (e QueryError) Error() string { return string(e) }

// listSignLog handles GET /signlog (parameters: see ParseSignQuery) and,
// with format=jsonl, exports the records as JSON lines.
func (h *Handler) listSignLog(c echo.Context) error {
	if h.opts.SigningLog == nil {
		return fail(c, http.StatusServiceUnavailable, "This server keeps no signing log: start it with a data folder for its state.")
	}
	q, jsonl, err := ParseSignQuery(c.QueryParams())
	if err != nil {
		return fail(c, http.StatusBadRequest, err.Error())
	}
	recs, err := h.opts.SigningLog.Search(c.Request().Context(), q)
	if err != nil {
		h.opts.Logger.Error("signing log could not be read", "error", err)
		return fail(c, http.StatusServiceUnavailable, "The signing log could not be read: see the server log.")
	}
	page := SignLogPage{Records: make([]SignRecord, 0, len(recs)), Next: q.After}
	for _, r := range recs {
		page.Records = append(page.Records, SignRecord{
			ID: r.ID, Time: r.Time.UTC(), Surface: r.Surface, Key: r.Key, KeyID: r.KeyID, User: r.User, Client: r.Client,
			RequestID: r.RequestID, DigestAlg: r.DigestAlg, Hashes: r.Hashes, Result: r.Result,
		})
		page.Next = r.ID
	}
	if !jsonl {
		return c.JSON(http.StatusOK, page)
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/jsonl")
	c.Response().WriteHeader(http.StatusOK)
	enc := json.NewEncoder(c.Response())
	for _, r := range page.Records {
		if err := enc.Encode(r); err != nil {
			return nil // the client went away
		}
	}
	return nil
}
