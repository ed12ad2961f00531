package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

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

// listSignLog handles GET /signlog?hash=&key=&user=&since=&until=&after=&limit=
// and, with format=jsonl, exports the records as JSON lines.
func (h *Handler) listSignLog(c echo.Context) error {
	if h.opts.SigningLog == nil {
		return fail(c, http.StatusServiceUnavailable, "This server keeps no signing log: start it with a data folder for its state.")
	}
	q := state.SignQuery{Hash: c.QueryParam("hash"), Key: c.QueryParam("key"), User: c.QueryParam("user"), Limit: defaultAuditLimit}
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fail(c, http.StatusBadRequest, "Query parameter after must be a record number (0 or more).")
		}
		q.After = n
	}
	jsonl := c.QueryParam("format") == "jsonl"
	if f := c.QueryParam("format"); f != "" && f != "json" && !jsonl {
		return fail(c, http.StatusBadRequest, "Query parameter format is json or jsonl.")
	}
	maxLimit := maxAuditLimit
	if jsonl {
		maxLimit = 100000
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return fail(c, http.StatusBadRequest, "Query parameter limit must be a number from 1 to "+strconv.Itoa(maxLimit)+".")
		}
		q.Limit = n
	}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if v := c.QueryParam(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fail(c, http.StatusBadRequest, "Query parameter "+name+" must be a time in RFC 3339 form, such as 2026-01-31T12:00:00Z.")
			}
			*dst = t
		}
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
