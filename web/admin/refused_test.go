package admin

import (
	"testing"
	"time"
)

// TestRefusalRowsBounded: refused credentials are recorded at most
// maxRefusalRows a second; the ones over it are counted into the next row
// (issue 14: every refused login was an fsync'd audit row).
func TestRefusalRowsBounded(t *testing.T) {
	t.Parallel()
	var r refusalLog
	start := time.Unix(1_800_000_000, 0)
	rows := 0
	for i := range 1000 {
		if ok, _ := r.admit(start.Add(time.Duration(i) * time.Microsecond)); ok {
			rows++
		}
	}
	if rows != maxRefusalRows {
		t.Errorf("%d rows for 1000 refusals in one second, want %d", rows, maxRefusalRows)
	}
	ok, skipped := r.admit(start.Add(time.Second))
	if !ok || skipped != 1000-maxRefusalRows {
		t.Errorf("the next second's first refusal: recorded %v, %d unrecorded before it; want true, %d", ok, skipped, 1000-maxRefusalRows)
	}
}
