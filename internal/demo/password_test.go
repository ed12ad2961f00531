package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestEnsurePassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hashFile, pwFile := filepath.Join(dir, "demo-password.bcrypt"), filepath.Join(dir, "demo-password")
	check := func(pw string) {
		t.Helper()
		h, err := os.ReadFile(hashFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := bcrypt.CompareHashAndPassword(h[:len(h)-1], []byte(pw)); err != nil {
			t.Fatalf("hash does not match %q: %v", pw, err)
		}
		kept, err := os.ReadFile(pwFile)
		if err != nil || strings.TrimSpace(string(kept)) != pw {
			t.Fatalf("password file holds %q (%v), want %q", kept, err, pw)
		}
		for _, f := range []string{hashFile, pwFile} {
			if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: mode %v (%v), want 0600", f, st.Mode().Perm(), err)
			}
		}
	}
	// First start, no choice: a random password, kept in the file.
	pw, err := EnsurePassword(hashFile, pwFile, "")
	if err != nil || len(pw) < 20 {
		t.Fatalf("first start: %q, %v", pw, err)
	}
	check(pw)
	// Second start: the same password, read back.
	if again, err := EnsurePassword(hashFile, pwFile, ""); err != nil || again != pw {
		t.Fatalf("second start: %q, %v; want %q", again, err, pw)
	}
	check(pw)
	// $SIGNET_DEMO_PASSWORD set: it becomes the password, in both files.
	if got, err := EnsurePassword(hashFile, pwFile, "chosen"); err != nil || got != "chosen" {
		t.Fatalf("chosen: %q, %v", got, err)
	}
	check("chosen")
	st1, _ := os.Stat(hashFile)
	if _, err := EnsurePassword(hashFile, pwFile, "chosen"); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(hashFile); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("a matching hash was rewritten")
	}
	// A data folder made by an older Signet: the hash only. The password
	// cannot be recovered, and nothing is overwritten.
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if got, err := EnsurePassword(hashFile, pwFile, ""); err != nil || got != "" {
		t.Fatalf("older folder: %q, %v; want no password", got, err)
	}
	if _, err := os.Stat(pwFile); err == nil {
		t.Error("a password file was made that does not match the kept hash")
	}
}
