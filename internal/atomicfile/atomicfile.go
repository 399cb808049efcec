// Package atomicfile writes files and directories so that a crash leaves either
// the old content or the new, never a mix or a truncated file, and with exactly
// the mode asked for (a replaced file never keeps a wider old mode).
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path through a temporary file in the same directory,
// synced, chmod'ed to mode and renamed over path. The parent directory must exist.
func WriteFile(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// Chmod before writing: the content is never readable with a wider mode.
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// ReplaceDir builds a new version of dir in a temporary sibling directory (mode
// 0700) by calling fill with its path, then puts it in place of dir in one
// rename: a crash leaves the old dir or the new one. Entries of the old dir that
// fill did not create are carried over (hard links), so files other code keeps
// there survive. On Linux the swap is an atomic exchange (renameat2
// RENAME_EXCHANGE); elsewhere, or where the file system refuses it, the old dir
// is moved aside first and a crash in between leaves it as dir+".old".
func ReplaceDir(dir string, fill func(tmp string) error) (err error) {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.RemoveAll(tmp); err == nil && rmErr != nil {
			err = rmErr
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	_, statErr := os.Lstat(dir)
	switch {
	case errors.Is(statErr, fs.ErrNotExist):
		if err := syncTree(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
		return syncDir(parent)
	case statErr != nil:
		return statErr
	}
	if err := carryOver(dir, tmp); err != nil {
		return fmt.Errorf("carry over %s: %w", dir, err)
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	// After the swap tmp holds the old version, removed by the deferred RemoveAll.
	if err := exchange(tmp, dir); err != nil {
		old := dir + ".old"
		if err := os.RemoveAll(old); err != nil {
			return err
		}
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return errors.Join(err, os.Rename(old, dir))
		}
		if err := os.Rename(old, tmp); err != nil {
			return err
		}
	}
	return syncDir(parent)
}

// carryOver hard-links every entry of old that is missing in tmp into tmp.
func carryOver(old, tmp string) error {
	return filepath.WalkDir(old, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(old, path)
		if err != nil || rel == "." {
			return err
		}
		dst := filepath.Join(tmp, rel)
		if _, err := os.Lstat(dst); err == nil {
			return nil // fill wrote it (a directory is descended into)
		}
		switch {
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
			return os.Chmod(dst, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		default:
			return os.Link(path, dst)
		}
	})
}

// syncTree fsyncs every regular file and directory under dir.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
