package admin

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// AuditEntry is one audit record as GET /audit reports it.
type AuditEntry struct {
	Seq     int64             `json:"seq"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Target  string            `json:"target"`
	Outcome string            `json:"outcome"`
	Details map[string]string `json:"details,omitempty"`
	Hash    string            `json:"hash"` // hex
}

// AuditPage is the answer of GET /audit.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// Next is the after= value that continues the listing.
	Next int64 `json:"next"`
}

// Limits of GET /audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// listAudit handles GET /audit?after=N&limit=M.
func (h *Handler) listAudit(c echo.Context) error {
	if h.opts.Audit == nil {
		return fail(c, http.StatusServiceUnavailable, "This server keeps no audit log: start it with a data folder for its state.")
	}
	after, limit := int64(0), defaultAuditLimit
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fail(c, http.StatusBadRequest, "Query parameter after must be a record number (0 or more).")
		}
		after = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			return fail(c, http.StatusBadRequest, "Query parameter limit must be a number from 1 to "+strconv.Itoa(maxAuditLimit)+".")
		}
		limit = n
	}
	es, err := h.opts.Audit.Entries(c.Request().Context(), after, limit)
	if err != nil {
		h.opts.Logger.Error("audit log could not be read", "error", err)
		return fail(c, http.StatusServiceUnavailable, "The audit log could not be read: see the server log.")
	}
	page := AuditPage{Entries: make([]AuditEntry, 0, len(es)), Next: after}
	for _, e := range es {
		page.Entries = append(page.Entries, AuditEntry{
			Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target,
			Outcome: e.Outcome, Details: e.Details, Hash: hex.EncodeToString(e.Hash),
		})
		page.Next = e.Seq
	}
	return c.JSON(http.StatusOK, page)
}
