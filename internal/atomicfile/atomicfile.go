// Package atomicfile writes a file so that a crash or a reader sees its old
// content or its new, never a part, and so that the new content is on disk
// when Write returns: the audit head's seal and its key, keystore files, a
// configuration edited through the admin API, the demo's keys.
//
// The package imports nothing of Signet's, so that every layer may use it.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes data to a temporary file in path's folder with mode perm,
// syncs it, renames it over path and syncs the folder, so that the rename
// itself survives a power loss (not every file system can sync a folder; a
// failure to is not an error).
func Write(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename there is nothing to remove
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
