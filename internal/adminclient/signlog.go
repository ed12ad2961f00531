package adminclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	adminapi "github.com/signet-project/signet/web/admin"
)

// signLogPage is the most records one request of SignLog asks for: the
// server's page limit, so that a long export is many bounded answers.
const signLogPage = 1000

// SignLog prints the signing log records that q (the query parameters of
// GET /signlog, from adminapi.SignQueryValues) selects, at most limit of
// them (0: all), asking page by page: as a table, as JSON with c.JSON, or
// as JSON lines (one record a line, as GET /signlog?format=jsonl exports
// them) with jsonl.
func (c *Client) SignLog(ctx context.Context, q url.Values, limit int, jsonl bool) error {
	var all adminapi.SignLogPage
	enc := json.NewEncoder(c.Out)
	after, _ := strconv.ParseInt(q.Get(adminapi.ParamAfter), 10, 64)
	all.Next = after
	for n := 0; limit == 0 || n < limit; {
		size := signLogPage
		if limit > 0 {
			size = min(size, limit-n)
		}
		q.Set(adminapi.ParamAfter, strconv.FormatInt(after, 10))
		q.Set(adminapi.ParamLimit, strconv.Itoa(size))
		raw, err := c.Do(ctx, http.MethodGet, "/signlog?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var p adminapi.SignLogPage
		if err := json.Unmarshal(raw, &p); err != nil {
			return c.unexpected(err)
		}
		for _, r := range p.Records {
			if jsonl {
				if err := enc.Encode(r); err != nil {
					return fmt.Errorf("write the signing log: %w", err)
				}
			} else {
				all.Records = append(all.Records, r)
			}
		}
		n += len(p.Records)
		after, all.Next = p.Next, p.Next
		if len(p.Records) < size {
			break
		}
	}
	switch {
	case jsonl:
		return nil
	case c.JSON:
		if all.Records == nil {
			all.Records = []adminapi.SignRecord{}
		}
		return enc.Encode(all)
	}
	c.SignLogTable(all)
	if limit > 0 && len(all.Records) == limit {
		fmt.Fprintf(c.Out, "More records may follow: add --after %d.\n", all.Next)
	}
	return nil
}

// SignLogTable prints signing log rows: the first hash of a batch and how
// many more it signed.
func (c *Client) SignLogTable(p adminapi.SignLogPage) {
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tSURFACE\tKEY\tUSER\tCLIENT\tREQUEST ID\tHASH\tRESULT")
	for _, r := range p.Records {
		hash := "-"
		if len(r.Hashes) > 0 {
			hash = r.Hashes[0]
			if len(r.Hashes) > 1 {
				hash += fmt.Sprintf(" (+%d)", len(r.Hashes)-1)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Time.Format(time.RFC3339), r.Surface, r.Key, dash(r.User),
			dash(r.Client), dash(r.RequestID), hash, r.Result)
	}
	tw.Flush()
}

// ParseTime reads the time of a command-line flag: RFC 3339
// (2026-01-31T12:00:00Z), a date (2026-01-31, midnight UTC), or a duration
// before now (24h).
func ParseTime(flag, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 && !strings.HasPrefix(s, "+") {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s must be a time such as 2026-01-31T12:00:00Z or 2026-01-31, or how long ago such as 24h; %q is none of these", flag, s)
}

// ArchiveTable prints archived items: what of each side was kept.
func (c *Client) ArchiveTable(items []adminapi.ArchiveItem) {
	side := func(kept bool, size int64, sum string) string {
		switch {
		case size < 0:
			return "-"
		case kept:
			return fmt.Sprintf("%d bytes, sha256 %s", size, sum)
		}
		return fmt.Sprintf("%d bytes, sha256 %s (too large to keep)", size, sum)
	}
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tWORKER\tREQUEST\tRESPONSE")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Time.Format(time.RFC3339), it.Worker,
			side(it.RequestKept, it.RequestSize, it.RequestSHA256), side(it.ResponseKept, it.ResponseSize, it.ResponseSHA256))
	}
	tw.Flush()
}
