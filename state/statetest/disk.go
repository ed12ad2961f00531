package statetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// MountTiny mounts a tmpfs of size bytes on the folder dir for the test,
// so that Fill can fill its disk, and skips the test, saying why, where
// mounting is not permitted (not root, no mount(8), a container without
// CAP_SYS_ADMIN). The tmpfs is unmounted when the test ends.
func MountTiny(t *testing.T, dir string, size int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is a tmpfs mounted for the test, which needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk is a tmpfs mounted for the test, which is not permitted here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// Fill writes a file in dir until its disk is full, and returns the
// file's name: removing it gives the room back.
func Fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			return name
		}
	}
}
