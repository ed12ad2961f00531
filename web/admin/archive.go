package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
)

// ArchiveItem is one archived request as GET /archive/{requestId} reports
// it: what a worker with ARCHIVERS kept (ARCHIVE_OF_TYPE). A side that is
// archived has its size and SHA-256; its bytes (base64 in JSON) when it was
// small enough to keep (…Kept).
type ArchiveItem struct {
	RequestID      string    `json:"requestId"`
	Time           time.Time `json:"time"`
	Worker         string    `json:"worker"`
	Request        []byte    `json:"request,omitempty"`
	RequestKept    bool      `json:"requestKept"`
	RequestSize    int64     `json:"requestSize"` // -1: not archived
	RequestSHA256  string    `json:"requestSha256,omitempty"`
	Response       []byte    `json:"response,omitempty"`
	ResponseKept   bool      `json:"responseKept"`
	ResponseSize   int64     `json:"responseSize"` // -1: not archived
	ResponseSHA256 string    `json:"responseSha256,omitempty"`
}

// getArchive handles GET /archive/:requestId: the items archived under a
// request ID, oldest first. Reading documents is written to the audit log
// (GET; HEAD reads none).
func (h *Handler) getArchive(c echo.Context) error {
	if h.opts.Archive == nil {
		return fail(c, http.StatusServiceUnavailable, "This server keeps no archive: start it with a data folder or a state database.")
	}
	id := param(c, "requestId")
	items, err := h.opts.Archive.Get(c.Request().Context(), id)
	if err != nil {
		h.opts.Logger.Error("archive could not be read", "error", err)
		return fail(c, http.StatusServiceUnavailable, "The archive could not be read: see the server log.")
	}
	if len(items) == 0 {
		return fail(c, http.StatusNotFound, "Nothing is archived under request ID "+clienttext.Quote(id)+": only workers with ARCHIVERS archive, and ARCHIVE_RETENTION purges old items.")
	}
	// archive.read says the documents were handed out, which HEAD (the
	// same answer without its body) does not do. An audit row says what
	// was done: a HEAD of /audit/verify that runs the first check is
	// recorded as that check, since it ran it.
	if c.Request().Method != http.MethodHead {
		h.record(c, "archive.read", id, map[string]string{"items": strconv.Itoa(len(items))}, nil)
	}
	out := make([]ArchiveItem, 0, len(items))
	for _, it := range items {
		out = append(out, ArchiveItem{RequestID: it.RequestID, Time: it.Time.UTC(), Worker: it.Worker,
			Request: it.Request, RequestKept: kept(it.Request, it.RequestSize), RequestSize: it.RequestSize, RequestSHA256: it.RequestSHA256,
			Response: it.Response, ResponseKept: kept(it.Response, it.ResponseSize), ResponseSize: it.ResponseSize, ResponseSHA256: it.ResponseSHA256})
	}
	return c.JSON(http.StatusOK, out)
}

// kept reports whether an archived side's bytes are there (a database may
// read an empty one back as nil).
func kept(data []byte, size int64) bool { return data != nil || size == 0 }
