package atomicfile

import (
	"bytes"
	"io/fs"
	"os"
)

// WriteFileIfChanged is WriteFile, except that it leaves path alone when it
// already holds data with mode: readers watching the file (or its mtime) see
// no change when nothing changed. It reports whether it wrote.
func WriteFileIfChanged(path string, data []byte, mode fs.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		if info, err := os.Stat(path); err == nil && info.Mode().Perm() == mode.Perm() {
			return false, nil
		}
	}
	return true, WriteFile(path, data, mode)
}
