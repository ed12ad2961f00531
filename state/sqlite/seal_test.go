package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/state"
)

// TestSealedHead checks that the sealed head reports what the chain alone
// cannot: each tampering of the table, made with SQL as an attacker with the
// file would, is reported by Verify.
func TestSealedHead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, path, older string)
		want   string
	}{
		{"untouched", func(*testing.T, *sql.DB, string, string) {}, ""},
		{"edited record", func(t *testing.T, db *sql.DB, _, _ string) {
			exec(t, db, "UPDATE audit SET outcome = 'refused' WHERE seq = 2")
		}, "audit record 2: was edited"},
		{"deleted record", func(t *testing.T, db *sql.DB, _, _ string) {
			exec(t, db, "DELETE FROM audit WHERE seq = 3")
		}, "audit record 3: is missing"},
		{"reordered records", func(t *testing.T, db *sql.DB, _, _ string) {
			exec(t, db, "UPDATE audit SET seq = -seq WHERE seq IN (2, 3)")
			exec(t, db, "UPDATE audit SET seq = 3 WHERE seq = -2")
			exec(t, db, "UPDATE audit SET seq = 2 WHERE seq = -3")
		}, "audit record 2:"},
		{"last records cut and head rewritten", func(t *testing.T, db *sql.DB, _, _ string) {
			exec(t, db, "DELETE FROM audit WHERE seq > 3")
			exec(t, db, "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit WHERE seq = 3)")
		}, "audit record 5: is missing: the sealed head says 5 records"},
		{"wiped tables", func(t *testing.T, db *sql.DB, _, _ string) {
			exec(t, db, "DELETE FROM audit")
			exec(t, db, "DELETE FROM audit_head")
		}, "audit record 5: is missing"},
		{"older copy restored", func(t *testing.T, db *sql.DB, path, older string) {
			db.Close()
			for _, side := range []string{"", "-wal", "-shm"} {
				os.Remove(path + side)
			}
			copyFile(t, older, path)
		}, "audit record 5: is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			seal, err := state.OpenSeal(filepath.Join(t.TempDir(), "audit.key"), true)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			a := state.NewSealed(s, seal)
			for range 3 {
				if _, err := a.Append(t.Context(), state.Entry{Actor: "admin", Action: "key.generate", Target: "token/demo", Outcome: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close() // checkpoints the WAL: the file is the whole database
			older := filepath.Join(dir, "older.db")
			copyFile(t, path, older)
			if s, err = Open(t.Context(), path); err != nil {
				t.Fatal(err)
			}
			a = state.NewSealed(s, seal)
			for range 2 {
				if _, err := a.Append(t.Context(), state.Entry{Actor: "admin", Action: "token.activate", Target: "token/demo", Outcome: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			tt.tamper(t, db, path, older)
			db.Close()
			ro, err := OpenReadOnly(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			n, err := state.NewSealed(ro, seal).VerifyCount(t.Context())
			var ce *state.ChainError
			switch {
			case tt.want == "" && (err != nil || n != 5):
				t.Fatalf("VerifyCount = %d, %v; want 5 records, intact", n, err)
			case tt.want != "" && (!errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("VerifyCount = %v; want a ChainError containing %q", err, tt.want)
			}
		})
	}
}

func TestSealRejectsForgedHead(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "audit.key")
	seal, err := state.OpenSeal(key, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.Write(state.Head{Seq: 7, Hash: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(key + ".head")
	os.WriteFile(key+".head", []byte(strings.Replace(string(b), "seq 7", "seq 3", 1)), 0o600)
	if _, err := seal.Read(); err == nil {
		t.Fatal("Read of an edited head succeeded")
	}
	for _, f := range []string{key, key + ".head"} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}
}

func exec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
