package auth

import (
	"strconv"
	"sync"
	"time"
)

// MaxRefusalRows is how many refused logins a second each surface (admin
// API, admin UI, the signing and vendor APIs) writes to the audit log.
const MaxRefusalRows = 5

// RefusalLog bounds the audit rows of refused logins to MaxRefusalRows a
// second: each row is a durable (fsync'd) write, and an unauthenticated
// client must not make the disk the bottleneck. Refusals over the bound are
// counted, and the count goes with the next row written. The zero value is
// ready to use.
type RefusalLog struct {
	mu      sync.Mutex
	second  int64 // the Unix second rows are counted in
	rows    int
	skipped int
}

// Admit reports whether a refusal at now gets its audit row, and the
// details to add to it: how many refusals went unrecorded before it, or
// nil.
func (r *RefusalLog) Admit(now time.Time) (ok bool, details map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := now.Unix(); s != r.second {
		r.second, r.rows = s, 0
	}
	if r.rows >= MaxRefusalRows {
		r.skipped++
		return false, nil
	}
	r.rows++
	if r.skipped > 0 {
		details = map[string]string{"unrecorded": strconv.Itoa(r.skipped) + " refusals before this one (over " + strconv.Itoa(MaxRefusalRows) + " a second)"}
		r.skipped = 0
	}
	return true, details
}
