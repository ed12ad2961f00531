package demo

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/internal/atomicfile"
)

// EnsurePassword makes sure the file hashFile holds the bcrypt hash of the
// demo password and the file pwFile the password itself, readable by its
// owner only (0600, as keystore.pin beside it), so that a person who
// started the server can find it again. It returns the password, or "" for
// a data folder made by an older Signet that kept only the hash.
//
// When chosen is not empty (the value of $SIGNET_DEMO_PASSWORD) it is the
// password: both files are rewritten when they do not match it. Otherwise
// the existing password is kept, and a missing one is made at random.
func EnsurePassword(hashFile, pwFile, chosen string) (string, error) {
	old, err := os.ReadFile(hashFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the demo password hash: %w", err)
	}
	old = []byte(strings.TrimSpace(string(old)))
	if chosen != "" {
		if len(old) == 0 || bcrypt.CompareHashAndPassword(old, []byte(chosen)) != nil {
			if err := writeHash(hashFile, chosen); err != nil {
				return "", err
			}
		}
		return chosen, writePassword(pwFile, chosen)
	}
	if len(old) > 0 {
		if _, err := bcrypt.Cost(old); err == nil {
			kept, err := os.ReadFile(pwFile)
			if err != nil || bcrypt.CompareHashAndPassword(old, []byte(strings.TrimSpace(string(kept)))) != nil {
				return "", nil // an older data folder: only the hash was kept
			}
			return strings.TrimSpace(string(kept)), nil
		}
	}
	pw := rand.Text() // 26 base32 characters, 130 bits
	if err := writeHash(hashFile, pw); err != nil {
		return "", err
	}
	return pw, writePassword(pwFile, pw)
}

// writePassword writes the password file unless it holds the password
// already.
func writePassword(name, password string) error {
	if b, err := os.ReadFile(name); err == nil && strings.TrimSpace(string(b)) == password {
		return nil
	}
	if err := atomicfile.Write(name, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the demo password file: %w", err)
	}
	return nil
}

func writeHash(name, password string) error {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash the demo password: %w", err)
	}
	if err := atomicfile.Write(name, append(h, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the demo password hash: %w", err)
	}
	return nil
}
