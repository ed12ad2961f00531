package server

import (
	"log/slog"
	"runtime/debug"
	"strconv"
	"testing"
)

// TestGOGC: signet serve runs at DefaultGCPercent unless the environment
// sets GOGC, and SetGCPercent applies what GOGC reports.
func TestGOGC(t *testing.T) {
	for _, tc := range []struct {
		env     string
		want    string
		fromEnv bool
	}{
		{"", strconv.Itoa(DefaultGCPercent), false},
		{"150", "150", true},
		{"off", "off", true},
	} {
		t.Run("GOGC="+tc.env, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			if v, fromEnv := GOGC(); v != tc.want || fromEnv != tc.fromEnv {
				t.Errorf("GOGC() = %q, %v; want %q, %v", v, fromEnv, tc.want, tc.fromEnv)
			}
			prev := debug.SetGCPercent(123)
			defer debug.SetGCPercent(prev)
			SetGCPercent(slog.New(slog.DiscardHandler))
			want := 123 // left as the runtime read it from the environment
			if !tc.fromEnv {
				want = DefaultGCPercent
			}
			if got := debug.SetGCPercent(prev); got != want {
				t.Errorf("after SetGCPercent the collector is at %d, want %d", got, want)
			}
		})
	}
}
