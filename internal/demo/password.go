package demo

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// EnsurePassword makes sure the file hashFile holds the bcrypt hash of the
// demo password and returns the password when it made a random one, so that
// the caller prints it once; otherwise it returns "".
//
// When chosen is not empty (the value of $SIGNET_DEMO_PASSWORD) it is the
// password: the hash is rewritten when it does not match it. Otherwise an
// existing hash is kept, and a missing one is made for a new random
// password.
func EnsurePassword(hashFile, chosen string) (string, error) {
	old, err := os.ReadFile(hashFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the demo password hash: %w", err)
	}
	old = []byte(strings.TrimSpace(string(old)))
	if chosen != "" {
		if len(old) > 0 && bcrypt.CompareHashAndPassword(old, []byte(chosen)) == nil {
			return "", nil
		}
		return "", writeHash(hashFile, chosen)
	}
	if len(old) > 0 {
		if _, err := bcrypt.Cost(old); err == nil {
			return "", nil
		}
	}
	pw := rand.Text() // 26 base32 characters, 130 bits
	if err := writeHash(hashFile, pw); err != nil {
		return "", err
	}
	return pw, nil
}

func writeHash(name, password string) error {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash the demo password: %w", err)
	}
	if err := writeFile(name, append(h, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the demo password hash: %w", err)
	}
	return nil
}
