package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/clienttext"
)

func TestThrottle(t *testing.T) {
	t.Parallel()
	th := NewThrottle()
	now := time.Unix(1000, 0)
	th.now = func() time.Time { return now }
	var got []time.Duration
	for range 6 {
		if w := th.Wait("admin", "10.0.0.1"); w > 0 {
			now = now.Add(w) // a patient attacker
		}
		got = append(got, th.Failed("admin", "10.0.0.1"))
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("lock-outs %v, want %v", got, want)
		}
	}
	if w := th.Wait("admin", "10.0.0.1"); w != 4*time.Second {
		t.Fatalf("Wait after six failures = %v, want 4s", w)
	}
	if w := th.Wait("admin", "10.0.0.2"); w != 0 {
		t.Fatalf("another address waits %v", w)
	}
	if w := th.Wait("operator", "10.0.0.1"); w != 0 {
		t.Fatalf("another user waits %v", w)
	}
	now = now.Add(4 * time.Second)
	th.Succeeded("admin", "10.0.0.1")
	if w := th.Wait("admin", "10.0.0.1"); w != 0 {
		t.Fatalf("Wait after success = %v", w)
	}
	for range 40 {
		th.Failed("x", "y")
	}
	if w := th.Wait("x", "y"); w != th.Max {
		t.Fatalf("lock-out after 40 failures %v, want the maximum %v", w, th.Max)
	}
}

// TestThrottleRefusalQuotesName: the 429 sentence of a locked-out name
// repeats it quoted and cut (clienttext), as every surface repeats a
// client's text: a 100 kB name came back whole to whoever sent it.
func TestThrottleRefusalQuotesName(t *testing.T) {
	t.Parallel()
	th := NewThrottle()
	name := strings.Repeat("n", 100_000)
	for range 4 {
		th.Failed(name, "10.0.0.1")
	}
	ref := th.Check(name, "10.0.0.1")
	if ref == nil {
		t.Fatal("not locked out after four failures")
	}
	if want := clienttext.Quote(name); !strings.Contains(ref.Msg, want) || len(ref.Msg) > len(want)+100 {
		t.Errorf("the 429 sentence is %d bytes, want the name quoted and cut: %.200q", len(ref.Msg), ref.Msg)
	}
}
