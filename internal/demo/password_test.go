package demo

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestEnsurePassword(t *testing.T) {
	f := filepath.Join(t.TempDir(), "demo-password.bcrypt")
	check := func(pw string) {
		t.Helper()
		h, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := bcrypt.CompareHashAndPassword(h[:len(h)-1], []byte(pw)); err != nil {
			t.Fatalf("hash does not match %q: %v", pw, err)
		}
	}
	// First start, no choice: a random password, returned once.
	pw, err := EnsurePassword(f, "")
	if err != nil || len(pw) < 20 {
		t.Fatalf("first start: %q, %v", pw, err)
	}
	check(pw)
	// Second start: kept, not returned again.
	if again, err := EnsurePassword(f, ""); err != nil || again != "" {
		t.Fatalf("second start: %q, %v", again, err)
	}
	check(pw)
	// $SIGNET_DEMO_PASSWORD set: it becomes the password, never printed.
	if got, err := EnsurePassword(f, "chosen"); err != nil || got != "" {
		t.Fatalf("chosen: %q, %v", got, err)
	}
	check("chosen")
	st1, _ := os.Stat(f)
	if _, err := EnsurePassword(f, "chosen"); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(f); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("a matching hash was rewritten")
	}
	if st1.Mode().Perm() != 0o600 {
		t.Errorf("hash file mode %v, want 0600", st1.Mode().Perm())
	}
}
