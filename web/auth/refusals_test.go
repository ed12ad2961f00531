package auth

import (
	"testing"
	"time"
)

// TestRefusalRowsBounded: refused logins are recorded at most
// MaxRefusalRows a second; the ones over it are counted into the next row
// (issue 14: every refused login was an fsync'd audit row).
func TestRefusalRowsBounded(t *testing.T) {
	t.Parallel()
	var r RefusalLog
	start := time.Unix(1_800_000_000, 0)
	rows := 0
	for i := range 1000 {
		if ok, _ := r.Admit(start.Add(time.Duration(i) * time.Microsecond)); ok {
			rows++
		}
	}
	if rows != MaxRefusalRows {
		t.Errorf("%d rows for 1000 refusals in one second, want %d", rows, MaxRefusalRows)
	}
	ok, details := r.Admit(start.Add(time.Second))
	if want := "995 refusals before this one (over 5 a second)"; !ok || details["unrecorded"] != want {
		t.Errorf("the next second's first refusal: recorded %v, details %v; want true, unrecorded %q", ok, details, want)
	}
	if _, details := r.Admit(start.Add(time.Second)); details != nil {
		t.Errorf("details %v after the count was reported", details)
	}
}
