package admin

import (
	"context"
	"encoding/hex"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/state"
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
	// More is true when records after Next may match.
	More bool `json:"more"`
}

// Limits of GET /audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
	auditScan         = 500 // records read at a time while filtering
)

// auditFilter selects records: every field set must match.
type auditFilter struct {
	from, to time.Time
	action   string // exact, or a prefix ending in "." ("key.")
	actor    string
	worker   string // the target worker/NAME, or a worker detail
	remote   string // the client address detail
}

func (f auditFilter) match(e state.Entry) bool {
	switch {
	case !f.from.IsZero() && e.Time.Before(f.from),
		!f.to.IsZero() && e.Time.After(f.to),
		f.actor != "" && !strings.EqualFold(e.Actor, f.actor),
		f.remote != "" && e.Details["remote"] != f.remote && !strings.HasPrefix(e.Details["remote"], f.remote+":"):
		return false
	case f.action != "" && e.Action != f.action && !(strings.HasSuffix(f.action, ".") && strings.HasPrefix(e.Action, f.action)):
		return false
	case f.worker != "" && !strings.EqualFold(e.Target, "worker/"+f.worker) && !strings.EqualFold(e.Details["worker"], f.worker):
		return false
	}
	return true
}

// parseTime reads RFC 3339, or the "2006-01-02T15:04" of an HTML
// datetime-local field (UTC).
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errorf(http.StatusBadRequest, "Query parameter %s must be a time such as 2026-01-31T12:00:00Z.", name)
}

// listAudit handles GET /audit?after=N&limit=M&from=&to=&action=&actor=&worker=&remote=.
func (h *Handler) listAudit(c echo.Context) error {
	if h.opts.Audit == nil {
		return fail(c, http.StatusServiceUnavailable, "This server keeps no audit log: start it with a data folder for its state.")
	}
	var f auditFilter
	strs := map[string]*string{"action": &f.action, "actor": &f.actor, "worker": &f.worker, "remote": &f.remote}
	if err := checkQuery(c.QueryParams(), append(slices.Sorted(maps.Keys(strs)), ParamAfter, ParamLimit, "from", "to")...); err != nil {
		return fail(c, http.StatusBadRequest, err.Error())
	}
	for name, dst := range strs {
		*dst = c.QueryParam(name)
	}
	after, limit, err := parsePage(c.QueryParams(), maxAuditLimit)
	if err != nil {
		return fail(c, http.StatusBadRequest, err.Error())
	}
	if f.from, err = parseTime("from", c.QueryParam("from")); err != nil {
		return h.answer(c, 0, nil, err)
	}
	if f.to, err = parseTime("to", c.QueryParam("to")); err != nil {
		return h.answer(c, 0, nil, err)
	}
	page := AuditPage{Entries: []AuditEntry{}, Next: after}
	for len(page.Entries) < limit {
		es, err := h.opts.Audit.Entries(c.Request().Context(), page.Next, auditScan)
		if err != nil {
			h.opts.Logger.Error("audit log could not be read", "error", err)
			return fail(c, http.StatusServiceUnavailable, "The audit log could not be read: see the server log.")
		}
		for _, e := range es {
			page.Next = e.Seq
			if !f.match(e) {
				continue
			}
			page.Entries = append(page.Entries, AuditEntry{
				Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target,
				Outcome: e.Outcome, Details: e.Details, Hash: hex.EncodeToString(e.Hash),
			})
			if len(page.Entries) == limit {
				page.More = true
				break
			}
		}
		if len(es) < auditScan {
			break
		}
	}
	return c.JSON(http.StatusOK, page)
}

// VerifyResult is the outcome of a check of the audit log's hash chain.
type VerifyResult struct {
	Intact bool `json:"intact"`
	// Records is the number of records checked, when the store tells.
	Records int64 `json:"records,omitempty"`
	// Problem says where the chain is broken.
	Problem   string    `json:"problem,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
}

// counting is a store that counts the records it verified (SQLite).
type counting interface {
	VerifyCount(ctx context.Context) (int64, error)
}

// verify handles POST /audit/verify: it checks the chain now. It takes no
// fields, and its body is read as every admin body is (an empty body or {}):
// a body it does not understand (a range to check, an array) is refused
// rather than taken for a check of the whole chain, and runs none.
func (h *Handler) verify(c echo.Context) error {
	var req struct{}
	if err := decode(c, &req, true); err != nil {
		h.record(c, "audit.verify", "audit", nil, err)
		return h.answer(c, 0, nil, err)
	}
	return h.check(c)
}

// check checks the chain now, for POST /audit/verify and for a GET of it
// with no check before.
func (h *Handler) check(c echo.Context) error {
	if h.opts.Audit == nil {
		return fail(c, http.StatusServiceUnavailable, "This server keeps no audit log: start it with a data folder for its state.")
	}
	ctx := c.Request().Context()
	res := VerifyResult{CheckedAt: time.Now().UTC()}
	var err error
	if cs, ok := h.opts.Audit.(counting); ok {
		res.Records, err = cs.VerifyCount(ctx)
	} else {
		err = h.opts.Audit.Verify(ctx)
	}
	var ce *state.ChainError
	switch {
	case err == nil:
		res.Intact = true
	case errors.As(err, &ce):
		res.Problem = ce.Error()
	default:
		h.opts.Logger.Error("audit log could not be verified", "error", err)
		return fail(c, http.StatusServiceUnavailable, "The audit log could not be read to verify it: see the server log.")
	}
	h.verifyMu.Lock()
	h.lastVerify = &res
	h.verifyMu.Unlock()
	outcome := error(nil)
	if !res.Intact {
		outcome = errorf(http.StatusOK, "%s", res.Problem)
	}
	h.record(c, "audit.verify", "audit", nil, outcome)
	return c.JSON(http.StatusOK, res)
}

// getVerify handles GET /audit/verify: the last check's result, or a new
// check when there was none.
func (h *Handler) getVerify(c echo.Context) error {
	h.verifyMu.Lock()
	last := h.lastVerify
	h.verifyMu.Unlock()
	if last == nil {
		return h.check(c)
	}
	return c.JSON(http.StatusOK, last)
}
