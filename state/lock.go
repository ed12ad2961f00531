package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the lock file in a data folder.
const LockFile = "signet.lock"

// ErrLocked reports that another process uses the data folder.
var ErrLocked = errors.New("the data folder is in use")

// Lock takes the data folder dir for this process, so that two servers never
// share one state database (their key usage counts in memory would both be
// the truth, and a limit could be passed). The lock is an flock on
// dir/signet.lock, which holds the PID; the kernel releases it when the
// process ends, however it ends. The returned function releases it.
func Lock(dir string) (func() error, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		who := "another process"
		if p := strings.TrimSpace(string(pid)); p != "" {
			who = "Signet process " + p
		}
		return nil, fmt.Errorf("%w: %s serves it; stop it or use another --data folder", ErrLocked, who)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() error {
		f.Truncate(0)
		return f.Close() // closing the descriptor releases the flock
	}, nil
}
